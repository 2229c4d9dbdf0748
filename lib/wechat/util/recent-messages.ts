import type { Message } from "../types";

/**
 * The last messages seen, by MsgId, at most `capacity` of them and none older than `maxAgeMs`: what a recall
 * notice is matched against. Memory stays flat (a Map in insertion order, trimmed on every add).
 */
export class RecentMessages {
  private readonly entries = new Map<string, { message: Message; at: number }>();

  constructor(
    readonly capacity = 500,
    readonly maxAgeMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("RecentMessages capacity must be a positive integer");
  }

  get size(): number {
    return this.entries.size;
  }

  add(message: Message): void {
    if (!message.id) return;
    const at = this.now();
    this.entries.delete(message.id);
    this.entries.set(message.id, { message, at });
    this.trim(at);
  }

  get(id: string): Message | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (this.now() - entry.at > this.maxAgeMs) {
      this.entries.delete(id);
      return undefined;
    }
    return entry.message;
  }

  clear(): void {
    this.entries.clear();
  }

  private trim(now: number): void {
    for (const [id, entry] of this.entries) {
      if (this.entries.size <= this.capacity && now - entry.at <= this.maxAgeMs) break;
      this.entries.delete(id);
    }
  }
}
