/**
 * `npm run bench`: the same workloads through our client and through wechat4u against the sandbox (throttle
 * off), alternating sides round by round, each run in its own worker process. Prints medians and writes JSON.
 * Not a test: see bench/README.md.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Side } from "./ipc";
import { handoverWorkload } from "./handover";
import { accountsWorkload, nodeRedWorkload } from "./nodered";
import { parseOptions } from "./options";
import { type MetricRow, type WorkloadResults, formatTable, metricRows } from "./report";
import { errorText } from "./sides/side";
import { type RunContext, type Workload, workloads } from "./workloads";

function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "bench"))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

async function runWorkload(workload: Workload, ctx: RunContext, rounds: number): Promise<WorkloadResults> {
  const results: WorkloadResults = { ours: undefined, theirs: undefined, limit: undefined };
  for (const side of workload.sides) results[side] = { samples: [], failures: [] };
  if (workload.sides.includes("limit")) {
    // The sandbox runs in this process, and its code is compiled as it first serves: the side timed first (ours)
    // met a cold server in round 1 (ours' login ~20% slower in round 1 than in round 2, the limit's the same). Real
    // hosts are always warm, so one round of the limit side, not counted, warms the server before any side is timed.
    const t0 = Date.now();
    try {
      await workload.run("limit", 0, ctx);
      ctx.log(`  warm-up (limit side, not counted) (${Date.now() - t0} ms)`);
    } catch (error) {
      ctx.log(`  warm-up (limit side, not counted): n/a: ${errorText(error)}`);
    }
  }
  for (let round = 1; round <= rounds; round++) {
    for (const side of workload.sides) {
      const t0 = Date.now();
      const result = results[side as Side];
      try {
        const sample = await workload.run(side, round, ctx);
        result?.samples.push(sample);
        ctx.log(`  ${side} round ${round}: ${JSON.stringify(sample, (_k, v: unknown) => (typeof v === "number" ? Math.round(v * 100) / 100 : v))} (${Date.now() - t0} ms)`);
      } catch (error) {
        result?.failures.push(errorText(error));
        ctx.log(`  ${side} round ${round}: n/a: ${errorText(error)}`);
      }
    }
  }
  return results;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const root = repoRoot();
  const resultsDir = path.join(root, "bench", "results");
  const profileDir = path.join(resultsDir, "profiles");
  const log = (line: string): void => console.log(line);
  const ctx: RunContext = {
    options,
    log,
    // BENCH_WORKER_FLAGS="--trace-gc ...": extra node flags for every worker (diagnostics).
    execArgv: (name) => ["--expose-gc", ...(process.env.BENCH_WORKER_FLAGS?.split(" ").filter(Boolean) ?? []), ...(options.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`] : [])],
  };
  const all = [...workloads(options), nodeRedWorkload(options), accountsWorkload(options), handoverWorkload(options)];
  const selected = options.only.length === 0 ? all : all.filter((w) => options.only.includes(w.name));
  if (selected.length === 0) throw new Error(`--only matched no workload (${all.map((w) => w.name).join(", ")})`);
  const started = Date.now();
  log(`wxflow bench: ${options.quick ? "quick, " : ""}${options.rounds} round(s), node ${process.version}, ${os.cpus().length} CPUs`);
  const rows: MetricRow[] = [];
  for (const workload of selected) {
    log(`${workload.title}`);
    rows.push(...metricRows(workload, await runWorkload(workload, ctx, options.rounds)));
  }
  const table = formatTable(rows);
  log(`\nmedians over ${options.rounds} round(s), ${Math.round((Date.now() - started) / 1000)} s in all\n`);
  log(table);
  if (options.write) {
    fs.mkdirSync(resultsDir, { recursive: true });
    const date = new Date().toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z");
    const json = JSON.stringify(
      {
        date: new Date().toISOString(),
        options,
        node: process.version,
        platform: `${os.platform()} ${os.arch()}`,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        seconds: Math.round((Date.now() - started) / 1000),
        rows,
        table,
      },
      null,
      2,
    );
    fs.writeFileSync(path.join(resultsDir, `${date}.json`), `${json}\n`);
    fs.writeFileSync(path.join(resultsDir, "latest.json"), `${json}\n`);
    log(`\nwritten: ${path.relative(process.cwd(), path.join(resultsDir, `${date}.json`))} and latest.json`);
  }
}

main().catch((error: unknown) => {
  console.error(errorText(error));
  process.exitCode = 1;
});
