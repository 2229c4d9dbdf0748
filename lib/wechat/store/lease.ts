import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import type { Redis } from "ioredis";

/**
 * Takes the lease when it is free: SET NX PX, the value `<fence>:<owner>` with a fencing number from
 * INCR <key>:fence (a later holder always has a higher one). Answers [1, value] when taken, else [0, holder] ('' when
 * free but not given out yet). A Redis that has just started (or restarted and lost its keys) gives the lease out only
 * one ttl after it first saw it asked for (KEYS[3] notes when): a holder from before the restart, which cannot
 * renew, has said "lost" by then (it does within 2/3 ttl of its last renewal).
 */
const ACQUIRE = `
local current = redis.call('GET', KEYS[1])
if current then return {0, current} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local since = tonumber(redis.call('GET', KEYS[3]))
if not since then
  redis.call('SET', KEYS[3], now)
  since = now
end
if now - since < tonumber(ARGV[2]) then return {0, ''} end
local fence = redis.call('INCR', KEYS[2])
local value = fence .. ':' .. ARGV[1]
if redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[2]) then return {1, value} end
return {0, redis.call('GET', KEYS[1]) or ''}`;

/** Compare-and-pexpire: renews only a lease that is still ours. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Compare-and-delete: releases only a lease that is still ours. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface AccountLeaseOptions {
  /** The connection (see openRedis in redis-connection.ts for the settings a fenced store wants). */
  redis: Redis;
  /** The lease's key, e.g. accountKeys(prefix, accountId).lease. */
  key: string;
  /** This instance's name, shown to the others as the owner. */
  owner: string;
  /** How long a lease lives without renewal (default 15 s); renewed every ttl/3. */
  ttlMs?: number;
  /** How often a standby tries to take the lease (default ttl/5). */
  pollMs?: number;
}

/** Why the lease was lost: another holder has it (or it vanished with a Redis restart), or renewals failed. */
export type LeaseLostReason = "taken" | "unconfirmed";

export interface AccountLeaseEvents {
  acquired: [token: string];
  lost: [reason: LeaseLostReason];
  owner: [owner: string | undefined];
}

/** The owner name in a lease value `<fence>:<owner>`. */
function ownerOf(value: string): string | undefined {
  const colon = value.indexOf(":");
  return colon > 0 ? value.slice(colon + 1) : undefined;
}

/**
 * One account's lease in Redis (docs/architecture.md, "One owner per account"): held by at most one instance,
 * renewed every ttl/3 by compare-and-pexpire. When no renewal has been confirmed for 2/3 of the ttl (Redis gone, the
 * connection cut, the process paused), "lost" is emitted while the lease still has at least ttl/3 to live, so this
 * instance stops acting before another can take over. A standby tries SET NX every pollMs and reports the holder
 * ("owner"). Writes of the session storage are fenced by `token` (RedisSessionStorage). On a Redis that has just
 * started, the first holder waits one ttl (see ACQUIRE).
 */
export class AccountLease extends EventEmitter {
  readonly key: string;
  /** This instance's name (the `owner` option). */
  readonly name: string;
  readonly ttlMs: number;
  private readonly redis: Redis;
  private readonly pollMs: number;
  private running = false;
  private value: string | undefined;
  private holder: string | undefined;
  /** Bumped at every acquisition and loss: an answer of an older round is ignored. */
  private round = 0;
  private timer: NodeJS.Timeout | undefined;
  private lossTimer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> = Promise.resolve();

  constructor(options: AccountLeaseOptions) {
    super();
    this.redis = options.redis;
    this.key = options.key;
    this.name = options.owner;
    this.ttlMs = options.ttlMs ?? 15_000;
    if (!(this.ttlMs >= 30)) throw new RangeError("AccountLease ttlMs must be at least 30 ms");
    if (!this.name) throw new TypeError("AccountLease: an owner name is required");
    this.pollMs = options.pollMs ?? Math.max(10, Math.floor(this.ttlMs / 5));
  }

