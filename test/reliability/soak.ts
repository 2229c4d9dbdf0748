/**
 * The soak: `npm run soak` (= build, then `node dist/test/reliability/soak.js`).
 * One client against the sandbox for WXFLOW_SOAK_MINUTES (default 30) receiving WXFLOW_SOAK_MESSAGES (default
 * 200000) texts in 4 chats, with a seeded fault every few seconds (synccheck / webwxsync 500, reset, hang,
 * malformed, truncated, 1205; sandbox restarts; the client stopped and resumed from its saved session) and a
 * send from the bot now and then. Proves: 0 lost, 0 duplicated, order kept per chat, memory flat (heap after GC
 * and RSS sampled). Prints the summary table; exits 1 when a check fails. WXFLOW_SEED replays a schedule.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { startSandbox, type Sandbox } from "../../lib/sandbox";
import type { FaultKind } from "../../lib/sandbox/types";
import { WeChatClient } from "../../lib/wechat/client";
import type { StateInfo } from "../../lib/wechat/types";
import { Summary, runSeed, type Prng } from "./ledger";

const MINUTES = Number(process.env.WXFLOW_SOAK_MINUTES ?? 30);
const MESSAGES = Math.floor(Number(process.env.WXFLOW_SOAK_MESSAGES ?? 200_000));
const SECRET = "soak secret";
const TICK_MS = 100;
/** Sync events the sandbox keeps per session (lib/sandbox/session.ts LOG_LIMIT). */
const SANDBOX_LOG = 50_000;
const SAMPLE_MS = 5_000;
const KINDS: readonly FaultKind[] = ["500", "reset", "malformed", "truncated", "500", "reset", "hang"];
const TUNING = {
  timeouts: { requestMs: 3_000, syncCheckMs: 2_500, loginPollMs: 2_500 },
  retryDelayMs: 20,
  loginBackoffMs: 50,
  sync: { backoffMs: 50, maxBackoffMs: 500, throttledMs: 300 },
  sendQueue: { cooldownMs: 200, maxCooldownMs: 1_000 },
};

v8.setFlagsFromString("--expose_gc");
const gc = vm.runInNewContext("gc") as () => void;

/** Per-chat accounting in O(chats) memory: texts carry their sequence, arrivals must be 1, 2, 3, ... */
class ChatTally {
  injected = 0;
  received = 0;
  duplicated = 0;
  reordered = 0;
  private last = 0;
  /** Sequences skipped by an early arrival: they must still come (then it was a reorder, not a loss). */
  private readonly holes = new Set<number>();

  arrived(seq: number): void {
    if (seq === this.last + 1) {
      this.last = seq;
      this.received++;
    } else if (seq > this.last + 1) {
      for (let s = this.last + 1; s < seq; s++) this.holes.add(s);
      this.last = seq;
      this.received++;
      this.reordered++;
    } else if (this.holes.delete(seq)) {
      this.received++;
      this.reordered++;
    } else {
      this.duplicated++;
    }
  }

  get lost(): number {
    return this.injected - this.received;
  }
}

interface Sample {
  at: number;
  rss: number;
  heap: number;
  /** Buffers and other memory outside the JS heap. */
  external: number;
  injected: number;
  received: number;
}

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function waitForState(client: WeChatClient, match: (s: StateInfo) => boolean, timeoutMs: number): Promise<StateInfo> {
  if (match(client.state)) return Promise.resolve(client.state);
  return new Promise((resolve, reject) => {
    const on = (s: StateInfo): void => {
      if (!match(s)) return;
      clearTimeout(timer);
      client.off("state", on);
      resolve(s);
    };
    const timer = setTimeout(() => {
      client.off("state", on);
      reject(new Error(`state not reached in ${timeoutMs} ms (now ${client.state.state})`));
    }, timeoutMs);
    client.on("state", on);
  });
}

class Soak {
  readonly tallies = new Map<string, ChatTally>();
  readonly samples: Sample[] = [];
  faults = 0;
  sendsOk = 0;
  sendsFailed = 0;
  clientRestarts = 0;
  strangers = 0;
  client!: WeChatClient;
  private chats: { key: string; from: string; room?: string }[] = [];

  constructor(
    readonly sb: Sandbox,
    readonly rng: Prng,
    readonly sessionFile: string,
  ) {}

  get injected(): number {
    let n = 0;
    for (const t of this.tallies.values()) n += t.injected;
    return n;
  }

  get received(): number {
    let n = 0;
    for (const t of this.tallies.values()) n += t.received;
    return n;
  }

  newClient(): WeChatClient {
    const client = new WeChatClient({ loginUrl: this.sb.url, sessionFile: this.sessionFile, sessionSecret: SECRET, pacing: false, tuning: TUNING });
    client.on("message", (m) => {
      if (m.type !== "text") return;
      const hit = /^soak (\w+) (\d+)$/.exec(m.text);
      const tally = hit ? this.tallies.get(hit[1] ?? "") : undefined;
      if (!hit || !tally) {
        this.strangers++;
        return;
      }
      tally.arrived(Number(hit[2]));
    });
    this.client = client;
    return client;
  }

