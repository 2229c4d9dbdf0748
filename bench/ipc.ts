/** The messages between the bench parent and a worker process (one side, one workload, one round). */
import { errorText } from "./sides/side";

/** ours (lib/wechat), theirs (wechat4u), limit (the bare protocol loop of bench/sides/limit.ts: the ceiling). */
export type Side = "ours" | "theirs" | "limit";

/** Passed to a worker as its single argv entry (JSON). */
export interface WorkerInit {
  side: Side;
  sandboxUrl: string;
  /** Load group members as part of "ready" (row 1); otherwise ready = logged in + address book loaded. */
  waitMembers: boolean;
}

export interface StartResult {
  /** From start() to ready, in ms. */
  readyMs: number;
  /** wallNow() at ready. */
  readyAt: number;
  /** CPU time (user + system) of the worker from start() to ready, in ms: the client's own cost. */
  cpuMs: number;
  contacts: number;
  groups: number;
  groupsWithMembers: number;
  members: number;
  /** ms after start() at which the client reached each login phase (its own events), for the log. */
  phases: Record<string, number>;
}

export interface CollectResult {
  expected: number;
  received: number;
  unique: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  /** wallNow() of the first and last delivery (undefined when nothing arrived). */
  firstAt?: number | undefined;
  lastAt?: number | undefined;
  /** For texts carrying a send timestamp: delivery latency in ms, in arrival order. */
  latencies: number[];
}

export interface UploadResult {
  ms: number;
  bytes: number;
  rssBeforeMB: number;
  /** Peak RSS of the worker over its whole life (resourceUsage().maxRSS). */
  peakRssMB: number;
}

export interface MemSample {
  rssMB: number;
  heapUsedMB: number;
  /** C++ objects and buffers outside the V8 heap. */
  externalMB: number;
}

export interface CpuSample {
  /** process.cpuUsage() user + system, in microseconds. */
  micros: number;
  at: number;
}

/** The accounts of a Node-RED worker (row 8): how many are online, and how many have their address book loaded. */
export interface AccountsSample {
  total: number;
  online: number;
  loaded: number;
  /** Messages counted by function nodes through global `wxBenchReceived` (row 8's flow). */
  received: number;
}

/** The event loop's delay (perf_hooks monitorEventLoopDelay) between "loop-delay" start and stop, in ms. */
export interface LoopDelaySample {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export type Command =
  | { cmd: "start"; timeoutMs: number }
  | { cmd: "collect"; prefix: string; count: number }
  | { cmd: "collected"; timeoutMs: number; idleMs: number }
  | { cmd: "upload"; bytes: number; to: string; fileName: string }
  | { cmd: "mem" }
  | { cmd: "cpu" }
  | { cmd: "accounts" }
  | { cmd: "loop-delay"; action: "start" | "stop" }
  | { cmd: "stop" };

export interface Replies {
  start: StartResult;
  collect: { ok: true };
  collected: CollectResult;
  upload: UploadResult;
  mem: MemSample;
  cpu: CpuSample;
  accounts: AccountsSample;
  "loop-delay": LoopDelaySample;
  stop: { errors: string[] };
}

export interface RequestMessage {
  id: number;
  command: Command;
}

export type ReplyMessage = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** The first message a worker sends once it is listening. */
export interface HelloMessage {
  hello: true;
}

export function isReplyMessage(value: unknown): value is ReplyMessage {
  return typeof value === "object" && value !== null && typeof (value as { id?: unknown }).id === "number" && "ok" in value;
}

export function isHelloMessage(value: unknown): value is HelloMessage {
  return typeof value === "object" && value !== null && (value as { hello?: unknown }).hello === true;
}

/** The worker's side: answers each command with run()'s value or error, then says hello to the parent. */
export function serveCommands(run: (command: Command) => Promise<unknown>): void {
  process.on("message", (raw: unknown) => {
    const { id, command } = raw as RequestMessage;
    const reply = (message: ReplyMessage): void => void process.send?.(message);
    run(command).then(
      (value) => {
        reply({ id, ok: true, value });
        // A stopped client may leave long polls held open: the worker is done, end it (a --cpu-prof profile is
        // written on exit).
        if (command.cmd === "stop") setImmediate(() => process.exit(0));
      },
      (error: unknown) => reply({ id, ok: false, error: errorText(error) }),
    );
  });
  process.on("disconnect", () => process.exit(0));
  const hello: HelloMessage = { hello: true };
  process.send?.(hello);
}
