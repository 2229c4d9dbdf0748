import { strict as assert } from "node:assert";
import { promises as fs } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as path from "node:path";
import { realHostsTransport } from "../../lib/sandbox";
import { WeChatError, errorForRet, networkFailureKind } from "../../lib/wechat/errors";
import { DEFAULT_LOGIN_URL } from "../../lib/wechat/hosts";
import { HttpClient } from "../../lib/wechat/http";
import type { Logger, StateInfo, Transport } from "../../lib/wechat/types";
import { closedPort, offlineTransport, UNRESOLVABLE, useDnsGuard } from "../support/offline";
import { envPerTest, loginByQr, uuidOf, waitForState } from "./env";

/**
 * Why a login fails without a network (#16.2): every failure gets a kind (dns, refused, tls, timeout, http,
 * login-refused, ...), the state shows it with the next retry time, and the log says it once per change. The real
 * WeChat login URL is used throughout, but every connection fails or stays on 127.0.0.1: the transport sends it
 * there, and a guard on the system resolver fails the test if any other name is looked up.
 */

/** One jslogin request to the real login host through `transport`, without retries: the error it fails with. */
async function failureOf(transport: Transport | undefined, url = `${DEFAULT_LOGIN_URL}/jslogin`, timeoutMs = 5_000): Promise<WeChatError> {
  const client = new HttpClient({ timeoutMs, retryDelayMs: 1, ...(transport ? { transport } : {}) });
  try {
    await client.request({ what: "jslogin", url, retries: 0 });
  } catch (error) {
    assert.ok(error instanceof WeChatError, String(error));
    return error;
  } finally {
    client.close();
  }
  assert.fail("the request succeeded");
}

