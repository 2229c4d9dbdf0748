import assert from "node:assert/strict";
import { startSandbox, type Sandbox } from "../../lib/sandbox";
import { ENDED_SESSIONS_KEPT } from "../../lib/sandbox/state";
import { SandboxClient } from "../support/sandbox";
import { fmtKey, WebClient, type Json } from "./webclient";

async function online(sb: Sandbox, api: SandboxClient): Promise<WebClient> {
  const c = new WebClient(sb.url);
  await c.login((uuid) => api.scan({ uuid }));
  await c.receive(); // the status notify (code 4) that follows init
  return c;
}

describe("sandbox: contacts and sync", () => {
  let sb: Sandbox;
  let api: SandboxClient;
  beforeEach(async () => {
    sb = await startSandbox({ longPollMs: 400, contacts: 60, seed: 7 });
    api = new SandboxClient(sb);
  });
  afterEach(async () => {
    await sb.close();
  });

  it("init gives self, recent chats, SyncKey and SKey; the first sync carries a status notify", async () => {
    const c = new WebClient(sb.url);
    await c.login((uuid) => api.scan({ uuid }));
    assert.match(String(c.self.UserName), /^@[0-9a-f]{32}$/);
    const msgs = await c.receive();
    const notify = msgs.find((m) => m.MsgType === 51);
    assert.equal(notify?.StatusNotifyCode, 4);
    assert.ok(String(notify?.StatusNotifyUserName).includes("filehelper"));
    assert.deepEqual(await api.violations(), []);
    assert.deepEqual(await api.deviations(), []);
  });

  it("an ended session keeps no events, and only the newest ended sessions are remembered; an old sid is still told 1101", async () => {
    const c = await online(sb, api);
    const self = sb.state.account(undefined);
    const first = [...sb.state.sessions.values()].find((s) => s.live);
    assert.ok(first);
    const friend = (await api.worldContacts({ kind: "friend" }))[0];
    assert.ok(friend);
    await api.inject({ from: friend.remarkName || friend.nickName, text: "kept while the session lives" });
    assert.ok(first.eventsKept > 0);
    // the account logs in again elsewhere: the first session ends (1101) and lets its events go
    sb.state.startSession(self);
    assert.equal(first.live, false);
    assert.equal(first.eventsKept, 0);
    assert.equal((await c.syncCheck()).retcode, "1101", "a request naming it is still answered with its end");
    for (let i = 0; i < ENDED_SESSIONS_KEPT + 20; i++) sb.state.startSession(self);
    const ended = [...sb.state.sessions.values()].filter((s) => !s.live);
    assert.equal(ended.length, ENDED_SESSIONS_KEPT);
    assert.equal(sb.state.sessions.has(first.sid), false, "the oldest are forgotten");
    assert.equal([...sb.state.sessions.values()].filter((s) => s.live).length, 1);
  });

  it("escapes names on the wire and keeps emoji spans; specials keep their names", async () => {
    const c = await online(sb, api);
    const names = c.contacts.map((x) => String(x.NickName));
    assert.ok(names.some((n) => n.includes("&lt;")), "some name holds an escaped <");
    assert.ok(names.some((n) => n.includes("&amp;")), "some name holds an escaped &");
    assert.ok(names.some((n) => /<span class="emoji emoji[0-9a-f]+"><\/span>/.test(n)));
    assert.ok(c.contacts.some((x) => x.UserName === "filehelper"));
    assert.ok(c.contacts.some((x) => Number(x.VerifyFlag) & 8));
    assert.ok(c.contacts.some((x) => String(x.UserName).startsWith("@@")));
  });

  it("pages webwxgetcontact with Seq for large lists", async () => {
    await sb.close();
    sb = await startSandbox({ contacts: 1200, seed: 3 });
    api = new SandboxClient(sb);
    const c = new WebClient(sb.url);
    let pages = 0;
    const orig = c.request.bind(c);
    c.request = async (m, p, o) => {
      if (p.includes("webwxgetcontact")) pages++;
      return orig(m, p, o);
    };
    await c.login((uuid) => api.scan({ uuid }));
    assert.ok(pages >= 3, `pages ${pages}`);
    const world = await api.world();
    assert.equal(world.counts.friends, 1200 + 1); // the other phone account is a friend too
    assert.ok(c.contacts.length > 1200);
  });

  it("batchgetcontact gives group members, refuses more than 50", async () => {
    const c = await online(sb, api);
    const group = c.contact((x) => String(x.UserName).startsWith("@@"));
    const ok = await c.post("webwxbatchgetcontact", `type=ex&r=${Date.now()}`, { Count: 1, List: [{ UserName: group.UserName, EncryChatRoomId: "" }] });
    const list = ok.ContactList as Json[];
    assert.ok((list[0]?.MemberList as Json[]).length > 2);
    assert.ok(String(list[0]?.EncryChatRoomId).startsWith("@"));
    const many = c.contacts.slice(0, 51).map((x) => ({ UserName: x.UserName, EncryChatRoomId: "" }));
    const refused = await c.post("webwxbatchgetcontact", `type=ex&r=${Date.now()}`, { Count: 51, List: many });
    assert.equal((refused.BaseResponse as Json).Ret, 1);
    assert.equal((await api.violations()).at(-1)?.rule, "batch-too-large");
  });

  it("accepts BaseRequest.Uin as a number or as the same digits in a string, nothing else", async () => {
    const c = await online(sb, api);
    await api.clearViolations();
    const asString = await c.post("webwxsync", `sid=${encodeURIComponent(c.sid)}&skey=${encodeURIComponent(c.skey)}`, {
      BaseRequest: { ...c.baseRequest(), Uin: String(c.uin) },
      SyncKey: c.syncKey,
      rr: ~Math.floor(Date.now() / 1000),
    });
    assert.equal((asString.BaseResponse as Json).Ret, 0);
    assert.deepEqual(await api.violations(), []);
    const wrong = await c.post("webwxstatusnotify", "lang=zh_CN", {
      BaseRequest: { ...c.baseRequest(), Uin: "12ab" },
      Code: 3,
      FromUserName: c.self.UserName,
      ToUserName: c.self.UserName,
      ClientMsgId: Date.now(),
    });
    assert.equal((wrong.BaseResponse as Json).Ret, 1);
    assert.equal((await api.violations()).at(-1)?.rule, "uin-format");
  });

  it("webwxgeticon gives a group member who is no contact only with the group's EncryChatRoomId as chatroomid", async () => {
    const c = await online(sb, api);
    const friends = new Set(c.contacts.map((x) => String(x.UserName)));
    const groups = c.contacts.filter((x) => String(x.UserName).startsWith("@@"));
    const answer = await c.post("webwxbatchgetcontact", `type=ex&r=${Date.now()}`, {
      Count: groups.length,
      List: groups.map((g) => ({ UserName: g.UserName, EncryChatRoomId: "" })),
    });
    const rooms = answer.ContactList as Json[];
    let room: Json | undefined;
    let stranger: Json | undefined;
    for (const r of rooms) {
      stranger = (r.MemberList as Json[]).find((m) => !friends.has(String(m.UserName)) && m.UserName !== c.self.UserName);
      if (stranger) {
        room = r;
        break;
      }
    }
    assert.ok(room && stranger, "a group has a member who is not a contact");
    const other = rooms.find((r) => r !== room && !(r.MemberList as Json[]).some((m) => m.UserName === stranger?.UserName));
    const icon = (extra: string) => c.request("GET", `/cgi-bin/mmwebwx-bin/webwxgeticon?seq=0&username=${encodeURIComponent(String(stranger?.UserName))}&skey=${encodeURIComponent(c.skey)}${extra}`);
    await api.clearViolations();
    assert.equal((await icon("")).status, 404, "no chatroomid");
    assert.equal((await api.violations()).at(-1)?.rule, "icon-chatroomid");
    assert.equal((await icon(`&chatroomid=${encodeURIComponent(String(room.EncryChatRoomId))}`)).status, 200, "with the group's EncryChatRoomId");
    if (other) assert.equal((await icon(`&chatroomid=${encodeURIComponent(String(other.EncryChatRoomId))}`)).status, 404, "another group's id");
    assert.equal((await icon(`&chatroomid=${encodeURIComponent(String(room.UserName))}`)).status, 404, "the group's UserName is not its EncryChatRoomId");
    const friend = c.contact((x) => !String(x.UserName).startsWith("@@") && x.VerifyFlag === 0);
    assert.equal((await c.request("GET", `/cgi-bin/mmwebwx-bin/webwxgeticon?seq=0&username=${encodeURIComponent(String(friend.UserName))}&skey=${encodeURIComponent(c.skey)}`)).status, 200, "a contact's icon needs no chatroomid");
  });

  it("wakes synccheck on an injected message and delivers it escaped, group ones with the member prefix", async () => {
    const c = await online(sb, api);
    await sb.control.settings({ longPollMs: 20_000 });
    const held = c.syncCheck();
    const friend = (await api.worldContacts({ kind: "friend" }))[0];
    assert.ok(friend);
    await api.inject({ from: friend.remarkName || friend.nickName, text: "a < b & c\nline 2" });
    const check = await held;
    assert.deepEqual([check.retcode, check.selector], ["0", "2"]);
    const data = await c.sync();
    const msg = (data.AddMsgList as Json[])[0];
    assert.equal(msg?.MsgType, 1);
    assert.equal(msg?.Content, "a &lt; b &amp; c<br/>line 2");
    assert.equal(msg?.ToUserName, c.self.UserName);
    assert.notEqual(fmtKey(data.SyncCheckKey as never), fmtKey(data.SyncKey as never), "SyncCheckKey is distinct");

    const room = (await api.worldContacts({ kind: "group" }))[0];
    assert.ok(room);
    const members = await sb.control.groupMembers(room.nickName);
    const member = members.find((m) => m.nickName !== "Sandbox Me");
    assert.ok(member);
    await api.inject({ from: member.nickName, room: room.nickName, text: "hello", mention: true });
    const got = await c.receive();
    const g = got.find((m) => String(m.FromUserName).startsWith("@@"));
    assert.match(String(g?.Content), /^@[0-9a-f]{32}:<br\/>hello @.+\u2005$/);
  });

  it("a message written on the phone by the account itself: From = self, no group prefix", async () => {
    const c = await online(sb, api);
    const friend = (await api.worldContacts({ kind: "friend" }))[2];
    const room = (await api.worldContacts({ kind: "group" }))[0];
    assert.ok(friend && room);
    await api.inject({ from: "self", to: friend.remarkName || friend.nickName, text: "sent on the phone" });
    await api.inject({ from: "self", room: room.nickName, text: "to the group from the phone" });
    const msgs = await c.receive();
    assert.equal(msgs[0]?.FromUserName, c.self.UserName);
    assert.equal(msgs[0]?.ToUserName, c.byName(friend.remarkName || friend.nickName));
    assert.equal(msgs[1]?.FromUserName, c.self.UserName);
    assert.match(String(msgs[1]?.ToUserName), /^@@/);
    assert.equal(msgs[1]?.Content, "to the group from the phone");
  });

  it("redelivers after an older SyncKey, pages with ContinueFlag, flags a stale synccheck key", async () => {
    const c = await online(sb, api);
    const friend = (await api.worldContacts({ kind: "friend" }))[1];
    assert.ok(friend);
    const oldKey = c.syncKey;
    const oldCheck = c.checkKey;
    await api.injectBulk({ from: friend.remarkName || friend.nickName, count: 120, prefix: "bulk" });
    const first = await c.sync();
    assert.equal((first.AddMsgList as Json[]).length, 50);
    assert.equal(first.ContinueFlag, 1);
    const all = [...(first.AddMsgList as Json[])];
    for (let i = 0; i < 5; i++) {
      const d = await c.sync();
      all.push(...(d.AddMsgList as Json[]));
      if (!d.ContinueFlag) break;
    }
    assert.equal(all.length, 120);
    assert.equal(all[119]?.Content, "bulk 120");
    // a client that restarts from an old key gets the same messages again (same MsgIds)
    const again = await c.sync(oldKey);
    assert.equal((again.AddMsgList as Json[])[0]?.MsgId, all[0]?.MsgId);
    // synccheck with an older key says "2" (there is more) ...
    assert.equal((await c.syncCheck(oldCheck)).selector, "2");
    assert.deepEqual(await api.violations(), []);
    // ... and the SyncKey used as synccheck key is the classic mix-up
    assert.equal((await c.syncCheck(fmtKey(c.syncKey))).selector, "2");
    assert.equal((await api.violations()).at(-1)?.rule, "synckey-stale");
  });

  it("rotates SKey and ends the session on session/expire", async () => {
    await sb.control.settings({ skeyRotateEvery: 2 });
    const c = await online(sb, api);
    const before = c.skey;
    await c.sync();
    await c.sync();
    assert.notEqual(c.skey, before);
    await c.sync(); // the new skey works
    await sb.control.settings({ longPollMs: 20_000 });
    const held = c.syncCheck();
    await api.expireSession(1101);
    assert.equal((await held).retcode, "1101");
    const after = await c.sync();
    assert.equal((after.BaseResponse as Json).Ret, 1101);
    assert.deepEqual(await api.violations(), []);
  });

  it("answers protocol mistakes with the real error and records them", async () => {
    const c = await online(sb, api);
    const good = c.passTicket;
    c.passTicket = encodeURIComponent(good);
    assert.equal(((await c.sync()).BaseResponse as Json).Ret, 0, "double-encoded pass_ticket is accepted (wechat4u)");
    assert.equal((await api.deviations()).at(-1)?.rule, "pass_ticket-double-encoded");
    c.passTicket = "wrong";
    assert.equal(((await c.sync()).BaseResponse as Json).Ret, 1);
    c.passTicket = good;
    const skey = c.skey;
    c.skey = "@crypt_bad";
    assert.equal(((await c.sync()).BaseResponse as Json).Ret, 1101);
    c.skey = skey;
    c.deviceId = "e123";
    assert.equal(((await c.sync()).BaseResponse as Json).Ret, 1);
    c.deviceId = undefined;
    const saved = new Map(c.cookies);
    c.cookies.delete("wxsid");
    assert.equal(((await c.sync()).BaseResponse as Json).Ret, 1102);
    for (const [k, v] of saved) c.cookies.set(k, v);
    const bad = await c.request("POST", `/cgi-bin/mmwebwx-bin/webwxsync?pass_ticket=${c.passTicket}`, { body: "{not json" });
    assert.equal(bad.headers.get("content-type")?.startsWith("text/plain"), true);
    assert.equal(((JSON.parse(bad.text) as Json).BaseResponse as Json).Ret, 1);
    const rules = (await api.violations()).map((v) => v.rule);
    assert.deepEqual(rules, ["pass_ticket-mismatch", "skey-mismatch", "deviceid-format", "cookie-missing", "json-malformed"]);
  });

  it("contact changes reach the client as ModContactList / DelContactList / ModChatRoomMemberList", async () => {
    const c = await online(sb, api);
    await api.contacts({ op: "add", nickName: "New <Friend>" });
    let d = await c.sync();
    assert.equal((d.ModContactList as Json[])[0]?.NickName, "New &lt;Friend&gt;");
    await api.contacts({ op: "remove", name: "New <Friend>" });
    d = await c.sync();
    assert.equal((d.DelContactList as Json[]).length, 1);
    const room = (await api.worldContacts({ kind: "group" }))[0];
    assert.ok(room);
    await api.contacts({ op: "add-members", room: room.nickName, members: ["Zed Newcomer"] });
    assert.equal((await c.syncCheck()).selector, "4");
    d = await c.sync();
    const mod = (d.ModChatRoomMemberList as Json[])[0];
    assert.ok((mod?.MemberList as Json[]).some((m) => m.NickName === "Zed Newcomer"));
  });
});
