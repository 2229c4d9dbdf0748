import assert from "node:assert/strict";
import { normalizeMessage, referencedUserNames, type NormalizeContext } from "../../lib/wechat/messages/normalize";
import { rawContactToContact } from "../../lib/wechat/messages/contact";
import type { RawContact, RawMessage } from "../../lib/wechat/messages/wire";
import type { Contact, GroupMember } from "../../lib/wechat/types";
import { isWeChatError } from "../../lib/wechat/errors";

const SELF = "@self";
const ROOM = "@@room";

/** The server's escaping of XML inside Content. */
function esc(xml: string): string {
  return xml.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/\n/g, "<br/>");
}

const rawContacts: RawContact[] = [
  { UserName: SELF, NickName: "Me" },
  { UserName: "@bob", NickName: "Bob", RemarkName: "Bobby", ContactFlag: 3 },
  { UserName: "filehelper", NickName: "文件传输助手" },
  {
    UserName: ROOM,
    NickName: "Team",
    MemberList: [
      { UserName: SELF, NickName: "Me", DisplayName: "Boss" },
      { UserName: "@bob", NickName: "Bob", DisplayName: "B in team" },
      { UserName: "@carl", NickName: "Carl", DisplayName: "" },
    ],
  },
  { UserName: "@@plain", NickName: "Plain", MemberList: [{ UserName: SELF, NickName: "Me", DisplayName: "" }] },
];
const contacts = new Map<string, Contact>(rawContacts.map((c) => [String(c.UserName), rawContactToContact(c, SELF)]));

const ctx: NormalizeContext = {
  self: { userName: SELF, nickName: "Me" },
  lookup: (userName) => contacts.get(userName),
  memberLookup: (room: string, member: string): GroupMember | undefined => contacts.get(room)?.members?.find((m) => m.userName === member),
  now: () => 42,
};

function msg(fields: Partial<RawMessage>): RawMessage {
  return { MsgId: "1001", NewMsgId: 9001, FromUserName: "@bob", ToUserName: SELF, MsgType: 1, Content: "", CreateTime: 1_700_000_000, ...fields };
}

