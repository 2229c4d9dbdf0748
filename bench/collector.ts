import type { CollectResult } from "./ipc";
import { wallNow } from "./stats";

/**
 * Counts texts "<prefix> <i>[ <sentAt>]" (i from 1 to count): unique, duplicated, out of order, and the latency
 * from sentAt (wallNow() of the sender) when present. Texts with another prefix are ignored.
 */
export class Collector {
  private readonly seen: Uint8Array;
  private readonly latencies: number[] = [];
  private received = 0;
  private unique = 0;
  private duplicated = 0;
  private outOfOrder = 0;
  private lastIndex = 0;
  private firstAt: number | undefined;
  private lastAt: number | undefined;
  private waiter: (() => void) | undefined;

  constructor(
    private readonly prefix: string,
    private readonly count: number,
  ) {
    this.seen = new Uint8Array(count + 1);
  }

  handle(text: string): void {
    const now = wallNow();
    if (!text.startsWith(`${this.prefix} `)) return;
    const parts = text.slice(this.prefix.length + 1).split(" ");
    const index = Number(parts[0]);
    if (!Number.isInteger(index) || index < 1 || index > this.count) return;
    this.received++;
    this.firstAt ??= now;
    this.lastAt = now;
    if (this.seen[index]) {
      this.duplicated++;
      return;
    }
    this.seen[index] = 1;
    this.unique++;
    if (index < this.lastIndex) this.outOfOrder++;
    this.lastIndex = index;
    const sentAt = parts[1] === undefined ? NaN : Number(parts[1]);
    if (Number.isFinite(sentAt)) this.latencies.push(now - sentAt);
    if (this.unique === this.count) this.waiter?.();
  }

  /** Resolve once every text arrived, or nothing new came for idleMs, or after timeoutMs. */
  wait(timeoutMs: number, idleMs: number): Promise<CollectResult> {
    return new Promise((resolve) => {
      let lastReceived = -1;
      let quietSince = wallNow();
      const finish = (): void => {
        clearInterval(idle);
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(this.result());
      };
      const idle = setInterval(() => {
        if (this.received !== lastReceived) {
          lastReceived = this.received;
          quietSince = wallNow();
        } else if (wallNow() - quietSince >= idleMs) finish();
      }, Math.min(250, idleMs));
      const timer = setTimeout(finish, timeoutMs);
      this.waiter = finish;
      if (this.unique === this.count) finish();
    });
  }

  result(): CollectResult {
    return {
      expected: this.count,
      received: this.received,
      unique: this.unique,
      lost: this.count - this.unique,
      duplicated: this.duplicated,
      outOfOrder: this.outOfOrder,
      firstAt: this.firstAt,
      lastAt: this.lastAt,
      latencies: this.latencies,
    };
  }
}
