/**
 * Issue #12 point 11: answers shaped like the real servers' (docs/protocol.md section 9) parse. The fixtures under
 * test/fixtures/ are built for this project with invented names and ids, in the layout of published captures:
 * text/plain JSON with "}" and "," on lines of their own, NewMsgId as a 19-digit JSON number, Uin as a string,
 * TABs after <br/> in image and video contents, names sent raw and escaped, an emoji-only nickname.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { checkBaseResponse, parseJsonBody, serverNotice } from "../../lib/wechat/http";
import { quoteMessageIds } from "../../lib/wechat/json-scan";
import { isWeChatError } from "../../lib/wechat/errors";
import { normalizeMessage, type NormalizeContext } from "../../lib/wechat/messages/normalize";
import { rawContactToContact } from "../../lib/wechat/messages/contact";
import type { RawContact, RawMessage } from "../../lib/wechat/messages/wire";
import type { Contact, GroupMember } from "../../lib/wechat/types";
import { wireJson } from "../../lib/sandbox/http";

// Compiled to dist/test/unit: the fixtures stay in the source tree.
const FIXTURES = resolve(__dirname, "..", "..", "..", "test", "fixtures");

function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

function parsed(name: string): Record<string, unknown> {
  const value = parseJsonBody(fixture(name), name);
  assert.ok(value !== null && typeof value === "object");
  return value as Record<string, unknown>;
}

const TEAM = "Dev <Team> & 朋友";
const SELF = "@5f0c2d0e9a4b4c7e8d1f2a3b4c5d6e7f";
const GROUP = "@@3e1d2c9b8a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918a7b6c5d";

describe("real answers: layout and numbers (issue #12 point 11)", () => {
  it("parses text/plain JSON whose '}' and ',' stand on lines of their own", () => {
    const text = fixture("webwxsync.json").toString("utf8");
    assert.match(text, /\n}\n,\n/, "the fixture has the odd layout");
    const sync = parsed("webwxsync.json");
    assert.equal((sync.AddMsgList as unknown[]).length, 8);
    assert.equal((sync.SyncCheckKey as { Count: number }).Count, 6);
    const init = parsed("webwxinit.json");
    assert.equal((init.ContactList as unknown[]).length, 3);
  });

  it("reads User.Uin given as a string or a number", () => {
    const init = parsed("webwxinit.json");
    const user = init.User as { Uin: unknown };
    assert.equal(user.Uin, "2718281828");
    assert.equal(Number(user.Uin), 2718281828);
    const asNumber = parseJsonBody(fixture("webwxinit.json").toString("utf8").replace('"Uin": "2718281828"', '"Uin": 2718281828'), "webwxinit") as { User: { Uin: unknown } };
    assert.equal(Number(asNumber.User.Uin), 2718281828);
  });

  it("keeps MsgId and NewMsgId beyond 2^53 exact, as strings", () => {
    const text = fixture("webwxsync.json").toString("utf8");
    assert.match(text, /"NewMsgId": 4613209851223344556,/, "the fixture sends NewMsgId as a JSON number");
    const list = parsed("webwxsync.json").AddMsgList as Record<string, unknown>[];
    for (const entry of list) {
      assert.equal(typeof entry.NewMsgId, "string");
      assert.equal(entry.NewMsgId, entry.MsgId, "every digit kept");
    }
    assert.equal(list[0]?.NewMsgId, "4613209851223344556");
    assert.equal(list[7]?.NewMsgId, "9007199254740993", "2^53 + 1 is not rounded to 2^53");
    assert.equal((parsed("webwxsendmsg.json") as { MsgID: unknown }).MsgID, "4613209851223344600");
  });

  it("quotes only real id keys: text that merely mentions one inside a string is left alone", () => {
    const text = '{"Content": "see \\"NewMsgId\\": 123 here", "NewMsgId": 9223372036854775807, "MsgID":"5", "SvrMsgId" : -1, "Other": 4613209851223344556}';
    const value = JSON.parse(quoteMessageIds(text)) as Record<string, unknown>;
    assert.equal(value.Content, 'see "NewMsgId": 123 here');
    assert.equal(value.NewMsgId, "9223372036854775807");
    assert.equal(value.MsgID, "5");
    assert.equal(value.SvrMsgId, "-1");
    assert.equal(typeof value.Other, "number");
    const plain = '{"a": 1}';
    assert.equal(quoteMessageIds(plain), plain, "answers without numeric ids are not rewritten");
  });

  it("quotes exactly what the rule says, on any layout (#19: an indexOf walk replaced the regular expression)", () => {
    // The rule as a regular expression: one of the four keys, JSON whitespace, a colon, an integer.
    const rule = (text: string): string => text.replace(/("(?:NewMsgId|MsgId|MsgID|SvrMsgId)"[ \t\n\r]*:[ \t\n\r]*)(-?\d+)/g, '$1"$2"');
    const parts = ['"MsgId"', '"MsgID"', '"NewMsgId"', '"SvrMsgId"', '"NewMsgID"', '"XMsgId"', '"MsgIdx"', ":", " ", "\n", "\t", "-", "12", "9007199254740993", '"', '\\"', "MsgI", "d", ",", "{", "}", "New", "Svr"];
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 20_000; round++) {
      let text = "";
      for (let i = 1 + next(12); i > 0; i--) text += parts[next(parts.length)];
      assert.equal(quoteMessageIds(text), rule(text), JSON.stringify(text));
    }
    const page = readFileSync(join(FIXTURES, "webwxsync.json"), "utf8");
    assert.equal(quoteMessageIds(page), rule(page));
  });

  it("the sandbox writes the same layout and big numbers", () => {
    const text = wireJson({ BaseResponse: { Ret: 0, ErrMsg: "" }, AddMsgList: [{ MsgId: "4613209851223344556", NewMsgId: 4613209851223344556n }, { MsgId: "2" }], Empty: [], Count: 2 });
    assert.equal(
      text,
      '{\n"BaseResponse": {\n"Ret": 0,\n"ErrMsg": ""\n}\n,\n"AddMsgList": [{\n"MsgId": "4613209851223344556",\n"NewMsgId": 4613209851223344556\n}\n,{\n"MsgId": "2"\n}\n]\n,\n"Empty": [],\n"Count": 2\n}\n',
    );
    const back = parseJsonBody(text, "wire") as { AddMsgList: { NewMsgId: string }[] };
    assert.equal(back.AddMsgList[0]?.NewMsgId, "4613209851223344556");
  });

  it("upload: intermediate chunks answer an empty MediaId, the last one has it; the pre-flight answers Ret 1", () => {
    const first = parsed("upload-chunk-first.json");
    checkBaseResponse(first, "webwxuploadmedia");
    assert.equal(first.MediaId, "");
    const last = parsed("upload-chunk-last.json");
    checkBaseResponse(last, "webwxuploadmedia");
    assert.match(String(last.MediaId), /^@crypt_/);
    assert.equal(decodeURIComponent(String(last.EncryFileName)), "Q3 plan & budget.pdf");
    assert.throws(() => checkBaseResponse(parsed("upload-preflight.json"), "webwxuploadmedia"), (e: unknown) => isWeChatError(e, "PROTOCOL") && e.ret === 1);
  });

  it("createchatroom: Ret 0 with an <e> error in ErrMsg is a refusal with the server's text", () => {
    const answer = parsed("createchatroom-error.json");
    checkBaseResponse(answer, "webwxcreatechatroom"); // Ret 0: the generic check lets it through...
    assert.equal(serverNotice(answer), "创建群聊失败"); // ...the notice says it failed
    assert.equal(serverNotice(parsed("webwxsendmsg.json")), undefined);
    assert.equal(serverNotice({ BaseResponse: { Ret: 0, ErrMsg: "<e><Content>broken" } }), "refused");
  });

  it("pushloginurl: ret comes as a string", () => {
    assert.equal(parsed("pushloginurl-ok.json").ret, "0");
    assert.equal(parsed("pushloginurl-refused.json").ret, "3");
  });
});

describe("real answers: names and messages of the fixtures (issue #12 points 9 and 11)", () => {
  const init = parsed("webwxinit.json");
  const sync = parsed("webwxsync.json");
  const contacts = new Map<string, Contact>();
  for (const raw of [...(init.ContactList as RawContact[]), ...(sync.ModContactList as RawContact[])]) {
    const c = rawContactToContact(raw, SELF);
    contacts.set(c.userName, c);
  }
  const ctx: NormalizeContext = {
    self: { userName: SELF, nickName: "Fixture Me" },
    lookup: (userName) => contacts.get(userName),
    memberLookup: (room: string, member: string): GroupMember | undefined => contacts.get(room)?.members?.find((m) => m.userName === member),
  };
  const messages = (sync.AddMsgList as RawMessage[]).map((raw) => normalizeMessage(raw, ctx));

  it("a group named Dev <Team> & 朋友 keeps its name, sent escaped (init) or raw (ModContactList)", () => {
    const escaped = rawContactToContact((init.ContactList as RawContact[])[1] as RawContact, SELF);
    const raw = rawContactToContact((sync.ModContactList as RawContact[])[0] as RawContact, SELF);
    for (const group of [escaped, raw]) {
      assert.equal(group.kind, "group");
      assert.equal(group.nickName, TEAM);
      assert.equal(group.displayName, TEAM);
      assert.equal(group.handle, TEAM);
    }
    assert.equal(escaped.members?.[1]?.nickName, "Ann <ops> & Co");
  });

  it("an emoji-only nickname becomes its characters", () => {
    const cat = contacts.get("@ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7ca7c");
    assert.equal(cat?.nickName, "🐱🎉");
    assert.equal(cat?.handle, "🐱🎉");
  });

  it("normalises every message of the page: ids, group text, TAB-laid image and video, link, recall, notices", () => {
    const [text, image, video, link, recall, notify, system, emoji] = messages;
    assert.equal(text?.id, "4613209851223344556");
    assert.equal(text?.newId, "4613209851223344556");
    assert.equal(text?.room?.displayName, TEAM);
    assert.equal(text?.chat.userName, GROUP);
    assert.equal(text?.sender.displayName, "Ann <ops> & Co");
    assert.equal(text?.text, "Hi <all> & welcome to Dev <Team>\nline two");
    assert.equal(image?.type, "image");
    assert.equal(image?.media?.size, 48213, "the <img length> is read through the TABs");
    assert.equal(video?.type, "video");
    assert.equal(video?.media?.size, 734021);
    assert.equal(video?.media?.durationMs, 7000);
    assert.equal(link?.type, "link");
    assert.equal(link?.title, "Q3 plan & budget");
    assert.equal(link?.url, "https://example.com/doc?id=7&from=timeline");
    assert.equal(recall?.type, "recall");
    assert.equal(recall?.recall?.msgId, "4613209851223344556");
    assert.equal(recall?.recall?.replaceText, '"Ann <ops> & Co" 撤回了一条消息');
    assert.equal(notify?.type, "status");
    assert.equal(system?.text, '"Ann <ops> & Co"邀请你和Ben加入了群聊');
    assert.equal(emoji?.id, "9007199254740993");
    assert.equal(emoji?.newId, "9007199254740993");
    assert.equal(emoji?.text, "🐱 hello");
    assert.equal(emoji?.sender.displayName, "🐱🎉");
  });
});