  override on<K extends keyof AccountLeaseEvents>(event: K, listener: (...args: AccountLeaseEvents[K]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override once<K extends keyof AccountLeaseEvents>(event: K, listener: (...args: AccountLeaseEvents[K]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }

  override off<K extends keyof AccountLeaseEvents>(event: K, listener: (...args: AccountLeaseEvents[K]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }

  override emit<K extends keyof AccountLeaseEvents>(event: K, ...args: AccountLeaseEvents[K]): boolean {
    return super.emit(event, ...args);
  }

  get held(): boolean {
    return this.value !== undefined;
  }

  /** The lease value while held (`<fence>:<owner>`): what fenced writes compare with. */
  get token(): string | undefined {
    return this.value;
  }

  /** The fencing number of the lease while held. */
  get fence(): number | undefined {
    return this.value === undefined ? undefined : Number(this.value.slice(0, this.value.indexOf(":")));
  }

  /** Who holds the lease now, as far as this instance knows (its own name while held). */
  get owner(): string | undefined {
    return this.holder;
  }

  /** Starts trying to take the lease (at once, then every pollMs while another holds it). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0, () => this.poll());
  }

  /** Stops renewing and polling; releases the lease only if it is still ours (compare-and-delete). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.clearTimers();
    await this.inflight;
    const value = this.value;
    this.value = undefined;
    this.round++;
    if (value !== undefined) await this.release(value);
  }

  private schedule(delayMs: number, step: () => Promise<void>): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.running) return;
      this.inflight = step();
    }, delayMs);
  }

  private clearTimers(): void {
    clearTimeout(this.timer);
    clearTimeout(this.lossTimer);
    this.timer = undefined;
    this.lossTimer = undefined;
  }

  private async poll(): Promise<void> {
    const sentAt = performance.now();
    try {
      const answer = (await this.redis.eval(ACQUIRE, 3, this.key, `${this.key}:fence`, `${this.key}:since`, this.name, this.ttlMs)) as [number, string];
      const [won, value] = answer;
      if (!this.running) {
        if (won === 1) await this.release(value);
        return;
      }
      if (won === 1) {
        this.round++;
        this.value = value;
        this.confirmed(sentAt);
        this.setHolder(this.name);
        this.emit("acquired", value);
        this.schedule(Math.floor(this.ttlMs / 3), () => this.renew());
        return;
      }
      this.setHolder(ownerOf(value));
    } catch {
      // Redis did not answer: try again at the next poll.
    }
    if (this.running) this.schedule(this.pollMs, () => this.poll());
  }

  private async renew(): Promise<void> {
    const value = this.value;
    const round = this.round;
    if (value === undefined) return;
    const sentAt = performance.now();
    // The next renewal does not wait for this one's answer: a hung call cannot hold renewals up.
    this.schedule(Math.floor(this.ttlMs / 3), () => this.renew());
    try {
      const renewed = await this.redis.eval(RENEW, 1, this.key, value, this.ttlMs);
      if (round !== this.round || !this.running) return;
      if (renewed === 1) this.confirmed(sentAt);
      else this.lose("taken");
    } catch {
      // Unconfirmed: the loss timer decides.
    }
  }

  /** A renewal sent at `sentAt` was confirmed: the lease lives until at least sentAt + ttl. */
  private confirmed(sentAt: number): void {
    clearTimeout(this.lossTimer);
    const deadline = sentAt + (this.ttlMs * 2) / 3;
    this.lossTimer = setTimeout(() => this.lose("unconfirmed"), Math.max(0, deadline - performance.now()));
  }

  private lose(reason: LeaseLostReason): void {
    const value = this.value;
    if (value === undefined) return;
    this.round++;
    this.value = undefined;
    this.clearTimers();
    this.setHolder(undefined);
    this.emit("lost", reason);
    if (!this.running) return;
    // Ours no longer: let it go at once if Redis still has it, so that a standby need not wait for the expiry.
    this.inflight = this.release(value).then(() => {
      if (this.running && this.value === undefined && this.timer === undefined) this.schedule(this.pollMs, () => this.poll());
    });
  }

  private async release(value: string): Promise<void> {
    try {
      await this.redis.eval(RELEASE, 1, this.key, value);
    } catch {
      // Unreachable: the lease expires on its own.
    }
  }

  private setHolder(holder: string | undefined): void {
    if (holder === this.holder) return;
    this.holder = holder;
    this.emit("owner", holder);
  }
}
