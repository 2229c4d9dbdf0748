/** Command-line options of `npm run bench` (after `--`). */
export interface BenchOptions {
  rounds: number;
  quick: boolean;
  /** Workload names to run (empty: all). */
  only: string[];
  /** Write a V8 CPU profile of every worker to bench/results/profiles/. */
  cpuProf: boolean;
  /** Write bench/results/<date>.json and latest.json. */
  write: boolean;
}

export const USAGE = `usage: npm run bench -- [--rounds N] [--quick] [--only login,burst,latency,upload,memory,idle,nodered,accounts,handover]
                          [--cpu-prof] [--no-write]`;

/**
 * The arguments one by one: `arg` is the current one, `value()` takes the next as its value (an error naming
 * `usage` when there is none).
 */
export function* argumentsOf(argv: string[], usage: string): Generator<{ arg: string; value: () => string }> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    yield {
      arg,
      value: () => {
        const next = argv[++i];
        if (next === undefined) throw new Error(`${arg} needs a value\n${usage}`);
        return next;
      },
    };
  }
}

/** A comma-separated list option. */
export function commaList(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter(Boolean);
}

export function parseOptions(argv: string[]): BenchOptions {
  const options: BenchOptions = { rounds: 3, quick: false, only: [], cpuProf: false, write: true };
  let roundsGiven = false;
  for (const { arg, value } of argumentsOf(argv, USAGE)) {
    if (arg === "--rounds") {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 50) throw new Error(`--rounds must be an integer 1..50\n${USAGE}`);
      options.rounds = n;
      roundsGiven = true;
    } else if (arg === "--quick") options.quick = true;
    else if (arg === "--only") options.only = commaList(value());
    else if (arg === "--cpu-prof") options.cpuProf = true;
    else if (arg === "--no-write") options.write = false;
    else if (arg === "--help" || arg === "-h") throw new Error(USAGE);
    else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  if (options.quick && !roundsGiven) options.rounds = 1;
  return options;
}
