import assert from "node:assert/strict";
import { startSandbox, type Sandbox } from "../../lib/sandbox";
import { SandboxApiError, SandboxClient } from "../support/sandbox";
import { WebClient, type Json } from "./webclient";

describe("sandbox: control API, faults, restart", () => {
  let sb: Sandbox;
  let api: SandboxClient;
  let c: WebClient;
  beforeEach(async () => {
    sb = await startSandbox({ longPollMs: 300, contacts: 15, seed: 9 });
    api = new SandboxClient(sb);
    c = new WebClient(sb.url);
    await c.login((uuid) => api.scan({ uuid }));
    await c.receive();
  });
  afterEach(async () => {
    await sb.close();
  });

  it("the world is seeded: same seed, same names; reset rebuilds it", async () => {
    const w1 = await api.world();
    const other = await startSandbox({ contacts: 15, seed: 9 });
    try {
      assert.deepEqual(other.control.world().contacts.map((x) => x.nickName), w1.contacts.map((x) => x.nickName));
      assert.deepEqual(other.control.world().accounts.map((a) => a.uin), w1.accounts.map((a) => a.uin));
    } finally {
      await other.close();
    }
    assert.equal(w1.accounts[0]?.online, true);
    assert.equal(w1.accounts[0]?.userName, c.self.UserName);
    await api.reset(10);
    const w2 = await api.world();
    assert.equal(w2.seed, 10);
    assert.equal(w2.accounts[0]?.online, false);
    assert.equal(((await c.sync()).BaseResponse as Json).Ret, 1101);
  });

  it("answers errors with a status and a code", async () => {
    await assert.rejects(api.inject({ from: "Nobody At All", text: "x" }), (e: unknown) => e instanceof SandboxApiError && e.status === 404 && e.code === "NOT_FOUND");
    await assert.rejects(api.settings({ longPollMs: -1 }), (e: unknown) => e instanceof SandboxApiError && e.status === 400);
    await assert.rejects(api.confirm(), (e: unknown) => e instanceof SandboxApiError && e.status === 404);
  });

  it("long polls of the control API wake on events", async () => {
    const waiting = api.waitForLogin(5_000);
    const other = new WebClient(sb.url);
    await other.jslogin();
    assert.equal((await waiting).uuid, other.uuid);
    const sent = api.waitForSent((r) => r.text === "later", { timeoutMs: 5_000 });
    await c.sendText("filehelper", "later");
    assert.equal((await sent).to, "filehelper");
  });

  it("faults: 500, ret, malformed, truncated, reset, hang, each for count calls", async () => {
    await api.fault({ endpoint: "webwxsync", kind: "500", count: 1 });
    const r500 = await c.request("POST", `/cgi-bin/mmwebwx-bin/webwxsync?pass_ticket=${c.passTicket}`, { body: "{}" });
    assert.equal(r500.status, 500);
    assert.equal(((await c.sync()).BaseResponse as Json).Ret, 0, "only count calls misbehave");
    await api.fault({ endpoint: "webwxsendmsg", kind: "ret", ret: 1205, count: 2 });
    assert.equal(((await c.sendText("filehelper", "a")).BaseResponse as Json).Ret, 1205);
    assert.equal(((await c.sendText("filehelper", "b")).BaseResponse as Json).Ret, 1205);
    assert.equal(((await c.sendText("filehelper", "c")).BaseResponse as Json).Ret, 0);
    await api.fault({ endpoint: "synccheck", kind: "ret", ret: 1102 });
    assert.equal((await c.syncCheck()).retcode, "1102");
    await api.fault({ endpoint: "webwxinit", kind: "malformed" });
    await assert.rejects(c.init(), SyntaxError);
    await api.fault({ endpoint: "webwxsync", kind: "truncated" });
    await assert.rejects(c.sync());
    await api.fault({ endpoint: "webwxsync", kind: "reset" });
    await assert.rejects(c.sync());
    await api.fault({ endpoint: "synccheck", kind: "hang" });
    const ac = new AbortController();
    const hung = fetch(`${sb.url}/cgi-bin/mmwebwx-bin/synccheck`, { signal: ac.signal });
    const outcome = await Promise.race([hung.then(() => "answered", () => "aborted"), new Promise((r) => setImmediate(() => r("pending")))]);
    assert.equal(outcome, "pending");
    ac.abort();
    assert.equal(await hung.then(() => "answered", () => "aborted"), "aborted");
    assert.equal(((await c.sync()).BaseResponse as Json).Ret, 0);
  });

  it("faults after handling: lost-500 / lost-reset / lost-hang deliver the send and lose its answer; bad-cookies adds refused cookies", async () => {
    const before = (await api.sent()).length;
    await api.fault({ endpoint: "webwxsendmsg", kind: "lost-500" });
    const id = c.localId();
    const msg = { Type: 1, Content: "lost 500", FromUserName: c.self.UserName, ToUserName: "filehelper", LocalID: id, ClientMsgId: id };
    const r500 = await c.request("POST", `/cgi-bin/mmwebwx-bin/webwxsendmsg?pass_ticket=${c.passTicket}`, { body: JSON.stringify({ BaseRequest: c.baseRequest(), Msg: msg, Scene: 0 }) });
    assert.equal(r500.status, 500);
    await api.fault({ endpoint: "webwxsendmsg", kind: "lost-reset" });
    await assert.rejects(c.sendText("filehelper", "lost reset"));
    await api.fault({ endpoint: "webwxsendmsg", kind: "lost-hang" });
    const ac = new AbortController();
    const body = JSON.stringify({ BaseRequest: c.baseRequest(), Msg: { ...msg, Content: "lost hang", LocalID: c.localId(), ClientMsgId: c.localId() }, Scene: 0 });
    const hung = fetch(`${sb.url}/cgi-bin/mmwebwx-bin/webwxsendmsg?pass_ticket=${c.passTicket}`, { method: "POST", body, signal: ac.signal, headers: { cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join("; ") } });
    const delivered = await api.waitForSent((r) => r.text === "lost hang", { timeoutMs: 5_000 });
    assert.equal(delivered.to, "filehelper");
    ac.abort();
    assert.equal(await hung.then(() => "answered", () => "aborted"), "aborted");
    const texts = (await api.sent()).slice(before).map((r) => r.text);
    assert.deepEqual(texts, ["lost 500", "lost reset", "lost hang"], "each send was delivered once");

    await api.fault({ endpoint: "webwxsync", kind: "bad-cookies" });
    const res = await c.request("POST", `/cgi-bin/mmwebwx-bin/webwxsync?pass_ticket=${c.passTicket}`, { body: JSON.stringify({ BaseRequest: c.baseRequest(), SyncKey: c.syncKey, rr: 1 }) });
    assert.equal(res.status, 200);
    assert.equal(((JSON.parse(res.text) as Json).BaseResponse as Json).Ret, 0, "the call itself was handled");
    const cookies = res.headers.getSetCookie();
    assert.ok(cookies.some((x) => /Domain=127\.0\.0\.1:443/.test(x)), cookies.join(" | "));
    assert.ok(cookies.some((x) => /Domain=foreign\.example/.test(x)));
    assert.ok(cookies.some((x) => /Expires=Thu, 99 Foo/.test(x)));
    await assert.rejects(api.fault({ endpoint: "webwxsync", kind: "nope" as never }));
  });

  it("restart keeps sessions and queued messages on the same port", async () => {
    const url = sb.url;
    const friend = (await api.worldContacts({ kind: "friend" }))[0];
    assert.ok(friend);
    await api.inject({ from: friend.remarkName || friend.nickName, text: "across restart" });
    await sb.restart();
    assert.equal(sb.url, url);
    c.retries = 1; // a connection kept alive across the restart is cut, as with a real server
    const msgs = await c.receive();
    assert.equal(msgs[0]?.Content, "across restart");
  });

  it("close() answers a held synccheck and leaves nothing running", async () => {
    await api.settings({ longPollMs: 60_000 });
    const held = c.syncCheck().then((r) => r.selector, () => "cut");
    const settled = new Promise((r) => setImmediate(r));
    await settled;
    await sb.close();
    assert.ok(["0", "cut"].includes(await held));
  });

  it("several instances in one process keep their own state", async () => {
    const other = await startSandbox({ contacts: 5, seed: 9 });
    try {
      other.control.fault({ endpoint: "webwxsync", kind: "500" });
      assert.equal(sb.state.faults.size, 0);
      assert.equal(other.control.world().counts.friends, 5 + 1);
      assert.equal(sb.control.world().counts.friends, 15 + 1);
    } finally {
      await other.close();
    }
  });
});
