/**
 * A set that remembers at most `capacity` values, forgetting the oldest first (insertion order).
 * Used to de-duplicate MsgIds: memory stays flat however long the session runs.
 */
export class BoundedSet<T extends string | number = string> {
  readonly capacity: number;
  private readonly members = new Set<T>();
  // Insertion order in a ring: evicting by "first value of the Set" degrades in V8 after many deletes.
  // Full, a slot can be empty: its value was forgotten as the newest (delete), and the next add fills it.
  private readonly ring: (T | undefined)[] = [];
  private next = 0;

  constructor(capacity = 10_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("BoundedSet capacity must be a positive integer");
    this.capacity = capacity;
  }

  get size(): number {
    return this.members.size;
  }

  has(value: T): boolean {
    return this.members.has(value);
  }

  /** Adds a value; true when it was new. A value already present keeps its place. */
  add(value: T): boolean {
    // One lookup: the size tells whether the value was new (has() then add() hashed it twice; issue #19).
    const size = this.members.size;
    this.members.add(value);
    if (this.members.size === size) return false;
    // The value takes the next slot of the ring, and the one it held is forgotten. Until the ring is full that slot
    // is past its end: undefined, never a member, so nothing is deleted. One path from the first value on: the
    // first eviction, thousands of values into a session, is nothing new to the compiled code (it made V8 compile
    // the inbound step again in the middle of a burst; issue #19).
    const slot = this.next;
    this.members.delete(this.ring[slot] as T);
    this.ring[slot] = value;
    this.next = slot + 1 === this.capacity ? 0 : slot + 1;
    return true;
  }

  /**
   * Forgets a value; the others keep their order. True when it was there. The newest value is forgotten at once, so
   * an answer's MsgIds are given back in O(1) each, newest first (Inbound); any other costs a pass over the set.
   */
  delete(value: T): boolean {
    if (!this.members.delete(value)) return false;
    const last = (this.next === 0 ? this.ring.length : this.next) - 1;
    if (this.ring[last] === value) {
      if (this.ring.length < this.capacity) this.ring.pop();
      else this.ring[last] = undefined;
      this.next = last;
      return true;
    }
    // Oldest first: full, the ring starts at `next`. Its empty slots go too.
    const ordered = this.ring.length < this.capacity ? this.ring : this.ring.slice(this.next).concat(this.ring.slice(0, this.next));
    const kept = ordered.filter((v): v is T => v !== undefined && v !== value);
    this.ring.length = 0;
    this.ring.push(...kept);
    // No longer full: the next value goes at the end.
    this.next = this.ring.length;
    return true;
  }

  /**
   * The `count` newest values, oldest first. Full, the ring's values end at the slot before `next`, and the slots
   * its newest values left empty (delete) are those from `next` on: the newest are the slots just before `next`,
   * taken in one or two slices (the session saver asks for 500 after every page of a burst; issue #19).
   */
  newest(count: number): T[] {
    const n = Math.max(0, Math.min(count, this.members.size));
    if (this.ring.length < this.capacity) return this.ring.slice(this.ring.length - n) as T[];
    const start = this.next - n;
    return (start >= 0 ? this.ring.slice(start, this.next) : this.ring.slice(this.capacity + start).concat(this.ring.slice(0, this.next))) as T[];
  }

  clear(): void {
    this.members.clear();
    this.ring.length = 0;
    this.next = 0;
  }
}
