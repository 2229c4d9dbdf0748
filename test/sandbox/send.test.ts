import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startSandbox, type Sandbox } from "../../lib/sandbox";
import { SandboxClient } from "../support/sandbox";
import { WebClient, type Json } from "./webclient";

const ret = (d: Json): unknown => (d.BaseResponse as Json).Ret;

describe("sandbox: sending", () => {
  let sb: Sandbox;
  let api: SandboxClient;
  let c: WebClient;
  beforeEach(async () => {
    sb = await startSandbox({ longPollMs: 400, contacts: 30, seed: 11 });
    api = new SandboxClient(sb);
    c = new WebClient(sb.url);
    await c.login((uuid) => api.scan({ uuid }));
  });
  afterEach(async () => {
    await sb.close();
  });

  it("records a text with MsgID + LocalID, resolving the target's name", async () => {
    const to = c.byName("文件传输助手");
    const answer = await c.sendText(to, "hello <world>", { MsgSource: "<msgsource></msgsource>" });
    assert.equal(ret(answer), 0);
    assert.match(String(answer.MsgID), /^\d{19}$/);
    const sent = await api.waitForSent((r) => r.msgId === answer.MsgID);
    assert.equal(sent.text, "hello <world>");
    assert.equal(sent.to, "filehelper");
    assert.equal(sent.toName, "文件传输助手");
    assert.equal(sent.localId, answer.LocalID);
    assert.equal(sent.msgSource, "<msgsource></msgsource>");
    assert.deepEqual(await api.violations(), []);
  });

  it("delivers a resent message (same ClientMsgId) a second time and flags it, as no server de-duplication is known", async () => {
    const id = c.localId();
    const msg = { Type: 1, Content: "only once", FromUserName: c.self.UserName, ToUserName: "filehelper", LocalID: id, ClientMsgId: id };
    const first = await c.post("webwxsendmsg", "", { Msg: msg, Scene: 0 });
    const again = await c.post("webwxsendmsg", "", { Msg: msg, Scene: 0 });
    assert.equal(ret(again), 0);
    assert.notEqual(again.MsgID, first.MsgID, "a second message");
    assert.equal((await api.sent()).filter((r) => r.text === "only once").length, 2, "the resend shows as two messages");
    assert.deepEqual((await api.violations()).map((v) => v.rule), ["send-repeated"]);
    const other = await c.post("webwxsendmsg", "", { Msg: { ...msg, Content: "something else" }, Scene: 0 });
    assert.equal(ret(other), 1);
    assert.equal((await api.violations()).at(-1)?.rule, "clientmsgid-reused");
  });

  it("refuses a non-contact (1204) and a foreign FromUserName (1)", async () => {
    assert.equal(ret(await c.sendText("@" + "0".repeat(32), "x")), 1204);
    const id = c.localId();
    const bad = await c.post("webwxsendmsg", "", { Msg: { Type: 1, Content: "x", FromUserName: "@nope", ToUserName: "filehelper", LocalID: id, ClientMsgId: id }, Scene: 0 });
    assert.equal(ret(bad), 1);
    assert.deepEqual((await api.violations()).map((v) => v.rule), ["not-a-contact", "from-not-self"]);
  });

  it("throttles per account with 1205", async () => {
    await api.settings({ throttle: { burst: 3, refillPerSecond: 0.001 } });
    const rets: unknown[] = [];
    for (let i = 0; i < 5; i++) rets.push(ret(await c.sendText("filehelper", `n${i}`)));
    assert.deepEqual(rets, [0, 0, 0, 1205, 1205]);
    await api.settings({ throttle: false });
    assert.equal(ret(await c.sendText("filehelper", "free")), 0);
  });

  it("two logged-in accounts message each other, also in a shared group", async () => {
    const b = new WebClient(sb.url);
    await b.login((uuid) => api.scan({ uuid, account: 1 }));
    await b.receive();
    const bName = c.byName("Second Phone");
    assert.equal(ret(await c.sendText(bName, "ping from A")), 0);
    const got = await b.receive();
    const m = got.find((x) => x.MsgType === 1);
    assert.equal(m?.Content, "ping from A");
    assert.equal(m?.FromUserName, b.byName("Sandbox Me"));
    const room = c.contact((x) => String(x.UserName).startsWith("@@") && x.NickName === "家人群");
    assert.equal(ret(await c.sendText(String(room.UserName), "to the family")), 0);
    const g = (await b.receive()).find((x) => String(x.FromUserName).startsWith("@@"));
    assert.match(String(g?.Content), /^@[0-9a-f]{32}:<br\/>to the family$/);
  });

  it("revokes within the window and tells the other account", async () => {
    const b = new WebClient(sb.url);
    await b.login((uuid) => api.scan({ uuid, account: 1 }));
    await b.receive();
    const to = c.byName("Second Phone");
    const sent = await c.sendText(to, "oops");
    await b.receive();
    const r = await c.post("webwxrevokemsg", "", { SvrMsgId: sent.MsgID, ToUserName: to, ClientMsgId: c.localId() });
    assert.equal(ret(r), 0);
    const recall = (await b.receive()).find((x) => x.MsgType === 10002);
    assert.ok(String(recall?.Content).includes(`&lt;msgid&gt;${String(sent.MsgID)}&lt;/msgid&gt;`));
    assert.equal(ret(await c.post("webwxrevokemsg", "", { SvrMsgId: sent.MsgID, ToUserName: to, ClientMsgId: c.localId() })), 1);
  });

  it("uploads in 524288-byte chunks, checks md5, and sends the image", async () => {
    const data = Buffer.alloc(1_200_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 256;
    const up = await c.upload(data, "photo.jpg", "image/jpeg", "filehelper");
    assert.equal(ret(up), 0);
    assert.match(String(up.MediaId), /^@crypt_/);
    const record = (await api.uploads())[0];
    assert.equal(record?.chunks, 3);
    assert.equal(record?.md5, createHash("md5").update(data).digest("hex"));
    assert.deepEqual(await api.upload(String(up.MediaId)), data);
    const send = await c.sendMedia("webwxsendmsgimg", "fun=async&f=json", { Type: 3, MediaId: up.MediaId, ToUserName: "filehelper", Content: "" });
    assert.equal(ret(send), 0);
    const s = await api.waitForSent((r) => r.type === "image");
    assert.equal(s.mediaId, up.MediaId);
    assert.deepEqual(await api.violations(), []);
    assert.deepEqual(await api.deviations(), []);
  });

  it("refuses unchunked over 512 KiB, a wrong md5 and zero bytes", async () => {
    const big = Buffer.alloc(600_000, 1);
    assert.equal(ret(await c.upload(big, "big.bin", "application/octet-stream", "filehelper", { chunk: 10_000_000 })), 1);
    assert.equal(ret(await c.upload(Buffer.from("abc"), "a.txt", "text/plain", "filehelper", { md5: "0".repeat(32) })), 1);
    assert.equal(ret(await c.upload(Buffer.alloc(0), "e.txt", "text/plain", "filehelper")), 1);
    assert.deepEqual((await api.violations()).map((v) => v.rule), ["upload-unchunked", "upload-md5", "upload-empty"]);
  });

  it("sends a file appmsg checked against the upload; the other account downloads it", async () => {
    const b = new WebClient(sb.url);
    await b.login((uuid) => api.scan({ uuid, account: 1 }));
    await b.receive();
    const to = c.byName("Second Phone");
    const data = Buffer.from("report & data\n".repeat(100));
    const up = await c.upload(data, "r&d.txt", "text/plain", to);
    const xml = `<appmsg appid='wxeb7ec651dd0aefa9' sdkver=''><title>r&amp;d.txt</title><des></des><action></action><type>6</type><content></content><url></url><lowurl></lowurl><appattach><totallen>${data.length}</totallen><attachid>${String(up.MediaId)}</attachid><fileext>txt</fileext></appattach><extinfo></extinfo></appmsg>`;
    assert.equal(ret(await c.sendMedia("webwxsendappmsg", "fun=async&f=json", { Type: 6, Content: xml, ToUserName: to })), 0);
    const unescaped = xml.replace("r&amp;d", "r&d");
    assert.equal(ret(await c.sendMedia("webwxsendappmsg", "fun=async&f=json", { Type: 6, Content: unescaped, ToUserName: to })), 1);
    assert.equal((await api.violations()).at(-1)?.rule, "appmsg-xml");
    const msg = (await b.receive()).find((x) => x.MsgType === 49);
    assert.equal(msg?.AppMsgType, 6);
    assert.equal(msg?.FileName, "r&amp;d.txt");
    const q = `sender=${encodeURIComponent(String(msg?.FromUserName))}&mediaid=${encodeURIComponent(String(msg?.MediaId))}&encryfilename=${String(msg?.EncryFileName)}&fromuser=${b.uin}&pass_ticket=${b.passTicket}&webwx_data_ticket=${encodeURIComponent(b.cookies.get("webwx_data_ticket") ?? "")}`;
    const file = await b.request("GET", `/cgi-bin/mmwebwx-bin/webwxgetmedia?${q}`);
    assert.equal(file.status, 200);
    assert.deepEqual(file.body, data);
  });

  it("needs webwxcheckupload for files over 25 MB", async () => {
    const data = Buffer.alloc(26 * 1024 * 1024, 3);
    const md5 = createHash("md5").update(data).digest("hex");
    const refused = await c.upload(data, "big.zip", "application/zip", "filehelper");
    assert.equal(ret(refused), 1);
    assert.equal((await api.violations()).at(-1)?.rule, "checkupload-missing");
    const check = await c.post("webwxcheckupload", "", { FileMd5: md5, FileName: "big.zip", FileSize: data.length, FileType: 7, FromUserName: c.self.UserName, ToUserName: "filehelper" });
    assert.equal(ret(check), 0);
    const ok = await c.upload(data, "big.zip", "application/zip", "filehelper", { request: { AESKey: check.AESKey, Signature: check.Signature } });
    assert.equal(ret(ok), 0);
  });
});
