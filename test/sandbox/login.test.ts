import assert from "node:assert/strict";
import { startSandbox, type Sandbox } from "../../lib/sandbox";
import { SandboxClient } from "../support/sandbox";
import { WebClient } from "./webclient";

describe("sandbox: login", () => {
  let sb: Sandbox;
  let api: SandboxClient;
  beforeEach(async () => {
    sb = await startSandbox({ longPollMs: 300 });
    api = new SandboxClient(sb);
  });
  afterEach(async () => {
    await sb.close();
  });

  it("answers jslogin with a uuid and serves its QR as PNG", async () => {
    const c = new WebClient(sb.url);
    const uuid = await c.jslogin();
    assert.match(uuid, /^[A-Za-z0-9]{10}==$/);
    const qr = await c.request("GET", `/qrcode/${uuid}`);
    assert.equal(qr.status, 200);
    assert.equal(qr.body.subarray(1, 4).toString(), "PNG");
    const logins = await api.logins();
    assert.equal(logins[0]?.uuid, uuid);
    assert.equal(logins[0]?.state, "waiting");
  });

  it("walks 408 -> 201 -> 200 and redeems the ticket once, with cookies and the XML", async () => {
    const c = new WebClient(sb.url);
    await c.jslogin();
    assert.equal((await c.poll(1)).code, 408);
    await api.scanOnly();
    const scanned = await c.poll();
    assert.equal(scanned.code, 201);
    assert.match(scanned.text, /window\.userAvatar = 'data:img\/jpg;base64,/);
    const held = c.poll();
    await api.confirm();
    const done = await held;
    assert.equal(done.code, 200);
    assert.match(done.text, new RegExp(`window\\.redirect_uri="${sb.url}/cgi-bin/mmwebwx-bin/webwxnewloginpage\\?ticket=[^&]+&uuid=${c.uuid}&lang=zh_CN&scan=\\d+"`));
    const t = await c.tickets(done.text);
    assert.equal(t.status, 301);
    assert.equal(t.ret, 0);
    assert.match(c.passTicket, /%/);
    for (const name of ["wxuin", "wxsid", "webwx_data_ticket", "webwx_auth_ticket", "webwxuvid"]) assert.ok(c.cookies.get(name), name);
    assert.equal(c.cookies.get("wxuin"), String(c.uin));
    const again = await c.tickets(done.text);
    assert.equal(again.ret, -14);
    assert.equal((await api.violations()).filter((v) => v.rule === "ticket-invalid").length, 1);
  });

  it("wakes a held poll at once on cancel (202) and on expiry (400)", async () => {
    await sb.control.settings({ longPollMs: 20_000 });
    const c = new WebClient(sb.url);
    await c.jslogin();
    const held = c.poll();
    const started = Date.now();
    await api.cancel();
    assert.equal((await held).code, 202);
    assert.ok(Date.now() - started < 5_000);
    await c.jslogin();
    const held2 = c.poll();
    await api.expireQr({ uuid: c.uuid });
    assert.equal((await held2).code, 400);
  });

  it("refuses with ret 1203 when requireDesktop is set, and lets desktop mode in", async () => {
    await api.settings({ requireDesktop: true });
    const web = new WebClient(sb.url);
    await web.jslogin();
    await api.scan();
    const t = await web.tickets((await web.poll()).text);
    assert.equal(t.ret, 1203);
    assert.ok(t.message.length > 0);
    const desk = new WebClient(sb.url);
    desk.desktop = true;
    await desk.login((uuid) => api.scan({ uuid }));
    assert.ok(String(desk.self.UserName).startsWith("@"));
    assert.deepEqual(await api.violations(), []);
    assert.deepEqual(await api.deviations(), []);
  });

  it("push login: the old cookies get a uuid that waits for a confirm on the phone", async () => {
    const c = new WebClient(sb.url);
    await c.login((uuid) => api.scan({ uuid }));
    const firstUser = String(c.self.UserName);
    const res = await c.request("GET", `/cgi-bin/mmwebwx-bin/webwxpushloginurl?uin=${c.uin}`);
    const body = JSON.parse(res.text) as { ret: string; msg: string; uuid: string };
    assert.equal(body.ret, "0");
    assert.equal(body.msg, "all ok");
    c.uuid = body.uuid;
    const logins = await api.logins();
    assert.equal(logins.find((l) => l.uuid === body.uuid)?.push, true);
    assert.equal((await c.poll()).code, 408);
    await api.confirm({ uuid: body.uuid });
    const done = await c.poll();
    assert.equal(done.code, 200);
    await c.tickets(done.text);
    await c.init();
    assert.notEqual(String(c.self.UserName), firstUser, "UserNames are new at every login");
    assert.deepEqual(await api.violations(), []);
  });

  it("logout (form fields sid, uin) ends the session: synccheck answers 1101", async () => {
    const c = new WebClient(sb.url);
    await c.login((uuid) => api.scan({ uuid }));
    const res = await c.request("POST", `/cgi-bin/mmwebwx-bin/webwxlogout?redirect=1&type=0&skey=${encodeURIComponent(c.skey)}`, {
      body: `sid=${encodeURIComponent(c.sid)}&uin=${c.uin}`,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    assert.equal(res.status, 200);
    assert.equal((await c.syncCheck()).retcode, "1101");
    assert.equal((await api.world()).accounts[0]?.online, false);
    assert.deepEqual(await api.violations(), []);
    assert.deepEqual(await api.deviations(), []);
  });

  it("a second account logs in with account selection and a stable wxuin", async () => {
    const a = new WebClient(sb.url);
    await a.login((uuid) => api.scan({ uuid, account: 1 }));
    const world = await api.world();
    assert.equal(a.uin, world.accounts[1]?.uin);
    assert.equal(world.accounts[1]?.online, true);
    assert.equal(world.accounts[0]?.online, false);
  });
});