async function selfSignedServer(handler: http.RequestListener): Promise<https.Server> {
  const { generate } = await import("selfsigned");
  const pems = await generate([{ name: "commonName", value: "login.wx.qq.com" }], { keyType: "ec", algorithm: "sha256" });
  const server = https.createServer({ key: pems.private, cert: pems.cert }, handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

async function closeServer(server: net.Server & { closeAllConnections?: () => void }): Promise<void> {
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe("failure kinds (#16.2)", function () {
  this.timeout(20_000);
  const dnsGuard = useDnsGuard();

  it("a name that does not resolve is a DNS failure, nothing sent", async () => {
    const offline = offlineTransport({ kind: "dns" });
    const error = await failureOf(offline.transport);
    assert.equal(error.code, "NETWORK");
    assert.equal(error.kind, "dns");
    assert.equal(error.afterSent, undefined);
    assert.match(error.message, /^jslogin: network error \(ENOTFOUND\)$/);
    assert.deepEqual(offline.connects, ["login.wx.qq.com:443"]);
    assert.deepEqual(offline.lookups, [UNRESOLVABLE], "only the injected resolver was asked");
    assert.ok(dnsGuard.guard);
  });

  it("a loopback port nothing listens on is a refused connection", async () => {
    const error = await failureOf(offlineTransport({ kind: "refused", port: await closedPort() }).transport);
    assert.equal(error.kind, "refused");
    assert.match(error.message, /ECONNREFUSED/);
  });

  it("a certificate the client does not trust (self-signed, on loopback) is a TLS failure", async () => {
    const server = await selfSignedServer((_req, res) => res.end("never"));
    try {
      const error = await failureOf(offlineTransport({ kind: "loopback", port: portOf(server) }).transport);
      assert.equal(error.code, "NETWORK");
      assert.equal(error.kind, "tls");
      assert.equal(error.afterSent, undefined, "nothing was sent before the handshake failed");
    } finally {
      await closeServer(server);
    }
  });

  it("a server that accepts and never answers is a timeout", async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const error = await failureOf(offlineTransport({ kind: "loopback", port: portOf(server) }).transport, `${DEFAULT_LOGIN_URL}/jslogin`, 300);
      assert.equal(error.kind, "timeout");
      assert.match(error.message, /ETIMEDOUT/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    }
  });

  it("an HTTP error status is kind http with the status", async () => {
    const server = http.createServer((_req, res) => {
      res.statusCode = 503;
      res.end("busy");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const error = await failureOf(undefined, `http://127.0.0.1:${portOf(server)}/jslogin`);
      assert.equal(error.code, "SERVER");
      assert.equal(error.kind, "http");
      assert.equal(error.status, 503);
    } finally {
      await closeServer(server);
    }
  });

  it("classifies socket codes and server codes", () => {
    const table: [string, string][] = [
      ["ENOTFOUND", "dns"],
      ["EAI_AGAIN", "dns"],
      ["ECONNREFUSED", "refused"],
      ["EHOSTUNREACH", "unreachable"],
      ["ENETUNREACH", "unreachable"],
      ["ETIMEDOUT", "timeout"],
      ["ECONNRESET", "reset"],
      ["EPIPE", "reset"],
      ["DEPTH_ZERO_SELF_SIGNED_CERT", "tls"],
      ["CERT_HAS_EXPIRED", "tls"],
      ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "tls"],
      ["ERR_TLS_CERT_ALTNAME_INVALID", "tls"],
      ["EPROTO", "tls"],
      ["ETRANSPORT", "network"],
      ["ERR_SOMETHING", "network"],
    ];
    for (const [code, kind] of table) assert.equal(networkFailureKind(code), kind, code);
    assert.equal(errorForRet(1203, "webwxinit").kind, "login-refused");
    assert.equal(errorForRet(1101, "webwxinit").kind, "server");
    assert.equal(errorForRet(1, "webwxinit").kind, "server");
    assert.equal(new WeChatError("PROTOCOL", "x").kind, "protocol");
    assert.equal(new WeChatError("INVALID_ARGUMENT", "x").kind, undefined, "a caller's mistake is no failure kind");
  });
});

function recordingLogger(): Logger & { lines: { level: string; text: string }[] } {
  const lines: { level: string; text: string }[] = [];
  const at = (level: string) => (text: string) => void lines.push({ level, text });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

describe("the login without a network (#16.2)", function () {
  this.timeout(30_000);
  useDnsGuard();
  const start = envPerTest();

  it("shows the reason and the next retry in the state, logs each reason once, and once when the server answers again", async () => {
    const env = await start({ realHosts: true });
    const info = env.sb.realHosts;
    assert.ok(info);
    const offline = offlineTransport({ kind: "dns" }, info.ca);
    const logger = recordingLogger();
    const { client, rec } = env.newClient({ loginUrl: DEFAULT_LOGIN_URL, transport: offline.transport, logger, tuning: { loginBackoffMs: 20, retryDelayMs: 1 } });
    client.start();
    const first = await waitForState(client, (s) => s.state === "offline" && s.problem?.retryAt !== undefined);
    const problem = first.problem;
    assert.ok(problem);
    assert.equal(problem.kind, "dns");
    assert.equal(problem.failures, 1);
    assert.match(problem.message, /ENOTFOUND/);
    assert.ok(problem.retryAt !== undefined && problem.retryAt > problem.since, "the next retry is after the first failure");
    // While an attempt runs, no retry time is pending; the reason stays.
    await waitForState(client, (s) => s.state === "offline" && s.problem?.kind === "dns" && s.problem.retryAt === undefined);
    await waitForState(client, (s) => (s.problem?.failures ?? 0) >= 4, 10_000, "four failed attempts");
    const dnsWarnings = logger.lines.filter((l) => l.level === "warn" && /ENOTFOUND/.test(l.text));
    assert.equal(dnsWarnings.length, 1, JSON.stringify(logger.lines));
    assert.ok(logger.lines.filter((l) => l.level === "debug" && /login: .*ENOTFOUND/.test(l.text)).length >= 3, "the repeats go to debug");
    // Another reason: logged again, once.
    offline.set({ kind: "refused", port: await closedPort() });
    await waitForState(client, (s) => s.problem?.kind === "refused" && s.problem.retryAt !== undefined);
    const refusedAt = rec.states.findIndex((s) => s.problem?.kind === "refused");
    await waitForState(client, (s) => s.problem?.kind === "refused" && (s.problem.failures ?? 0) >= rec.states[refusedAt]!.problem!.failures + 2, 10_000);
    assert.equal(logger.lines.filter((l) => l.level === "warn" && /ECONNREFUSED/.test(l.text)).length, 1);
    assert.equal(logger.lines.filter((l) => l.level === "warn" && /ENOTFOUND/.test(l.text)).length, 1);
    // The network is back (the sandbox plays the real hosts): the QR comes, no problem shown, said once in the log.
    offline.set({ kind: "route", to: realHostsTransport(info) });
    const waiting = await waitForState(client, (s) => s.state === "waiting-scan", 10_000);
    assert.equal(waiting.problem, undefined);
    assert.equal(logger.lines.filter((l) => /answers again/.test(l.text)).length, 1);
    assert.equal(client.state.problem, undefined);
    // Only the real login host was asked for, and only the injected resolver saw a name.
    assert.deepEqual([...new Set(offline.connects)], ["login.wx.qq.com:443"]);
    assert.deepEqual([...new Set(offline.lookups)], [UNRESOLVABLE]);
    await client.stop();
    assert.equal(client.state.problem, undefined, "stopped: no problem left");
  });

  it("keeps a saved session through a time without a network, and resumes it when the network is back", async () => {
    const env = await start({ realHosts: true });
    const info = env.sb.realHosts;
    assert.ok(info);
    const online = { kind: "route", to: realHostsTransport(info) } as const;
    const offline = offlineTransport(online, info.ca);
    const sessionFile = path.join(env.dir, "saved.session");
    const options = {
      loginUrl: DEFAULT_LOGIN_URL,
      transport: offline.transport,
      sessionFile,
      sessionSecret: "test secret",
      tuning: { loginBackoffMs: 20, retryDelayMs: 1, loadRetry: { attempts: 2, backoffMs: 10, maxBackoffMs: 20 } },
    };
    const first = env.newClient(options);
    await loginByQr(env, first.client);
    await first.client.stop();
    const logins = env.sb.control.logins().length;
    // Node-RED restarts on a machine without a network: the resume fails for want of an answer, again and again.
    offline.set({ kind: "dns" });
    const second = env.newClient({ ...options, logger: recordingLogger() });
    second.client.start();
    await waitForState(second.client, (s) => s.problem?.kind === "dns" && s.problem.failures >= 3, 10_000, "three failed resumes");
    await fs.stat(sessionFile);
    const resumes = second.rec.states.filter((s) => s.state === "resuming");
    assert.ok(resumes.length >= 3, "every attempt resumes the saved session, none gives it up for a QR");
    assert.equal(second.rec.states.some((s) => s.state === "waiting-scan" || s.state === "push-login"), false);
    assert.ok(resumes.slice(1).every((s) => s.problem?.kind === "dns"), "a resume after a failure says why the last one failed");
    // The network is back: the same session goes on, without a new login.
    offline.set(online);
    await waitForState(second.client, (s) => s.state === "online", 10_000);
    assert.equal(env.sb.control.logins().length, logins, "resumed: no new login");
    assert.equal(second.client.state.problem, undefined);
  });

  it("names a refusal of the login (1203) as the problem, with no retry until a new QR", async () => {
    const env = await start({ requireDesktop: true });
    const { client } = env.newClient({ mode: "web" });
    client.start();
    const waiting = await waitForState(client, (s) => s.state === "waiting-scan");
    env.sb.control.scan({ uuid: uuidOf(waiting) });
    const refused: StateInfo = await waitForState(client, (s) => s.state === "refused");
    assert.equal(refused.problem?.kind, "login-refused");
    assert.equal(refused.problem?.ret, 1203);
    assert.equal(refused.problem?.retryAt, undefined);
  });
});
