import assert from "node:assert/strict";
import * as dc from "node:diagnostics_channel";
import { request as httpRequest, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import { isLoopbackHost, networkWarning, startSandbox, type Sandbox } from "../../lib/sandbox";
import { SandboxClient } from "../support/sandbox";
import { WebClient, loggedInWithFriend, type Json } from "./webclient";

/**
 * The attacks of issue #14 findings 3 and 4, over real HTTP (SECURITY.md, "Sandbox control API"): a page that
 * is not the phone page, a DNS-rebound name, oversized and cookie-less bodies.
 */

interface Raw {
  status: number;
  text: string;
}

/** One request with exactly these headers (fetch would add Origin rules and forbid setting Host). */
function raw(sb: Sandbox, method: string, path: string, headers: Record<string, string>, body = ""): Promise<Raw> {
  const u = new URL(sb.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers: { ...headers, "content-length": String(Buffer.byteLength(body)) }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

function errorCode(r: Raw): string | undefined {
  return (JSON.parse(r.text) as { error?: { code?: string } }).error?.code;
}

describe("sandbox: the control API refuses what is not the phone page or a test (issue #14.3)", () => {
  let sb: Sandbox;
  let api: SandboxClient;
  let host: string;
  before(async () => {
    sb = await startSandbox({ contacts: 5, seed: 21 });
    api = new SandboxClient(sb);
    host = new URL(sb.url).host;
  });
  after(async () => {
    await sb.close();
  });

  async function pendingLogin(): Promise<string> {
    const c = new WebClient(sb.url);
    await c.jslogin();
    return c.uuid;
  }

  function stateOf(uuid: string): string | undefined {
    return sb.control.logins().find((l) => l.uuid === uuid)?.state;
  }

  it("gives each start its own random token and puts it in the phone URL's fragment", async () => {
    const other = await startSandbox({ contacts: 1 });
    try {
      assert.match(sb.token ?? "", /^[\w-]{32}$/);
      assert.notEqual(other.token, sb.token);
      assert.equal(sb.phoneUrl, `${sb.url}/phone#token=${sb.token ?? ""}`);
    } finally {
      await other.close();
    }
  });

  it("serves the phone page so that no other page can frame it or learn its URL", async () => {
    const page = await fetch(`${sb.url}/phone`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-security-policy"), "frame-ancestors 'none'");
    assert.equal(page.headers.get("referrer-policy"), "no-referrer");
    const root = await (await fetch(`${sb.url}/`)).text();
    assert.ok(!root.includes(sb.token ?? "-"), "the unguarded root page does not show the token");
  });

  it("refuses a call without the token, or with a wrong one (401), and accepts header or Bearer", async () => {
    const uuid = await pendingLogin();
    const json = { host, "content-type": "application/json" };
    const none = await raw(sb, "POST", "/api/sandbox/scan", json, JSON.stringify({ uuid }));
    assert.equal(none.status, 401);
    assert.equal(errorCode(none), "UNAUTHORIZED");
    const wrong = await raw(sb, "POST", "/api/sandbox/scan", { ...json, "x-sandbox-token": "x".repeat(32) }, JSON.stringify({ uuid }));
    assert.equal(wrong.status, 401);
    // reads that show QR logins and contacts need it as well
    assert.equal((await raw(sb, "GET", "/api/sandbox/logins", { host })).status, 401);
    assert.equal((await raw(sb, "GET", "/api/sandbox/world", { host })).status, 401);
    assert.equal(stateOf(uuid), "waiting");
    const bearer = await raw(sb, "POST", "/api/sandbox/scan/only", { ...json, authorization: `Bearer ${sb.token ?? ""}` }, JSON.stringify({ uuid }));
    assert.equal(bearer.status, 200);
    assert.equal(stateOf(uuid), "scanned");
    await api.cancel({ uuid });
  });

  it("refuses a write that is not Content-Type application/json, as a form or a no-cors fetch sends (415)", async () => {
    const uuid = await pendingLogin();
    const token = sb.token ?? "";
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const r = await raw(sb, "POST", "/api/sandbox/scan", { host, "x-sandbox-token": token, "content-type": type }, JSON.stringify({ uuid }));
      assert.equal(r.status, 415, type);
      assert.equal(errorCode(r), "UNSUPPORTED_MEDIA_TYPE");
    }
    const noType = await raw(sb, "DELETE", "/api/sandbox/violations", { host, "x-sandbox-token": token });
    assert.equal(noType.status, 415);
    assert.equal(stateOf(uuid), "waiting");
    const ok = await raw(sb, "POST", "/api/sandbox/scan", { host, "x-sandbox-token": token, "content-type": "application/json; charset=utf-8" }, JSON.stringify({ uuid }));
    assert.equal(ok.status, 200);
  });

  it("refuses a foreign Origin, also another port of the same loopback host (403)", async () => {
    const uuid = await pendingLogin();
    const port = Number(new URL(sb.url).port);
    const base = { host, "x-sandbox-token": sb.token ?? "", "content-type": "application/json" };
    for (const origin of [`http://127.0.0.1:${port + 1}`, "http://evil.example", "null", `https://${host}`]) {
      const r = await raw(sb, "POST", "/api/sandbox/scan", { ...base, origin }, JSON.stringify({ uuid }));
      assert.equal(r.status, 403, origin);
      assert.equal(errorCode(r), "FORBIDDEN");
    }
    assert.equal(stateOf(uuid), "waiting");
    const own = await raw(sb, "POST", "/api/sandbox/scan", { ...base, origin: `http://${host}` }, JSON.stringify({ uuid }));
    assert.equal(own.status, 200);
  });

  it("refuses a DNS-rebound Host on the control API and the phone page (403), and takes the loopback names", async () => {
    const uuid = await pendingLogin();
    const port = new URL(sb.url).port;
    const base = { "x-sandbox-token": sb.token ?? "", "content-type": "application/json" };
    for (const h of [`evil.example:${port}`, `127.0.0.1.nip.io:${port}`, `127.0.0.1:${Number(port) + 1}`, "127.0.0.1", `evil.example:${port}@127.0.0.1`]) {
      const r = await raw(sb, "POST", "/api/sandbox/scan", { ...base, host: h }, JSON.stringify({ uuid }));
      assert.equal(r.status, 403, h);
      assert.equal((await raw(sb, "GET", "/phone", { host: h })).status, 403, h);
    }
    assert.equal(stateOf(uuid), "waiting");
    for (const h of [`localhost:${port}`, `[::1]:${port}`, `127.0.0.1:${port}`]) {
      assert.equal((await raw(sb, "GET", "/api/sandbox/settings", { ...base, host: h })).status, 200, h);
      assert.equal((await raw(sb, "GET", "/phone", { host: h })).status, 200, h);
    }
    // the WeChat-facing endpoints are not behind the guard (the wechat4u interop test drives them)
    assert.equal((await raw(sb, "GET", "/jslogin?appid=wx782c26e4c19acffb&fun=new&lang=zh_CN", { host: `evil.example:${port}` })).status, 200);
  });

  it("with token: false (wx-sandbox --no-token) still refuses a foreign Origin, a rebound Host and a form", async () => {
    const open = await startSandbox({ contacts: 2, token: false });
    try {
      assert.equal(open.token, undefined);
      assert.equal(open.phoneUrl, `${open.url}/phone`);
      const h = new URL(open.url).host;
      assert.equal((await raw(open, "GET", "/api/sandbox/settings", { host: h })).status, 200);
      assert.equal((await raw(open, "POST", "/api/sandbox/reset", { host: h, "content-type": "text/plain" }, "{}")).status, 415);
      assert.equal((await raw(open, "POST", "/api/sandbox/reset", { host: h, "content-type": "application/json", origin: "http://evil.example" }, "{}")).status, 403);
      assert.equal((await raw(open, "GET", "/api/sandbox/settings", { host: `rebound.example:${new URL(open.url).port}` })).status, 403);
    } finally {
      await open.close();
    }
  });

  it("answers a refused control call without reading its body (200 MiB sent, little read)", async function () {
    this.timeout(30_000);
    const watch = watchServerSockets("/api/sandbox/");
    try {
      let n = 0;
      const body = new Readable({
        read() {
          this.push(n++ < 200 ? Buffer.alloc(1024 * 1024, 0x20) : null);
        },
      });
      const result = await streamPost(sb, "/api/sandbox/scan", { host, "content-type": "application/json" }, body);
      const socket = watch.sockets[0];
      assert.ok(socket);
      if (!socket.destroyed) await new Promise((resolve) => socket.once("close", resolve));
      assert.ok(socket.bytesRead < 8 * 1024 * 1024, `read ${socket.bytesRead} bytes`);
      assert.ok(result.written < 200 * 1024 * 1024);
    } finally {
      watch.close();
    }
  });

  it("refuses a control body over 30 MiB (413) and takes one just under it", async function () {
    this.timeout(60_000);
    const friend = sb.control.worldContacts({ kind: "friend" })[0];
    assert.ok(friend);
    const headers = { host, "x-sandbox-token": sb.token ?? "", "content-type": "application/json" };
    // 22 MiB of file bytes are 29.3 MiB of base64 JSON
    const under = JSON.stringify({ from: friend.nickName, type: "file", fileName: "big.bin", data: Buffer.alloc(22 * 1024 * 1024, 7).toString("base64") });
    assert.ok(Buffer.byteLength(under) < 30 * 1024 * 1024);
    const ok = await raw(sb, "POST", "/api/sandbox/messages", headers, under);
    assert.equal(ok.status, 200, ok.text.slice(0, 200));
    const over = `{"from":"x","text":"${"a".repeat(30 * 1024 * 1024)}"}`;
    const refused = await raw(sb, "POST", "/api/sandbox/messages", headers, over);
    assert.equal(refused.status, 413);
    assert.equal(errorCode(refused), "TOO_LARGE");
  });

  it("wx-sandbox warns when it listens beyond loopback", () => {
    for (const h of ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"]) {
      assert.equal(isLoopbackHost(h), true, h);
      assert.equal(networkWarning(h, true), undefined, h);
    }
    for (const h of ["0.0.0.0", "::", "192.168.1.20", "my-laptop.local"]) {
      assert.equal(isLoopbackHost(h), false, h);
      assert.match(networkWarning(h, true) ?? "", /anyone on the network/, h);
      assert.match(networkWarning(h, false) ?? "", /--no-token: anyone on the network can drive/, h);
    }
  });
});

/** Server-side sockets of requests to `path`, seen through Node's http diagnostics channel. */
function watchServerSockets(path: string): { sockets: Socket[]; close: () => void } {
  const sockets: Socket[] = [];
  const listener = (message: unknown): void => {
    const { request } = message as { request?: IncomingMessage };
    if (request?.url?.startsWith(path)) sockets.push(request.socket);
  };
  dc.subscribe("http.server.request.start", listener);
  return { sockets, close: () => dc.unsubscribe("http.server.request.start", listener) };
}

/** A multipart body of `count` fields of `size` bytes each, produced only as fast as the socket takes it. */
function manyFields(boundary: string, count: number, size: number): Readable {
  const filler = Buffer.alloc(size, 0x61);
  let i = 0;
  return new Readable({
    read() {
      if (i < count) {
        this.push(Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\n`), filler, Buffer.from("\r\n")]));
        i++;
      } else if (i === count) {
        this.push(`--${boundary}--\r\n`);
        this.push(null);
        i++;
      }
    },
  });
}

/** Stream the body to webwxuploadmedia; resolves with the answer (or undefined if the connection was cut first). */
function streamUpload(sb: Sandbox, cookie: string, body: Readable, boundary: string): Promise<{ answer?: Json; written: number }> {
  const headers: Record<string, string> = { "content-type": `multipart/form-data; boundary=${boundary}` };
  if (cookie) headers.cookie = cookie;
  return streamPost(sb, "/cgi-bin/mmwebwx-bin/webwxuploadmedia?f=json", headers, body);
}

/** POST a streamed body; resolves once the connection closes, with the JSON answer if one arrived. */
function streamPost(sb: Sandbox, path: string, extra: Record<string, string>, body: Readable): Promise<{ answer?: Json; written: number }> {
  const u = new URL(sb.url);
  return new Promise((resolve) => {
    let answer: Json | undefined;
    let written = 0;
    const headers = { ...extra, "transfer-encoding": "chunked" };
    const req = httpRequest({ host: u.hostname, port: u.port, method: "POST", path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        answer = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json;
        body.unpipe(req);
        body.destroy();
        req.destroy();
      });
    });
    body.on("data", (c: Buffer) => (written += c.length));
    req.on("error", () => undefined);
    req.on("close", () => resolve({ ...(answer ? { answer } : {}), written }));
    body.pipe(req);
  });
}

describe("sandbox: memory stays bounded (issue #14.4)", () => {
  let sb: Sandbox;
  let api: SandboxClient;
  let c: WebClient;
  let friend: string;
  const MiB = 1024 * 1024;
  before(async () => {
    sb = await startSandbox({ longPollMs: 400, contacts: 6, seed: 8, mediaBudgetBytes: 3 * MiB });
    api = new SandboxClient(sb);
    ({ c, friend } = await loggedInWithFriend(sb.url, api));
  });
  after(async () => {
    await sb.close();
  });

  it("keeps injected media within the budget, evicting the least recently used, and refuses one item over it", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await api.inject({ from: friend, type: "file", fileName: `f${i}.bin`, data: Buffer.alloc(MiB, i).toString("base64") })).msgId);
    const memory = await api.memory();
    assert.equal(memory.limit, 3 * MiB);
    assert.ok(memory.used <= 3 * MiB, `used ${memory.used}`);
    assert.equal(memory.items, 3);
    assert.equal(memory.evicted, 2);
    const tooBig = api.inject({ from: friend, type: "video", data: Buffer.alloc(3 * MiB + 1).toString("base64") });
    await assert.rejects(tooBig, (e: { status: number; code: string; message: string }) => e.status === 413 && e.code === "TOO_LARGE" && /media budget/.test(e.message));
    assert.equal((await api.memory()).used, memory.used);
    await c.receive();
  });

  it("counts uploads against the same budget and refuses one larger than all of it", async () => {
    await api.clearViolations();
    const before = (await api.memory()).evicted;
    const up = await c.upload(Buffer.alloc(2 * MiB, 3), "two.bin", "application/octet-stream", "filehelper");
    assert.equal((up.BaseResponse as Json).Ret, 0);
    const memory = await api.memory();
    assert.ok(memory.used <= 3 * MiB);
    assert.ok(memory.evicted > before, "older media made room");
    const big = await c.upload(Buffer.alloc(3 * MiB + 10, 4), "big.bin", "application/octet-stream", "filehelper");
    assert.equal((big.BaseResponse as Json).Ret, 1);
    assert.deepEqual((await api.violations()).map((v) => v.rule), ["media-budget"]);
    await api.clearViolations();
  });

  it("answers a cookie-less upload of 300 one-MiB fields with 1102 before reading it, and cuts it off", async function () {
    this.timeout(30_000);
    const watch = watchServerSockets("/cgi-bin/mmwebwx-bin/webwxuploadmedia");
    try {
      const boundary = "----wxflowattack";
      const result = await streamUpload(sb, "", manyFields(boundary, 300, MiB), boundary);
      const socket = watch.sockets[0];
      assert.ok(socket, "the request reached the sandbox");
      if (!socket.destroyed) await new Promise((resolve) => socket.once("close", resolve));
      // what the sandbox read of the 300 MiB: its 1 MiB drain plus what was in flight, never the body
      assert.ok(socket.bytesRead < 8 * MiB, `read ${socket.bytesRead} bytes`);
      assert.ok(result.written < 300 * MiB, `the client could not send it all (${result.written})`);
      if (result.answer) assert.equal((result.answer.BaseResponse as Json).Ret, 1102);
      assert.equal((await api.violations()).at(-1)?.rule, "cookie-missing");
      await api.clearViolations();
    } finally {
      watch.close();
    }
  });

  it("refuses an upload with a stranger's cookies before reading it", async function () {
    this.timeout(30_000);
    const boundary = "----wxflowattack2";
    const result = await streamUpload(sb, "wxuin=1; wxsid=forged; webwx_data_ticket=forged", manyFields(boundary, 300, MiB), boundary);
    assert.ok(result.written < 300 * MiB);
    assert.equal((await api.violations()).at(-1)?.rule, "cookie-invalid");
    await api.clearViolations();
  });

  it("refuses a logged-in upload over the field limits without keeping the fields", async function () {
    this.timeout(60_000);
    const boundary = "----wxflowfields";
    const cookie = [...c.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const used = (await api.memory()).used;
    const many = await streamUpload(sb, cookie, manyFields(boundary, 60, 1024), boundary);
    assert.equal(((many.answer?.BaseResponse ?? {}) as Json).Ret, 1);
    const long = await streamUpload(sb, cookie, manyFields(boundary, 1, 2 * MiB), boundary);
    assert.equal(((long.answer?.BaseResponse ?? {}) as Json).Ret, 1);
    const rules = (await api.violations()).map((v) => v.rule);
    assert.deepEqual(rules, ["multipart-limits", "multipart-limits"]);
    assert.equal((await api.memory()).used, used);
    await api.clearViolations();
  });
});
