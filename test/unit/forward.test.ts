import { strict as assert } from "node:assert";
import { isWeChatError } from "../../lib/wechat/errors";
import { normalizeMessage, type NormalizeContext } from "../../lib/wechat/messages/normalize";
import type { RawMessage } from "../../lib/wechat/messages/wire";
import { forwardRequest } from "../../lib/wechat/outbox";

const esc = (xml: string): string => xml.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const raw = (fields: Record<string, unknown>) => ({ raw: { MsgId: "4000000000000000001", FromUserName: "@friend", ToUserName: "@me", ...fields } });

describe("forwardRequest (docs/protocol.md section 6, Forwarding)", function () {
  it("re-sends by reference: Scene 2, MediaId empty, the Content with angle brackets unescaped and the group prefix removed", () => {
    const image = forwardRequest(raw({ FromUserName: "@@room", MsgType: 3, Content: "@abc123:<br/>" + esc('<msg><img cdnmidimgurl="305" md5="x" /></msg>') }));
    assert.equal(image.path, "webwxsendmsgimg");
    assert.deepEqual(image.query, { fun: "async", f: "json" });
    assert.equal(image.scene, 2);
    assert.deepEqual(image.fields, { Type: 3, MediaId: "", Content: '<msg><img cdnmidimgurl="305" md5="x" /></msg>' });
    const text = forwardRequest(raw({ MsgType: 1, Content: "a &amp; b<br/>c" }));
    assert.deepEqual([text.path, text.fields.Type, text.fields.Content], ["webwxsendmsg", 1, "a &amp; b<br/>c"]);
  });

  it("a micro video goes as a video, a location as Type 48 with its OriContent, a sticker by its md5 with Scene 0", () => {
    assert.deepEqual([forwardRequest(raw({ MsgType: 62, Content: "x" })).path, forwardRequest(raw({ MsgType: 62, Content: "x" })).fields.Type], ["webwxsendvideomsg", 43]);
    const loc = forwardRequest(raw({ MsgType: 1, SubMsgType: 48, Content: "Here:<br/>/cgi-bin/x", OriContent: esc('<msg><location x="1" y="2" /></msg>') }));
    assert.deepEqual(loc.fields, { Type: 48, MediaId: "", Content: '<msg><location x="1" y="2" /></msg>' });
    const sticker = forwardRequest(raw({ MsgType: 47, Content: esc('<msg><emoji md5="0123456789ABCDEF0123456789abcdef" /></msg>') }));
    assert.deepEqual(sticker.query, { fun: "sys" });
    assert.equal(sticker.scene, 0);
    assert.deepEqual(sticker.fields, { Type: 47, EmojiFlag: 2, EMoticonMd5: "0123456789abcdef0123456789abcdef" });
  });

  it("an app message keeps its <appmsg> only, with the original MediaId as attachid, and its AppMsgType as Type", () => {
    const file = forwardRequest(raw({ MsgType: 49, AppMsgType: 6, MediaId: "@crypt_1", Content: esc("<msg><appmsg appid=\"\"><title>a.pdf</title><type>6</type><appattach><attachid></attachid></appattach></appmsg><fromusername>x</fromusername></msg>") }));
    assert.equal(file.path, "webwxsendappmsg");
    assert.deepEqual(file.fields, { Type: 6, MediaId: "", Content: '<appmsg appid=""><title>a.pdf</title><type>6</type><appattach><attachid>@crypt_1</attachid></appattach></appmsg>' });
    assert.equal(forwardRequest(raw({ MsgType: 49, AppMsgType: 57, Content: esc("<msg><appmsg><title>ok</title><type>57</type></appmsg></msg>") })).fields.Type, 57);
  });

  it("NOT_FORWARDABLE: voice, cards, friend requests, store stickers, red packets, transfers, live locations, notices", () => {
    const refused = [
      raw({ MsgType: 34, Content: "" }),
      raw({ MsgType: 42, Content: "" }),
      raw({ MsgType: 37, Content: "" }),
      raw({ MsgType: 47, Content: esc('<msg><emoji md5="" productid="com.tencent.xin.emoticon.x" /></msg>') }),
      raw({ MsgType: 49, AppMsgType: 2001, Content: esc("<msg><appmsg><type>2001</type></appmsg></msg>") }),
      raw({ MsgType: 49, AppMsgType: 2000, Content: esc("<msg><appmsg><type>2000</type></appmsg></msg>") }),
      raw({ MsgType: 49, AppMsgType: 17, Content: esc("<msg><appmsg><type>17</type></appmsg></msg>") }),
      raw({ MsgType: 10000, Content: "joined" }),
    ];
    for (const message of refused) assert.throws(() => forwardRequest(message), (e) => isWeChatError(e, "NOT_FORWARDABLE"), JSON.stringify(message.raw));
    assert.throws(() => forwardRequest(undefined), (e) => isWeChatError(e, "INVALID_ARGUMENT"));
    assert.throws(() => forwardRequest({ raw: { MsgType: 1 } }), (e) => isWeChatError(e, "INVALID_ARGUMENT"));
  });

  it("a quote reply (appmsg 57) keeps its text and sender on receipt, and again once forwarded", () => {
    const ctx: NormalizeContext = { self: { userName: "@me", nickName: "Me" }, lookup: () => undefined, memberLookup: () => undefined, now: () => 1 };
    const appmsg = "<appmsg><title>agreed &amp; done</title><type>57</type><refermsg><content>the plan</content><displayname>Carl</displayname></refermsg></appmsg>";
    const original: RawMessage = { MsgId: "4000000000000000002", FromUserName: "@@room", ToUserName: "@me", MsgType: 49, AppMsgType: 57, Content: "@bob:<br/>" + esc(`<msg>${appmsg}</msg>`), CreateTime: 1 };
    const received = normalizeMessage(original, ctx);
    assert.deepEqual([received.type, received.text, received.sender.userName], ["text", "agreed & done", "@bob"]);
    // Forwarded: the <appmsg> as it was, re-escaped by the server for the receiver, sent by the forwarder.
    const request = forwardRequest({ raw: received.raw });
    assert.equal(request.fields.Type, 57);
    const delivered = String(request.fields.Content).replace(/</g, "&lt;").replace(/>/g, "&gt;");
    const forwarded = normalizeMessage({ MsgId: "4000000000000000003", FromUserName: "@forwarder", ToUserName: "@me", MsgType: 49, AppMsgType: 57, Content: `&lt;msg&gt;${delivered}&lt;/msg&gt;`, CreateTime: 2 }, ctx);
    assert.deepEqual([forwarded.type, forwarded.text, forwarded.sender.userName], ["text", "agreed & done", "@forwarder"]);
  });
});

