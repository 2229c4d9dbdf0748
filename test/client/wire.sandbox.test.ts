/**
 * Real-world wire fidelity against the sandbox (issue #12): cookies the jar refuses, sends whose answer is lost,
 * a DeviceID per request, the file appid in desktop mode.
 */
import { strict as assert } from "node:assert";
import { isWeChatError } from "../../lib/wechat/errors";
import type { FaultKind } from "../../lib/sandbox/types";
import { envPerTest, loginByQr } from "./env";

describe("client wire fidelity against the sandbox", function () {
  this.timeout(60_000);
  const startEnv = envPerTest();

  it("skips Set-Cookie headers the jar refuses, on the one-use ticket's answer too: one ticket request, logged in", async () => {
    const env = await startEnv();
    for (const endpoint of ["jslogin", "login", "webwxnewloginpage", "webwxinit", "webwxgetcontact"]) {
      env.sb.control.fault({ endpoint, kind: "bad-cookies", count: endpoint === "login" ? 3 : 1 });
    }
    const { client, rec } = env.newClient();
    await loginByQr(env, client);
    assert.equal(rec.calls.filter((c) => c === "webwxnewloginpage").length, 1, "the ticket was asked for once");
    assert.equal(env.sb.control.logins().filter((l) => l.state === "done").length, 1);
    const result = await client.sendText("filehelper", "after bad cookies");
    assert.equal(env.sb.control.sent({ type: "text" }).at(-1)?.msgId, result.msgId);
  });

  for (const kind of ["lost-500", "lost-reset", "lost-hang"] as const satisfies readonly FaultKind[]) {
    it(`reports a send whose answer is lost (${kind}) as SEND_UNCERTAIN with its ClientMsgId, and never resends it`, async () => {
      const env = await startEnv();
      const { client, rec } = env.newClient({ tuning: { timeouts: { requestMs: 800, syncCheckMs: 2_500, loginPollMs: 2_500 } } });
      await loginByQr(env, client);
      const before = rec.calls.filter((c) => c === "webwxsendmsg").length;
      env.sb.control.fault({ endpoint: "webwxsendmsg", kind, count: 1 });
      const error = await client.sendText("filehelper", `maybe ${kind}`).then(
        () => assert.fail("the send must not look successful"),
        (e: unknown) => e,
      );
      assert.ok(isWeChatError(error, "SEND_UNCERTAIN"), String(error));
      assert.match(error.clientMsgId ?? "", /^\d{17}$/);
      assert.ok(error.message.includes(error.clientMsgId!), "the message names the ClientMsgId");
      assert.equal(rec.calls.filter((c) => c === "webwxsendmsg").length - before, 1, "one request, no resend");
      const delivered = env.sb.control.sent({ type: "text" }).filter((r) => r.text === `maybe ${kind}`);
      assert.deepEqual(delivered.map((r) => r.localId), [error.clientMsgId], "delivered exactly once, under that ClientMsgId");
      // The session goes on: the next send works.
      const next = await client.sendText("filehelper", "next");
      assert.equal(env.sb.control.sent({ type: "text" }).at(-1)?.msgId, next.msgId);
    });
  }

  it("reports a 500 or a reset before the server handled the send as SEND_UNCERTAIN too: nothing doubled", async () => {
    const env = await startEnv();
    const { client } = env.newClient();
    await loginByQr(env, client);
    for (const kind of ["500", "reset"] as const) {
      env.sb.control.fault({ endpoint: "webwxsendmsg", kind, count: 1 });
      await assert.rejects(client.sendText("filehelper", `early ${kind}`), (e) => isWeChatError(e, "SEND_UNCERTAIN"));
      assert.equal(env.sb.control.sent({ type: "text" }).filter((r) => r.text === `early ${kind}`).length, 0);
    }
  });

  it("draws a new DeviceID for every request, synccheck included", async () => {
    const env = await startEnv();
    const { client } = env.newClient({ mode: "web" });
    await loginByQr(env, client);
    for (let i = 0; i < 3; i++) await client.sendText("filehelper", `d${i}`);
    await client.sendFile("filehelper", Buffer.alloc(2048, 7), { fileName: "d.txt" });
    const records = await env.api.deviceIds();
    const endpoints = new Set(records.map((r) => r.endpoint));
    for (const e of ["webwxinit", "synccheck", "webwxsync", "webwxsendmsg", "webwxuploadmedia", "webwxsendappmsg"]) assert.ok(endpoints.has(e), `${e} recorded`);
    assert.ok(records.length >= 8, `requests recorded: ${records.length}`);
    assert.equal(new Set(records.map((r) => r.deviceId)).size, records.length, "every request had its own DeviceID");
    for (const r of records) assert.match(r.deviceId, /^e\d{15}$/);
  });

  it("sends the file appid wxeb7ec651dd0aefa9 in desktop mode", async () => {
    const env = await startEnv({ requireDesktop: true });
    const { client } = env.newClient({ mode: "desktop" });
    await loginByQr(env, client);
    const result = await client.sendFile("filehelper", Buffer.from("desktop file"), { fileName: "desk.txt" });
    const sent = env.sb.control.sent({ type: "file" }).at(-1);
    assert.equal(sent?.msgId, result.msgId);
    assert.equal(sent?.appId, "wxeb7ec651dd0aefa9");
  });
});
