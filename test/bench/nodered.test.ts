/**
 * Issue #19 point 3: row 7's ceiling (the echo through plain function nodes fed by the client, no wx node) answers
 * every text exactly once with no protocol violation.
 */
import assert from "node:assert/strict";
import { nodeRedWorkload } from "../../bench/nodered";
import type { BenchOptions } from "../../bench/options";
import type { RunContext } from "../../bench/workloads";

const options: BenchOptions = { rounds: 1, quick: true, only: [], cpuProf: false, write: false };
const lines: string[] = [];
const ctx: RunContext = { options, execArgv: () => ["--expose-gc"], log: (line) => lines.push(line) };

describe("bench: Node-RED rows (#19.3)", function () {
  this.timeout(90_000);

  it("row 7 runs the ceiling as its limit side: every text echoed once through function nodes, 0 violations", async function () {
    const row = nodeRedWorkload(options, { echo: 100, latency: 10 });
    assert.deepEqual(row.sides, ["ours", "limit"]);
    assert.ok(row.metrics.filter((m) => m.ofLimit).length >= 2, "echo speed and latency given as % of the ceiling");
    const sample = await row.run("limit", 1, ctx);
    assert.equal(sample.violations, 0, lines.join("\n"));
    assert.equal(sample.echoDuplicates, 0);
    assert.ok((sample.echoMsgsPerSec ?? 0) > 0, JSON.stringify(sample));
    assert.ok(Number.isFinite(sample.echoP99Ms), JSON.stringify(sample));
  });

});
