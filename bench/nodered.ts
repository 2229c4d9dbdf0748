import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Side } from "./ipc";
import type { NodeRedInit } from "./nodered-worker";
import type { BenchOptions } from "./options";
import { type SandboxLike, listOf, accountName, startSandbox } from "./sandbox-host";
import { percentile, wallNow } from "./stats";
import { errorText } from "./sides/side";
import { WorkerHandle } from "./worker-handle";
import { type RunContext, type Sample, type Workload, interleaved } from "./workloads";

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

async function withNodeRed<T>(
  flows: Record<string, unknown>[],
  ctx: RunContext,
  name: string,
  body: (w: WorkerHandle) => Promise<T>,
  extra: Pick<NodeRedInit, "accounts" | "ceiling"> = {},
): Promise<T> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "wxflow-bench-nr-"));
  const init: NodeRedInit = { nodesDir: nodesDir(), userDir, flows, ...extra };
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

const TAB = { id: "bench-tab", type: "tab", label: "bench" };

/** Row 7, ours: sandbox -> wx-receive -> wx-send-text, a reply to the chat the text came from. */
function echoThroughNodes(url: string): Record<string, unknown>[] {
  return [
    TAB,
    accountNode("acc0", url),
    { id: "rx", type: "wx-receive", z: TAB.id, account: "acc0", types: ["text"], wires: [["tx"]] },
    { id: "tx", type: "wx-send-text", z: TAB.id, account: "acc0", target: "", wires: [[]] },
  ];
}

/**
 * Row 7, the ceiling: the same echo with no wx node. A function node's start-up code passes every text of the
 * worker's own client (global `wxCeiling`, bench/nodered-worker.ts) into the flow as wx-receive would (same msg
 * fields, sent without a copy, other people's texts only); a second function node sends the reply through the client.
 */
function echoCeiling(): Record<string, unknown>[] {
  const feed = [
    "const client = global.get('wxCeiling');",
    "client.on('message', (m) => {",
    "  if (m.type === 'text' && !m.fromSelf) node.send({ payload: m.text, topic: m.chat.displayName, wechat: m }, false);",
    "});",
  ].join("\n");
  const reply = [
    "global.get('wxCeiling').sendText(msg.wechat.chat.userName, msg.payload).then(() => node.done(), (e) => node.error(e, msg));",
    "return null;",
  ].join("\n");
  return [
    TAB,
    // x and y: Node-RED takes a node without them for a config node.
    { id: "feed", type: "function", z: TAB.id, x: 100, y: 100, name: "client texts", func: "return null;", initialize: feed, finalize: "", outputs: 1, wires: [["reply"]] },
    { id: "reply", type: "function", z: TAB.id, x: 300, y: 100, name: "reply", func: reply, initialize: "", finalize: "", outputs: 1, wires: [[]] },
  ];
}

/** Row 7's flows for a side: our nodes, or (side "limit") the ceiling's function nodes with the worker's own client. */
function echoSetUp(side: Side, url: string): { flows: Record<string, unknown>[]; extra: Pick<NodeRedInit, "ceiling"> } {
  return side === "limit" ? { flows: echoCeiling(), extra: { ceiling: { loginUrl: url } } } : { flows: echoThroughNodes(url), extra: {} };
}

/** One Node-RED of row 7 in a round: its side, the phone account its bot logs in as, and its texts' prefixes. */
interface EchoSeat {
  side: Side;
  account: number;
  /** "nrl" / "nrb" (one side), "nrl1" / "nrb1", "nrl2" / ... (every side at once, by seat). */
  tag: string;
}

/**
 * Starts a Node-RED for each seat, one after the other, each logged in (the parent scans as the seat's account) before
 * the next starts; runs `body` once all are online, then closes them all.
 */
async function withEchoSeats(sb: SandboxLike, seats: EchoSeat[], ctx: RunContext, name: string, body: () => Promise<void>, from = 0): Promise<void> {
  const seat = seats[from];
  if (!seat) return body();
  const { flows, extra } = echoSetUp(seat.side, sb.url);
  await withNodeRed(flows, ctx, `${name}-${seat.side}`, async () => {
    const login = await sb.control.waitForLogin({ timeoutMs: 30_000 });
    await sb.control.scan({ uuid: login.uuid, account: seat.account });
    await waitOnline(sb, from + 1, 30_000);
    await withEchoSeats(sb, seats, ctx, name, body, from + 1);
  }, extra);
}

