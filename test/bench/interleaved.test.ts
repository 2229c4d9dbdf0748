/**
 * Issue #19, rows 3 and 7: the texts of every side at once. Each side's text comes right after each other side's
 * equally often in a round (both directions of the seats' order), not after the same side every time: the side that
 * followed wechat4u's text was measured ahead by ~4 points of the limit (bench/README.md, "Row 3: every side at once").
 */
import assert from "node:assert/strict";
import { interleaved } from "../../bench/workloads";
import { wallNow } from "../../bench/stats";

describe("bench: texts to every side at once (#19)", function () {
  this.timeout(10_000);

  it("sends each seat its texts in order, paced a turn every 50 ms, and lets each seat follow each other seat equally often", async function () {
    const seats = ["ours", "theirs", "limit"] as const;
    const sent: { i: number; seat: string; at: number }[] = [];
    const t0 = wallNow();
    await interleaved(6, seats, (i, seat) => sent.push({ i, seat, at: wallNow() }));
    assert.equal(sent.length, 18);
    for (const seat of seats) {
      assert.deepEqual(sent.filter((s) => s.seat === seat).map((s) => s.i), [1, 2, 3, 4, 5, 6], `${seat}'s texts in order`);
    }
    // Paced, not sent at once: the last text is due 6 turns of 50 ms and two thirds of a turn after the start (a
    // loaded machine only makes it later).
    const last = (sent[17] as { at: number }).at - t0;
    assert.ok(last >= 330, `the last text ${last.toFixed(0)} ms after the start`);
    // Who came right before whom (a seat twice in a row, at the switch, says nothing).
    const before = new Map<string, Map<string, number>>(seats.map((seat) => [seat, new Map()]));
    for (let j = 1; j < sent.length; j++) {
      const prev = (sent[j - 1] as { seat: string }).seat;
      const next = (sent[j] as { seat: string }).seat;
      if (prev === next) continue;
      const counts = before.get(next) as Map<string, number>;
      counts.set(prev, (counts.get(prev) ?? 0) + 1);
    }
    for (const seat of seats) {
      const others = seats.filter((s) => s !== seat).map((other) => before.get(seat)?.get(other) ?? 0);
      assert.ok(others.every((n) => n >= 2), `${seat} came right after each other seat at least twice: ${others.join(", ")}`);
      assert.ok(Math.abs((others[0] as number) - (others[1] as number)) <= 1, `${seat}: after the others ${others.join(" and ")} times`);
    }
  });
});
