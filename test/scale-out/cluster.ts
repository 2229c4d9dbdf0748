/**
 * The multi-process set-up of the scale-out tests and of the bench's handover row (#17): one redis-server, one
 * sandbox (in this process), and Node-RED instances in child processes (runtime-host.ts) that all run the SAME flow
 * file: a wx-account on the sandbox with its session in Redis, wx-receive into a ledger, a status and a wx-event
 * reporter, and an HTTP route POST /send into wx-send-text (answers 200, or 409 with the error code from a Catch).
 * Each instance reaches the sandbox through its own `SandboxTap` and Redis through its own `RedisGate`
 * (proxies.ts). Waiting is on events the instances report, with a timeout; nothing sleeps.
 */
import { type ChildProcess, fork } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { RUNTIME_PACKAGE } from "../support/node-red";
import type { HostConfig, HostMessage, LedgerEntry } from "./runtime-host";
import { RedisGate, SandboxTap, type SpanLog } from "./proxies";

export const ACCOUNT = "scaleoutaccount1";
export const SEND_PATH = "/send";
const TAB = "scaleouttab00001";

/** A report of an instance's flow: a status change of its wx-receive, or a wx-event msg. */
export interface Report {
  kind: string;
  data: { text?: string; fill?: string; topic?: string; payload?: unknown };
  at: number;
}

/**
 * The flow every instance runs, node for node the same. The Redis URL is `${WXFLOW_REDIS_URL}`, which Node-RED
 * fills from each process's environment (each instance's own gate); everything else is literal.
 */
export function scaleOutFlow(sandboxUrl: string): Record<string, unknown>[] {
  const fn = (id: string, func: string, wires: string[][], x: number, y: number): Record<string, unknown> => ({
    id,
    type: "function",
    z: TAB,
    name: id,
    func,
    outputs: 1,
    x,
    y,
    wires,
  });
  return [
    { id: TAB, type: "tab", label: "scale-out" },
    {
      id: ACCOUNT,
      type: "wx-account",
      name: "scale-out account",
      server: "custom",
      loginUrl: sandboxUrl,
      mode: "desktop",
      pacing: 600,
      store: "redis",
      redisUrl: "${WXFLOW_REDIS_URL}",
      redisPrefix: "wxflow-scale-out",
    },
    { id: "rx", type: "wx-receive", z: TAB, account: ACCOUNT, types: ["text"], x: 100, y: 100, wires: [["ledger"]] },
    fn("ledger", 'global.get("scaleOut").ledger({ msgId: msg.wechat.id, text: msg.payload });\nreturn null;', [], 300, 100),
    { id: "st", type: "status", z: TAB, scope: ["rx"], x: 100, y: 200, wires: [["report"]] },
    { id: "ev", type: "wx-event", z: TAB, account: ACCOUNT, x: 100, y: 260, wires: [["report"]] },
    fn(
      "report",
      [
        'const out = global.get("scaleOut");',
        'if (msg.status) out.report("status", { text: msg.status.text, fill: msg.status.fill });',
        'else out.report("event", { topic: msg.topic, payload: msg.payload });',
        "return null;",
      ].join("\n"),
      [],
      300,
      230,
    ),
    { id: "in", type: "http in", z: TAB, url: SEND_PATH, method: "post", x: 100, y: 340, wires: [["to"]] },
    fn("to", "msg.to = msg.payload.to;\nmsg.payload = msg.payload.text;\nreturn msg;", [["tx"]], 250, 340),
    { id: "tx", type: "wx-send-text", z: TAB, account: ACCOUNT, target: "", x: 400, y: 340, wires: [["ok"]] },
    fn("ok", "msg.statusCode = 200;\nmsg.payload = { ok: true };\nreturn msg;", [["out"]], 550, 340),
    { id: "catch", type: "catch", z: TAB, scope: ["tx"], x: 400, y: 400, wires: [["refused"]] },
    fn("refused", "msg.statusCode = 409;\nmsg.payload = { ok: false, code: msg.error && msg.error.code };\nreturn msg;", [["out"]], 550, 400),
    { id: "out", type: "http response", z: TAB, x: 700, y: 370, wires: [] },
  ];
}

