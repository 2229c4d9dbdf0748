/**
 * The secret watch at the client: a realistic run (login, messages, sends, an image round trip, faults, a session
 * end, push login, logout) with a debug-level logger, and everything it produced (log lines, warnings, states,
 * messages, errors, the session file's bytes) searched for every secret the sandbox issued (skeys as they rotate).
 */
import { strict as assert } from "node:assert";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { Logger } from "../../lib/wechat/types";
import { loginByQr, startEnv, waitForState, type Env } from "../client/env";
import { injectInto, leakedIn, pickChats, sandboxSecrets, waitAllArrived } from "./harness";
import { Ledger } from "./ledger";
import { summary, watchUnhandledRejections } from "./suite";

describe("reliability: no secret in anything the client puts out", function () {
  this.timeout(30_000);
  watchUnhandledRejections();
  let env: Env | undefined;

  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it("a realistic run leaks no skey, wxsid, pass_ticket or cookie value anywhere", async () => {
    env = await startEnv({ longPollMs: 300, skeyRotateEvery: 3 });
    const e = env;
    const secrets = new Set<string>();
    const lines: string[] = [];
    const logger: Logger = {
      debug: (m) => lines.push(`debug ${m}`),
      info: (m) => lines.push(`info ${m}`),
      warn: (m) => lines.push(`warn ${m}`),
      error: (m) => lines.push(`error ${m}`),
    };
    const sessionFile = path.join(e.dir, "secret.session");
    const { client, rec } = e.newClient({
      sessionFile,
      sessionSecret: "watch secret",
      pacing: false,
      logger,
      tuning: { timeouts: { requestMs: 2_000, syncCheckMs: 1_500, loginPollMs: 2_000 }, retryDelayMs: 10, loginBackoffMs: 30, sync: { backoffMs: 20, maxBackoffMs: 200 } },
    });
    // Sample the sandbox's secrets before every call the client makes: no rotated skey escapes the list.
    const onRequest = (): void => void sandboxSecrets(e, secrets);
    client.on("state", onRequest);
    e.sb.events.on("sent", onRequest);
    const errors: string[] = [];
    const capture = (error: unknown): void => {
      errors.push(error instanceof Error ? `${error.name} ${error.message} ${String(error.stack)} ${JSON.stringify(error)}` : String(error));
    };

    await loginByQr(e, client);
    const ledger = new Ledger();
    client.on("message", (m) => {
      sandboxSecrets(e, secrets);
      if (m.type !== "status") ledger.observe(m.id);
    });
    const chats = pickChats(e, client, 2);
    for (let round = 0; round < 8; round++) {
      if (round % 2 === 0) e.sb.control.fault({ endpoint: round % 4 === 0 ? "webwxsync" : "synccheck", kind: round % 4 === 0 ? "500" : "reset" });
      for (const chat of chats) injectInto(e, ledger, chat, `secret run ${round} ${chat.key}`);
      await waitAllArrived(client, ledger, 10_000);
      await client.sendText("filehelper", `reply ${round}`).catch(capture);
    }
    const png = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(2000, 3)]);
    await client.sendImage("filehelper", png, { fileName: "x.png" }).catch(capture);
    const first = chats[0];
    assert.ok(first);
    e.sb.control.inject({ from: first.from, type: "image", data: png.toString("base64") });
    const image = await new Promise<import("../../lib/wechat/types").Message>((resolve) => {
      const on = (m: import("../../lib/wechat/types").Message): void => {
        if (m.type !== "image") return;
        client.off("message", on);
        resolve(m);
      };
      client.on("message", on);
    });
    await client.download(image).catch(capture);
    await client.download(image, { maxBytes: 10 }).catch(capture);
    await client.sendText("@nobody", "x").catch(capture);
    e.sb.control.fault({ endpoint: "webwxsendmsg", kind: "reset", count: 3 });
    await client.sendText("filehelper", "into resets").catch(capture);
    e.sb.control.fault({ endpoint: "webwxsendmsg", kind: "ret", ret: 1205, count: 1 });
    await client.sendText("filehelper", "throttled").catch(capture);
    sandboxSecrets(e, secrets);
    const fileBytes = await fs.readFile(sessionFile);
    assert.equal((await fs.stat(sessionFile)).mode & 0o777, 0o600, "the session file is 0600");

    e.sb.control.expireSession({ code: 1101 });
    await waitForState(client, (s) => s.state === "push-login");
    const login = await e.sb.control.waitForLogin({ timeoutMs: 5_000 });
    e.sb.control.confirm({ uuid: login.uuid });
    await waitForState(client, (s) => s.state === "online");
    sandboxSecrets(e, secrets);
    const fileBytes2 = await fs.readFile(sessionFile);
    await client.logout().catch(capture);
    await waitForState(client, (s) => s.state === "waiting-scan");
    await client.sendText("filehelper", "after logout").catch(capture);
    sandboxSecrets(e, secrets);

    assert.ok(secrets.size >= 10, `secrets sampled: ${secrets.size}`);
    assert.ok(errors.length >= 4, `the error paths ran: ${errors.length}`);
    assert.ok(lines.some((l) => l.startsWith("debug")), "debug output was captured");
    const places: Record<string, string> = {
      "log lines (debug..error)": lines.join("\n"),
      warnings: rec.warns.join("\n"),
      "state events": JSON.stringify(rec.states),
      "messages (with raw)": JSON.stringify(rec.messages),
      errors: errors.join("\n"),
      "session file": fileBytes.toString("latin1"),
      "session file after push login": fileBytes2.toString("latin1"),
    };
    const leaks: string[] = [];
    for (const [where, text] of Object.entries(places)) {
      const found = leakedIn(text, secrets);
      if (found.length > 0) leaks.push(`${where}: ${found.join(", ")}`);
    }
    summary.add({ scenario: "secrets: client run", faults: 7, sent: 9, received: ledger.received, lost: ledger.lost, duplicated: ledger.duplicated, note: `${secrets.size} secrets watched, ${leaks.length} leaks` });
    assert.deepEqual(leaks, [], "secrets leaked");
  });
});