  async login(): Promise<void> {
    const client = this.newClient();
    client.start();
    const waiting = await waitForState(client, (s) => s.state === "waiting-scan", 15_000);
    const uuid = waiting.qrUrl?.split("/l/")[1];
    this.sb.control.scan(uuid ? { uuid } : {});
    await waitForState(client, (s) => s.state === "online", 15_000);
    const world = this.sb.control.world().contacts;
    const counts = new Map<string, number>();
    for (const c of world) counts.set(c.nickName, (counts.get(c.nickName) ?? 0) + 1);
    const friends = world.filter((c) => c.kind === "friend" && counts.get(c.nickName) === 1).slice(0, 3);
    this.chats = friends.map((c, i) => ({ key: `f${i}`, from: c.nickName }));
    const self = client.state.user?.userName;
    const group = client.listContacts({ kind: "group" }).find((g) => (g.members ?? []).some((m) => m.userName !== self));
    const member = group?.members?.find((m) => m.userName !== self);
    // No fault here ends the session, so the UserNames of this login stay valid for the whole run.
    if (group && member) this.chats.push({ key: "g0", from: member.userName, room: group.userName });
    for (const chat of this.chats) this.tallies.set(chat.key, new ChatTally());
  }

  inject(count: number): void {
    for (let i = 0; i < count; i++) {
      const chat = this.rng.pick(this.chats);
      const tally = this.tallies.get(chat.key);
      if (!tally) continue;
      tally.injected++;
      this.sb.control.inject({ from: chat.from, text: `soak ${chat.key} ${tally.injected}`, ...(chat.room ? { room: chat.room } : {}) });
    }
  }

  /** One seeded fault. */
  async fault(): Promise<string> {
    const roll = this.rng.next();
    this.faults++;
    if (roll < 0.05) {
      await this.sb.restart();
      return "sandbox restart";
    }
    if (roll < 0.09) {
      await this.client.stop();
      this.clientRestarts++;
      this.newClient().start();
      return "client stop + resume";
    }
    if (roll < 0.14) {
      this.sb.control.fault({ endpoint: "synccheck", kind: "ret", ret: 1205, count: this.rng.int(1, 3) });
      return "synccheck 1205";
    }
    const endpoint = this.rng.pick(["synccheck", "webwxsync", "webwxsync"]);
    const kind = this.rng.pick(KINDS);
    this.sb.control.fault({ endpoint, kind, count: kind === "hang" ? 1 : this.rng.int(1, 3) });
    return `${endpoint} ${kind}`;
  }

  async send(): Promise<void> {
    if (this.client.state.state !== "online") return;
    try {
      await this.client.sendText("filehelper", `soak out ${this.sendsOk + this.sendsFailed + 1}`);
      this.sendsOk++;
    } catch {
      this.sendsFailed++;
    }
  }

  sample(): Sample {
    gc();
    const memory = process.memoryUsage();
    const s = { at: Date.now(), rss: memory.rss, heap: memory.heapUsed, external: memory.external, injected: this.injected, received: this.received };
    this.samples.push(s);
    return s;
  }

  /** Resolves when everything injected has arrived (checked on each message); rejects after timeoutMs. */
  drained(timeoutMs: number): Promise<void> {
    const done = (): boolean => this.received >= this.injected;
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const client = this.client;
      const on = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        client.off("message", on);
        resolve();
      };
      const timer = setTimeout(() => {
        client.off("message", on);
        reject(new Error(`not drained: ${this.received}/${this.injected}`));
      }, timeoutMs);
      client.on("message", on);
    });
  }
}

