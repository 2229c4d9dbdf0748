import { strict as assert } from "node:assert";
import { contactEvents } from "../../lib/wechat/contact-events";
import { ContactStore } from "../../lib/wechat/contacts";
import { isWeChatError } from "../../lib/wechat/errors";
import type { Contact } from "../../lib/wechat/types";

function person(userName: string, nickName: string, extra: Partial<Contact> = {}): Contact {
  const remarkName = extra.remarkName ?? "";
  const alias = extra.alias ?? "";
  return {
    userName,
    nickName,
    remarkName,
    alias,
    kind: "friend",
    displayName: remarkName || nickName,
    handle: remarkName || alias || nickName,
    ...extra,
  };
}

describe("client contact store", () => {
  it("resolves by UserName, remark, nickname, alias and group name; special accounts always", () => {
    const store = new ContactStore();
    store.upsert([
      person("@a", "Alice", { remarkName: "Boss" }),
      person("@b", "Bob", { alias: "bobby" }),
      person("@c", "Boss"),
      { ...person("@@g", "Team 🚀"), kind: "group", members: [{ userName: "@a", nickName: "Alice", displayName: "Al" }] },
    ]);
    assert.equal(store.resolve("@b").nickName, "Bob");
    assert.equal(store.resolve("Boss").userName, "@a", "a remark wins over another contact's nickname");
    assert.equal(store.resolve("bobby").userName, "@b");
    assert.equal(store.resolve("BOBBY").userName, "@b");
    assert.equal(store.resolve("Team 🚀").userName, "@@g");
    assert.equal(store.resolve("filehelper").kind, "special");
    assert.equal(store.member("@@g", "@a")?.displayName, "Al");
    assert.throws(() => store.resolve("@zzz"), (e) => isWeChatError(e, "NOT_FOUND"));
    assert.throws(() => store.resolve("nobody"), (e) => isWeChatError(e, "NOT_FOUND"));
    assert.throws(() => store.resolve("  "), (e) => isWeChatError(e, "INVALID_ARGUMENT"));
  });

  it("#14.7: names in an error message are cleaned of line breaks and escapes; candidates keep them as data", () => {
    const store = new ContactStore();
    const forged = "x\n2026-12-03T00:00:00Z [error] forged\u001b[2J";
    store.upsert([person("@a", "Sam", { remarkName: forged }), person("@b", "Sam", { alias: `a${forged}` })]);
    assert.throws(
      () => store.resolve("Sam"),
      (e) =>
        isWeChatError(e, "AMBIGUOUS") &&
        // eslint-disable-next-line no-control-regex
        !/[\u0000-\u001f\u007f-\u009f]/.test(e.message) &&
        e.message.includes("forged") &&
        (e.candidates ?? []).some((c) => c.includes("\n")),
    );
  });

  it("reports ambiguity with candidates and keeps indexes right through changes", () => {
    const store = new ContactStore();
    store.upsert([person("@a", "Sam"), person("@b", "Sam", { alias: "sam2" })]);
    assert.throws(
      () => store.resolve("Sam"),
      (e) => isWeChatError(e, "AMBIGUOUS") && e.candidates?.length === 2,
    );
    store.upsert([person("@a", "Samuel")]);
    assert.equal(store.resolve("Sam").userName, "@b");
    assert.equal(store.resolve("samuel").userName, "@a");
    assert.deepEqual(store.remove(["@b", "@nope"]), ["@b"]);
    assert.throws(() => store.resolve("Sam"), (e) => isWeChatError(e, "NOT_FOUND"));
    assert.equal(store.list({ name: "sam" }).length, 1);
    assert.equal(store.list({ kind: "group" }).length, 0);
  });

  it("sees every change made before the first lookup by name (the name index is built then)", () => {
    const store = new ContactStore();
    store.upsert([person("@a", "Sam"), person("@b", "Kim"), person("@c", "Lee")]);
    store.upsert([person("@a", "Samuel")]);
    store.remove(["@b"]);
    assert.equal(store.resolve("samuel").userName, "@a");
    assert.throws(() => store.resolve("Sam"), (e) => isWeChatError(e, "NOT_FOUND"));
    assert.throws(() => store.resolve("Kim"), (e) => isWeChatError(e, "NOT_FOUND"));
    store.clear();
    assert.throws(() => store.resolve("Lee"), (e) => isWeChatError(e, "NOT_FOUND"));
    store.upsert([person("@d", "Lee")]);
    assert.equal(store.resolve("Lee").userName, "@d");
  });

  it("keeps a group's known members when a change carries none, and replaces them on request", () => {
    const store = new ContactStore();
    store.upsert([{ ...person("@@g", "G"), kind: "group", members: [{ userName: "@x", nickName: "X", displayName: "" }], memberCount: 1 }]);
    store.upsert([{ ...person("@@g", "G2"), kind: "group" }]);
    assert.equal(store.get("@@g")?.members?.length, 1);
    assert.equal(store.resolve("G2").userName, "@@g");
    store.setMembers("@@g", []);
    assert.equal(store.get("@@g")?.memberCount, 0);
  });
});

describe("contact events", () => {
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
});