export interface InstanceOptions {
  name: string;
  /** Its user dir (kept across a restart of the instance); the flow file is written there. */
  userDir: string;
  flow: Record<string, unknown>[];
  redisPort: number;
  sandboxPort: number;
  spans: SpanLog;
  /** Lease ttl for settings `wxflow.leaseTtlMs` (unset: the account's default). */
  leaseMs?: number;
  /** The same for every instance: the Redis session is encrypted with it. */
  sessionKey: string;
}

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const OUTPUT_KEPT = 20_000;

/** One Node-RED instance in a child process, with what it reported. */
export class Instance {
  readonly ledger: LedgerEntry[] = [];
  readonly reports: Report[] = [];
  private readonly waiters = new Set<() => void>();
  private child: ChildProcess | undefined;
  private output = "";
  port = 0;

  private constructor(
    readonly options: InstanceOptions,
    readonly tap: SandboxTap,
    readonly gate: RedisGate,
  ) {}

  get name(): string {
    return this.options.name;
  }

  get ledgerFile(): string {
    return path.join(this.options.userDir, "ledger.jsonl");
  }

  /** Starts a new instance: its proxies, its user dir with the flow file, its process. */
  static async start(options: InstanceOptions): Promise<Instance> {
    const tap = await SandboxTap.start(options.name, options.sandboxPort, options.spans);
    const gate = await RedisGate.start(options.redisPort);
    const instance = new Instance(options, tap, gate);
    mkdirSync(options.userDir, { recursive: true });
    writeFileSync(path.join(options.userDir, "flows.json"), JSON.stringify(options.flow));
    try {
      await instance.spawn();
    } catch (error) {
      await Promise.all([tap.close(), gate.close()]);
      throw error;
    }
    return instance;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process again on the same user dir (after kill() or stop()). */
  async restart(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is still running`);
    await this.spawn();
  }

  private spawn(): Promise<void> {
    const config: HostConfig = {
      userDir: this.options.userDir,
      instanceName: this.name,
      ledgerFile: this.ledgerFile,
      sandboxProxyPort: this.tap.port,
      settings: {
        lang: "en-US",
        wxflow: { instanceName: this.name, ...(this.options.leaseMs === undefined ? {} : { leaseTtlMs: this.options.leaseMs }) },
        wxAccountSendPacing: false,
      },
    };
    const child = fork(path.join(__dirname, "runtime-host.js"), [], {
      env: {
        ...process.env,
        WXFLOW_NODE_RED: RUNTIME_PACKAGE,
        WXFLOW_SCALE_OUT: JSON.stringify(config),
        WXFLOW_REDIS_URL: this.gate.url,
        WXFLOW_SESSION_KEY: this.options.sessionKey,
      },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    this.child = child;
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString("utf8")).slice(-OUTPUT_KEPT);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.on("message", (message) => this.received(message as HostMessage));
    child.once("exit", () => this.wake());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`${this.name} did not start within ${START_TIMEOUT_MS} ms:\n${this.output}`)), START_TIMEOUT_MS);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        child.off("message", onReady);
        child.kill("SIGKILL");
        reject(error);
      };
      const onReady = (message: unknown): void => {
        const port = (message as { ready?: unknown }).ready;
        if (typeof port !== "number") return;
        clearTimeout(timer);
        child.off("message", onReady);
        child.off("exit", onExit);
        this.port = port;
        resolve();
      };
      const onExit = (code: number | null): void => fail(new Error(`${this.name} exited with ${String(code)} while starting:\n${this.output}`));
      child.on("message", onReady);
      child.once("exit", onExit);
    });
  }

  private received(message: HostMessage): void {
    if ("ledger" in message) this.ledger.push(message.ledger);
    else if ("report" in message) this.reports.push(message.report as Report);
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** The text of the newest status its wx-receive showed. */
  get status(): Report["data"] | undefined {
    for (let i = this.reports.length - 1; i >= 0; i--) if (this.reports[i]?.kind === "status") return this.reports[i]?.data;
    return undefined;
  }

  get online(): boolean {
    return this.running && this.status?.fill === "green";
  }

  /** Resolves with probe()'s first defined answer, checked now and at every report; rejects after timeoutMs. */
  until<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const value = probe();
        if (value === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.name}: ${what} not within ${timeoutMs} ms (status: ${JSON.stringify(this.status)})\n${this.output.slice(-3000)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves (with the time) once its status is `online`. */
  untilOnline(timeoutMs: number): Promise<number> {
    return this.until("online", () => (this.online ? Date.now() : undefined), timeoutMs);
  }

  /** Resolves once its status names standby and `owner`. */
  untilStandby(owner: string, timeoutMs: number): Promise<string> {
    return this.until(`standby: ${owner}`, () => {
      const text = this.status?.text ?? "";
      return this.running && /standby/.test(text) && text.includes(owner) ? text : undefined;
    }, timeoutMs);
  }

  /** Resolves once the ledger holds every one of `msgIds`. */
  untilLedger(msgIds: string[], timeoutMs: number): Promise<void> {
    return this.until(`${msgIds.length} messages in the ledger`, () => {
      const have = new Set(this.ledger.map((e) => e.msgId));
      return msgIds.every((id) => have.has(id)) ? true : undefined;
    }, timeoutMs).then(() => undefined);
  }

  /** POST /send {to, text} to its flow: the HTTP status and the flow's answer. */
  async send(to: string, text: string): Promise<{ status: number; body: { ok?: boolean; code?: string } }> {
    const res = await fetch(`http://127.0.0.1:${this.port}${SEND_PATH}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ to, text }),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, body: (await res.json()) as { ok?: boolean; code?: string } };
  }

  /** SIGKILL: gone at once, nothing closed; resolves once the process has exited. */
  kill(): Promise<void> {
    return this.end((child) => child.kill("SIGKILL"));
  }

  /** Stops Node-RED as a redeploy or a shutdown does (SIGKILL if it has not exited within 15 s). */
  stop(): Promise<void> {
    return this.end((child) => {
      if (child.connected) child.send("stop");
      else child.kill("SIGTERM");
    });
  }

  private end(how: (child: ChildProcess) => void): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      how(child);
    });
  }

  /** The last lines it printed (for a failure's message). */
  get log(): string {
    return this.output;
  }

  /** Stops the process and closes its proxies. */
  async close(): Promise<void> {
    await this.stop();
    await this.tap.close();
    await this.gate.close();
  }
}

