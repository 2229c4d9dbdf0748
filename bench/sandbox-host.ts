import * as path from "node:path";
import * as dc from "node:diagnostics_channel";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";

/**
 * The parts of the sandbox (lib/sandbox, see its README) the bench uses, declared here so the bench builds and
 * reports "n/a" while the sandbox is still being written. Control calls may be sync or async: always awaited.
 */
export interface SandboxStartOptions {
  seed?: number;
  contacts?: number;
  groups?: number;
  accounts?: number;
  throttle?: false | { burst: number; refillPerSecond: number };
  longPollMs?: number;
}

export interface PendingLoginLike {
  uuid: string;
  state: string;
}

export interface SandboxControlLike {
  waitForLogin(options?: { timeoutMs?: number }): Promise<PendingLoginLike>;
  scan(request: { uuid?: string; account?: string | number }): unknown;
  inject(request: { from: string; text?: string; account?: string | number }): unknown;
  injectBulk(request: { from: string; count: number; prefix?: string; account?: string | number }): unknown;
  world(): unknown;
  worldContacts(query?: { account?: string | number; kind?: string; name?: string }): unknown;
  uploads(): unknown;
  violations(): unknown;
  sent(filter?: Record<string, unknown>): unknown;
}

export interface SandboxEventsLike {
  on(event: string, listener: (value: unknown) => void): unknown;
  off(event: string, listener: (value: unknown) => void): unknown;
}

export interface SandboxLike {
  url: string;
  control: SandboxControlLike;
  events: SandboxEventsLike;
  close(): Promise<void>;
}

type StartSandbox = (options: SandboxStartOptions) => Promise<SandboxLike>;

export function sandboxModulePath(): string {
  return path.join(__dirname, "..", "lib", "sandbox", "index.js");
}

export async function startSandbox(options: SandboxStartOptions): Promise<SandboxLike> {
  let loaded: unknown;
  try {
    loaded = createRequire(__filename)(sandboxModulePath());
  } catch (error) {
    throw new Error(`the sandbox is not built (lib/sandbox/index.js): ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`);
  }
  const start = (loaded as { startSandbox?: unknown }).startSandbox;
  if (typeof start !== "function") throw new Error("lib/sandbox/index.js does not export startSandbox");
  return (start as StartSandbox)(options);
}

/** Nick name of phone account `index` (account 0 is the one the clients log in as). */
export async function accountName(sb: SandboxLike, index: number): Promise<string> {
  const world = (await sb.control.world()) as { accounts?: { nickName?: unknown }[] };
  const name = world.accounts?.[index]?.nickName;
  if (typeof name !== "string") throw new Error(`sandbox world has no account ${index}`);
  return name;
}

/** A list answer of the control API: the README gives `{<key>: T[]}`; accept a bare array too. */
export function listOf(value: unknown, key: string): unknown[] {
  if (Array.isArray(value)) return value;
  const inner = (value as Record<string, unknown> | undefined)?.[key];
  return Array.isArray(inner) ? inner : [];
}

/**
 * Counts the protocol requests the sandbox server receives (control API and phone page excluded), observed through
 * Node's `http.server.request.start` diagnostics channel: nothing sits between client and sandbox.
 */
export class RequestCounter {
  private readonly byEndpoint = new Map<string, number>();
  private count = 0;
  /** BENCH_TIMELINE=1: when each request arrived and its answer was written, ms after reset(). */
  private readonly timeline: string[] | undefined = process.env.BENCH_TIMELINE ? [] : undefined;
  /** wallNow() at reset(). */
  resetAt = performance.now() + performance.timeOrigin;
  private readonly listener = (message: unknown): void => {
    const { request, response } = message as { request?: IncomingMessage; response?: ServerResponse };
    if (!request || request.socket.localPort !== this.port) return;
    const url = request.url ?? "";
    if (url.startsWith("/api/sandbox") || url.startsWith("/phone")) return;
    const endpoint = url.split("?")[0]?.split("/").pop() ?? "";
    this.count++;
    this.byEndpoint.set(endpoint, (this.byEndpoint.get(endpoint) ?? 0) + 1);
    const timeline = this.timeline;
    if (timeline) {
      const at = performance.now() + performance.timeOrigin - this.resetAt;
      response?.once("finish", () => timeline.push(`${endpoint} ${at.toFixed(1)}-${(performance.now() + performance.timeOrigin - this.resetAt).toFixed(1)}`));
    }
  };

  constructor(private readonly port: number) {
    dc.subscribe("http.server.request.start", this.listener);
  }

  reset(): void {
    this.count = 0;
    this.resetAt = performance.now() + performance.timeOrigin;
    this.timeline?.splice(0);
    this.byEndpoint.clear();
  }

  get total(): number {
    return this.count;
  }

  endpoints(): Record<string, number> {
    return Object.fromEntries([...this.byEndpoint.entries()].sort((a, b) => b[1] - a[1]));
  }

  /** The timeline (BENCH_TIMELINE=1), one "endpoint start-end" per answered request. */
  requestTimes(): string[] {
    return this.timeline ?? [];
  }

  close(): void {
    dc.unsubscribe("http.server.request.start", this.listener);
  }
}