/**
 * The echoes of one round, every seat's at once: a warm-up text each; `latencyCount` texts 50 ms apart per seat, the
 * seats' texts spread evenly in between (row 3's way), timed from queued to the echo seen at the sandbox; then
 * `echoCount` texts queued to each seat, one seat right after the other, echoes per second from a seat's texts queued
 * to its last echo.
 */
async function echoRound(sb: SandboxLike, watch: SentWatch, seats: EchoSeat[], friend: string, echoCount: number, latencyCount: number): Promise<Map<Side, Sample>> {
  const samples = new Map<Side, Sample>(seats.map((seat) => [seat.side, {}]));
  for (const seat of seats) {
    await sb.control.inject({ from: friend, account: seat.account, text: `warm${seat.tag} 1` });
    await watch.wait(`warm${seat.tag}`, 1, 30_000);
  }
  await interleaved(latencyCount, seats, (i, seat) => sb.control.inject({ from: friend, account: seat.account, text: `nrl${seat.tag} ${i} ${wallNow()}` }));
  for (const seat of seats) {
    const echoes = await watch.wait(`nrl${seat.tag}`, latencyCount, 30_000);
    const latencies = echoes.map((e) => e.at - Number(e.text.split(" ")[2]));
    const sample = samples.get(seat.side) as Sample;
    sample.echoP50Ms = percentile(latencies, 50) ?? NaN;
    sample.echoP99Ms = percentile(latencies, 99) ?? NaN;
  }
  const queued = new Map<EchoSeat, number>();
  for (const seat of seats) {
    await sb.control.injectBulk({ from: friend, account: seat.account, count: echoCount, prefix: `nrb${seat.tag}` });
    queued.set(seat, wallNow());
  }
  for (const seat of seats) {
    const queuedAt = queued.get(seat) as number;
    const bulk = await watch.wait(`nrb${seat.tag}`, echoCount, Math.max(60_000, echoCount * 20)).catch(async (error: unknown) => {
      // Say why the sandbox refused what it refused: the run's sample is lost with the error.
      const refused = listOf(await sb.control.violations(), "violations");
      throw new Error(`${errorText(error)}${refused.length > 0 ? `; sandbox violations: ${JSON.stringify(refused.slice(0, 3))}` : ""}`);
    });
    const last = bulk.reduce((m, e) => Math.max(m, e.at), queuedAt);
    const sample = samples.get(seat.side) as Sample;
    sample.echoMsgsPerSec = echoCount / ((last - queuedAt) / 1000);
    sample.echoDuplicates = bulk.length - new Set(bulk.map((e) => e.text)).size;
  }
  return samples;
}

/**
 * A round of row 7 on its own sandbox: the seats' Node-REDs started and logged in, their echoes measured, the
 * sandbox's protocol violations counted for each (one server: they cannot be told apart by side).
 */
async function echoOnSandbox(seats: EchoSeat[], friendAccount: number, ctx: RunContext, name: string, counts: { echo: number; latency: number }): Promise<Map<Side, Sample>> {
  const sb = await startSandbox({ seed: 1, throttle: false, accounts: Math.max(2, seats.length + 1) });
  const watch = new SentWatch(sb);
  try {
    const friend = await accountName(sb, friendAccount);
    let samples = new Map<Side, Sample>();
    await withEchoSeats(sb, seats, ctx, name, async () => {
      samples = await echoRound(sb, watch, seats, friend, counts.echo, counts.latency);
    });
    const violations = listOf(await sb.control.violations(), "violations");
    for (const sample of samples.values()) sample.violations = violations.length;
    if (violations.length > 0) ctx.log(`  nodered: ${violations.length} violation(s), first: ${JSON.stringify(violations[0])}`);
    return samples;
  } finally {
    watch.close();
    await sb.close();
  }
}

