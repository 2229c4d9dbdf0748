import assert from "node:assert/strict";
import { startSandbox, type Sandbox } from "../../lib/sandbox";
import { SandboxClient } from "../support/sandbox";
import { WebClient, loggedInWithFriend, type Json } from "./webclient";

describe("sandbox: incoming media and message kinds", () => {
  let sb: Sandbox;
  let api: SandboxClient;
  let c: WebClient;
  let friend: string;
  before(async () => {
    sb = await startSandbox({ longPollMs: 400, contacts: 20, seed: 2 });
    api = new SandboxClient(sb);
    ({ c, friend } = await loggedInWithFriend(sb.url, api));
  });
  after(async () => {
    await sb.close();
  });

  async function one(req: Parameters<SandboxClient["inject"]>[0]): Promise<Json> {
    const { msgId } = await api.inject(req);
    const msgs = await c.receive();
    const m = msgs.find((x) => x.MsgId === msgId);
    assert.ok(m, "the injected message arrives");
    return m;
  }

  const media = (path: string, headers: Record<string, string> = {}) => c.request("GET", `/cgi-bin/mmwebwx-bin/${path}`, { headers });

  it("image: full and slave downloads need the cookies and skey", async () => {
    const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
    const m = await one({ from: friend, type: "image", data: Buffer.concat([png, Buffer.alloc(100)]).toString("base64") });
    assert.equal(m.MsgType, 3);
    const full = await media(`webwxgetmsgimg?MsgID=${String(m.MsgId)}&skey=${encodeURIComponent(c.skey)}`);
    assert.equal(full.status, 200);
    assert.equal(full.body.length, png.length + 100);
    const slave = await media(`webwxgetmsgimg?MsgID=${String(m.MsgId)}&skey=${encodeURIComponent(c.skey)}&type=slave`);
    assert.equal(slave.status, 200);
    const saved = c.cookies.get("webwx_data_ticket") ?? "";
    c.cookies.delete("webwx_data_ticket");
    const refused = await media(`webwxgetmsgimg?MsgID=${String(m.MsgId)}&skey=${encodeURIComponent(c.skey)}`);
    c.cookies.set("webwx_data_ticket", saved);
    assert.equal(((JSON.parse(refused.text) as Json).BaseResponse as Json).Ret, 1102);
    assert.equal((await api.violations()).at(-1)?.rule, "cookie-missing");
    await api.clearViolations();
  });

  it("voice and video (Range: 206)", async () => {
    const v = await one({ from: friend, type: "voice", durationMs: 4200 });
    assert.equal(v.MsgType, 34);
    assert.equal(v.VoiceLength, 4200);
    const voice = await media(`webwxgetvoice?msgid=${String(v.MsgId)}&skey=${encodeURIComponent(c.skey)}`);
    assert.equal(voice.headers.get("content-type"), "audio/mpeg");
    const vid = await one({ from: friend, type: "video" });
    assert.equal(vid.MsgType, 43);
    const part = await media(`webwxgetvideo?msgid=${String(vid.MsgId)}&skey=${encodeURIComponent(c.skey)}`, { Range: "bytes=0-" });
    assert.equal(part.status, 206);
    assert.match(String(part.headers.get("content-range")), /^bytes 0-\d+\/\d+$/);
    const tail = await media(`webwxgetvideo?msgid=${String(vid.MsgId)}&skey=${encodeURIComponent(c.skey)}`, { Range: "bytes=10-19" });
    assert.equal(tail.body.length, 10);
    assert.deepEqual(await api.violations(), []);
  });

  it("file: webwxgetmedia checks sender, mediaid, encryfilename and webwx_data_ticket", async () => {
    const data = Buffer.from("file body");
    const m = await one({ from: friend, type: "file", fileName: "../x <1>.txt", data: data.toString("base64") });
    assert.equal(m.MsgType, 49);
    assert.equal(m.AppMsgType, 6);
    assert.equal(m.FileName, "../x &lt;1&gt;.txt");
    const base = `/cgi-bin/mmwebwx-bin/webwxgetmedia?sender=${String(m.FromUserName)}&mediaid=${encodeURIComponent(String(m.MediaId))}&encryfilename=${String(m.EncryFileName)}&fromuser=${c.uin}&pass_ticket=${c.passTicket}`;
    const ok = await c.request("GET", `${base}&webwx_data_ticket=${encodeURIComponent(c.cookies.get("webwx_data_ticket") ?? "")}`);
    assert.deepEqual(ok.body, data);
    const bad = await c.request("GET", `${base}&webwx_data_ticket=nope`);
    assert.equal(bad.status, 404);
    assert.equal((await api.violations()).at(-1)?.rule, "field-invalid");
    await api.clearViolations();
  });

  it("link, location, card, sticker, system, recall and friend request", async () => {
    const link = await one({ from: friend, type: "link", title: "T & T", url: "https://example.com/?a=1&b=2", text: "desc" });
    assert.equal(link.AppMsgType, 5);
    assert.ok(String(link.Content).includes("&lt;type&gt;5&lt;/type&gt;"));
    const loc = await one({ from: friend, type: "location", label: "Shenzhen Bay", lat: 22.5, lng: 113.9 });
    assert.equal(loc.MsgType, 1);
    assert.equal(loc.SubMsgType, 48);
    assert.ok(String(loc.Url).includes("22.5,113.9"));
    const card = await one({ from: friend, type: "card", card: "Second Phone" });
    assert.equal(card.MsgType, 42);
    assert.equal((card.RecommendInfo as Json).UserName, c.byName("Second Phone"));
    const st = await one({ from: friend, type: "sticker" });
    assert.equal(st.MsgType, 47);
    const sys = await one({ from: friend, type: "system", text: "joined" });
    assert.equal(sys.MsgType, 10000);
    const rec = await one({ from: friend, type: "recall", msgId: String(link.MsgId) });
    assert.equal(rec.MsgType, 10002);
    assert.ok(String(rec.Content).includes("revokemsg"));
    const fr = await one({ from: "Stranger Danger", type: "friend-request", text: "hi, add me" });
    assert.equal(fr.MsgType, 37);
    const info = fr.RecommendInfo as Json;
    assert.equal(info.Content, "hi, add me");
    const accept = await c.post("webwxverifyuser", `r=${Date.now()}`, { Opcode: 3, VerifyUserListSize: 1, VerifyUserList: [{ Value: info.UserName, VerifyUserTicket: info.Ticket }], VerifyContent: "", SceneListCount: 1, SceneList: [33], skey: c.skey });
    assert.equal((accept.BaseResponse as Json).Ret, 0);
    const d = await c.sync();
    assert.equal((d.ModContactList as Json[])[0]?.NickName, "Stranger Danger");
    assert.deepEqual(await api.violations(), []);
  });

  it("oplog, createchatroom, updatechatroom (addmember refused at 40+), icons", async () => {
    const f = c.byName(friend);
    assert.equal(((await c.post("webwxoplog", "", { CmdId: 2, RemarkName: "New Remark", UserName: f })).BaseResponse as Json).Ret, 0);
    const mod = await c.sync();
    assert.equal((mod.ModContactList as Json[])[0]?.RemarkName, "New Remark");
    const two = c.contacts.filter((x) => String(x.UserName).startsWith("@") && !String(x.UserName).startsWith("@@") && x.VerifyFlag === 0).slice(0, 2);
    const created = await c.post("webwxcreatechatroom", `r=${Date.now()}`, { MemberCount: 2, MemberList: two.map((x) => ({ UserName: x.UserName })), Topic: "New room" });
    assert.equal((created.BaseResponse as Json).Ret, 0);
    assert.match(String(created.ChatRoomName), /^@@/);
    const big = c.contacts.find((x) => String(x.UserName).startsWith("@@") && x.NickName === "同学会 2010");
    assert.ok(big, "the 41-member group");
    const add = await c.post("webwxupdatechatroom", "fun=addmember", { ChatRoomName: big.UserName, AddMemberList: String(two[0]?.UserName) });
    assert.equal((add.BaseResponse as Json).Ret, 1);
    assert.equal((await api.violations()).at(-1)?.rule, "addmember-40");
    const invite = await c.post("webwxupdatechatroom", "fun=invitemember", { ChatRoomName: big.UserName, InviteMemberList: String(two[0]?.UserName) });
    assert.equal((invite.BaseResponse as Json).Ret, 0);
    const icon = await c.request("GET", `/cgi-bin/mmwebwx-bin/webwxgeticon?seq=0&username=${f}&skey=${encodeURIComponent(c.skey)}`);
    assert.equal(icon.status, 200);
    assert.equal(icon.headers.get("content-type"), "image/jpeg");
  });
});