describe("messages/normalize: chat, sender, room", () => {
  it("private text from a friend", () => {
    const m = normalizeMessage(msg({ Content: "hi &amp; bye<br/>ok" }), ctx);
    assert.equal(m.id, "1001");
    assert.equal(m.newId, "9001");
    assert.equal(m.type, "text");
    assert.equal(m.msgType, 1);
    assert.equal(m.time, 1_700_000_000_000);
    assert.equal(m.text, "hi & bye\nok");
    assert.deepEqual(m.chat, { userName: "@bob", handle: "Bobby", displayName: "Bobby", kind: "friend" });
    assert.deepEqual(m.sender, m.chat);
    assert.equal(m.room, undefined);
    assert.equal(m.fromSelf, false);
    assert.equal(m.mentioned, false);
    assert.equal(m.raw.Content, "hi &amp; bye<br/>ok");
  });

  it("private text sent by this account from the phone", () => {
    const m = normalizeMessage(msg({ FromUserName: SELF, ToUserName: "@bob", Content: "yo" }), ctx);
    assert.equal(m.fromSelf, true);
    assert.equal(m.chat.userName, "@bob");
    assert.equal(m.sender.kind, "self");
    assert.equal(m.sender.userName, SELF);
  });

  it("to the file helper", () => {
    const m = normalizeMessage(msg({ FromUserName: SELF, ToUserName: "filehelper", Content: "note" }), ctx);
    assert.deepEqual(m.chat, { userName: "filehelper", handle: "filehelper", displayName: "文件传输助手", kind: "special" });
  });

  it("incoming group message: prefix stripped, member is the sender, group display name used", () => {
    const m = normalizeMessage(msg({ FromUserName: ROOM, ToUserName: SELF, Content: "@carl:<br/>hello all" }), ctx);
    assert.equal(m.text, "hello all");
    assert.equal(m.chat.userName, ROOM);
    assert.equal(m.chat.kind, "group");
    assert.equal(m.room?.handle, "Team");
    assert.deepEqual(m.sender, { userName: "@carl", handle: "Carl", displayName: "Carl", kind: "stranger" });
    const fromFriend = normalizeMessage(msg({ FromUserName: ROOM, ToUserName: SELF, Content: "@bob:<br/>x" }), ctx);
    assert.equal(fromFriend.sender.handle, "Bobby");
    assert.equal(fromFriend.sender.displayName, "Bobby");
    assert.equal(fromFriend.sender.kind, "friend");
  });

  it("group message sent by this account from the phone has no prefix and ToUserName = group", () => {
    const m = normalizeMessage(msg({ FromUserName: SELF, ToUserName: ROOM, Content: "@Carl\u2005hi" }), ctx);
    assert.equal(m.fromSelf, true);
    assert.equal(m.chat.userName, ROOM);
    assert.equal(m.room?.userName, ROOM);
    assert.equal(m.sender.kind, "self");
    assert.equal(m.text, "@Carl\u2005hi");
    assert.equal(m.mentioned, false);
  });

  it("mentions use the self's DisplayName in the group, else NickName", () => {
    const byDisplay = normalizeMessage(msg({ FromUserName: ROOM, Content: "@bob:<br/>@Boss\u2005look" }), ctx);
    assert.equal(byDisplay.mentioned, true);
    const byNickWhenDisplaySet = normalizeMessage(msg({ FromUserName: ROOM, Content: "@bob:<br/>@Me look" }), ctx);
    assert.equal(byNickWhenDisplaySet.mentioned, false);
    const byNick = normalizeMessage(msg({ FromUserName: "@@plain", Content: "@bob:<br/>hey @Me" }), ctx);
    assert.equal(byNick.mentioned, true);
    const unknownRoom = normalizeMessage(msg({ FromUserName: "@@unknown", Content: "@x:<br/>@Me\u2005!" }), ctx);
    assert.equal(unknownRoom.mentioned, true);
    assert.equal(unknownRoom.chat.kind, "group");
    assert.equal(unknownRoom.sender.kind, "stranger");
    const notInPrivate = normalizeMessage(msg({ Content: "@Me hi" }), ctx);
    assert.equal(notInPrivate.mentioned, false);
  });

  it("a group system notice without prefix comes from the group", () => {
    const m = normalizeMessage(msg({ FromUserName: ROOM, MsgType: 10000, Content: "&quot;Carl&quot; joined the group chat" }), ctx);
    assert.equal(m.type, "system");
    assert.equal(m.text, '"Carl" joined the group chat');
    assert.equal(m.sender.userName, ROOM);
  });

  it("unknown senders and missing CreateTime", () => {
    const m = normalizeMessage(msg({ FromUserName: "@nobody", CreateTime: undefined }), ctx);
    assert.deepEqual(m.chat, { userName: "@nobody", handle: "", displayName: "@nobody", kind: "stranger" });
    assert.equal(m.time, 42);
  });

  it("referencedUserNames lists from, to and the group member", () => {
    assert.deepEqual(referencedUserNames(msg({ FromUserName: ROOM, ToUserName: SELF, Content: "@carl:<br/>x" })), [ROOM, SELF, "@carl"]);
    assert.deepEqual(referencedUserNames(msg({})), ["@bob", SELF]);
    assert.deepEqual(referencedUserNames(null as unknown as RawMessage), []);
  });
});