/**
 * Starts one instance per name at once (they race for the lease as replicas started together do), each put into
 * `into` as soon as it runs, so that an after() hook closes those that started when another one failed.
 */
export async function startInstances(names: string[], options: (name: string) => InstanceOptions, into: Instance[]): Promise<void> {
  const started = await Promise.allSettled(names.map(async (name) => into.push(await Instance.start(options(name)))));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** Every line of every instance's ledger file: what the flows received, as written before any kill. */
export function readLedgers(instances: Instance[]): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  for (const instance of instances) {
    if (!existsSync(instance.ledgerFile)) continue;
    for (const line of readFileSync(instance.ledgerFile, "utf8").split("\n")) if (line.trim()) entries.push(JSON.parse(line) as LedgerEntry);
  }
  return entries;
}

/** Lost (injected, in no ledger) and duplicated (in the ledgers more than once) among `msgIds`. */
export function ledgerCount(entries: LedgerEntry[], msgIds: string[]): { lost: string[]; duplicated: string[] } {
  const times = new Map<string, number>();
  for (const e of entries) times.set(e.msgId, (times.get(e.msgId) ?? 0) + 1);
  return {
    lost: msgIds.filter((id) => !times.has(id)),
    duplicated: msgIds.filter((id) => (times.get(id) ?? 0) > 1),
  };
}
