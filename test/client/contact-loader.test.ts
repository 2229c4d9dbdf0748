import { strict as assert } from "node:assert";
import type { Json, SessionApi } from "../../lib/wechat/api";
import { fetchAllContacts, loadContacts } from "../../lib/wechat/contact-loader";
import { ContactStore } from "../../lib/wechat/contacts";
import { WeChatError, isWeChatError } from "../../lib/wechat/errors";
import { Session } from "../../lib/wechat/session";

/** A fake SessionApi serving `pages` (Seq = index of the next page, 0 at the end) and group members on request. */
function fakeApi(pages: Json[][], options: { failBatch?: boolean; throttleBatches?: number } = {}) {
  let throttles = options.throttleBatches ?? 0;
  const session = new Session("http://127.0.0.1:1", 1, "sid", "skey", "pt", "e123456789012345");
  session.user = { userName: "@self", nickName: "Me", uin: 1 };
  const log: string[] = [];
  const api = {
    session,
    getContactPage: async (seq: number) => {
      log.push(`page ${seq}`);
      const members = pages[seq] ?? [];
      return { members, seq: seq + 1 < pages.length ? seq + 1 : 0 };
    },
    batchGetContact: async (list: { UserName: string }[]) => {
      log.push(`batch ${list.length}`);
      if (options.failBatch) throw new WeChatError("SERVER", "webwxbatchgetcontact: HTTP 500");
      if (throttles > 0) {
        throttles -= 1;
        throw new WeChatError("THROTTLED", "webwxbatchgetcontact: too frequent (1205)", { ret: 1205 });
      }
      return list.map((entry) => ({
        UserName: entry.UserName,
        NickName: `topic ${entry.UserName}`,
        MemberCount: 2,
        MemberList: [
          { UserName: "@m1", NickName: "Ann", DisplayName: "" },
          { UserName: "@m2", NickName: "Bo &amp; Co", DisplayName: "" },
        ],
      }));
    },
  } as unknown as SessionApi;
  return { api, log };
}

const friend = (n: number): Json => ({ UserName: `@f${n}`, NickName: `Friend ${n}`, ContactFlag: 3 });
const group = (n: number): Json => ({ UserName: `@@g${n}`, NickName: `Group ${n}`, ContactFlag: 3, MemberCount: 0, MemberList: [] });

