import assert from "node:assert/strict";
import { SendQueue, type ThrottleInfo } from "../../lib/wechat/outbox/send-queue";
import { WeChatError, isWeChatError } from "../../lib/wechat/errors";
import { DEFAULT_ACTION_PACING } from "../../lib/wechat/send";
import { FakeClock, settle } from "../support/fake-clock";


function throttled(): WeChatError {
  return new WeChatError("THROTTLED", "too frequent (1205)", { ret: 1205 });
}

function makeQueue(clock: FakeClock, pacing: ConstructorParameters<typeof SendQueue>[0], extra: Record<string, number> = {}): SendQueue {
  return new SendQueue(pacing, { now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer, random: () => 0, ...extra });
}

describe("outbox/SendQueue", () => {
  it("runs tasks one at a time, in order", async () => {
    const clock = new FakeClock();
    const queue = makeQueue(clock, false);
    const log: string[] = [];
    let active = 0;
    let maxActive = 0;
    const task = (name: string) => async () => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      log.push(`start ${name}`);
      await settle();
      log.push(`end ${name}`);
      active -= 1;
      return name;
    };
    const results = await Promise.all([queue.run(task("a")), queue.run(task("b")), queue.run(task("c"))]);
    assert.deepEqual(results, ["a", "b", "c"]);
    assert.equal(maxActive, 1);
    assert.deepEqual(log, ["start a", "end a", "start b", "end b", "start c", "end c"]);
    assert.equal(clock.pendingTimers, 0);
    queue.close();
  });

  it("lets `burst` go back to back, then one per 60000/perMinute ms", async () => {
    const clock = new FakeClock();
    const queue = makeQueue(clock, { perMinute: 60, burst: 3, jitter: 0 });
    const starts: number[] = [];
    const all = Promise.all(Array.from({ length: 6 }, () => queue.run(async () => starts.push(clock.t - 1_000_000))));
    await clock.advance(10_000);
    await all;
    assert.deepEqual(starts, [0, 0, 0, 1000, 2000, 3000]);
    queue.close();
  });

  it("jitter only adds to the wait", async () => {
    const clock = new FakeClock();
    const jittery = new SendQueue({ perMinute: 60, burst: 1, jitter: 0.3 }, { now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer, random: () => 0.5 });
    const starts: number[] = [];
    const all = Promise.all([jittery.run(async () => starts.push(clock.t)), jittery.run(async () => starts.push(clock.t))]);
    await clock.advance(5000);
    await all;
    assert.equal(starts[1]! - starts[0]!, 1150);
    jittery.close();
  });

  it("the burst comes back after an idle period", async () => {
    const clock = new FakeClock();
    const queue = makeQueue(clock, { perMinute: 60, burst: 2, jitter: 0 });
    await Promise.all([queue.run(async () => 1), queue.run(async () => 2)]);
    await clock.advance(60_000);
    const starts: number[] = [];
    const all = Promise.all([1, 2, 3].map(() => queue.run(async () => starts.push(clock.t))));
    await clock.advance(5000);
    await all;
    assert.equal(starts[0], starts[1]);
    assert.equal(starts[2]! - starts[1]!, 1000);
    queue.close();
  });

  it("on 1205 slows down, pauses, emits throttled, and re-runs the task", async () => {
    const clock = new FakeClock();
    const queue = makeQueue(clock, { perMinute: 60, burst: 5, jitter: 0 });
    const events: Array<[number, ThrottleInfo]> = [];
    queue.on("throttled", (interval, info) => events.push([interval, info]));
    let calls = 0;
    const attempts: number[] = [];
    const result = queue.run(async () => {
      calls += 1;
      attempts.push(clock.t);
      if (calls === 1) throw throttled();
      return "sent";
    }, "text to Bob");
    await clock.advance(29_999);
    assert.equal(calls, 1, "no retry before the cool-down ends");
    await clock.advance(1);
    assert.equal(await result, "sent");
    assert.equal(calls, 2);
    assert.equal(attempts[1]! - attempts[0]!, 30_000);
    assert.equal(events.length, 1);
    assert.equal(events[0]![0], 2000);
    assert.deepEqual(events[0]![1], { intervalMs: 2000, pauseMs: 30_000, strikes: 1, willRetry: true, label: "text to Bob" });
    assert.equal(queue.intervalMs, 2000);
    queue.close();
  });

  it("gives up after the retries with THROTTLED, with growing pauses, and never hammers", async () => {
    const clock = new FakeClock();
    const queue = makeQueue(clock, { perMinute: 60, jitter: 0 });
    const pauses: number[] = [];
    queue.on("throttled", (_interval, info) => pauses.push(info.pauseMs));
    const attempts: number[] = [];
    const failing = queue.run(async () => {
      attempts.push(clock.t);
      throw throttled();
    });
    const failed = failing.then(
      () => assert.fail("should reject"),
      (error: unknown) => error,
    );
    let nextStarted = -1;
    const next = queue.run(async () => {
      nextStarted = clock.t;
    });
    await clock.advance(30_000 + 60_000);
    const error = await failed;
    assert.ok(isWeChatError(error, "THROTTLED"));
    assert.equal(attempts.length, 3, "1 try + 2 retries");
    assert.deepEqual(pauses, [30_000, 60_000, 120_000]);
    assert.equal(nextStarted, -1, "the next task waits out the cool-down too");
    await clock.advance(120_000);
    await next;
    assert.equal(nextStarted - attempts[2]!, 120_000);
    assert.equal(queue.intervalMs, 8000);
    queue.close();
  });

  it("caps the interval and the cool-down", async () => {
    const clock = new FakeClock();
    const queue = makeQueue(clock, { perMinute: 60, jitter: 0 }, { maxRetries: 0, cooldownMs: 1000, maxCooldownMs: 4000, maxIntervalMs: 5000 });
    const pauses: number[] = [];
    queue.on("throttled", (_interval, info) => pauses.push(info.pauseMs));
    for (let i = 0; i < 6; i += 1) {
      const p = queue.run(async () => {
        throw throttled();
      });
      const settled = p.catch((e: unknown) => e);
      await clock.advance(20_000);
      assert.ok(isWeChatError(await settled, "THROTTLED"));
    }
    assert.deepEqual(pauses, [1000, 2000, 4000, 4000, 4000, 4000]);
    assert.equal(queue.intervalMs, 5000);
    queue.close();
  });

  it("recovers after successes", async () => {
    const clock = new FakeClock();
    const queue = makeQueue(clock, { perMinute: 60, jitter: 0 }, { maxRetries: 0, recoverAfter: 3 });
    const first = queue.run(async () => {
      throw throttled();
    }).catch((e: unknown) => e);
    await clock.advance(1);
    assert.ok(isWeChatError(await first, "THROTTLED"));
    assert.equal(queue.intervalMs, 2000);
    const ok = Promise.all([1, 2, 3].map((n) => queue.run(async () => n)));
    await clock.advance(60_000);
    await ok;
    assert.equal(queue.intervalMs, 1000);
    queue.close();
  });

  it("other errors reject only their task", async () => {
    const clock = new FakeClock();
    const queue = makeQueue(clock, false);
    const bad = queue.run(async () => {
      throw new WeChatError("NOT_FOUND", "no such chat");
    });
    const sync = queue.run((() => {
      throw new Error("sync throw");
    }) as () => Promise<void>);
    const good = queue.run(async () => "ok");
    await assert.rejects(bad, (e: unknown) => isWeChatError(e, "NOT_FOUND"));
    await assert.rejects(sync, /sync throw/);
    assert.equal(await good, "ok");
    queue.close();
  });

  it("emits idle when the queue drains", async () => {
    const clock = new FakeClock();
    const queue = makeQueue(clock, { perMinute: 60, burst: 1, jitter: 0 });
    let idles = 0;
    queue.on("idle", () => {
      idles += 1;
    });
    const all = Promise.all([queue.run(async () => 1), queue.run(async () => 2)]);
    await clock.advance(2000);
    await all;
    assert.equal(idles, 1);
    assert.equal(queue.busy, false);
    queue.close();
  });

  it("a throwing listener does not break the queue", async () => {
    const clock = new FakeClock();
    const queue = makeQueue(clock, false, { maxRetries: 0 });
    queue.on("throttled", () => {
      throw new Error("listener bug");
    });
    const p = queue.run(async () => {
      throw throttled();
    });
    await assert.rejects(p, (e: unknown) => isWeChatError(e, "THROTTLED"));
    queue.close();
  });

  it("close() rejects queued tasks with CLOSED, clears the timer, lets the running one finish", async () => {
    const clock = new FakeClock();
    const queue = makeQueue(clock, { perMinute: 1, burst: 1, jitter: 0 });
    let release: () => void = () => undefined;
    const running = queue.run(
      () =>
        new Promise<string>((resolve) => {
          release = () => resolve("done");
        }),
    );
    const queued = [queue.run(async () => 1), queue.run(async () => 2)];
    await settle();
    queue.close();
    for (const p of queued) await assert.rejects(p, (e: unknown) => isWeChatError(e, "CLOSED"));
    release();
    assert.equal(await running, "done");
    await settle();
    assert.equal(clock.pendingTimers, 0);
    await assert.rejects(queue.run(async () => 3), (e: unknown) => isWeChatError(e, "CLOSED"));
    assert.equal(queue.closed, true);
  });

  it("close() during a cool-down rejects the task waiting for its retry", async () => {
    const clock = new FakeClock();
    const queue = makeQueue(clock, { perMinute: 60, jitter: 0 });
    const p = queue.run(async () => {
      throw throttled();
    });
    const settled = p.catch((e: unknown) => e);
    await clock.advance(10);
    assert.equal(clock.pendingTimers, 1);
    queue.close();
    assert.ok(isWeChatError(await settled, "CLOSED"));
    assert.equal(clock.pendingTimers, 0);
  });

  it("refuses bad pacing options", () => {
    for (const bad of [{ perMinute: 0 }, { perMinute: -1 }, { perMinute: Number.NaN }, { perMinute: 60, burst: 0 }, { perMinute: 60, jitter: 2 }]) {
      assert.throws(() => new SendQueue(bad), (e: unknown) => isWeChatError(e, "INVALID_ARGUMENT"));
    }
  });

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

  it("works with real timers and leaves none behind", async () => {
    const queue = new SendQueue({ perMinute: 6000, burst: 1, jitter: 0 });
    const started = Date.now();
    const results = await Promise.all([1, 2, 3].map((n) => queue.run(async () => n)));
    assert.deepEqual(results, [1, 2, 3]);
    assert.ok(Date.now() - started >= 15, "paced at 10 ms");
    queue.close();
  });
});
