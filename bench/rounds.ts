import type { Side } from "./ipc";
import { commaList } from "./options";
import type { WorkloadResults } from "./report";
import { asError, errorText } from "./sides/side";
import type { RunContext, Sample, Workload } from "./workloads";

/**
 * The sides of a row to run: all of them, or those named in BENCH_SIDES ("ours,limit": what `npm run bench:ab`
 * compares, without wechat4u's rounds).
 */
export function sidesToRun(sides: Side[], env: NodeJS.ProcessEnv = process.env): Side[] {
  const named = env.BENCH_SIDES ? commaList(env.BENCH_SIDES) : undefined;
  return named && named.length > 0 ? sides.filter((side) => named.includes(side)) : sides;
}

/**
 * The rounds of one row: uncounted rounds of the limit side first (a row that has one: `warmUpRounds`, default one,
 * or the row's own `warmUp`), then every side once a round, in an order that turns by one side each round; the bench's
 * process is settled (`RunContext.settle`) before every run. Failures are kept per side (the table shows n/a and why).
 */
export async function runWorkload(workload: Workload, ctx: RunContext, rounds: number): Promise<WorkloadResults> {
  const results: WorkloadResults = { ours: undefined, theirs: undefined, limit: undefined };
  const sides = sidesToRun(workload.sides);
  for (const side of sides) results[side] = { samples: [], failures: [] };
  if (sides.includes("limit")) {
    // The sandbox runs in this process, and its code is compiled as it first serves: the side timed first (ours)
    // met a cold server in round 1 (ours' login ~20% slower in round 1 than in round 2, the limit's the same). Real
    // hosts are always warm, so rounds of the limit side, not counted, warm the server before any side is timed: one,
    // or as many as the row says (row 2), or the row's own warm-up (row 3).
    const t0 = Date.now();
    const warmUps = workload.warmUp ? 1 : Math.max(1, workload.warmUpRounds ?? 1);
    const what = warmUps > 1 ? `${warmUps} rounds of the limit side` : "limit side";
    try {
      for (let i = 0; i < warmUps; i++) {
        ctx.settle?.();
        await (workload.warmUp ? workload.warmUp(ctx) : workload.run("limit", 0, ctx));
      }
      ctx.log(`  warm-up (${what}, not counted) (${Date.now() - t0} ms)`);
    } catch (error) {
      ctx.log(`  warm-up (${what}, not counted): n/a: ${errorText(error)}`);
    }
  }
  for (let round = 1; round <= rounds; round++) {
    // The order turns by one side each round (ours, theirs, limit; then theirs, limit, ours; ...): a side timed at
    // the same place every round met the server and the machine in the same state every time (after the warm-up,
    // or after wechat4u's heavy rounds), which no median takes out.
    const shift = (round - 1) % sides.length;
    const order = [...sides.slice(shift), ...sides.slice(0, shift)];
    if (workload.runTogether) {
      // Every side at once (row 3); the order turns who logs in first and whose texts come first in each turn.
      const t0 = Date.now();
      let outcomes: Map<Side, Sample | Error>;
      ctx.settle?.();
      try {
        outcomes = await workload.runTogether(order, round, ctx);
      } catch (error) {
        outcomes = new Map(order.map((side) => [side, asError(error)]));
      }
      for (const side of order) record(side, round, outcomes.get(side) ?? new Error("no result"), `all sides at once, ${Date.now() - t0} ms`);
      continue;
    }
    for (const side of order) {
      ctx.settle?.();
      const t0 = Date.now();
      let outcome: Sample | Error;
      try {
        outcome = await workload.run(side, round, ctx);
      } catch (error) {
        outcome = asError(error);
      }
      record(side, round, outcome, `${Date.now() - t0} ms`);
    }
  }
  return results;

  /** A side's sample of a round, or why it has none, kept and logged ("  ours round 2: {...} (123 ms)"). */
  function record(side: Side, round: number, outcome: Sample | Error, took: string): void {
    if (outcome instanceof Error) {
      results[side]?.failures.push(errorText(outcome));
      ctx.log(`  ${side} round ${round}: n/a: ${errorText(outcome)}`);
    } else {
      results[side]?.samples.push(outcome);
      ctx.log(`  ${side} round ${round}: ${JSON.stringify(outcome, (_k, v: unknown) => (typeof v === "number" ? Math.round(v * 100) / 100 : v))} (${took})`);
    }
  }
}
