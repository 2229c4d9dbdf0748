/**
 * Issue #12 points 9 and 11, the sandbox side: it answers in the shapes of the real servers (docs/protocol.md
 * section 9): the odd JSON layout as text/plain, NewMsgId as a 19-digit JSON number, names sent raw or escaped,
 * TABs in image and video contents, selectors 4 / 6 / 7 where the real server raises them, createchatroom's
 * Ret 0 + <e> refusal, pushloginurl's ret as a string.
 */
import assert from "node:assert/strict";
import { startSandbox, type Sandbox } from "../../lib/sandbox";
import { SandboxClient } from "../support/sandbox";
import { WebClient, type Json } from "./webclient";

async function online(sb: Sandbox, api: SandboxClient): Promise<WebClient> {
  const c = new WebClient(sb.url);
  await c.login((uuid) => api.scan({ uuid }));
  await c.receive(); // the status notify (code 4) that follows init
  return c;
}

const TEAM = "Dev <Team> & 朋友";

describe("sandbox: real-server shapes (issue #12 points 9 and 11)", () => {
  let sb: Sandbox;
  let api: SandboxClient;
  beforeEach(async () => {
    sb = await startSandbox({ longPollMs: 300, contacts: 20, groups: 3, seed: 12 });
    api = new SandboxClient(sb);
  });
  afterEach(async () => {
    await sb.close();
  });

  it("webwxsync: text/plain without a charset, '}' and ',' on lines of their own, NewMsgId a 19-digit number", async () => {
    const c = await online(sb, api);
    const friend = (await api.worldContacts({ kind: "friend" }))[0];
    assert.ok(friend);
    const { msgId } = await api.inject({ from: friend.remarkName || friend.nickName, text: "hi" });
    assert.equal((await c.syncCheck()).selector, "2");
    await c.sync();
    const answer = c.lastAnswer;
    assert.ok(answer);
    assert.equal(answer.headers.get("content-type"), "text/plain");
    assert.match(answer.text, /\n}\n,\n"/);
    assert.match(msgId, /^\d{19}$/);
    assert.ok(answer.text.includes(`"MsgId": "${msgId}"`), "MsgId is a string");
    assert.ok(answer.text.includes(`"NewMsgId": ${msgId},`), "NewMsgId is a bare number with every digit");
  });

  it("names with angle brackets go out raw or escaped, as asked; an emoji-only nickname stays spans", async () => {
    const c = await online(sb, api);
    const friends = (await api.worldContacts({ kind: "friend" })).slice(0, 2).map((f) => f.remarkName || f.nickName);
    await api.contacts({ op: "add-group", nickName: TEAM, members: friends, wire: "raw" });
    let d = await c.sync();
    assert.equal((d.ModContactList as Json[])[0]?.NickName, TEAM);
    await api.contacts({ op: "modify", name: TEAM, wire: "escaped" });
    d = await c.sync();
    assert.equal((d.ModContactList as Json[])[0]?.NickName, "Dev &lt;Team&gt; &amp; 朋友");
    const emojiOnly = '<span class="emoji emoji1f431"></span><span class="emoji emoji1f389"></span>';
    await api.contacts({ op: "add", nickName: emojiOnly, wire: "raw" });
    d = await c.sync();
    assert.equal((d.ModContactList as Json[])[0]?.NickName, emojiOnly);
    await assert.rejects(api.contacts({ op: "add", nickName: "x", wire: "plain" as "raw" }), /wire/);
  });

  it("selectors: 6 for a contact added or deleted, 4 for a rename or member change, 7 when the phone opens a chat", async () => {
    const c = await online(sb, api);
    await api.contacts({ op: "add", nickName: "Newcomer <qa>" });
    assert.equal((await c.syncCheck()).selector, "6");
    await c.sync();
    await api.contacts({ op: "modify", name: "Newcomer <qa>", nickName: "Renamed <qa>" });
    assert.equal((await c.syncCheck()).selector, "4");
    await c.sync();
    const room = (await api.worldContacts({ kind: "group" }))[0];
    assert.ok(room);
    await api.contacts({ op: "add-members", room: room.nickName, members: ["Zed Joiner"] });
    assert.equal((await c.syncCheck()).selector, "4");
    await c.sync();
    await api.contacts({ op: "remove", name: "Renamed <qa>" });
    assert.equal((await c.syncCheck()).selector, "6");
    await c.sync();
    await api.inject({ from: "self", to: room.nickName, type: "open-chat" });
    assert.equal((await c.syncCheck()).selector, "7");
    const d = await c.sync();
    const notify = (d.AddMsgList as Json[])[0];
    assert.equal(notify?.MsgType, 51);
    assert.equal(notify?.StatusNotifyCode, 2);
    assert.equal(notify?.FromUserName, notify?.ToUserName);
    assert.match(String(notify?.StatusNotifyUserName), /^@@/);
    // A message waiting beside other changes raises 2.
    await api.contacts({ op: "add", nickName: "Another" });
    await api.inject({ from: "Another", text: "hello" });
    assert.equal((await c.syncCheck()).selector, "2");
    assert.deepEqual(await api.violations(), []);
  });

  it("image and video contents carry a TAB after <br/>", async () => {
    const c = await online(sb, api);
    const friend = (await api.worldContacts({ kind: "friend" }))[0];
    assert.ok(friend);
    const from = friend.remarkName || friend.nickName;
    await api.inject({ from, type: "image" });
    await api.inject({ from, type: "video" });
    const msgs = await c.receive();
    for (const type of [3, 43]) {
      const content = String(msgs.find((m) => m.MsgType === type)?.Content);
      assert.match(content, /^&lt;\?xml version=&quot;1\.0&quot;\?&gt;<br\/>&lt;msg&gt;<br\/>\t&lt;/, `MsgType ${type}`);
    }
  });

  it("fault notice: createchatroom answers Ret 0 with an <e> error and no ChatRoomName", async () => {
    const c = await online(sb, api);
    const friends = (await api.worldContacts({ kind: "friend" })).slice(0, 2);
    const members = friends.map((f) => ({ UserName: c.byName(f.remarkName || f.nickName) }));
    await api.fault({ endpoint: "webwxcreatechatroom", kind: "notice" });
    const d = await c.post("webwxcreatechatroom", `r=${Date.now()}`, { MemberCount: 2, MemberList: members, Topic: "Nope" });
    const base = d.BaseResponse as Json;
    assert.equal(base.Ret, 0);
    assert.match(String(base.ErrMsg), /^<e>\n<ShowType>1<\/ShowType>\n<Content><!\[CDATA\[/);
    assert.equal(d.ChatRoomName, "");
    assert.equal((await api.worldContacts({ kind: "group" })).some((g) => g.nickName === "Nope"), false, "no group was made");
  });

  it("pushloginurl answers ret as a string", async () => {
    const c = await online(sb, api);
    const res = await c.request("GET", `/cgi-bin/mmwebwx-bin/webwxpushloginurl?uin=${c.uin}`);
    const value = JSON.parse(res.text) as Json;
    assert.equal(typeof value.ret, "string");
  });
});
