import { strict as assert } from "node:assert";
import type { SessionApi, SyncAnswer } from "../../lib/wechat/api";
import { ContactStore } from "../../lib/wechat/contacts";
import { Inbound } from "../../lib/wechat/inbound";
import { Session } from "../../lib/wechat/session";
import { BoundedSet } from "../../lib/wechat/util";
import type { Message } from "../../lib/wechat/types";

function answer(partial: Partial<SyncAnswer>): SyncAnswer {
  return { addMsgList: [], modContactList: [], delContactList: [], modChatRoomMemberList: [], continueFlag: 0, ...partial };
}

function fakeApi(known: Record<string, Record<string, unknown>>, calls: string[][]): SessionApi {
  const session = new Session("http://127.0.0.1:1", 1, "sid", "skey", "pt", "e123456789012345", { userName: "@me", nickName: "Me", uin: 1 });
  return {
    session,
    batchGetContact: async (entries: { UserName: string }[]) => {
      calls.push(entries.map((e) => e.UserName));
      return entries.map((e) => known[e.UserName]).filter(Boolean);
    },
  } as unknown as SessionApi;
}

describe("client inbound handling", () => {
  it("fetches unknown senders and groups in one batch before emitting, in order, once per MsgId", async () => {
    const calls: string[][] = [];
    const api = fakeApi(
      {
        "@stranger": { UserName: "@stranger", NickName: "Stranger" },
        "@@room": { UserName: "@@room", NickName: "Room", MemberList: [{ UserName: "@member", NickName: "Mem", DisplayName: "M" }] },
      },
      calls,
    );
    const store = new ContactStore();
    const messages: Message[] = [];
    const inbound = new Inbound(api, store, {
      emitMessage: (m) => messages.push(m),
      emitContacts: () => undefined,
      warn: () => undefined,
      seen: new BoundedSet<string>(100),
    });
    await inbound.handle(
      answer({
        addMsgList: [
          { MsgId: "1", MsgType: 1, FromUserName: "@stranger", ToUserName: "@me", Content: "hi", CreateTime: 1 },
          { MsgId: "2", MsgType: 1, FromUserName: "@@room", ToUserName: "@me", Content: "@member:<br/>yo", CreateTime: 2 },
          { MsgId: "1", MsgType: 1, FromUserName: "@stranger", ToUserName: "@me", Content: "hi", CreateTime: 1 },
        ],
      }),
    );
    assert.equal(calls.length, 1, "one batch call");
    assert.deepEqual([...calls[0]!].sort(), ["@@room", "@stranger"]);
    assert.deepEqual(messages.map((m) => m.id), ["1", "2"]);
    assert.equal(messages[0]!.sender.displayName, "Stranger");
    assert.equal(messages[1]!.sender.userName, "@member");
    assert.equal(messages[1]!.text, "yo");
    await inbound.handle(answer({ addMsgList: [{ MsgId: "2", MsgType: 1, FromUserName: "@@room", ToUserName: "@me", Content: "@member:<br/>yo" }] }));
    assert.equal(messages.length, 2, "a repeated MsgId is dropped");
    assert.equal(calls.length, 1, "nothing more to fetch");
  });

  it("applies Mod before Add, then Del and member changes", async () => {
    const calls: string[][] = [];
    const store = new ContactStore();
    const changes: unknown[] = [];
    const messages: Message[] = [];
    const inbound = new Inbound(fakeApi({}, calls), store, {
      emitMessage: (m) => messages.push(m),
      emitContacts: (c) => changes.push(c),
      warn: () => undefined,
      seen: new BoundedSet<string>(100),
    });
    await inbound.handle(
      answer({
        modContactList: [{ UserName: "@new", NickName: "Newbie" }, { UserName: "@@g", NickName: "G", MemberList: [] }],
        addMsgList: [{ MsgId: "9", MsgType: 1, FromUserName: "@new", ToUserName: "@me", Content: "first" }],
      }),
    );
    assert.equal(calls.length, 0, "the Mod entry made the sender known");
    assert.equal(messages[0]!.sender.displayName, "Newbie");
    await inbound.handle(
      answer({
        delContactList: [{ UserName: "@new" }],
        modChatRoomMemberList: [{ UserName: "@@g", MemberList: [{ UserName: "@x", NickName: "X" }] }],
      }),
    );
    assert.equal(store.get("@new"), undefined);
    assert.equal(store.get("@@g")?.members?.[0]?.userName, "@x");
    assert.deepEqual(changes.at(-1), { added: [], removed: ["@new"], changed: ["@@g"] });
  });
});
