/**
 * Issue #19 points 3 and 4: row 7's ceiling (the echo through plain function nodes fed by the client, no wx node)
 * answers every text exactly once with no protocol violation, alone and at once with our nodes, and row 8 logs several accounts into one Node-RED a
 * few at a time, then measures them (RSS, idle CPU, event loop delay) while every text reaches a wx-receive.
 */
import assert from "node:assert/strict";
import { accountsWorkload, nodeRedWorkload } from "../../bench/nodered";
import type { BenchOptions } from "../../bench/options";
import type { RunContext } from "../../bench/workloads";

const options: BenchOptions = { rounds: 1, quick: true, only: [], cpuProf: false, write: false };
const lines: string[] = [];
const ctx: RunContext = { options, execArgv: () => ["--expose-gc"], log: (line) => lines.push(line) };

describe("bench: Node-RED rows (#19.3, #19.4)", function () {
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

  it("row 7's counted rounds run our nodes and the ceiling at once, each its own account: every text echoed once by each", async function () {
    const row = nodeRedWorkload(options, { echo: 100, latency: 10 });
    assert.ok(row.runTogether, "both sides at once");
    const results = await row.runTogether(["limit", "ours"], 1, ctx);
    for (const side of ["ours", "limit"] as const) {
      const sample = results.get(side);
      assert.ok(sample && !(sample instanceof Error), `${side}: ${String(sample)}\n${lines.join("\n")}`);
      assert.equal(sample.violations, 0, lines.join("\n"));
      assert.equal(sample.echoDuplicates, 0);
      assert.ok((sample.echoMsgsPerSec ?? 0) > 0 && Number.isFinite(sample.echoP50Ms), `${side}: ${JSON.stringify(sample)}`);
    }
  });

  it("row 8 logs 3 accounts in 2 at a time and measures them while every text reaches its wx-receive", async function () {
    const row = accountsWorkload(options, { accounts: 3, atOnce: 2, idleSeconds: 1, trafficSeconds: 2, perAccountEveryMs: 300 });
    const sample = await row.run("ours", 1, ctx);
    assert.equal(sample.violations, 0, lines.join("\n"));
    assert.equal(sample.onlineAtEnd, 3);
    assert.ok((sample.texts ?? 0) >= 15, JSON.stringify(sample));
    assert.equal(sample.received, sample.texts);
    for (const key of ["rssPerAccountMB", "idleCpuMsPerAccountMin", "loginAllSec", "loopDelayP99Ms"]) {
      assert.ok(Number.isFinite(sample[key]) && (sample[key] ?? 0) > 0, `${key}: ${JSON.stringify(sample)}`);
    }
  });
});
