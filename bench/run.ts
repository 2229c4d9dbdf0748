/**
 * `npm run bench`: the same workloads through our client, through wechat4u and through the bare protocol loop
 * (limit) against the sandbox (throttle off), every side once a round in an order that turns each round, each run
 * in its own worker process. Prints medians and writes JSON.
 * Not a test: see bench/README.md.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { handoverWorkload } from "./handover";
import { accountsWorkload, nodeRedWorkload } from "./nodered";
import { parseOptions } from "./options";
import { type MetricRow, formatTable, metricRows } from "./report";
import { runWorkload } from "./rounds";
import { errorText } from "./sides/side";
import { type RunContext, workloads } from "./workloads";

function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "bench"))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

/**
 * A full garbage collection of this process (the sandboxes run in it), with or without --expose-gc. Each run leaves
 * its sandbox behind (the 20,000 texts of a burst, the 5,000 friends of a login): without a collection between
 * runs, V8 marked and compacted that in the middle of a later run, which then met a slower server, whichever side it
 * was (bench/README.md, "A settled server").
 */
function fullGc(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const root = repoRoot();
  const resultsDir = path.join(root, "bench", "results");
  const profileDir = path.join(resultsDir, "profiles");
  const log = (line: string): void => console.log(line);
  const gc = fullGc();
  const ctx: RunContext = {
    options,
    log,
    settle: () => gc(),
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
