import type { RawMessage } from "../messages/wire";

/**
 * The wire entries (AddMsgList) of the last messages, by MsgId, at most `capacity` of them and none older than
 * `maxAgeMs`: what the original of a recall is rebuilt from (Inbound). Memory stays flat: a ring of `capacity`
 * slots, oldest first, aged ones dropped on every add. Adding costs three array writes and makes nothing: the entry
 * is the one JSON.parse made, already Message.raw; a lookup walks the ring from the newest (recalls are rare,
 * every message is added). Issue #19: a ring of copied messages cost a fifth of the inbound step.
 */
export class RecentMessages {
  private readonly ids: string[];
  private readonly entries: (RawMessage | undefined)[];
  private readonly ats: Float64Array;
  /** The slot of the oldest message kept, and how many are kept. */
  private oldest = 0;
  private count = 0;

  constructor(
    readonly capacity = 500,
    readonly maxAgeMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("RecentMessages capacity must be a positive integer");
    this.ids = new Array<string>(capacity).fill("");
    this.entries = new Array<RawMessage | undefined>(capacity).fill(undefined);
    this.ats = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Keeps the entry of message `id` (an empty id is not kept). */
  add(id: string, entry: RawMessage): void {
    if (!id) return;
    const at = this.now();
    this.dropAged(at);
    if (this.count === this.capacity) this.dropOldest();
    const slot = (this.oldest + this.count) % this.capacity;
    this.ids[slot] = id;
    this.entries[slot] = entry;
    this.ats[slot] = at;
    this.count++;
  }

  /** The newest entry kept for this id, unless it is older than maxAgeMs. */
  get(id: string): RawMessage | undefined {
    const now = this.now();
    for (let k = this.count - 1; k >= 0; k--) {
      const slot = (this.oldest + k) % this.capacity;
      if (this.ids[slot] !== id) continue;
      return now - (this.ats[slot] ?? 0) > this.maxAgeMs ? undefined : this.entries[slot];
    }
    return undefined;
  }

  clear(): void {
    this.ids.fill("");
    this.entries.fill(undefined);
    this.oldest = 0;
    this.count = 0;
  }

  private dropAged(now: number): void {
    while (this.count > 0 && now - (this.ats[this.oldest] ?? 0) > this.maxAgeMs) this.dropOldest();
  }

  private dropOldest(): void {
    this.ids[this.oldest] = "";
    this.entries[this.oldest] = undefined;
    this.oldest = (this.oldest + 1) % this.capacity;
    this.count--;
  }
}