describe("client contact loading", () => {
  it("asks for the next page before the current one is handled, in Seq order, until Seq is 0", async () => {
    const { api, log } = fakeApi([[friend(1), friend(2)], [friend(3)], [friend(4)]]);
    const seen: string[] = [];
    await fetchAllContacts(api, (members) => {
      log.push(`handle ${members.length}`);
      for (const m of members) seen.push(String(m.UserName));
    });
    assert.deepEqual(seen, ["@f1", "@f2", "@f3", "@f4"]);
    assert.deepEqual(log, ["page 0", "page 1", "handle 2", "page 2", "handle 1", "handle 1"]);
  });

  it("a page whose Seq read but whose contacts do not is fetched again, whole, while the next page is already asked for", async () => {
    const log: string[] = [];
    const warns: string[] = [];
    let broken = 1;
    const pages = [[friend(1)], [friend(2)], [friend(3)]];
    const session = new Session("http://127.0.0.1:1", 1, "sid", "skey", "pt", "e123456789012345");
    const api = {
      session,
      getContactPage: async (seq: number) => {
        log.push(`page ${seq}`);
        const unreadable = seq === 1 && broken-- > 0;
        return {
          seq: seq + 1 < pages.length ? seq + 1 : 0,
          get members(): Json[] {
            log.push(`read ${seq}`);
            if (unreadable) throw new WeChatError("PROTOCOL", "webwxgetcontact: the answer is not valid JSON", { afterSent: true });
            return pages[seq] ?? [];
          },
        };
      },
    } as unknown as SessionApi;
    const seen: string[] = [];
    await fetchAllContacts(api, (members) => seen.push(...members.map((m) => String(m.UserName))), { attempts: 2, backoffMs: 1, maxBackoffMs: 1 }, (w) => warns.push(w));
    assert.deepEqual(seen, ["@f1", "@f2", "@f3"], "every contact, in order");
    assert.deepEqual(log, ["page 0", "page 1", "read 0", "page 2", "read 1", "page 1", "read 1", "read 2"]);
    assert.ok(warns.some((w) => /not valid JSON; fetching it again/.test(w)), warns.join("\n"));
  });

  it("a page handler that throws ends the load with its error, and the page in flight is not left unhandled", async () => {
    const { api } = fakeApi([[friend(1)], [friend(2)]]);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      await assert.rejects(
        fetchAllContacts(api, () => {
          throw new Error("handler failed");
        }),
        /handler failed/,
      );
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    assert.deepEqual(unhandled, []);
  });

  it("loads every page and every group's members (50 a call), names decoded, into the store", async () => {
    const groups = Array.from({ length: 60 }, (_, i) => group(i));
    const { api, log } = fakeApi([[friend(1), ...groups.slice(0, 30)], [...groups.slice(30), friend(2)]]);
    const store = new ContactStore();
    await loadContacts(api, store);
    assert.equal(store.size, 62);
    assert.deepEqual(log.filter((l) => l.startsWith("batch")), ["batch 50", "batch 10"]);
    const g = store.get("@@g59");
    assert.equal(g?.nickName, "topic @@g59");
    assert.deepEqual(g?.members?.map((m) => m.nickName), ["Ann", "Bo & Co"]);
    assert.equal(store.resolve("Friend 2").userName, "@f2");
  });

  it("a failing member batch fails the load and leaves the previous contacts in place", async () => {
    const { api } = fakeApi([[friend(1), group(1)]], { failBatch: true });
    const store = new ContactStore();
    store.upsert([{ userName: "@old", nickName: "Old", remarkName: "", alias: "", kind: "friend", displayName: "Old", handle: "Old" }]);
    await assert.rejects(loadContacts(api, store), (e) => isWeChatError(e, "SERVER"));
    assert.equal(store.size, 1);
    assert.equal(store.get("@old")?.nickName, "Old");
  });

  const RETRY = { attempts: 3, backoffMs: 5, maxBackoffMs: 10 };

  it("fills the store as it goes, fetches the unlisted groups it is given (ChatSet), and retries a throttled batch", async () => {
    const { api, log } = fakeApi([[friend(1), group(1)]], { throttleBatches: 1 });
    const store = new ContactStore();
    const warns: string[] = [];
    const result = await loadContacts(api, store, { groups: ["@@unsaved", "@plain"], fill: true, retry: RETRY, warn: (m) => warns.push(m) });
    assert.equal(result.complete, true);
    assert.deepEqual(log.filter((l) => l.startsWith("batch")), ["batch 2", "batch 2"], "one batch of both groups, tried twice");
    assert.deepEqual(store.get("@@unsaved")?.members?.map((m) => m.nickName), ["Ann", "Bo & Co"]);
    assert.equal(store.get("@plain"), undefined, "only group UserNames are fetched");
    assert.ok(warns.some((w) => /1205/.test(w)));
  });

  /** A store that logs what is added from the wire: the UserNames, or a count and whether members came. */
  function loggedStore(log: string[], describe: (raws: unknown[]) => string): ContactStore {
    return new (class extends ContactStore {
      override addWire(raws: readonly unknown[], self: string, from?: number, to?: number): void {
        log.push(`add ${describe(raws.slice(from ?? 0, to ?? raws.length))}`);
        super.addWire(raws, self, from, to);
      }
    })();
  }
  const userNamesOf = (raws: unknown[]): string => raws.map((r) => (r as Json).UserName).join(",");

  it("asks for the first page before taking webwxinit's recent chats, which still come first (#19)", async () => {
    const { api, log } = fakeApi([[friend(1)], [friend(2)]]);
    const store = loggedStore(log, userNamesOf);
    await loadContacts(api, store, { initial: [friend(9)], fill: true, retry: RETRY });
    assert.equal(log[0], "page 0", "the first page is asked for first");
    assert.deepEqual(log.filter((l) => l.startsWith("add")), ["add @f9", "add @f1", "add @f2"]);
    assert.deepEqual(store.list().map((c) => c.userName), ["@f9", "@f1", "@f2"]);
  });

  it("asks for a page's member batches before keeping the page, which still comes before the members (#19)", async () => {
    const groups = Array.from({ length: 50 }, (_, i) => group(i));
    const { api, log } = fakeApi([[friend(1)], [friend(2), ...groups, friend(3)]]);
    const store = loggedStore(log, (raws) => `${raws.length}${raws.some((r) => ((r as Json).MemberList as unknown[] | undefined)?.length) ? " with members" : ""}`);
    const result = await loadContacts(api, store, { fill: true, retry: RETRY });
    assert.equal(result.complete, true);
    // The second page's 50 groups make one batch: asked for before that page's 52 entries are kept.
    assert.ok(log.indexOf("batch 50") !== -1 && log.indexOf("batch 50") < log.indexOf("add 52"), log.join(" | "));
    assert.ok(log.indexOf("add 52") < log.indexOf("add 50 with members"), log.join(" | "));
    assert.equal(store.get("@@g7")?.members?.length, 2);
    assert.equal(store.get("@f3")?.nickName, "Friend 3");
    assert.equal(store.list().length, 53);
  });

  it("reads no names while loading: each entry becomes a Contact, names decoded, when first used (#19)", async () => {
    let reads = 0;
    const counted = (n: number, nickName: string): Json =>
      Object.defineProperty({ UserName: `@f${n}`, ContactFlag: 3 }, "NickName", {
        enumerable: true,
        get: () => {
          reads++;
          return nickName;
        },
      }) as Json;
    const page = (p: number): Json[] => Array.from({ length: 250 }, (_, i) => counted(p * 1000 + i, `Friend &amp; ${p * 1000 + i}`));
    const pages = [page(0), page(1), [...page(2), group(1)]];
    for (const fill of [true, false]) {
      reads = 0;
      const { api } = fakeApi(pages);
      const store = new ContactStore();
      await loadContacts(api, store, { fill, retry: RETRY });
      assert.equal(reads, 0, `fill ${String(fill)}: no name read by the load`);
      assert.equal(store.size, 751);
      assert.deepEqual(store.userNames(), [...pages.flat().map((c) => c.UserName)]);
      assert.equal(store.get("@f1001")?.nickName, "Friend & 1001");
      assert.equal(reads, 1);
      assert.deepEqual(store.get("@@g1")?.members?.map((m) => m.nickName), ["Ann", "Bo & Co"], "the group's batch came after its page");
      assert.equal(store.resolve("friend & 2005").userName, "@f2005");
      assert.equal(reads, 750, "a lookup by name reads them all, once");
    }
  });

  it("when filling, a batch that keeps failing leaves its groups without members and the load incomplete", async () => {
    const { api } = fakeApi([[friend(1), group(1)]], { failBatch: true });
    const store = new ContactStore();
    const warns: string[] = [];
    const result = await loadContacts(api, store, { fill: true, retry: RETRY, warn: (m) => warns.push(m) });
    assert.equal(result.complete, false);
    assert.equal(store.get("@@g1")?.kind, "group");
    assert.equal(store.get("@f1")?.nickName, "Friend 1");
    assert.ok(warns.some((w) => /members of 1 groups not loaded/.test(w)));
  });
});
