/**
 * `npm run bench:ab -- --base <git revision>`: this build's client against an older one, each as % of the limit
 * side in the same run, in pairs whose order turns. A change worth a few % of a row is smaller than what the
 * machine swings between two runs (bench/README.md, "Where the remaining time goes"), so one full run before and one
 * after cannot show it; paired rounds can. The base revision is checked out in a temporary git worktree (sharing
 * this checkout's node_modules) and built there. Nothing is written to bench/results.
 *
 *   npm run bench:ab -- --base HEAD~1 --only burst --pairs 8
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ofLimit } from "./report";
import { errorText } from "./sides/side";
import { mean, median, round, standardDeviation } from "./stats";
import { type MetricSpec, workloads } from "./workloads";
import { argumentsOf, commaList, parseOptions } from "./options";

export const AB_USAGE = "usage: npm run bench:ab -- --base <git revision> [--only burst,latency,login] [--pairs N] [--keep]";

export interface AbOptions {
  base: string;
  only: string[];
  pairs: number;
  /** Leave the base's worktree (and its build) in the temp dir for the next comparison with the same base. */
  keep: boolean;
}

/** The rows with a limit side: the only ones a comparison of "ours as % of the limit" makes sense for. */
const LIMIT_ROWS = ["login", "burst", "latency"];

export function parseAbOptions(argv: string[]): AbOptions {
  const options: AbOptions = { base: "", only: ["burst"], pairs: 6, keep: false };
  for (const { arg, value } of argumentsOf(argv, AB_USAGE)) {
    if (arg === "--base") options.base = value();
    else if (arg === "--only") options.only = commaList(value());
    else if (arg === "--pairs") {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 2 || n > 50) throw new Error(`--pairs must be an integer 2..50\n${AB_USAGE}`);
      options.pairs = n;
    } else if (arg === "--keep") options.keep = true;
    else throw new Error(`unknown option ${arg}\n${AB_USAGE}`);
  }
  if (!options.base) throw new Error(`--base is required\n${AB_USAGE}`);
  const unknown = options.only.filter((w) => !LIMIT_ROWS.includes(w));
  if (unknown.length > 0 || options.only.length === 0) throw new Error(`--only takes ${LIMIT_ROWS.join(", ")}\n${AB_USAGE}`);
  return options;
}

/** One round's sample of each side, by round number, as `run.js` prints them ("  ours round 2: {...} (123 ms)"). */
export function roundSamples(output: string): Map<number, { ours?: Record<string, number>; limit?: Record<string, number> }> {
  const rounds = new Map<number, { ours?: Record<string, number>; limit?: Record<string, number> }>();
  // "(123 ms)" after a round of one side, "(all sides at once, 123 ms)" after one of every side at once (row 3).
  for (const match of output.matchAll(/^ {2}(ours|limit) round (\d+): (\{.*\}) \((?:all sides at once, )?\d+ ms\)$/gm)) {
    const [, side, n, json] = match as unknown as [string, "ours" | "limit", string, string];
    const entry = rounds.get(Number(n)) ?? {};
    entry[side] = JSON.parse(json) as Record<string, number>;
    rounds.set(Number(n), entry);
  }
  return rounds;
}

/** Ours as % of the limit in one round (value / limit for a speed, limit / value for a time); undefined without both. */
export function oursOfLimit(metric: MetricSpec, ours: Record<string, number> | undefined, limit: Record<string, number> | undefined): number | undefined {
  const o = ours?.[metric.key];
  const l = limit?.[metric.key];
  return ofLimit(typeof o === "number" ? o : null, typeof l === "number" ? l : null, metric.better) ?? undefined;
}

/** One build's ratios: n, mean, median, sd. */
export function summary(name: string, values: number[]): string {
  return `${name.padEnd(6)} n ${values.length}  mean ${round(mean(values) ?? NaN, 1)}%  median ${round(median(values) ?? NaN, 1)}%  sd ${round(standardDeviation(values), 1)}`;
}