describe("messages/normalize: every MsgType", () => {
  it("1 + Url + SubMsgType 48: location share", () => {
    const m = normalizeMessage(
      msg({
        Content: "北京市海淀区上地十街:<br/>/cgi-bin/mmwebwx-bin/webwxgetpubliclinkimg?url=xxx&amp;msgid=1&amp;pictype=location",
        Url: "http://apis.map.qq.com/uri/v1/geocoder?coord=40.075041,116.338994",
        SubMsgType: 48,
      }),
      ctx,
    );
    assert.equal(m.type, "location");
    assert.equal(m.location?.label, "北京市海淀区上地十街");
    assert.equal(m.location?.lat, 40.075041);
    assert.equal(m.location?.lng, 116.338994);
    assert.equal(m.text, "[location] 北京市海淀区上地十街");
  });

  it("3 image, 34 voice, 43/62 video", () => {
    const image = normalizeMessage(msg({ MsgType: 3, Content: esc('<msg><img length="1234" /></msg>'), ImgWidth: 640, ImgHeight: 480 }), ctx);
    assert.equal(image.type, "image");
    assert.equal(image.text, "[image]");
    assert.deepEqual(image.media, { kind: "image", width: 640, height: 480, size: 1234 });
    const voice = normalizeMessage(msg({ MsgType: 34, VoiceLength: 3250 }), ctx);
    assert.equal(voice.type, "voice");
    assert.deepEqual(voice.media, { kind: "voice", durationMs: 3250 });
    const video = normalizeMessage(msg({ MsgType: 43, PlayLength: 12, ImgWidth: 320, ImgHeight: 240, Content: esc('<msg><videomsg length="99000" playlength="12" /></msg>') }), ctx);
    assert.equal(video.type, "video");
    assert.deepEqual(video.media, { kind: "video", durationMs: 12000, width: 320, height: 240, size: 99000 });
    assert.equal(normalizeMessage(msg({ MsgType: 62, PlayLength: 3 }), ctx).type, "video");
  });

  it("group image keeps the prefix out", () => {
    const m = normalizeMessage(msg({ FromUserName: ROOM, MsgType: 3, Content: "@carl:<br/>" + esc("<msg><img/></msg>") }), ctx);
    assert.equal(m.type, "image");
    assert.equal(m.sender.userName, "@carl");
  });

  it("47 sticker and 49/8 gif sticker", () => {
    const sticker = normalizeMessage(
      msg({ MsgType: 47, Content: esc('<msg><emoji fromusername="x" cdnurl="http://emoji.qpic.cn/a?b=1&c=2" width="120" height="100" /></msg>'), HasProductId: 0 }),
      ctx,
    );
    assert.equal(sticker.type, "sticker");
    assert.equal(sticker.text, "[sticker]");
    assert.equal(sticker.url, "http://emoji.qpic.cn/a?b=1&c=2");
    assert.deepEqual(sticker.media, { kind: "sticker", width: 120, height: 100 });
    const gif = normalizeMessage(msg({ MsgType: 49, AppMsgType: 8, Content: esc("<msg><appmsg><type>8</type><title></title></appmsg></msg>") }), ctx);
    assert.equal(gif.type, "sticker");
    assert.equal(gif.appMsgType, 8);
    assert.equal(gif.media?.kind, "sticker");
  });

  it("49/6 file with appattach and a hostile file name", () => {
    const xml =
      '<?xml version="1.0"?>\n<msg><appmsg appid="" sdkver="0"><title>../../evil &amp; co.pdf</title><type>6</type>' +
      "<appattach><totallen>20480</totallen><attachid>@cdn_1</attachid><fileext>pdf</fileext></appattach></appmsg></msg>";
    const m = normalizeMessage(msg({ MsgType: 49, AppMsgType: 6, Content: esc(xml), FileName: "../../evil &amp; co.pdf", FileSize: "20480", MediaId: "@media1" }), ctx);
    assert.equal(m.type, "file");
    assert.equal(m.appMsgType, 6);
    assert.equal(m.title, "../../evil & co.pdf");
    assert.equal(m.text, "[file] ../../evil & co.pdf");
    assert.deepEqual(m.media, { kind: "file", fileName: "evil & co.pdf", size: 20480, mediaId: "@media1" });
  });

  it("49/6 takes size and attach id from the XML when the fields are missing", () => {
    const xml = "<msg><appmsg><title>r.txt</title><type>6</type><appattach><totallen>10</totallen><attachid>@a1</attachid></appattach></appmsg></msg>";
    const m = normalizeMessage(msg({ MsgType: 49, Content: esc(xml) }), ctx);
    assert.equal(m.type, "file");
    assert.deepEqual(m.media, { kind: "file", fileName: "r.txt", size: 10, mediaId: "@a1" });
  });

  it("49/5 link", () => {
    const xml = "<msg><appmsg><title>News &amp; views</title><des>d</des><type>5</type><url>https://example.com/a?x=1&amp;y=2</url></appmsg></msg>";
    const m = normalizeMessage(msg({ MsgType: 49, AppMsgType: 5, Content: esc(xml), Url: "https://example.com/a?x=1&y=2" }), ctx);
    assert.equal(m.type, "link");
    assert.equal(m.title, "News & views");
    assert.equal(m.url, "https://example.com/a?x=1&y=2");
    assert.equal(m.text, "[link] News & views");
  });

  it("48 location from XML", () => {
    const xml = '<?xml version="1.0"?>\n<msg><location x="22.54" y="113.93" scale="16" label="Shenzhen &amp; Bay" maptype="0" poiname="Park" /></msg>';
    const m = normalizeMessage(msg({ MsgType: 48, Content: esc(xml) }), ctx);
    assert.equal(m.type, "location");
    assert.deepEqual(m.location, { label: "Shenzhen & Bay", lat: 22.54, lng: 113.93 });
  });

  it("42 card", () => {
    const m = normalizeMessage(
      msg({ MsgType: 42, Content: esc('<msg username="@card1" nickname="Dora" alias="dora_x" />'), RecommendInfo: { UserName: "@card1", NickName: "Dora", Alias: "" } }),
      ctx,
    );
    assert.equal(m.type, "card");
    assert.deepEqual(m.card, { userName: "@card1", nickName: "Dora", alias: "dora_x" });
    assert.equal(m.text, "[card] Dora");
  });

  it("37 friend request", () => {
    const m = normalizeMessage(
      msg({
        FromUserName: "fmessage",
        MsgType: 37,
        Content: esc('<msg fromusername="wxid_x" fromnickname="Eve" content="hello" ticket="v2_t" scene="30" />'),
        RecommendInfo: { UserName: "@eve", NickName: "Eve &amp; Co", Content: "Hi, I&#39;m Eve", Ticket: "v2_ticket", Scene: 30 },
      }),
      ctx,
    );
    assert.equal(m.type, "friend-request");
    assert.deepEqual(m.friendRequest, { userName: "@eve", nickName: "Eve & Co", greeting: "Hi, I'm Eve", ticket: "v2_ticket", scene: 30 });
    assert.equal(m.sender.userName, "@eve");
    assert.equal(m.sender.handle, "Eve & Co");
    assert.equal(m.chat.userName, "fmessage");
    assert.equal(m.text, "[friend request] Eve & Co: Hi, I'm Eve");
  });

  it("10002 recall", () => {
    const xml =
      '<sysmsg type="revokemsg"><revokemsg><session>@bob</session><oldmsgid>1</oldmsgid><msgid>8173638466587391029</msgid>' +
      '<replacemsg><![CDATA["Bobby" recalled a message]]></replacemsg></revokemsg></sysmsg>';
    const m = normalizeMessage(msg({ MsgType: 10002, Content: esc(xml) }), ctx);
    assert.equal(m.type, "recall");
    assert.deepEqual(m.recall, { msgId: "8173638466587391029", replaceText: '"Bobby" recalled a message' });
    assert.equal(m.text, '"Bobby" recalled a message');
  });

  it("10002 recall in a group with a prefix", () => {
    const xml = "<sysmsg type=\"revokemsg\"><revokemsg><msgid>55</msgid><replacemsg><![CDATA[x]]></replacemsg></revokemsg></sysmsg>";
    const m = normalizeMessage(msg({ FromUserName: ROOM, MsgType: 10002, Content: "@carl:<br/>" + esc(xml) }), ctx);
    assert.equal(m.recall?.msgId, "55");
    assert.equal(m.sender.userName, "@carl");
  });

  it("49/2000 transfer and 49/2001 red packet", () => {
    const transfer = normalizeMessage(
      msg({ MsgType: 49, AppMsgType: 2000, Content: esc("<msg><appmsg><title>微信转账</title><type>2000</type><wcpayinfo><feedesc>￥0.10</feedesc><pay_memo>lunch</pay_memo></wcpayinfo></appmsg></msg>") }),
      ctx,
    );
    assert.equal(transfer.type, "transfer");
    assert.equal(transfer.text, "[transfer] ￥0.10 lunch");
    const packet = normalizeMessage(
      msg({ MsgType: 49, AppMsgType: 2001, Content: esc("<msg><appmsg><title>微信红包</title><type>2001</type><wcpayinfo><sendertitle>恭喜发财</sendertitle></wcpayinfo></appmsg></msg>") }),
      ctx,
    );
    assert.equal(packet.type, "red-packet");
    assert.equal(packet.text, "[red packet] 恭喜发财");
  });

  it("49/33 and 49/36 mini program", () => {
    for (const t of [33, 36]) {
      const m = normalizeMessage(
        msg({ MsgType: 49, AppMsgType: t, Content: esc(`<msg><appmsg><title>Order</title><type>${t}</type><sourcedisplayname>Shop</sourcedisplayname></appmsg></msg>`) }),
        ctx,
      );
      assert.equal(m.type, "mini-program");
      assert.equal(m.text, "[mini program] Shop: Order");
      assert.equal(m.title, "Order");
    }
  });

  it("49/57 quote reply reads as text", () => {
    const m = normalizeMessage(msg({ FromUserName: ROOM, MsgType: 49, AppMsgType: 57, Content: "@bob:<br/>" + esc("<msg><appmsg><title>@Boss\u2005agreed</title><type>57</type><refermsg><content>x</content></refermsg></appmsg></msg>") }), ctx);
    assert.equal(m.type, "text");
    assert.equal(m.text, "@Boss\u2005agreed");
    assert.equal(m.mentioned, true);
  });

  it("51 status notify, VoIP and noise are status; 10000 is system", () => {
    const notify = normalizeMessage(msg({ FromUserName: SELF, ToUserName: SELF, MsgType: 51, StatusNotifyCode: 4, StatusNotifyUserName: "@a,@b" }), ctx);
    assert.equal(notify.type, "status");
    assert.equal(notify.chat.kind, "self");
    for (const t of [50, 52, 53, 9999, 40]) assert.equal(normalizeMessage(msg({ MsgType: t }), ctx).type, "status");
    assert.equal(normalizeMessage(msg({ MsgType: 10000, Content: "You recalled a message" }), ctx).type, "system");
  });

  it("unknown types keep raw", () => {
    const m = normalizeMessage(msg({ MsgType: 777, Content: "?" }), ctx);
    assert.equal(m.type, "unknown");
    assert.equal(m.text, "[message type 777]");
    assert.equal(m.raw.MsgType, 777);
    const app = normalizeMessage(msg({ MsgType: 49, AppMsgType: 999, Content: esc("<msg><appmsg><title>T</title></appmsg></msg>") }), ctx);
    assert.equal(app.type, "unknown");
    assert.equal(app.text, "[app message 999] T");
  });
});

