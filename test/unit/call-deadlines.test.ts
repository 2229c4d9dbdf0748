import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { CallDeadlines } from "../../lib/wechat/call-deadlines";

/** Resolves with the time `onTimeout` was called; rejects after `boundMs` (the test's own bound, not a sleep). */
function timedOut(deadlines: CallDeadlines, timeoutMs: number, boundMs = 2_000): { at: Promise<number>; stop: () => void } {
  let stop = (): void => undefined;
  const at = new Promise<number>((resolve, reject) => {
    const bound = setTimeout(() => reject(new Error(`no timeout within ${boundMs} ms`)), boundMs);
    stop = deadlines.watch(timeoutMs, () => {
      clearTimeout(bound);
      resolve(performance.now());
    });
  });
  return { at, stop };
}

/** The timers `body` makes with setTimeout. */
function timersMade(body: () => void): NodeJS.Timeout[] {
  const made: NodeJS.Timeout[] = [];
  const original = globalThis.setTimeout;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    const timer = original(...args);
    made.push(timer);
    return timer;
  }) as typeof setTimeout;
  try {
    body();
  } finally {
    globalThis.setTimeout = original;
  }
  return made;
}

/** Runs a test with a CallDeadlines of its own, closed whatever the outcome. */
function withDeadlines(body: (deadlines: CallDeadlines) => Promise<void>): () => Promise<void> {
  return async () => {
    const deadlines = new CallDeadlines();
    try {
      await body(deadlines);
    } finally {
      deadlines.close();
    }
  };
}

describe("CallDeadlines: the direct calls' timeouts on one timer per timeout length (#19)", () => {
  it("times a call out once its time has passed, never before; a call over in time is never timed out", withDeadlines(async (deadlines) => {
    const heard: string[] = [];
    const over = deadlines.watch(30, () => heard.push("over"));
    const started = performance.now();
    const late = timedOut(deadlines, 60);
    over();
    const at = await late.at;
    assert.ok(at - started >= 59, `timed out after ${Math.round(at - started)} ms`);
    assert.deepEqual(heard, [], "the call that was over is not timed out");
  }));

  it("keeps each call's own deadline whatever the order they were watched in", withDeadlines(async (deadlines) => {
    const order: string[] = [];
    const long = timedOut(deadlines, 120);
    const short = timedOut(deadlines, 40);
    const middle = timedOut(deadlines, 80);
    await Promise.all([long.at, short.at, middle.at].map((p, i) => p.then(() => order.push(["long", "short", "middle"][i] as string))));
    assert.deepEqual(order, ["short", "middle", "long"]);
  }));

  it("a call made after an earlier one of its length was over times out at its own deadline, not the earlier one's", withDeadlines(async (deadlines) => {
    const heard: string[] = [];
    // Over at once: the timer of its length stays armed for its deadline, 40 ms from now.
    deadlines.watch(40, () => heard.push("first"))();
    // 20 ms later (another length's timeout says when), a second call of 40 ms: due 60 ms from the start.
    await timedOut(deadlines, 20).at;
    const started = performance.now();
    const at = await timedOut(deadlines, 40).at;
    assert.ok(at - started >= 39, `timed out after ${Math.round(at - started)} ms`);
    assert.deepEqual(heard, []);
  }));

  it("drops the timer of a length once no call of that length is left: many lengths do not pile up", withDeadlines(async (deadlines) => {
    // 30 lengths, each call over at once: each length's timer fires once with nothing left to time out.
    for (let ms = 1; ms <= 30; ms++) deadlines.watch(ms, () => assert.fail("a call that was over timed out"))();
    const lanes = (deadlines as unknown as { lanes: Map<number, unknown> }).lanes;
    assert.equal(lanes.size, 30);
    await timedOut(deadlines, 60).at;
    assert.equal(lanes.size, 0, "every length whose timer fired with no call left is forgotten");
  }));

  it("makes one timer per timeout length for many calls, keeps no process alive by it, and close() leaves nothing armed", () => {
    const deadlines = new CallDeadlines();
    let heard = 0;
    // Calls one after the other, as a sync loop makes them: each is over before the next one starts.
    const first = timersMade(() => {
      for (let i = 0; i < 100; i++) deadlines.watch(15_000, () => heard++)();
    });
    assert.equal(first.length, 1, "one timer for 100 calls");
    assert.equal(first[0]?.hasRef(), false, "a call keeps the process alive by its socket, not by its deadline");
    // A sync loop's calls: a synccheck (38 s) held until its answer comes, then a webwxsync (15 s), again and again.
    const more = timersMade(() => {
      for (let i = 0; i < 50; i++) {
        deadlines.watch(38_000, () => heard++)();
        deadlines.watch(15_000, () => heard++)();
      }
    });
    assert.equal(more.length, 1, "one more timer for the second length, none re-armed for a shorter call after a longer one");
    deadlines.close();
    assert.equal(timersMade(() => deadlines.watch(1, () => heard++)).length, 0, "nothing armed once closed");
    assert.equal(heard, 0);
  });
});
