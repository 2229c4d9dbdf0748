import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { MemSample } from "./ipc";
import type { NodeRedInit } from "./nodered-worker";
import type { BenchOptions } from "./options";
import { type SandboxLike, listOf, accountName, startSandbox } from "./sandbox-host";
import { percentile, wallNow } from "./stats";
import { errorText } from "./sides/side";
import { WorkerHandle } from "./worker-handle";
import type { RunContext, Sample, Workload } from "./workloads";

const NODE_TYPES = ["wx-account", "wx-receive", "wx-send-text"];

function nodesDir(): string {
  const dir = path.join(__dirname, "..", "nodes");
  for (const type of NODE_TYPES) {
    if (!fs.existsSync(path.join(dir, type, `${type}.html`)) || !fs.existsSync(path.join(dir, type, `${type}.js`))) {
      throw new Error(`Node-RED nodes are not assembled (${path.relative(process.cwd(), path.join(dir, type))}: npm run build)`);
    }
  }
  return dir;
}

/** Poll the sandbox world (bench driver, not a test) until `count` phone accounts are online. */
async function waitOnline(sb: SandboxLike, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const world = (await sb.control.world()) as { accounts?: { online?: unknown }[] };
    const online = (world.accounts ?? []).filter((a) => a.online === true).length;
    if (online >= count) return;
    if (Date.now() > deadline) throw new Error(`${online}/${count} accounts online after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Texts the bot sent, observed through the sandbox's "sent" events, with the time they were seen. */
class SentWatch {
  private readonly waiters = new Set<() => void>();
  readonly seen: { text: string; at: number }[] = [];
  private readonly listener = (value: unknown): void => {
    const text = (value as { text?: unknown }).text;
    if (typeof text !== "string") return;
    this.seen.push({ text, at: wallNow() });
    for (const w of this.waiters) w();
  };
  constructor(private readonly sb: SandboxLike) {
    sb.events.on("sent", this.listener);
  }
  count(prefix: string): { text: string; at: number }[] {
    return this.seen.filter((s) => s.text.startsWith(`${prefix} `));
  }
  wait(prefix: string, n: number, timeoutMs: number): Promise<{ text: string; at: number }[]> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.count(prefix);
        if (found.length >= n) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.count(prefix).length}/${n} echoes of "${prefix}" after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
  close(): void {
    this.sb.events.off("sent", this.listener);
  }
}

async function withNodeRed<T>(flows: Record<string, unknown>[], ctx: RunContext, name: string, body: (w: WorkerHandle) => Promise<T>): Promise<T> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "wxflow-bench-nr-"));
  const init: NodeRedInit = { nodesDir: nodesDir(), userDir, flows };
  let worker: WorkerHandle | undefined;
  try {
    worker = await WorkerHandle.spawn("nodered-worker.js", { ...init }, ctx.execArgv(name));
    return await body(worker);
  } finally {
    await worker?.close(10_000).catch(() => undefined);
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

function accountNode(id: string, url: string): Record<string, unknown> {
  return { id, type: "wx-account", name: `bench account ${id}`, server: "custom", loginUrl: url, mode: "desktop", pacing: 600 };
}

export function nodeRedWorkload(options: BenchOptions): Workload {
  const echoCount = options.quick ? 500 : 5000;
  const latencyCount = options.quick ? 60 : 600;
  const accounts = options.quick ? 5 : 20;
  return {
    name: "nodered",
    title: `7 Node-RED echo (${echoCount} msgs) + ${accounts} accounts`,
    sides: ["ours"],
    metrics: [
      { key: "echoMsgsPerSec", label: "echo messages/s", better: "higher" },
      { key: "echoP99Ms", label: "echo p99 ms (20 msg/s)", better: "lower" },
      { key: "rssPerAccountMB", label: "RSS MB per account", better: "lower" },
    ],
    async run(_side, round, ctx): Promise<Sample> {
      const sample: Sample = {};
      // Echo: sandbox -> wx-receive -> wx-send-text back to the sender.
      {
        const sb = await startSandbox({ seed: 1, throttle: false });
        const watch = new SentWatch(sb);
        try {
          const friend = await accountName(sb, 1);
          const flows = [
            { id: "bench-tab", type: "tab", label: "bench" },
            accountNode("acc0", sb.url),
            { id: "rx", type: "wx-receive", z: "bench-tab", account: "acc0", types: ["text"], wires: [["tx"]] },
            { id: "tx", type: "wx-send-text", z: "bench-tab", account: "acc0", target: "", wires: [[]] },
          ];
          await withNodeRed(flows, ctx, `nodered-echo-${round}`, async () => {
            const login = await sb.control.waitForLogin({ timeoutMs: 30_000 });
            await sb.control.scan({ uuid: login.uuid, account: 0 });
            await waitOnline(sb, 1, 30_000);
            await sb.control.inject({ from: friend, text: "warm 1" });
            await watch.wait("warm", 1, 30_000);
            const t0 = wallNow();
            for (let i = 1; i <= latencyCount; i++) {
              const wait = t0 + i * 50 - wallNow();
              if (wait > 0) await sleep(wait);
              await sb.control.inject({ from: friend, text: `nrl ${i} ${wallNow()}` });
            }
            const echoes = await watch.wait("nrl", latencyCount, 30_000);
            const latencies = echoes.map((e) => e.at - Number(e.text.split(" ")[2]));
            sample.echoP50Ms = percentile(latencies, 50) ?? NaN;
            sample.echoP99Ms = percentile(latencies, 99) ?? NaN;
            await sb.control.injectBulk({ from: friend, count: echoCount, prefix: "nrb" });
            const queuedAt = wallNow();
            const bulk = await watch.wait("nrb", echoCount, Math.max(60_000, echoCount * 20)).catch(async (error: unknown) => {
              // Say why the sandbox refused what it refused: the run's sample is lost with the error.
              const refused = listOf(await sb.control.violations(), "violations");
              throw new Error(`${errorText(error)}${refused.length > 0 ? `; sandbox violations: ${JSON.stringify(refused.slice(0, 3))}` : ""}`);
            });
            const last = bulk.reduce((m, e) => Math.max(m, e.at), queuedAt);
            sample.echoMsgsPerSec = echoCount / ((last - queuedAt) / 1000);
            sample.echoDuplicates = bulk.length - new Set(bulk.map((e) => e.text)).size;
          });
          const violations = listOf(await sb.control.violations(), "violations");
          sample.violations = violations.length;
          if (violations.length > 0) ctx.log(`  nodered: ${violations.length} violation(s), first: ${JSON.stringify(violations[0])}`);
        } finally {
          watch.close();
          await sb.close();
        }
      }
      // Accounts: RSS of Node-RED with N accounts online, minus Node-RED with none, per account.
      const base = await withNodeRed([{ id: "bench-tab", type: "tab", label: "bench" }], ctx, `nodered-base-${round}`, (w) =>
        w.call({ cmd: "mem" }, 30_000),
      );
      {
        const sb = await startSandbox({ seed: 1, throttle: false, accounts });
        try {
          const flows: Record<string, unknown>[] = [{ id: "bench-tab", type: "tab", label: "bench" }];
          for (let i = 0; i < accounts; i++) {
            flows.push(accountNode(`acc${i}`, sb.url));
            flows.push({ id: `rx${i}`, type: "wx-receive", z: "bench-tab", account: `acc${i}`, wires: [[]] });
          }
          const full: MemSample = await withNodeRed(flows, ctx, `nodered-accounts-${round}`, async (w) => {
            for (let i = 0; i < accounts; i++) {
              const login = await sb.control.waitForLogin({ timeoutMs: 30_000 });
              await sb.control.scan({ uuid: login.uuid, account: i });
            }
            await waitOnline(sb, accounts, 60_000);
            await sleep(1000); // let contact loads finish before sampling
            return w.call({ cmd: "mem" }, 30_000);
          });
          sample.rssBaseMB = base.rssMB;
          sample.rssAllMB = full.rssMB;
          sample.rssPerAccountMB = (full.rssMB - base.rssMB) / accounts;
        } finally {
          await sb.close();
        }
      }
      return sample;
    },
  };
}
