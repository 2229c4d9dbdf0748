import { strict as assert } from "node:assert";
import type { OnPage, SessionApi, SyncAnswer, SyncCheckAnswer } from "../../lib/wechat/api";
import { WeChatError, isWeChatError } from "../../lib/wechat/errors";
import { Session } from "../../lib/wechat/session";
import { SyncLoop, cappedBackoff } from "../../lib/wechat/sync";

type Step = SyncCheckAnswer | Error;

function empty(partial: Partial<SyncAnswer> = {}): SyncAnswer {
  return { addMsgList: [], modContactList: [], delContactList: [], modChatRoomMemberList: [], continueFlag: 0, ...partial };
}

function fake(checks: (n: number) => Step, syncs: (n: number) => SyncAnswer | Error, abort: AbortController) {
  const session = new Session("http://127.0.0.1:1", 1, "sid", "skey", "pt", "e123456789012345");
  const log: string[] = [];
  let c = 0;
  let s = 0;
  const api = {
    session,
    signal: abort.signal,
    prepareSync: () => undefined,
    syncCheck: async () => {
      const step = checks(c++);
      log.push(`check ${session.syncCheckParam()}`);
      if (step instanceof Error) throw step;
      return step;
    },
    sync: async () => {
      const step = syncs(s++);
      log.push(`sync ${JSON.stringify(session.syncKey?.List[0]?.Val ?? null)}`);
      if (step instanceof Error) throw step;
      return step;
    },
  } as unknown as SessionApi;
  return { api, log, session };
}

const key = (v: number) => ({ Count: 1, List: [{ Key: 1, Val: v }] });

/**
 * A fake whose webwxsync answers come a turn later and, as SessionApi.sync does, tell the page to onPage (the call's
 * own or the prepared call's) in the answer's event, before the call settles: "answered n" is logged right after.
 */
function answering(
  checks: (n: number) => Step,
  pages: (n: number) => SyncAnswer,
  order: string[],
  abort: AbortController,
  /** The n-th answer comes once this has settled, and a turn later. */
  gate: (n: number) => Promise<void> = () => Promise.resolve(),
) {
  const session = new Session("http://127.0.0.1:1", 1, "sid", "skey", "pt", "e123456789012345");
  let c = 0;
  let s = 0;
  const api = {
    session,
    signal: abort.signal,
    prepareSync: (onPage?: OnPage) => ({ onPage }),
    syncCheck: async () => {
      const step = checks(c++);
      if (step instanceof Error) throw step;
      return step;
    },
    sync: (ready?: { onPage?: OnPage }, onPage: OnPage | undefined = ready?.onPage) => {
      const n = s++;
      return gate(n).then(
        () =>
          new Promise<SyncAnswer>((resolve) =>
            setImmediate(() => {
              const page = pages(n);
              onPage?.(page);
              order.push(`answered ${n}`);
              resolve(page);
            }),
          ),
      );
    },
  } as unknown as SessionApi;
  return { api, session };
}

