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

  /** A wire contact whose NickName counts how often it is read. */
  function counted(entry: Record<string, unknown>, reads: { n: number }): Record<string, unknown> {
    const nickName = entry.NickName;
    const raw = { ...entry };
    Object.defineProperty(raw, "NickName", {
      enumerable: true,
      get: () => {
        reads.n++;
        return nickName;
      },
    });
    return raw;
  }

  it("keeps wire entries unread until one is used: then it is read once, names decoded, and kept as read (#19)", () => {
    const store = new ContactStore();
    const reads = { n: 0 };
    const raws = [
      counted({ UserName: "@a", NickName: "Tom &amp; Jerry", ContactFlag: 3 }, reads),
      counted({ UserName: "@b", NickName: "Kim", ContactFlag: 3 }, reads),
      { NickName: "no UserName" },
      null,
      counted({ UserName: "@c", NickName: "Lee", ContactFlag: 3 }, reads),
    ];
    store.addWire(raws, "@self", 0, 2);
    store.addWire(raws, "@self", 2);
    assert.equal(store.size, 3, "entries without a UserName are left out");
    assert.deepEqual(store.userNames(), ["@a", "@b", "@c"]);
    assert.ok(store.has("@b"));
    assert.equal(reads.n, 0, "adding, has() and userNames() read no names");
    const a = store.get("@a");
    assert.equal(a?.nickName, "Tom & Jerry");
    assert.equal(a?.kind, "friend");
    assert.equal(reads.n, 1);
    assert.equal(store.get("@a"), a, "read once, then kept");
    assert.equal(reads.n, 1);
    assert.deepEqual(
      store.list().map((c) => c.nickName),
      ["Tom & Jerry", "Kim", "Lee"],
    );
    assert.equal(reads.n, 3);
  });

  it("a wire group entry without members keeps the members of the entry before it, read or not (#19)", () => {
    const store = new ContactStore();
    const withMembers = { UserName: "@@g", NickName: "Topic", MemberCount: 2, MemberList: [{ UserName: "@m1", NickName: "Ann" }, { UserName: "@m2", NickName: "Bo" }] };
    const listed = { UserName: "@@g", NickName: "Topic 2", ContactFlag: 3 };
    // recent chats (with members), then a page listing the group without them, twice
    store.addWire([withMembers], "@self");
    store.addWire([listed], "@self");
    store.addWire([{ ...listed, NickName: "Topic 3" }], "@self");
    let g = store.get("@@g");
    assert.equal(g?.nickName, "Topic 3");
    assert.deepEqual(g?.members?.map((m) => m.nickName), ["Ann", "Bo"]);
    assert.equal(g?.memberCount, 2);
    // already read: the same as upsert
    store.addWire([{ ...listed, NickName: "Topic 4" }], "@self");
    g = store.get("@@g");
    assert.equal(g?.nickName, "Topic 4");
    assert.equal(g?.members?.length, 2);
    // a later entry with a MemberList (even empty) replaces them
    store.addWire([{ ...listed, MemberList: [] }], "@self");
    assert.deepEqual(store.get("@@g")?.members, []);
    // a group never seen with members has none
    store.addWire([{ UserName: "@@h", NickName: "H" }], "@self");
    assert.equal(store.get("@@h")?.members, undefined);
    assert.equal(store.member("@@g", "@m1"), undefined);
  });

  it("once a name was looked up, wire entries are read as they are added, and found by name (#19)", () => {
    const store = new ContactStore();
    store.addWire([{ UserName: "@a", NickName: "Sam", ContactFlag: 3 }], "@self");
    assert.equal(store.resolve("sam").userName, "@a");
    const reads = { n: 0 };
    store.addWire([counted({ UserName: "@b", NickName: "Kim &lt;3", ContactFlag: 3 }, reads), { UserName: "@a", NickName: "Samuel", ContactFlag: 3 }], "@self");
    assert.equal(reads.n, 1, "read when added");
    assert.equal(store.resolve("Kim <3").userName, "@b");
    assert.equal(store.resolve("samuel").userName, "@a");
    assert.throws(() => store.resolve("Sam"), (e) => isWeChatError(e, "NOT_FOUND"));
  });

  it("reads the account itself as kind self, and a group's members on a member lookup, from wire entries (#19)", () => {
    const store = new ContactStore();
    store.addWire(
      [
        { UserName: "@self", NickName: "Me" },
        { UserName: "@@g", NickName: "", MemberList: [{ UserName: "@m1", NickName: "Ann", DisplayName: "Annie" }] },
      ],
      "@self",
    );
    assert.equal(store.member("@@g", "@m1")?.displayName, "Annie");
    assert.equal(store.get("@@g")?.displayName, "Annie", "an untitled group is named after its members");
    assert.equal(store.get("@self")?.kind, "self");
    assert.ok(store.setMembers("@@g", []));
    assert.equal(store.get("@@g")?.memberCount, 0);
    assert.deepEqual(store.remove(["@self", "@nobody"]), ["@self"]);
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
