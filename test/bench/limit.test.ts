/**
 * Issue #19 point 1: the bench's limit side (bench/sides/limit.ts) is a correct client of the strict sandbox: it logs
 * in, loads every contact page and every group's members in batches of at most 50, and delivers a burst exactly
 * once and in order, with no protocol violation. The report gives ours and theirs as % of the limit, and the limit
 * column of a row it does not run says why. The rows are fair to every side: ours starts a row with its address book
 * loaded, as the limit does, and the rounds warm the server and turn the order of the sides (bench/rounds.ts).
 */
import assert from "node:assert/strict";
import { parseOptions } from "../../bench/options";
import { formatTable, metricRows } from "../../bench/report";
import { runWorkload } from "../../bench/rounds";
import { type SandboxLike, accountName, listOf, startSandbox } from "../../bench/sandbox-host";
import { createLimit } from "../../bench/sides/limit";
import { createOurs } from "../../bench/sides/ours";
import type { BenchSide } from "../../bench/sides/side";
import { type Workload, workloads } from "../../bench/workloads";

/** Resolves once `count` texts have arrived, rejects after timeoutMs. */
function texts(side: BenchSide, count: number, timeoutMs: number): Promise<string[]> {
  const got: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${got.length} of ${count} texts after ${timeoutMs} ms`)), timeoutMs);
    side.onText((text) => {
      got.push(text);
      if (got.length === count) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

describe("bench: the limit side, a bare protocol loop (#19.1)", function () {
  this.timeout(30_000);
  let sb: SandboxLike;
  let side: BenchSide | undefined;

  beforeEach(async function () {
    sb = await startSandbox({ seed: 1, throttle: false, contacts: 300, groups: 70 });
  });

  afterEach(async function () {
    await side?.stop();
    side = undefined;
    await sb.close();
  });

  it("logs in, loads every group's members and a burst of 500 texts exactly once and in order, with 0 violations", async function () {
    side = createLimit(sb.url);
    const arrived = texts(side, 500, 20_000);
    const login = sb.control.waitForLogin({ timeoutMs: 10_000 });
    const started = side.start(true, 20_000);
    await sb.control.scan({ uuid: (await login).uuid, account: 0 });
    await started;
    const counts = side.counts();
    assert.ok(counts.groups > 50, `${counts.groups} groups: more than one member batch`);
    assert.equal(counts.groupsWithMembers, counts.groups);
    assert.ok(counts.contacts > 300, `${counts.contacts} contacts`);
    await sb.control.injectBulk({ from: await accountName(sb, 1), count: 500, prefix: "burst" });
    assert.deepEqual(await arrived, Array.from({ length: 500 }, (_, i) => `burst ${i + 1}`));
    assert.deepEqual(listOf(await sb.control.violations(), "violations"), []);
    assert.deepEqual(side.errors(), []);
  });

  // Every side starts a row from the same state: the limit's start() returns with its address book (above).
  it("ours is ready for a row that does not wait for members only once its address book is loaded, as the limit is", async function () {
    side = createOurs(sb.url);
    await side.loaded?.();
    const login = sb.control.waitForLogin({ timeoutMs: 10_000 });
    const started = side.start(false, 20_000);
    await sb.control.scan({ uuid: (await login).uuid, account: 0 });
    await started;
    // Read at once: a load still running (pages, member batches) would be timed as part of the row.
    const counts = side.counts();
    assert.ok(counts.contacts > 300, `${counts.contacts} contacts when ready`);
    assert.ok(counts.groups > 50, `${counts.groups} groups`);
    assert.equal(counts.groupsWithMembers, counts.groups);
    assert.deepEqual(side.errors(), []);
  });
});

describe("bench: the report's limit column and % of limit (#19.1)", function () {
  const workload = (name: string, better: "lower" | "higher", ofLimit: boolean): Workload => ({
    name,
    title: name,
    sides: ["ours", "theirs"],
    metrics: [{ key: "v", label: "value", better, ...(ofLimit ? { ofLimit: true as const } : {}) }],
    run: () => Promise.reject(new Error("not run")),
  });
  const side = (v: number) => ({ samples: [{ v }], failures: [] });

  it("gives a rate as side / limit and a time as limit / side, only for the speeds", function () {
    const [rate] = metricRows(workload("burst", "higher", true), { ours: side(90), theirs: side(45), limit: side(100) });
    assert.equal(rate?.limit, 100);
    assert.equal(rate?.oursOfLimitPct, 90);
    assert.equal(rate?.theirsOfLimitPct, 45);
    const [time] = metricRows(workload("login", "lower", true), { ours: side(200), theirs: side(400), limit: side(100) });
    assert.equal(time?.oursOfLimitPct, 50);
    assert.equal(time?.theirsOfLimitPct, 25);
    const [count] = metricRows(workload("requests", "lower", false), { ours: side(13), theirs: side(17), limit: side(13) });
    assert.equal(count?.oursOfLimitPct, null);
    const table = formatTable([rate, time].filter((r) => r !== undefined));
    assert.match(table.split("\n")[0] ?? "", /ours\s+theirs\s+limit\s+ours\/theirs\s+ours % of limit\s+theirs % of limit/);
    assert.match(table, /90%\s+45%/);
  });

  it("shows n/a in the limit column of a row it does not run, and says why", function () {
    const rows = metricRows(workload("idle", "lower", false), { ours: side(5), theirs: side(6), limit: undefined });
    assert.equal(rows[0]?.limit, null);
    const table = formatTable(rows);
    assert.match(table, /^idle\s+value \(lower is better\)\s+5\s+6\s+n\/a/m);
    assert.match(table, /idle \/ limit: n\/a: not measured by the limit side/);
  });
});

describe("bench: the rounds of a row, fair to every side (#19)", function () {
  /** A row of all three sides whose rounds say, in `runs`, which side ran which round. */
  function recordingRow(name: string, runs: string[]): Workload {
    return {
      name,
      title: name,
      sides: ["ours", "theirs", "limit"],
      metrics: [{ key: "v", label: "value", better: "higher", ofLimit: true }],
      run: async (side, round) => {
        runs.push(`${side} ${round}`);
        return { v: round };
      },
    };
  }

  it("warms the server with one uncounted round of the limit, then turns the order of the sides each round", async function () {
    const runs: string[] = [];
    const row = recordingRow("burst", runs);
    const lines: string[] = [];
    const ctx = { options: parseOptions([]), log: (line: string) => lines.push(line), execArgv: () => [] };
    const results = await runWorkload(row, ctx, 3);
    assert.deepEqual(runs, ["limit 0", "ours 1", "theirs 1", "limit 1", "theirs 2", "limit 2", "ours 2", "limit 3", "ours 3", "theirs 3"]);
    // The warm-up is not a sample.
    assert.deepEqual(results.limit?.samples, [{ v: 1 }, { v: 2 }, { v: 3 }]);
    assert.ok(lines.some((line) => /warm-up \(limit side, not counted\)/.test(line)));
    // A row without the limit side has no warm-up; its order turns all the same.
    runs.length = 0;
    await runWorkload({ ...row, sides: ["ours", "theirs"] }, ctx, 2);
    assert.deepEqual(runs, ["ours 1", "theirs 1", "theirs 2", "ours 2"]);
  });

  it("warms the server with as many uncounted rounds of the limit as the row asks for (row 2: five in the full run)", async function () {
    const runs: string[] = [];
    const lines: string[] = [];
    const ctx = { options: parseOptions([]), log: (line: string) => lines.push(line), execArgv: () => [] };
    const results = await runWorkload({ ...recordingRow("burst", runs), warmUpRounds: 3 }, ctx, 2);
    assert.deepEqual(runs, ["limit 0", "limit 0", "limit 0", "ours 1", "theirs 1", "limit 1", "theirs 2", "limit 2", "ours 2"]);
    assert.deepEqual(results.limit?.samples, [{ v: 1 }, { v: 2 }], "no warm-up round is a sample");
    assert.ok(lines.some((line) => /warm-up \(3 rounds of the limit side, not counted\)/.test(line)), lines.join("\n"));
    // The burst row's server kept getting faster for five rounds of 20,000 (bench/README.md, "A warm server").
    assert.equal(workloads(parseOptions([])).find((w) => w.name === "burst")?.warmUpRounds, 5);
    assert.equal(workloads(parseOptions(["--quick"])).find((w) => w.name === "burst")?.warmUpRounds, 1);
  });

  it("settles the bench's process (a full GC, where the sandboxes run) before every run, warm-up ones too", async function () {
    const runs: string[] = [];
    const ctx = { options: parseOptions([]), log: () => undefined, execArgv: () => [], settle: () => void runs.push("settle") };
    await runWorkload({ ...recordingRow("burst", runs), warmUpRounds: 2 }, ctx, 2);
    assert.deepEqual(runs, ["settle", "limit 0", "settle", "limit 0", "settle", "ours 1", "settle", "theirs 1", "settle", "limit 1",
      "settle", "theirs 2", "settle", "limit 2", "settle", "ours 2"]);
  });

  it("runs every side at once in each counted round of a row that can (row 3), after the row's own warm-up", async function () {
    const runs: string[] = [];
    const row: Workload = {
      ...recordingRow("latency", runs),
      warmUp: async () => {
        runs.push("warm-up");
        return { v: 0 };
      },
      runTogether: async (sides, round) => {
        runs.push(`together ${round}: ${sides.join(",")}`);
        // One side fails in round 2: only its sample is missing, and it says why.
        return new Map(sides.map((side) => [side, side === "theirs" && round === 2 ? new Error("its worker died") : { v: round * 10 }]));
      },
    };
    const lines: string[] = [];
    const ctx = { options: parseOptions([]), log: (line: string) => lines.push(line), execArgv: () => [] };
    const results = await runWorkload(row, ctx, 3);
    // The row's warm-up replaces the uncounted round of the limit; no side runs alone after it.
    assert.deepEqual(runs, ["warm-up", "together 1: ours,theirs,limit", "together 2: theirs,limit,ours", "together 3: limit,ours,theirs"]);
    assert.deepEqual(results.ours?.samples, [{ v: 10 }, { v: 20 }, { v: 30 }]);
    assert.deepEqual(results.theirs?.samples, [{ v: 10 }, { v: 30 }]);
    assert.deepEqual(results.theirs?.failures, ["its worker died"]);
    assert.deepEqual(results.limit?.samples, [{ v: 10 }, { v: 20 }, { v: 30 }]);
    assert.ok(lines.some((line) => /theirs round 2: n\/a: its worker died/.test(line)));
    // A round that fails as a whole fails for every side.
    runs.length = 0;
    const broken: Workload = { ...row, runTogether: () => Promise.reject(new Error("no sandbox")) };
    const failed = await runWorkload(broken, ctx, 1);
    assert.deepEqual(failed.ours?.failures, ["no sandbox"]);
    assert.deepEqual(failed.limit?.failures, ["no sandbox"]);
    assert.deepEqual(failed.ours?.samples, []);
  });
});
