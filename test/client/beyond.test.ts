import { strict as assert } from "node:assert";
import { contactEvents } from "../../lib/wechat/contact-events";
import { WeChatError, isWeChatError } from "../../lib/wechat/errors";
import { SendQueue, buildFileAppMsg, buildFileAppMsgFields } from "../../lib/wechat/outbox";
import { DEFAULT_ACTION_PACING } from "../../lib/wechat/send";
import { RecentMessages, parseXml, xmlString } from "../../lib/wechat/util";
import type { Contact, Message } from "../../lib/wechat/types";
import { FakeClock } from "../support/fake-clock";

function person(userName: string, nickName: string, extra: Partial<Contact> = {}): Contact {
  const remarkName = extra.remarkName ?? "";
  return { userName, nickName, remarkName, alias: "", kind: "friend", displayName: remarkName || nickName, handle: remarkName || nickName, ...extra };
}

function message(id: string): Message {
  const ref = { userName: "@a", handle: "A", displayName: "A", kind: "friend" as const };
  return { id, type: "text", msgType: 1, time: 0, chat: ref, sender: ref, fromSelf: false, mentioned: false, text: id, raw: {} };
}

describe("client beyond sending: units", () => {
  it("paces actions one per 5 s by default, without slowing the messages queued beside them", async () => {
    const clock = new FakeClock();
    const queue = new SendQueue(false, { now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer, random: () => 0, actionPacing: DEFAULT_ACTION_PACING });
    const log: string[] = [];
    const run = (name: string, action: boolean) => queue.run(async () => log.push(`${name}@${clock.t - 1_000_000}`), name, { action });
    const all = Promise.all([run("a1", true), run("a2", true), run("m1", false), run("a3", true)]);
    await clock.advance(20_000);
    await all;
    // Same queue, same order: the message waits behind a2 (order kept), not for a bucket of its own.
    assert.deepEqual(log, ["a1@0", "a2@5000", "m1@5000", "a3@10000"]);
    queue.close();
  });

  it("an action waits for both buckets; a 1205 empties the action bucket too", async () => {
    const clock = new FakeClock();
    const queue = new SendQueue(
      { perMinute: 60, burst: 1, jitter: 0 },
      { now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer, random: () => 0, actionPacing: { perMinute: 20, burst: 1, jitter: 0 }, cooldownMs: 100 },
    );
    const starts: number[] = [];
    let first = true;
    const task = queue.run(
      async () => {
        starts.push(clock.t - 1_000_000);
        if (first) {
          first = false;
          throw new WeChatError("THROTTLED", "1205", { ret: 1205 });
        }
      },
      "x",
      { action: true },
    );
    await clock.advance(10_000);
    await task;
    // Retried after the cool-down AND a full action interval (3 s): the bucket was emptied.
    assert.equal(starts.length, 2);
    assert.ok(starts[1]! >= 3_000, `retry at ${starts[1]}`);
    assert.throws(() => new SendQueue(false, { actionPacing: { perMinute: 0 } }), (e) => isWeChatError(e, "INVALID_ARGUMENT"));
    queue.close();
  });

  it("remembers the last messages by id, bounded by count and age", () => {
    let now = 0;
    const recent = new RecentMessages(3, 1_000, () => now);
    for (const id of ["1", "2", "3", "4"]) recent.add(message(id));
    assert.equal(recent.size, 3);
    assert.equal(recent.get("1"), undefined, "the oldest was dropped");
    assert.equal(recent.get("4")?.id, "4");
    now = 1_500;
    assert.equal(recent.get("4"), undefined, "too old");
    recent.add(message("5"));
    assert.equal(recent.size, 1, "old entries are trimmed on add");
    for (let i = 0; i < 10_000; i++) recent.add(message(String(i)));
    assert.equal(recent.size, 3, "memory stays flat");
  });

  it("turns contact changes into added / removed / renamed / members events", () => {
    const a = person("@a", "Ann");
    assert.deepEqual(contactEvents(undefined, a).map((e) => e.change), ["added"]);
    assert.deepEqual(contactEvents({ ...a, kind: "stranger" }, a).map((e) => e.change), ["added"], "a stranger who became a friend");
    const removed = contactEvents(a, undefined);
    assert.equal(removed[0]?.change, "removed");
    assert.equal(removed[0]?.contact.nickName, "Ann");
    const renamed = contactEvents(a, { ...a, remarkName: "Boss", displayName: "Boss", handle: "Boss" });
    assert.equal(renamed[0]?.change, "renamed");
    assert.equal(renamed[0]?.previous?.remarkName, "");
    assert.deepEqual(contactEvents(a, { ...a, starred: true }), [], "nothing a wx-event node cares about");
    const m = (u: string) => ({ userName: u, nickName: u.slice(1), displayName: "" });
    const g = { ...person("@@g", "G"), kind: "group" as const, members: [m("@x"), m("@y")] };
    const events = contactEvents(g, { ...g, members: [m("@y"), m("@z")] });
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]?.members, { added: [m("@z")], removed: [m("@x")] });
    assert.deepEqual(contactEvents({ ...g, members: undefined }, g), [], "first sight of the members is no change");
    // Payloads are plain copies: later changes to the store do not reach a listener's event.
    const copy = contactEvents(undefined, g)[0]!;
    g.members.push(m("@w"));
    assert.equal(copy.contact.members?.length, 2);
  });

  it("puts a checkupload Signature both beside the Content and inside <appattach>", () => {
    const input = { title: "big.zip", size: 30 * 1024 * 1024, mediaId: "@m", ext: "zip", desktop: false, signature: "sig<1>" };
    const fields = buildFileAppMsgFields(input);
    assert.equal(fields.Signature, "sig<1>");
    assert.equal(xmlString(parseXml(fields.Content), "appmsg", "appattach", "signature"), "sig<1>");
    assert.ok(!buildFileAppMsg({ ...input, signature: undefined }).includes("signature"));
  });
});
