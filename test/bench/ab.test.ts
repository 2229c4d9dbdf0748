/**
 * Issue #19: `npm run bench:ab` compares this build's client with an older one, each round as % of the limit round
 * beside it. What it reads of run.js's output, the ratios it takes, the sides it asks for, and its options; and the
 * temp folders of the workers' sessions, removed by the parent.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { difference, oursOfLimit, parseAbOptions, roundSamples, summary } from "../../bench/ab";
import { sidesToRun } from "../../bench/rounds";
import { makeSessionDir, removeSessionDirs } from "../../bench/session-dir";

const OUTPUT = `wxflow bench: 2 round(s), node v20.20.2, 2 CPUs
2 burst: 20,000 texts
  warm-up (limit side, not counted) (1432 ms)
  ours round 1: {"msgsPerSec":27000.5,"lost":0,"duplicated":0,"outOfOrder":0,"requests":404,"violations":0} (1329 ms)
  theirs round 1: {"msgsPerSec":9000,"lost":0} (3000 ms)
  limit round 1: {"msgsPerSec":30000,"lost":0,"duplicated":0,"outOfOrder":0,"requests":400,"violations":0} (1301 ms)
  limit round 2: {"msgsPerSec":25000,"lost":0} (1301 ms)
  ours round 2: n/a: the sandbox went away
  ours round 3: {"msgsPerSec":1} (1 ms) and more
`;

describe("bench: A/B of two builds against the limit (#19)", () => {
  it("pairs each ours round with the limit round of the same number, and skips what is not a sample", () => {
    const rounds = roundSamples(OUTPUT);
    assert.deepEqual([...rounds.keys()], [1, 2]);
    assert.equal(rounds.get(1)?.ours?.msgsPerSec, 27000.5);
    assert.equal(rounds.get(1)?.limit?.msgsPerSec, 30000);
    assert.equal(rounds.get(2)?.ours, undefined, "a failed round is no sample");
    assert.equal(rounds.get(2)?.limit?.msgsPerSec, 25000);
  });

  it("reads the rounds of row 3, where every side runs at once", () => {
    const rounds = roundSamples(`3 latency at 20 msg/s (600 texts)
  ours round 1: {"p50Ms":1.85,"p99Ms":4.78,"lost":0,"violations":0} (all sides at once, 31127 ms)
  theirs round 1: {"p50Ms":1.9,"p99Ms":4.83,"lost":0,"violations":0} (all sides at once, 31128 ms)
  limit round 1: {"p50Ms":1.72,"p99Ms":5.18,"lost":0,"violations":0} (all sides at once, 31128 ms)
`);
    assert.equal(rounds.get(1)?.ours?.p50Ms, 1.85);
    assert.equal(rounds.get(1)?.limit?.p50Ms, 1.72);
  });

  it("takes ours as % of the limit the way the table does: value / limit for a speed, limit / value for a time", () => {
    const speed = { key: "msgsPerSec", label: "messages/s", better: "higher" as const, ofLimit: true as const };
    const time = { key: "readyMs", label: "wall ms", better: "lower" as const, ofLimit: true as const };
    assert.equal(oursOfLimit(speed, { msgsPerSec: 27_000 }, { msgsPerSec: 30_000 }), 90);
    assert.equal(oursOfLimit(time, { readyMs: 400 }, { readyMs: 380 }), 95);
    assert.equal(oursOfLimit(speed, { msgsPerSec: 27_000 }, undefined), undefined);
    assert.equal(oursOfLimit(time, { readyMs: 0 }, { readyMs: 380 }), undefined);
  });

  it("reports each build's ratios and the difference of their means with its interval", () => {
    const base = [84, 86, 88, 86];
    const head = [90, 92, 94, 92];
    const d = difference(base, head);
    assert.equal(d.points, 6);
    // both sd 1.633 over 4 rounds: se 1.155, so 6 +- 2.26
    assert.ok(Math.abs(d.low - 3.74) < 0.01 && Math.abs(d.high - 8.26) < 0.01, `${d.low} .. ${d.high}`);
    assert.equal(summary("head", head), "head   n 4  mean 92%  median 92%  sd 1.6");
  });

  it("runs the sides BENCH_SIDES names, in the row's order, and every side without it", () => {
    assert.deepEqual(sidesToRun(["ours", "theirs", "limit"], { BENCH_SIDES: "limit, ours" }), ["ours", "limit"]);
    assert.deepEqual(sidesToRun(["ours", "theirs"], { BENCH_SIDES: "ours,limit" }), ["ours"]);
    assert.deepEqual(sidesToRun(["ours", "theirs", "limit"], {}), ["ours", "theirs", "limit"]);
  });

  it("needs a base revision and compares only the rows with a limit side", () => {
    assert.deepEqual(parseAbOptions(["--base", "HEAD~1"]), { base: "HEAD~1", only: ["burst"], pairs: 6, keep: false });
    assert.deepEqual(parseAbOptions(["--base", "abc", "--only", "login,latency", "--pairs", "10", "--keep"]), { base: "abc", only: ["login", "latency"], pairs: 10, keep: true });
    assert.throws(() => parseAbOptions([]), /--base is required/);
    assert.throws(() => parseAbOptions(["--base", "x", "--only", "idle"]), /--only takes login, burst, latency/);
    assert.throws(() => parseAbOptions(["--base", "x", "--pairs", "1"]), /--pairs must be/);
  });
});

describe("bench: the session folders of the workers", () => {
  it("a worker's folders are named after its pid, and removing them leaves every other folder", () => {
    const mine = makeSessionDir();
    assert.ok(path.basename(mine).startsWith(`wxflow-bench-${process.pid}-`), mine);
    // a worker that died before its stop(): pid 4194304 is above Linux's pid_max, so it is no live process's
    const dead = fs.mkdtempSync(path.join(os.tmpdir(), "wxflow-bench-4194304-"));
    fs.writeFileSync(path.join(dead, "account.session"), "{}");
    try {
      removeSessionDirs(4194304);
      assert.equal(fs.existsSync(dead), false);
      assert.equal(fs.existsSync(mine), true, "another worker's folder stays");
      removeSessionDirs(undefined);
      assert.equal(fs.existsSync(mine), true);
    } finally {
      fs.rmSync(mine, { recursive: true, force: true });
      fs.rmSync(dead, { recursive: true, force: true });
    }
  });
});