/**
 * Row 7: echo through our nodes, and (side "limit") the Node-RED ceiling: the same echo through plain function
 * nodes fed by the client directly. Messages/s of a 5,000-text burst, p50 / p99 at 20 texts a second. Each counted
 * round runs both at once, each its own Node-RED logged in as its own account of one sandbox (as row 3 does): one
 * after the other, the two met the machine in states far enough apart that the same echo measured 76-130% of the
 * ceiling from run to run (bench/README.md, "Row 7: both sides at once"). The uncounted warm-up round runs the
 * ceiling alone.
 */
export function nodeRedWorkload(options: BenchOptions, counts?: { echo: number; latency: number }): Workload {
  const sizes = { echo: counts?.echo ?? (options.quick ? 500 : 5000), latency: counts?.latency ?? (options.quick ? 60 : 600) };
  return {
    name: "nodered",
    title: `7 Node-RED echo (${sizes.echo} msgs)`,
    sides: ["ours", "limit"],
    metrics: [
      { key: "echoMsgsPerSec", label: "echo messages/s", better: "higher", ofLimit: true, target: ">=90% of limit" },
      { key: "echoP50Ms", label: "echo p50 ms (20 msg/s)", better: "lower", ofLimit: true },
      { key: "echoP99Ms", label: "echo p99 ms (20 msg/s)", better: "lower", ofLimit: true },
    ],
    async run(side: Side, round, ctx): Promise<Sample> {
      // Alone: the bot is account 0, the texts come from account 1.
      const samples = await echoOnSandbox([{ side, account: 0, tag: "" }], 1, ctx, `nodered-echo-${round}`, sizes);
      return samples.get(side) ?? {};
    },
    async runTogether(sides, round, ctx): Promise<Map<Side, Sample | Error>> {
      // At once: the bots are accounts 1, 2, ..., in the round's order; the texts come from account 0.
      const seats = sides.map((side, k) => ({ side, account: k + 1, tag: String(k + 1) }));
      return echoOnSandbox(seats, 0, ctx, `nodered-echo-${round}`, sizes);
    },
  };
}

/** Sizes of row 8: accounts, logins at once, idle window, traffic window and its rate per account. */
export interface AccountSizes {
  accounts: number;
  atOnce: number;
  idleSeconds: number;
  trafficSeconds: number;
  perAccountEveryMs: number;
}

function accountSizes(quick: boolean): AccountSizes {
  return quick
    ? { accounts: 10, atOnce: 4, idleSeconds: 10, trafficSeconds: 5, perAccountEveryMs: 2000 }
    : { accounts: 100, atOnce: 4, idleSeconds: 60, trafficSeconds: 20, perAccountEveryMs: 2000 };
}

/**
 * Logs in every account of the worker, scanning a new one only while fewer than `atOnce` are between the scan and a
 * loaded address book (users do not all scan in the same second). Resolves with the time from the first scan to
 * the last account loaded, in ms.
 */
async function staggeredLogin(sb: SandboxLike, w: WorkerHandle, count: number, atOnce: number, timeoutMs: number): Promise<number> {
  const started = wallNow();
  const deadline = Date.now() + timeoutMs;
  let scanned = 0;
  for (;;) {
    const state = await w.call({ cmd: "accounts" }, 10_000);
    if (state.loaded >= count) return wallNow() - started;
    if (Date.now() > deadline) throw new Error(`${state.loaded}/${count} accounts loaded (${scanned} scanned) after ${timeoutMs} ms`);
    if (scanned < count && scanned - state.loaded < atOnce) {
      const login = await sb.control.waitForLogin({ timeoutMs: 30_000 });
      await sb.control.scan({ uuid: login.uuid, account: scanned });
      scanned++;
    } else {
      await sleep(50);
    }
  }
}

/**
 * Row 8: many accounts in one Node-RED (one wx-account and one wx-receive each): RSS per account (all loaded,
 * after a GC, minus an empty Node-RED), idle CPU per account and minute, the staggered login of all of them, and
 * the event loop's delay (p99) while every account receives a text every few seconds.
 */