async function main(): Promise<number> {
  const rng = runSeed("soak");
  const durationMs = MINUTES * 60_000;
  console.log(`soak: ${MESSAGES} messages over ${MINUTES} min, a fault every 2-6 s`);
  const sb = await startSandbox({ longPollMs: 1_000, contacts: 20, groups: 3, throttle: false, skeyRotateEvery: 20 });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wxflow-soak-"));
  const soak = new Soak(sb, rng, path.join(dir, "soak.session"));
  const failures: string[] = [];
  try {
    await soak.login();
    const sentBefore = sb.control.sent().length;
    const start = Date.now();
    let nextFault = start + rng.int(2_000, 6_000);
    let nextSample = start;
    let nextReport = start + 60_000;
    const faultLog = new Map<string, number>();
    // The schedule runs on a fixed tick; every timer is awaited, nothing is left running.
    while (soak.injected < MESSAGES) {
      const now = Date.now();
      // Paced by the clock, not by ticks: the run takes its duration however long a tick's work takes.
      const target = Math.min(MESSAGES, Math.floor((MESSAGES * (now - start)) / durationMs));
      soak.inject(Math.max(0, target - soak.injected));
      if (now >= nextFault) {
        const what = await soak.fault();
        faultLog.set(what, (faultLog.get(what) ?? 0) + 1);
        nextFault = now + rng.int(2_000, 6_000);
        if (rng.chance(0.3)) void soak.send();
      }
      if (now >= nextSample) {
        soak.sample();
        nextSample = now + SAMPLE_MS;
      }
      if (now >= nextReport) {
        const s = soak.sample();
        console.log(
          `  ${Math.round((now - start) / 60_000)} min: injected ${s.injected}, received ${s.received}, lag ${s.injected - s.received}, heap ${mb(s.heap)}, external ${mb(s.external)}, rss ${mb(s.rss)}, faults ${soak.faults}`,
        );
        nextReport = now + 60_000;
      }
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
    await soak.drained(120_000).catch((error: Error) => failures.push(error.message));
    await waitForState(soak.client, (s) => s.state === "online", 30_000).catch(() => undefined);
    await soak.send();
    soak.sample();

    const sent = sb.control.sent().slice(sentBefore);
    const localIds = new Set(sent.map((r) => r.localId));
    const sendsDoubled = sent.length - localIds.size;
    let lost = 0;
    let duplicated = 0;
    let reordered = 0;
    for (const t of soak.tallies.values()) {
      lost += t.lost;
      duplicated += t.duplicated;
      reordered += t.reordered;
    }
    // Memory: heap after GC. The in-process sandbox keeps its last 50,000 sync events, so the process only
    // reaches its steady state after that many messages; compare the start of the steady part with the end.
    const n = soak.samples.length;
    const full = soak.samples.findIndex((sample) => sample.injected >= SANDBOX_LOG + 10_000);
    const steady = full >= 0 && n - full >= 10 ? full : Math.floor(n / 5);
    const warm = soak.samples.slice(steady, steady + Math.max(3, Math.floor((n - steady) / 4)));
    const tail = soak.samples.slice(Math.floor((4 * n) / 5));
    const heapWarm = median(warm.map((s) => s.heap));
    const heapTail = median(tail.map((s) => s.heap));
    const rssWarm = median(warm.map((s) => s.rss));
    const externalWarm = median(warm.map((s) => s.external));
    const externalTail = median(tail.map((s) => s.external));
    const rssTail = median(tail.map((s) => s.rss));
    const heapGrowth = heapTail - heapWarm;
    const summary = new Summary();
    summary.add({
      scenario: `soak ${MINUTES} min`,
      seed: rng.seed,
      faults: soak.faults,
      sent: soak.sendsOk,
      received: soak.received,
      lost,
      duplicated: duplicated + sendsDoubled,
      note: `${soak.injected} injected, ${reordered} out of order, ${soak.clientRestarts} client restarts, ${soak.sendsFailed} sends failed cleanly`,
    });
    console.log(`\n${summary.table("Soak summary")}\n`);
    console.log(`faults: ${[...faultLog.entries()].map(([k, v]) => `${k} x${v}`).join(", ")}`);
    console.log(`memory (median of samples, after GC): heap ${mb(heapWarm)} -> ${mb(heapTail)} (${heapGrowth >= 0 ? "+" : ""}${mb(heapGrowth)}), external ${mb(externalWarm)} -> ${mb(externalTail)}, rss ${mb(rssWarm)} -> ${mb(rssTail)}`);
    if (lost !== 0) failures.push(`${lost} messages lost`);
    if (duplicated !== 0) failures.push(`${duplicated} messages duplicated`);
    if (reordered !== 0) failures.push(`${reordered} messages out of order`);
    if (soak.strangers !== 0) failures.push(`${soak.strangers} unexpected texts emitted`);
    if (sendsDoubled !== 0) failures.push(`${sendsDoubled} sends doubled`);
    if (n >= 10 && heapGrowth > Math.max(32 * 1048576, heapWarm * 0.25)) failures.push(`heap grew by ${mb(heapGrowth)}`);
    const externalGrowth = externalTail - externalWarm;
    if (n >= 10 && externalGrowth > Math.max(32 * 1048576, externalWarm * 0.5)) failures.push(`memory outside the heap grew by ${mb(externalGrowth)}`);
    const violations = sb.control.violations();
    if (violations.length > 0) failures.push(`${violations.length} protocol violations, first: ${violations[0]?.endpoint} ${violations[0]?.rule}`);
  } finally {
    await soak.client?.stop();
    await sb.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
  if (failures.length > 0) {
    console.log(`SOAK FAILED:\n  ${failures.join("\n  ")}`);
    return 1;
  }
  console.log("SOAK PASSED: 0 lost, 0 duplicated, order kept, memory flat");
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