describe("messages/normalize: hostile input", () => {
  it("malformed app XML falls back to the raw fields instead of crashing", () => {
    const m = normalizeMessage(msg({ MsgType: 49, AppMsgType: 6, Content: "&lt;msg&gt;&lt;appmsg&gt;&lt;title&gt;oops", FileName: "a.zip", FileSize: "7" }), ctx);
    assert.equal(m.type, "file");
    assert.equal(m.media?.fileName, "a.zip");
    assert.equal(m.media?.size, 7);
  });

  it("DOCTYPE in content is ignored, not expanded", () => {
    const evil = esc('<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><msg><appmsg><title>&a;</title><type>5</type></appmsg></msg>');
    const m = normalizeMessage(msg({ MsgType: 49, AppMsgType: 5, Content: evil }), ctx);
    assert.equal(m.type, "link");
    assert.equal(m.title, undefined);
  });

  it("huge content does not blow up", () => {
    const big = "&lt;msg&gt;" + "A".repeat(2_000_000);
    const started = Date.now();
    const m = normalizeMessage(msg({ MsgType: 49, AppMsgType: 5, Content: big }), ctx);
    assert.equal(m.type, "link");
    const text = normalizeMessage(msg({ Content: "x".repeat(1_000_000) }), ctx);
    assert.equal(text.text.length, 1_000_000);
    assert.ok(Date.now() - started < 3000);
  });

  it("wrong field types are tolerated; a non-object is PROTOCOL", () => {
    const m = normalizeMessage({ MsgId: 5, FromUserName: null, ToUserName: 3, MsgType: "3", Content: { x: 1 }, CreateTime: "1700000000" } as unknown as RawMessage, ctx);
    assert.equal(m.id, "5");
    assert.equal(m.type, "image");
    assert.equal(m.time, 1_700_000_000_000);
    assert.throws(() => normalizeMessage(null as unknown as RawMessage, ctx), (e: unknown) => isWeChatError(e, "PROTOCOL"));
    assert.throws(() => normalizeMessage("x" as unknown as RawMessage, ctx), (e: unknown) => isWeChatError(e, "PROTOCOL"));
  });

  it("raw is a plain JSON copy", () => {
    const source = msg({ Content: "hi", RecommendInfo: { UserName: "@x" } });
    const m = normalizeMessage(source, ctx);
    assert.deepEqual(m.raw, JSON.parse(JSON.stringify(source)));
    (m.raw.RecommendInfo as Record<string, unknown>).UserName = "changed";
    assert.equal(source.RecommendInfo?.UserName, "@x");
    assert.deepEqual(JSON.parse(JSON.stringify(m)), m);
  });
});

describe("messages/normalize: lenient content XML", () => {
  it("tolerates a bare & in an app message URL and decodes numeric references", () => {
    const content = esc("<msg><appmsg><title>Caf&#xE9; news</title><type>5</type><url>").replace(/$/, "") + "http://x.test/?a=1&amp;b=2" + esc("</url></appmsg></msg>");
    const m = normalizeMessage(msg({ MsgType: 49, AppMsgType: 5, Content: content }), ctx);
    assert.equal(m.title, "Café news");
    assert.equal(m.url, "http://x.test/?a=1&b=2");
  });
});
