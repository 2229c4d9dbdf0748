import { SandboxError, type MemoryReport } from "./types";

/**
 * One total for every media byte a sandbox keeps (injected media, uploads, chunks in progress, relayed files), so a
 * long run or a hostile client cannot grow the process without end. Over the limit the least recently used items go
 * first; one item larger than the whole budget is refused. A buffer shared by several maps (an upload relayed as
 * incoming media) counts once.
 */
export const DEFAULT_MEDIA_BUDGET = 256 * 1024 * 1024;

interface Entry {
  buffers: Buffer[];
  drop: () => void;
}

export class MediaBudget {
  private usedBytes = 0;
  private evictedItems = 0;
  private readonly refs = new Map<Buffer, number>();
  /** Insertion order is use order: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new SandboxError("INVALID_ARGUMENT", "mediaBudgetBytes must be a positive whole number");
  }

  /** Count an item in (replacing what key held), evicting the least recently used items to make room. */
  admit(key: string, buffers: Buffer[], drop: () => void): void {
    const size = distinctSize(buffers);
    if (size > this.limit) throw new SandboxError("TOO_LARGE", `${size} bytes of media exceed the sandbox's media budget of ${this.limit} bytes (mediaBudgetBytes)`);
    this.release(key);
    while (this.usedBytes + this.newBytes(buffers) > this.limit) {
      const oldest = this.entries.entries().next().value;
      if (!oldest) break;
      this.release(oldest[0]);
      this.evictedItems += 1;
      oldest[1].drop();
    }
    for (const b of buffers) {
      const n = this.refs.get(b) ?? 0;
      if (n === 0) this.usedBytes += b.length;
      this.refs.set(b, n + 1);
    }
    this.entries.set(key, { buffers, drop });
  }

  /** Mark an item as just used. */
  touch(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.entries.set(key, entry);
  }

  release(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    for (const b of entry.buffers) {
      const n = (this.refs.get(b) ?? 1) - 1;
      if (n <= 0) {
        this.refs.delete(b);
        this.usedBytes -= b.length;
      } else this.refs.set(b, n);
    }
  }

  report(): MemoryReport {
    return { limit: this.limit, used: this.usedBytes, items: this.entries.size, evicted: this.evictedItems };
  }

  private newBytes(buffers: Buffer[]): number {
    return distinctSize(buffers.filter((b) => !this.refs.has(b)));
  }
}

function distinctSize(buffers: Buffer[]): number {
  let total = 0;
  for (const b of new Set(buffers)) total += b.length;
  return total;
}

/** A Map whose values hold media: set() counts them against the budget, get() marks them used. */
export class BudgetedMap<V> extends Map<string, V> {
  constructor(
    private readonly budget: MediaBudget,
    private readonly kind: string,
    private readonly buffersOf: (value: V) => Buffer[],
  ) {
    super();
  }

  override set(key: string, value: V): this {
    this.budget.admit(`${this.kind}:${key}`, this.buffersOf(value), () => void super.delete(key));
    return super.set(key, value);
  }

  override get(key: string): V | undefined {
    const value = super.get(key);
    if (value !== undefined) this.budget.touch(`${this.kind}:${key}`);
    return value;
  }

  override delete(key: string): boolean {
    this.budget.release(`${this.kind}:${key}`);
    return super.delete(key);
  }

  override clear(): void {
    for (const key of this.keys()) this.budget.release(`${this.kind}:${key}`);
    super.clear();
  }
}
