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

describe("CallDeadlines: the direct calls' timeouts on one timer (#19)", () => {
  it("times a call out once its time has passed, never before; a call over in time is never timed out", async () => {
    const deadlines = new CallDeadlines();
    try {
      const heard: string[] = [];
      const over = deadlines.watch(30, () => heard.push("over"));
      const started = performance.now();
      const late = timedOut(deadlines, 60);
      over();
      const at = await late.at;
      assert.ok(at - started >= 59, `timed out after ${Math.round(at - started)} ms`);
      assert.deepEqual(heard, [], "the call that was over is not timed out");
    } finally {
      deadlines.close();
    }
  });

  it("keeps each call's own deadline whatever the order they were watched in", async () => {
    const deadlines = new CallDeadlines();
    try {
      const order: string[] = [];
      const long = timedOut(deadlines, 120);
      const short = timedOut(deadlines, 40);
      const middle = timedOut(deadlines, 80);
      await Promise.all([long.at, short.at, middle.at].map((p, i) => p.then(() => order.push(["long", "short", "middle"][i] as string))));
      assert.deepEqual(order, ["short", "middle", "long"]);
    } finally {
      deadlines.close();
    }
  });

  it("makes one timer for many calls, keeps no process alive by it, and close() leaves nothing armed", () => {
    const deadlines = new CallDeadlines();
    const made: NodeJS.Timeout[] = [];
    const original = globalThis.setTimeout;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      const timer = original(...args);
      made.push(timer);
      return timer;
    }) as typeof setTimeout;
    let heard = 0;
    try {
      // Calls one after the other, as a sync loop makes them: each is over before the next one starts.
      for (let i = 0; i < 100; i++) deadlines.watch(15_000, () => heard++)();
    } finally {
      globalThis.setTimeout = original;
    }
    assert.equal(made.length, 1, "one timer for 100 calls");
    assert.equal(made[0]?.hasRef(), false, "a call keeps the process alive by its socket, not by its deadline");
    deadlines.close();
    assert.equal(deadlines.watch(1, () => heard++) !== undefined, true);
    assert.equal(heard, 0);
  });
});
