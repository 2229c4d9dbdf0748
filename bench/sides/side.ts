import { wallNow } from "../stats";

/** What a worker needs from a client under test: ours (lib/wechat) or wechat4u. */
export interface BenchSide {
  /** Resolves once the client's own modules are loaded (ours loads got, an ES module, asynchronously). */
  loaded?(): Promise<void>;
  /**
   * Start the login (the parent plays the phone) and resolve once ready: logged in with the address book loaded,
   * so that every side starts a row from the same state. `waitMembers`: ready also needs every group's members (ours
   * waits for "loaded", not "incomplete"; wechat4u asks for the members it lacks; the limit always loads them).
   */
  start(waitMembers: boolean, timeoutMs: number): Promise<void>;
  /** Called with the text of every incoming text message, in delivery order. */
  onText(listener: (text: string) => void): void;
  /** Upload and send a file; resolves when the send call answered. */
  sendFile(to: string, data: Buffer, fileName: string): Promise<void>;
  counts(): { contacts: number; groups: number; groupsWithMembers: number; members: number };
  /** Errors the client reported on its own (not thrown to us). */
  errors(): string[];
  /** wallNow() of the first time each login phase was seen, relative to t0. */
  phases(t0: number): Record<string, number>;
  stop(): Promise<void>;
}

/** Records the first wallNow() of each named phase. */
export class PhaseLog {
  private readonly seen = new Map<string, number>();
  mark(name: string): void {
    if (!this.seen.has(name)) this.seen.set(name, wallNow());
  }
  relative(t0: number): Record<string, number> {
    return Object.fromEntries([...this.seen].map(([k, v]) => [k, Math.round(v - t0)]));
  }
}

/** counts() of either side, computed the same way (only telling a group and its member count apart differs). */
export function contactCounts<C>(all: readonly C[], isGroup: (c: C) => boolean, memberCount: (c: C) => number): ReturnType<BenchSide["counts"]> {
  const loaded = all.filter(isGroup).map(memberCount);
  const withMembers = loaded.filter((n) => n > 0);
  return {
    contacts: all.length,
    groups: loaded.length,
    groupsWithMembers: withMembers.length,
    members: withMembers.reduce((sum, n) => sum + n, 0),
  };
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.name === "Error" ? error.message : `${error.name}: ${error.message}`;
  return String(error);
}

/** What was thrown, as an Error (a round's outcome keeps one). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Resolve when check() is true (evaluated on every trigger and every 100 ms), reject after timeoutMs. */
export function waitUntil(
  check: () => boolean,
  subscribe: (trigger: () => void) => () => void,
  timeoutMs: number,
  what: string,
  failure?: () => string | undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      clearInterval(poll);
      clearTimeout(timer);
      unsubscribe();
      if (error) reject(error);
      else resolve();
    };
    const trigger = (): void => {
      const failed = failure?.();
      if (failed !== undefined) finish(new Error(failed));
      else if (check()) finish();
    };
    const poll = setInterval(trigger, 100);
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    const unsubscribe = subscribe(trigger);
    trigger();
  });
}