export function accountsWorkload(options: BenchOptions, sizes?: AccountSizes): Workload {
  const z = sizes ?? accountSizes(options.quick);
  return {
    name: "accounts",
    title: `8 ${z.accounts} accounts in one Node-RED`,
    sides: ["ours"],
    metrics: [
      { key: "rssPerAccountMB", label: "RSS MB per account", better: "lower" },
      { key: "idleCpuMsPerAccountMin", label: "idle CPU ms per account per minute", better: "lower" },
      { key: "loginAllSec", label: `login of all, ${z.atOnce} at a time, s`, better: "lower" },
      { key: "loopDelayP99Ms", label: `event loop delay p99 ms (${Math.round((z.accounts * 1000) / z.perAccountEveryMs)} texts/s)`, better: "lower" },
    ],
    async run(_side, round, ctx): Promise<Sample> {
      const sample: Sample = {};
      const base = await withNodeRed([TAB], ctx, `nodered-base-${round}`, (w) => w.call({ cmd: "mem" }, 30_000));
      const sb = await startSandbox({ seed: 1, throttle: false, accounts: z.accounts });
      try {
        const ids = Array.from({ length: z.accounts }, (_, i) => `acc${i}`);
        // Every wx-receive feeds one function node that counts (global wxBenchReceived, bench/nodered-worker.ts).
        const count = { id: "count", type: "function", z: TAB.id, x: 300, y: 100, name: "count", func: "global.get('wxBenchReceived').count++;\nreturn null;", initialize: "", finalize: "", outputs: 1, wires: [[]] };
        const flows: Record<string, unknown>[] = [TAB, count];
        ids.forEach((id, i) => {
          flows.push(accountNode(id, sb.url));
          flows.push({ id: `rx${i}`, type: "wx-receive", z: TAB.id, x: 100, y: 100 + i * 40, account: id, types: ["text"], wires: [["count"]] });
        });
        // Each account hears from the next one (accounts are friends of each other in the sandbox world).
        const names = await Promise.all(ids.map((_, i) => accountName(sb, (i + 1) % z.accounts)));
        await withNodeRed(flows, ctx, `nodered-accounts-${round}`, async (w) => {
          sample.loginAllSec = (await staggeredLogin(sb, w, z.accounts, z.atOnce, 60_000 + z.accounts * 5_000)) / 1000;
          const full = await w.call({ cmd: "mem" }, 30_000);
          sample.rssBaseMB = base.rssMB;
          sample.rssAllMB = full.rssMB;
          sample.rssPerAccountMB = (full.rssMB - base.rssMB) / z.accounts;
          const a = await w.call({ cmd: "cpu" }, 10_000);
          await sleep(z.idleSeconds * 1000);
          const b = await w.call({ cmd: "cpu" }, 10_000);
          sample.idleCpuMsPerAccountMin = (b.micros - a.micros) / 1000 / z.accounts / (z.idleSeconds / 60);
          await w.call({ cmd: "loop-delay", action: "start" }, 10_000);
          const t0 = wallNow();
          const every = z.perAccountEveryMs / z.accounts;
          const total = Math.floor((z.trafficSeconds * 1000) / every);
          for (let i = 0; i < total; i++) {
            const wait = t0 + i * every - wallNow();
            if (wait > 0) await sleep(wait);
            const account = i % z.accounts;
            await sb.control.inject({ from: names[account] ?? "", text: `acc ${i}`, account });
          }
          // Until every text has come through a wx-receive (or the deadline): the delay covers all of the sync.
          const before = (await w.call({ cmd: "accounts" }, 10_000)).received;
          const until = Date.now() + 30_000;
          let received = before;
          while (received < total && Date.now() < until) {
            await sleep(50);
            received = (await w.call({ cmd: "accounts" }, 10_000)).received;
          }
          sample.received = received;
          const delay = await w.call({ cmd: "loop-delay", action: "stop" }, 10_000);
          sample.loopDelayP99Ms = delay.p99Ms;
          sample.loopDelayMaxMs = delay.maxMs;
          sample.texts = total;
          const state = await w.call({ cmd: "accounts" }, 10_000);
          sample.onlineAtEnd = state.online;
        }, { accounts: ids });
        const violations = listOf(await sb.control.violations(), "violations");
        sample.violations = violations.length;
        if (violations.length > 0) ctx.log(`  accounts: ${violations.length} violation(s), first: ${JSON.stringify(violations[0])}`);
      } finally {
        await sb.close();
      }
      return sample;
    },
  };
}