/** The head's mean minus the base's, in points of % of the limit, with a ~95% interval (Welch, normal approximation). */
export function difference(base: number[], head: number[]): { points: number; low: number; high: number } {
  const points = (mean(head) ?? NaN) - (mean(base) ?? NaN);
  const se = Math.sqrt(standardDeviation(head) ** 2 / Math.max(1, head.length) + standardDeviation(base) ** 2 / Math.max(1, base.length));
  return { points, low: points - 1.96 * se, high: points + 1.96 * se };
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(" ")} exited ${code}`))));
  });
}

function git(root: string, args: string[]): string {
  const result = spawnSync("git", args, { cwd: root, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** The base revision checked out and built in a temp worktree (reused when it is there already). */
async function baseBuild(root: string, revision: string, log: (line: string) => void): Promise<{ dir: string; remove: () => void }> {
  const sha = git(root, ["rev-parse", "--verify", `${revision}^{commit}`]);
  const dir = path.join(os.tmpdir(), `wxflow-ab-${sha.slice(0, 12)}`);
  const remove = (): void => {
    spawnSync("git", ["worktree", "remove", "--force", dir], { cwd: root });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  if (!fs.existsSync(path.join(dir, "dist", "bench", "run.js"))) {
    remove();
    log(`base ${revision} (${sha.slice(0, 12)}): checking out and building in ${dir}`);
    git(root, ["worktree", "add", "--detach", "--force", dir, sha]);
    fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"), "dir");
    await run("npm", ["run", "build"], dir);
  }
  return { dir, remove };
}

async function main(): Promise<void> {
  const options = parseAbOptions(process.argv.slice(2));
  const log = (line: string): void => console.log(line);
  const root = path.resolve(__dirname, "..", "..");
  const base = await baseBuild(root, options.base, log);
  const builds = [
    { name: "base", dir: base.dir },
    { name: "head", dir: root },
  ];
  // Both builds run the same sides in the same order: wechat4u is skipped (BENCH_SIDES) only when the base knows
  // how. A limit round right after wechat4u's meets a busier machine, so one build skipping it would be unfair.
  const sides = fs.readFileSync(path.join(base.dir, "dist", "bench", "rounds.js"), "utf8").includes("BENCH_SIDES") ? "ours,limit" : "";
  const specs = new Map(workloads(parseOptions([])).map((w) => [w.name, w.metrics.filter((m) => m.ofLimit)]));
  log(`wxflow bench A/B: ${options.only.join(", ")}, ${options.pairs} pairs of 2 rounds each, base ${options.base}, ${sides ? "without" : "with"} wechat4u's rounds, node ${process.version}, ${os.cpus().length} CPUs`);
  try {
    for (const workload of options.only) {
      const metrics = specs.get(workload) ?? [];
      const ratios = new Map(builds.map((b) => [b.name, new Map(metrics.map((m) => [m.key, [] as number[]]))]));
      for (let pair = 1; pair <= options.pairs; pair++) {
        // the order turns each pair: neither build always meets the machine right after the other
        const order = pair % 2 === 1 ? builds : [...builds].reverse();
        for (const build of order) {
          const output = await run(process.execPath, [path.join(build.dir, "dist", "bench", "run.js"), "--only", workload, "--rounds", "2", "--no-write"], build.dir, { ...process.env, BENCH_SIDES: sides });
          const shown: string[] = [];
          for (const [, sample] of roundSamples(output)) {
            for (const metric of metrics) {
              const pct = oursOfLimit(metric, sample.ours, sample.limit);
              if (pct === undefined) continue;
              ratios.get(build.name)?.get(metric.key)?.push(pct);
              if (metric === metrics[0]) shown.push(`${round(pct, 1)}%`);
            }
          }
          log(`  ${workload} pair ${pair} ${build.name}: ${metrics[0]?.key ?? "?"} ${shown.join(" ") || "n/a"} of the limit`);
        }
      }
      log(`\n${workload}: ours as % of the limit (each round against the limit's round beside it)`);
      for (const metric of metrics) {
        const b = ratios.get("base")?.get(metric.key) ?? [];
        const h = ratios.get("head")?.get(metric.key) ?? [];
        const d = difference(b, h);
        log(`  ${metric.label}\n    ${summary("base", b)}\n    ${summary("head", h)}`);
        log(`    head - base: ${d.points >= 0 ? "+" : ""}${round(d.points, 1)} points (~95%: ${round(d.low, 1)} .. ${round(d.high, 1)})`);
      }
      log("");
    }
  } finally {
    if (!options.keep) base.remove();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(errorText(error));
    process.exitCode = 1;
  });
}
