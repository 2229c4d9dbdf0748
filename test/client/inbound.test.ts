import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { SessionApi, SyncAnswer } from "../../lib/wechat/api";
import { ContactStore } from "../../lib/wechat/contacts";
import { Inbound } from "../../lib/wechat/inbound";
import { Session } from "../../lib/wechat/session";
import { FileSessionStorage } from "../../lib/wechat/store/file";
import { BoundedSet, RecentMessages } from "../../lib/wechat/util";
import type { ClientEmit, ClientEvents, Message } from "../../lib/wechat/types";

/** A recorder for the client's events, in the order the inbound step raises them. */
function recorder(): { emit: ClientEmit; names: string[]; of<K extends keyof ClientEvents>(event: K): ClientEvents[K][0][] } {
  const events: { event: string; arg: unknown }[] = [];
  return {
    emit: (event, ...args) => void events.push({ event, arg: args[0] }),
    get names() {
      return events.map((e) => e.event);
    },
    of: <K extends keyof ClientEvents>(event: K) => events.filter((e) => e.event === event).map((e) => e.arg as ClientEvents[K][0]),
  };
}

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
    const events = recorder();
    const inbound = new Inbound(api, store, { emit: events.emit, seen: new BoundedSet<string>(100), recent: new RecentMessages() });
    const first = { MsgId: "1", MsgType: 1, FromUserName: "@stranger", ToUserName: "@me", Content: "hi", CreateTime: 1 };
    await inbound.handle(
      answer({
        addMsgList: [
          first,
          { MsgId: "2", MsgType: 1, FromUserName: "@@room", ToUserName: "@me", Content: "@member:<br/>yo", CreateTime: 2 },
          { MsgId: "1", MsgType: 1, FromUserName: "@stranger", ToUserName: "@me", Content: "hi", CreateTime: 1 },
        ],
      }),
    );
    const messages: Message[] = events.of("message");
    assert.equal(calls.length, 1, "one batch call");
    assert.deepEqual([...calls[0]!].sort(), ["@@room", "@stranger"]);
    assert.deepEqual(messages.map((m) => m.id), ["1", "2"]);
    assert.equal(messages[0]!.sender.displayName, "Stranger");
    assert.equal(messages[1]!.sender.userName, "@member");
    assert.equal(messages[1]!.text, "yo");
    // #19: each entry of an answer becomes the message's raw as it is (parsed for this step alone), not a copy.
    assert.equal(messages[0]!.raw, first);
    await inbound.handle(answer({ addMsgList: [{ MsgId: "2", MsgType: 1, FromUserName: "@@room", ToUserName: "@me", Content: "@member:<br/>yo" }] }));
    assert.equal(events.of("message").length, 2, "a repeated MsgId is dropped");
    assert.equal(calls.length, 1, "nothing more to fetch");
  });

  it("drops an answer unread when receiving ends before its messages go out (a stop while a sender is fetched)", async () => {
    let release: () => void = () => undefined;
    const fetching = new Promise<void>((resolve) => (release = resolve));
    const calls: string[][] = [];
    const api = {
      session: fakeApi({}, calls).session,
      batchGetContact: async (entries: { UserName: string }[]) => {
        calls.push(entries.map((e) => e.UserName));
        await fetching;
        return [{ UserName: "@stranger", NickName: "Stranger" }];
      },
    } as unknown as SessionApi;
    const receiving = new AbortController();
    const seen = new BoundedSet<string>(100);
    const events = recorder();
    const inbound = new Inbound(api, new ContactStore(), { emit: events.emit, seen, recent: new RecentMessages(), receiving: receiving.signal });
    const hi = answer({ addMsgList: [{ MsgId: "7", MsgType: 1, FromUserName: "@stranger", ToUserName: "@me", Content: "hi", CreateTime: 1 }] });
    const handling = inbound.handle(hi);
    assert.equal(calls.length, 1, "the sender is being fetched");
    receiving.abort();
    release();
    await assert.rejects(handling, (error: Error & { code?: string }) => error.code === "CLOSED");
    assert.deepEqual(events.of("message"), [], "nothing emitted to a flow that is closing");
    assert.equal(seen.has("7"), false, "its MsgId is not remembered: the message comes again at the next start");
    await assert.rejects(inbound.handle(hi), (error: Error & { code?: string }) => error.code === "CLOSED", "no later answer is taken either");
    const next = new Inbound(api, new ContactStore(), { emit: events.emit, seen, recent: new RecentMessages() });
    await next.handle(hi);
    assert.deepEqual(events.of("message").map((m) => m.id), ["7"], "the next session emits it once");
  });

  it("a claim in flight when receiving ends: nothing is emitted and the claimed MsgIds are given back for the next start", async () => {
    const known = { "@friend": { UserName: "@friend", NickName: "Friend" } };
    const api = fakeApi(known, []);
    const store = new ContactStore();
    const claimed = new Set<string>();
    const givenBack: string[][] = [];
    const receiving = new AbortController();
    const claims = {
      claim: async (ids: string[]) => {
        // The stop comes while the claim is on its way to the storage.
        receiving.abort();
        await Promise.resolve();
        const fresh = ids.filter((id) => !claimed.has(id));
        for (const id of fresh) claimed.add(id);
        return fresh;
      },
      release: async (ids: string[]) => {
        givenBack.push(ids);
        for (const id of ids) claimed.delete(id);
      },
    };
    const events = recorder();
    const inbound = new Inbound(api, store, { emit: events.emit, seen: new BoundedSet<string>(100), recent: new RecentMessages(), claims, receiving: receiving.signal });
    const hi = answer({ addMsgList: [{ MsgId: "9", MsgType: 1, FromUserName: "@friend", ToUserName: "@me", Content: "hi", CreateTime: 1 }] });
    const handling = inbound.handle(hi);
    await assert.rejects(handling, (error: Error & { code?: string }) => error.code === "CLOSED");
    assert.deepEqual(events.of("message"), []);
    assert.deepEqual(givenBack, [["9"]]);
    const next = new Inbound(api, store, { emit: events.emit, seen: new BoundedSet<string>(100), recent: new RecentMessages(), claims });
    await next.handle(hi);
    assert.deepEqual(events.of("message").map((m) => m.id), ["9"], "emitted once, by the next start");
  });

  it("an answer taken back with a session file: the same client emits its messages again when the server sends them again", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wxflow-inbound-"));
    try {
      const claims = new FileSessionStorage(path.join(dir, "account.session"), "inbound test secret");
      const seen = new BoundedSet<string>(100);
      const events = recorder();
      const inbound = new Inbound(fakeApi({ "@friend": { UserName: "@friend", NickName: "Friend" } }, []), new ContactStore(), {
        emit: events.emit,
        seen,
        recent: new RecentMessages(),
        claims,
      });
      const page = answer({
        addMsgList: [1, 2].map((n) => ({ MsgId: String(n), MsgType: 1, FromUserName: "@friend", ToUserName: "@me", Content: `m${n}`, CreateTime: n })),
      });
      await inbound.handle(page);
      // Stopped before the flow took them (OnlineSession's handled): its keys are not saved, the server sends it again.
      await inbound.takeBackLast();
      await inbound.handle(page);
      assert.deepEqual(events.of("message").map((m) => m.text), ["m1", "m2", "m1", "m2"]);
      // Once taken, they are claimed again: a third copy is dropped.
      await inbound.handle(page);
      assert.equal(events.of("message").length, 4);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a claim that fails leaves the answer's MsgIds unhandled: the answer taken again emits them once", async () => {
    const api = fakeApi({ "@friend": { UserName: "@friend", NickName: "Friend" } }, []);
    let down = true;
    const claims = {
      claim: async (ids: string[]) => {
        if (down) throw new Error("the storage is down");
        return ids;
      },
    };
    const seen = new BoundedSet<string>(100);
    const events = recorder();
    const inbound = new Inbound(api, new ContactStore(), { emit: events.emit, seen, recent: new RecentMessages(), claims });
    const page = answer({
      addMsgList: [1, 2, 2, 3].map((n) => ({ MsgId: String(n), MsgType: 1, FromUserName: "@friend", ToUserName: "@me", Content: `m${n}`, CreateTime: n })),
    });
    await assert.rejects(inbound.handle(page), /the storage is down/);
    assert.deepEqual(events.of("message"), []);
    assert.deepEqual([seen.has("1"), seen.has("2"), seen.has("3"), seen.size], [false, false, false, 0]);
    down = false;
    await inbound.handle(page);
    assert.deepEqual(events.of("message").map((m) => m.text), ["m1", "m2", "m3"]);
    assert.deepEqual(seen.newest(10), ["1", "2", "3"]);
  });

  it("applies Mod before Add, then Del and member changes", async () => {
    const calls: string[][] = [];
    const store = new ContactStore();
    const events = recorder();
    const inbound = new Inbound(fakeApi({}, calls), store, { emit: events.emit, seen: new BoundedSet<string>(100), recent: new RecentMessages() });
    await inbound.handle(
      answer({
        modContactList: [{ UserName: "@new", NickName: "Newbie" }, { UserName: "@@g", NickName: "G", MemberList: [] }],
        addMsgList: [{ MsgId: "9", MsgType: 1, FromUserName: "@new", ToUserName: "@me", Content: "first" }],
      }),
    );
    assert.equal(calls.length, 0, "the Mod entry made the sender known");
    assert.equal(events.of("message")[0]!.sender.displayName, "Newbie");
    await inbound.handle(
      answer({
        delContactList: [{ UserName: "@new" }],
        modChatRoomMemberList: [{ UserName: "@@g", MemberList: [{ UserName: "@x", NickName: "X" }] }],
      }),
    );
    assert.equal(store.get("@new"), undefined);
    assert.equal(store.get("@@g")?.members?.[0]?.userName, "@x");
    assert.deepEqual(events.of("contacts").at(-1), { added: [], removed: ["@new"], changed: ["@@g"] });
  });

  it("raises every event under the client's own name: contacts, contact, message, friend-request, recall with its original, warn", async () => {
    const store = new ContactStore();
    const events = recorder();
    const inbound = new Inbound(fakeApi({}, []), store, { emit: events.emit, seen: new BoundedSet<string>(100), recent: new RecentMessages() });
    await inbound.handle(
      answer({
        modContactList: [{ UserName: "@friend", NickName: "Friend" }],
        addMsgList: [
          { MsgId: "20", MsgType: 1, FromUserName: "@friend", ToUserName: "@me", Content: "to be recalled", CreateTime: 1 },
          {
            MsgId: "21",
            MsgType: 37,
            FromUserName: "fmessage",
            ToUserName: "@me",
            Content: "",
            RecommendInfo: { UserName: "@asker", NickName: "Asker", Content: "hello", Ticket: "t1" },
          },
          {
            MsgId: "22",
            MsgType: 10002,
            FromUserName: "@friend",
            ToUserName: "@me",
            Content: '&lt;sysmsg type="revokemsg"&gt;&lt;revokemsg&gt;&lt;session&gt;@friend&lt;/session&gt;&lt;msgid&gt;20&lt;/msgid&gt;&lt;replacemsg&gt;&lt;![CDATA["Friend" recalled a message]]&gt;&lt;/replacemsg&gt;&lt;/revokemsg&gt;&lt;/sysmsg&gt;',
          },
        ],
      }),
    );
    assert.deepEqual(events.names, ["contacts", "contact", "message", "message", "friend-request", "message", "recall"]);
    const recall = events.of("recall")[0]!;
    assert.equal(recall.message.id, "22");
    assert.equal(recall.original?.id, "20", "the recalled original comes with the recall");
    assert.equal(events.of("friend-request")[0]!.friendRequest?.ticket, "t1");

    const down = { ...fakeApi({}, []), batchGetContact: async () => Promise.reject(new Error("down")) } as unknown as SessionApi;
    const warned = recorder();
    await new Inbound(down, store, { emit: warned.emit, seen: new BoundedSet<string>(100), recent: new RecentMessages() }).handle(
      answer({ addMsgList: [{ MsgId: "30", MsgType: 1, FromUserName: "@unknown", ToUserName: "@me", Content: "hi" }] }),
    );
    assert.deepEqual(warned.names, ["warn", "message"], "a failed fetch is a warning; the message still comes");
    assert.match(warned.of("warn")[0]!, /unknown senders could not be fetched/);
  });

  it("a listener that changes a message does not change the original a later recall carries", async () => {
    const events = recorder();
    const emit: ClientEmit = (event, ...args) => {
      events.emit(event, ...args);
      if (event === "message") {
        const message = args[0] as Message;
        message.text = "changed by a listener";
        message.chat.displayName = "changed";
      }
    };
    const store = new ContactStore();
    const inbound = new Inbound(fakeApi({}, []), store, { emit, seen: new BoundedSet<string>(100), recent: new RecentMessages() });
    await inbound.handle(
      answer({
        modContactList: [{ UserName: "@friend", NickName: "Friend" }],
        addMsgList: [{ MsgId: "40", MsgType: 1, FromUserName: "@friend", ToUserName: "@me", Content: "as sent", CreateTime: 1 }],
      }),
    );
    await inbound.handle(
      answer({
        addMsgList: [
          {
            MsgId: "41",
            MsgType: 10002,
            FromUserName: "@friend",
            ToUserName: "@me",
            Content: '&lt;sysmsg type="revokemsg"&gt;&lt;revokemsg&gt;&lt;session&gt;@friend&lt;/session&gt;&lt;msgid&gt;40&lt;/msgid&gt;&lt;replacemsg&gt;&lt;![CDATA["Friend" recalled a message]]&gt;&lt;/replacemsg&gt;&lt;/revokemsg&gt;&lt;/sysmsg&gt;',
          },
        ],
      }),
    );
    const original = events.of("recall")[0]?.original;
    assert.equal(original?.text, "as sent");
    assert.equal(original?.chat.displayName, "Friend");
  });
});