describe("client sync loop", () => {
  it("follows SyncKey for webwxsync and SyncCheckKey for synccheck, honours ContinueFlag, SKey, and ends on 1101", async () => {
    const abort = new AbortController();
    const { api, log, session } = fake(
      (n) => (n === 0 ? { retcode: 0, selector: "2" } : { retcode: 1101, selector: "0" }),
      (n) =>
        empty({
          continueFlag: n === 0 ? 1 : 0,
          syncKey: key(10 + n),
          syncCheckKey: key(100 + n),
          ...(n === 1 ? { skey: "@new" } : {}),
          addMsgList: [{ MsgId: String(n) }],
        }),
      abort,
    );
    const handled: number[] = [];
    let saves = 0;
    const end = await new SyncLoop(api, {
      handle: async (a) => void handled.push(a.addMsgList.length),
      handled: async () => void saves++,
      warn: () => undefined,
    }).run();
    assert.deepEqual(end, { code: 1101, message: "session expired or logged in elsewhere" });
    assert.deepEqual(log, ["check ", "sync null", "sync 10", "check 1_101"]);
    assert.equal(session.skey, "@new");
    assert.deepEqual(handled, [1, 1]);
    assert.equal(saves, 2);
  });

  it("asks for the next page before this page's lists are read (they are parsed while the server builds the next)", async () => {
    const abort = new AbortController();
    const order: string[] = [];
    /** A page as SessionApi.sync gives it: keys at once, lists read from the body on first use. */
    const page = (n: number): SyncAnswer => ({
      continueFlag: n < 2 ? 1 : 0,
      syncKey: key(10 + n),
      get addMsgList() {
        order.push(`read ${n}`);
        return [{ MsgId: String(n) }];
      },
      modContactList: [],
      delContactList: [],
      modChatRoomMemberList: [],
    });
    const { api } = fake(
      (n) => (n === 0 ? { retcode: 0, selector: "2" } : { retcode: 1101, selector: "0" }),
      (n) => {
        order.push(`call ${n}`);
        return page(n);
      },
      abort,
    );
    const handled: string[] = [];
    await new SyncLoop(api, {
      handle: async (a) => void handled.push(String(a.addMsgList[0]?.MsgId)),
      handled: async () => undefined,
      warn: () => undefined,
    }).run();
    // Each page's lists are read once the next call is out (pages 0 and 1); the last page (ContinueFlag 0) is read
    // before its keys are taken. The old loop read each page before asking for the next.
    const steps = order.filter((step, i) => step !== order[i - 1]);
    assert.deepEqual(steps, ["call 0", "call 1", "read 0", "call 2", "read 1", "read 2"]);
    assert.deepEqual(handled, ["0", "1", "2"], "in order, each once");
  });

  it("handles a page that ends its chain in its answer's own event, then saves; a page with more to come, or one that comes while the page before it is handled, waits for the loop", async () => {
    const abort = new AbortController();
    const order: string[] = [];
    let page2Answered: () => void = () => undefined;
    const answered2 = new Promise<void>((resolve) => (page2Answered = resolve));
    let page1Handled: () => void = () => undefined;
    const handling1 = new Promise<void>((resolve) => (page1Handled = resolve));
    const { api, session } = answering(
      (n) => (n < 2 ? { retcode: 0, selector: "2" } : { retcode: 1101, selector: "0" }),
      (n) => {
        if (n === 2) setImmediate(page2Answered);
        // Round 1: page 0 alone. Round 2: page 1 says "more", page 2 ends the chain.
        return empty({ continueFlag: n === 1 ? 1 : 0, syncKey: key(10 + n), syncCheckKey: key(100 + n), addMsgList: [{ MsgId: String(n) }] });
      },
      order,
      abort,
      // Page 2 comes while page 1 is being handled.
      (n) => (n === 2 ? handling1 : Promise.resolve()),
    );
    const end = await new SyncLoop(api, {
      handle: async (a) => {
        const id = String(a.addMsgList[0]?.MsgId);
        // The keys of a page are the session's when it is handled, whichever way it comes.
        order.push(`handle ${id} at key ${session.syncKey?.List[0]?.Val}`);
        // Page 1's step lasts until page 2 has come.
        if (id === "1") {
          page1Handled();
          await answered2;
        }
      },
      handled: async () => void order.push("saved"),
      warn: () => undefined,
    }).run();
    assert.equal(end.code, 1101);
    assert.deepEqual(order, [
      // In its answer's event: handled before the call settled.
      "handle 0 at key 10",
      "answered 0",
      "saved",
      // More to come: handled by the loop once the next call is out.
      "answered 1",
      "handle 1 at key 11",
      // Came while page 1 was being handled: taken by the loop after it, in order.
      "answered 2",
      "saved",
      "handle 2 at key 12",
      "saved",
    ]);
    assert.equal(session.syncCheckKey?.List[0]?.Val, 102);
  });

  it("a page handled in its answer's own event whose step fails ends the loop with that error, as one handled by the loop does", async () => {
    for (const early of [true, false]) {
      const abort = new AbortController();
      const order: string[] = [];
      const { api } = answering(
        (n) => (n === 0 ? { retcode: 0, selector: "2" } : { retcode: 1101, selector: "0" }),
        // With "more" set the page is the loop's to handle; the page after it ends the chain.
        (n) => empty({ continueFlag: !early && n === 0 ? 1 : 0, syncKey: key(10 + n), addMsgList: [{ MsgId: String(n) }] }),
        order,
        abort,
      );
      const saves: string[] = [];
      await assert.rejects(
        new SyncLoop(api, {
          handle: async () => {
            throw new WeChatError("NOT_OWNER", "the lease is held by another instance");
          },
          handled: async () => void saves.push("saved"),
          warn: () => undefined,
        }).run(),
        (e) => isWeChatError(e, "NOT_OWNER"),
      );
      assert.deepEqual(saves, [], "nothing saved after a failed step");
      // Handled by the loop, the next call was out: it settled before the loop ended.
      assert.deepEqual(order, early ? ["answered 0"] : ["answered 0", "answered 1"]);
    }
  });

  it("follows a ContinueFlag chain that keeps bringing messages to its end, with no synccheck in between", async () => {
    const abort = new AbortController();
    // 250 pages of one message each (a backlog of 12,500 texts at 50 a page): the old loop cut the chain at 100
    // pages and went back to synccheck twice before the end.
    const pages = 250;
    const { api, log } = fake(
      (n) => (n === 0 ? { retcode: 0, selector: "2" } : { retcode: 1101, selector: "0" }),
      (n) => empty({ continueFlag: n + 1 < pages ? 1 : 0, syncKey: key(10 + n), addMsgList: [{ MsgId: String(n) }] }),
      abort,
    );
    const handled: string[] = [];
    await new SyncLoop(api, { handle: async (a) => void handled.push(String(a.addMsgList[0]?.MsgId)), handled: async () => undefined, warn: () => undefined }).run();
    assert.equal(handled.length, pages);
    assert.deepEqual(handled, Array.from({ length: pages }, (_, i) => String(i)), "in order, each once");
    const checks = log.map((line, i) => (line.startsWith("check") ? i : -1)).filter((i) => i >= 0);
    assert.deepEqual(checks, [0, pages + 1], "one synccheck before the chain, the next after its last page");
  });

  it("cuts a ContinueFlag chain after maxEmptyContinue answers in a row that brought nothing; the next synccheck resumes it", async () => {
    const abort = new AbortController();
    // A server that says "more" for ever: pages 0-2 bring a message, every page after them nothing.
    const { api, log } = fake(
      (n) => (n < 2 ? { retcode: 0, selector: "2" } : { retcode: 1101, selector: "0" }),
      (n) => empty({ continueFlag: 1, syncKey: key(10 + n), addMsgList: n < 3 ? [{ MsgId: String(n) }] : [] }),
      abort,
    );
    const handled: string[] = [];
    await new SyncLoop(
      api,
      { handle: async (a) => void handled.push(...a.addMsgList.map((m) => String(m.MsgId))), handled: async () => undefined, warn: () => undefined },
      { maxEmptyContinue: 4, emptyBackoffMs: 1 },
    ).run();
    const syncsBetween = (from: number): number => log.slice(from + 1).findIndex((line) => line.startsWith("check"));
    const checks = log.map((line, i) => (line.startsWith("check") ? i : -1)).filter((i) => i >= 0);
    assert.equal(checks.length, 3, log.join("\n"));
    // Three pages with a message, then four empty ones said "more" and were followed; the fifth empty one is not.
    assert.equal(syncsBetween(checks[0] as number), 3 + 4 + 1);
    // The next synccheck resumes the chain: four empty answers said "more", the fifth cut it again.
    assert.equal(syncsBetween(checks[1] as number), 4 + 1);
    assert.deepEqual(handled, ["0", "1", "2"]);
  });

  it("a page whose keys read but whose lists do not: lost with a warning once the next call is out, asked for again when none is", async () => {
    const abort = new AbortController();
    const warns: string[] = [];
    const unreadable = (n: number, continueFlag: number): SyncAnswer => ({
      continueFlag,
      syncKey: key(10 + n),
      get addMsgList(): never {
        throw new WeChatError("PROTOCOL", "webwxsync: the answer is not valid JSON", { afterSent: true });
      },
      modContactList: [],
      delContactList: [],
      modChatRoomMemberList: [],
    });
    const { api, log, session } = fake(
      (n) => (n < 3 ? { retcode: 0, selector: "2" } : { retcode: 1101, selector: "0" }),
      (n) => (n === 0 ? unreadable(0, 1) : n === 1 ? empty({ syncKey: key(11), addMsgList: [{ MsgId: "1" }] }) : n === 2 ? unreadable(2, 0) : empty({ syncKey: key(13) })),
      abort,
    );
    const handled: string[] = [];
    await new SyncLoop(
      api,
      { handle: async (a) => void handled.push(...a.addMsgList.map((m) => String(m.MsgId))), handled: async () => undefined, warn: (w) => warns.push(w) },
      { backoffMs: 1, maxBackoffMs: 2 },
    ).run();
    // Page 0 went by (its keys asked for page 1); page 2 had no next call: not taken, asked for again with key 11.
    assert.deepEqual(log, ["check ", "sync null", "sync 10", "check 1_11", "sync 11", "check 1_11", "sync 11", "check 1_13"]);
    assert.deepEqual(handled, ["1"]);
    assert.ok(warns.some((w) => /messages are lost/.test(w)), warns.join("\n"));
    assert.ok(warns.some((w) => /not valid JSON; retrying/.test(w)), warns.join("\n"));
    assert.equal(session.syncKey?.List[0]?.Val, 13);
  });

  it("backs off on failures, resets after success, and does not spin on empty selectors; stops at once", async () => {
    const abort = new AbortController();
    const warns: string[] = [];
    const times: number[] = [];
    let resolveDone: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const { api } = fake(
      (n) => {
        times.push(Date.now());
        if (n === 12) resolveDone();
        if (n < 2) return new WeChatError("NETWORK", "synccheck: network error (ECONNRESET)");
        return { retcode: 0, selector: "7" };
      },
      () => empty(),
      abort,
    );
    const loop = new SyncLoop(
      api,
      { handle: async () => undefined, handled: async () => undefined, warn: (w) => warns.push(w) },
      { backoffMs: 5, maxBackoffMs: 20, emptyBackoffMs: 20 },
    ).run();
    await done;
    abort.abort();
    await assert.rejects(loop, (e) => isWeChatError(e, "CLOSED"));
    assert.equal(warns.length, 2);
    // From the third empty round on, each round pauses (capped at maxBackoffMs, spread +-50 %).
    const gap = times[12]! - times[9]!;
    assert.ok(gap >= 25, `empty selectors are paced (${gap} ms)`);
  });

  it("a sync that keeps failing is said in the log until its trouble is reported, then every repeatWarnMs; the sync handler hears every failure", async () => {
    const run = async (repeatWarnMs: number | undefined): Promise<{ warns: string[]; troubles: number[] }> => {
      const abort = new AbortController();
      const warns: string[] = [];
      const troubles: number[] = [];
      const { api } = fake(
        (n) => {
          if (n === 20) abort.abort();
          return new WeChatError("NETWORK", "synccheck: network error (ECONNRESET)");
        },
        () => empty(),
        abort,
      );
      const loop = new SyncLoop(
        api,
        { handle: async () => undefined, handled: async () => undefined, warn: (w) => warns.push(w), sync: (t) => void troubles.push(t.failures) },
        { backoffMs: 1, maxBackoffMs: 2, troubleAfter: 3, ...(repeatWarnMs === undefined ? {} : { repeatWarnMs }) },
      ).run();
      await assert.rejects(loop, (e) => isWeChatError(e, "CLOSED"));
      return { warns, troubles };
    };
    const quiet = await run(undefined);
    assert.equal(quiet.warns.length, 3, quiet.warns.join("\n"));
    assert.ok(quiet.warns.every((w) => /^sync: synccheck: network error \(ECONNRESET\); retrying in [\d.]+ s$/.test(w)), quiet.warns.join("\n"));
    assert.deepEqual(quiet.troubles, [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    // with no pause between repeats, every failure is said, with its count once it is trouble
    const loud = await run(0);
    assert.equal(loud.warns.length, 20);
    assert.match(loud.warns[3] ?? "", /; 4 failures in a row; retrying in/);
  });

  it("the default back-off: five failures wait at most 7.75 s in all, the fifth at most 4 s, none over 10 s", () => {
    for (let round = 0; round < 200; round++) {
      const waits = Array.from({ length: 8 }, (_, i) => cappedBackoff(i, 250, 10_000));
      const firstFive = waits.slice(0, 5);
      assert.ok(firstFive.reduce((a, b) => a + b, 0) <= 7_750, `five waits ${firstFive.join(", ")}`);
      assert.ok(firstFive[4]! <= 4_000);
      assert.ok(waits.every((w) => w <= 10_000));
      assert.ok(waits[7]! >= 7_500, "a long outage still backs off");
    }
  });
});
