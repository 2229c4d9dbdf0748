import { randomBytes } from "node:crypto";

/** A small seeded PRNG (mulberry32): the world is the same for the same seed. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** The generator's position: `new Rng(rng.position)` goes on with the same numbers (a restored world). */
  get position(): number {
    return this.state;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[Math.floor(this.next() * items.length)] as T;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  hex(length: number): string {
    let out = "";
    while (out.length < length) out += Math.floor(this.next() * 16).toString(16);
    return out;
  }
}

/**
 * Unpredictable bytes for names and ids, drawn from one `randomBytes` buffer refilled as it runs out: a login hands
 * out thousands of UserNames, and one `randomBytes` call per name was most of the cost of a contact page.
 */
export class RandomPool {
  private pool = Buffer.alloc(0);
  private used = 0;

  constructor(private readonly size = 16_384) {}

  bytes(count: number): Buffer {
    if (this.used + count > this.pool.length) {
      this.pool = randomBytes(Math.max(this.size, count));
      this.used = 0;
    }
    const out = this.pool.subarray(this.used, this.used + count);
    this.used += count;
    return out;
  }

  hex(count: number): string {
    return this.bytes(count).toString("hex");
  }
}
