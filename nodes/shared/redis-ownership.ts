import type { Redis } from "ioredis";
import { AccountLease, RedisSessionStorage, type SessionStorage, accountKeys, openRedis } from "../../lib/wechat/store";
import { describeError } from "../../lib/wechat/errors";
import type { Ownership, Role } from "./ownership";

export interface RedisOwnershipOptions {
  url: string;
  /** The account's credential; never logged, never in an error. */
  password?: string | undefined;
  prefix: string;
  accountId: string;
  /** This instance's name (the lease's owner). */
  self: string;
  ttlMs?: number | undefined;
  /** The session key (derived for this account) and earlier ones; may throw when no key can be had. */
  secret: () => { secret: string; previous: string[] };
  /** Said once per outage: Redis cannot be reached (the error's code only, never the password). */
  unreachable: (why: string) => void;
  warn: (message: string) => void;
}

/** How long between two first-connection attempts (once connected, ioredis reconnects by itself as often). */
const CONNECT_RETRY_MS = 2_000;

function sameRole(a: Role, b: Role): boolean {
  return a.kind === b.kind && (a.kind !== "standby" || b.kind !== "standby" || a.owner === b.owner);
}

/**
 * One account on Redis (#17): one connection, one lease `<prefix>:<account>:lease`, and the session storage fenced
 * by it. The role follows the lease: owner while it is held; else standby (with the owner the lease last saw), or
 * paused while Redis cannot be reached. Holding the lease wins over a dropped connection: the lease itself gives
 * up (event "lost") before it can expire, so the account never runs on two instances.
 */
export class RedisOwnership implements Ownership {
  readonly self: string;
  /** Set once the first connection is made (openRedis); ioredis keeps it up from then on. */
  private redis: Redis | undefined;
  private lease: AccountLease | undefined;
  private readonly listeners: (() => void)[] = [];
  /** Standby (owner unknown) until the first connection succeeds or fails. */
  private current: Role = { kind: "standby" };
  private outage = false;
  private connectFailed = false;
  /** Whether a wx node uses the account here: only then is the lease asked for. */
  private wanted = false;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private connecting: Promise<void> = Promise.resolve();

  constructor(private readonly options: RedisOwnershipOptions) {
    this.self = options.self;
  }

  get role(): Role {
    return this.current;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.connecting = this.connect();
  }

  async contend(on: boolean): Promise<void> {
    if (this.wanted === on || this.closed) return;
    this.wanted = on;
    const lease = this.lease;
    if (!lease) return;
    if (on) lease.start();
    else await lease.stop();
    this.update();
  }

  storage(): SessionStorage {
    const { redis, lease } = this;
    // the role is owner only with a lease, which exists only once connected
    if (!redis || !lease) throw new Error("no Redis connection yet");
    const key = this.options.secret();
    return new RedisSessionStorage({
      redis,
      prefix: this.options.prefix,
      accountId: this.options.accountId,
      lease,
      secret: key.secret,
      previous: key.previous,
      warn: this.options.warn,
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.length = 0;
    clearTimeout(this.retry);
    await this.connecting;
    // released only when still ours (compare-and-delete), so a standby takes over at once instead of after the ttl
    await this.lease?.stop();
    const redis = this.redis;
    if (redis?.status === "ready") await redis.quit().catch(() => undefined);
    redis?.disconnect();
  }

  /** The first connection, tried again every few seconds until Redis answers (the account stays paused meanwhile). */
  private async connect(): Promise<void> {
    let redis: Redis;
    try {
      redis = await openRedis({ url: this.options.url, password: this.options.password, name: this.self, onError: (message) => this.unreachable(message) });
    } catch (error) {
      this.unreachable(describeError(error));
      this.connectFailed = true;
      this.update();
      if (!this.closed) this.retry = setTimeout(() => (this.connecting = this.connect()), CONNECT_RETRY_MS);
      return;
    }
    if (this.closed) {
      redis.disconnect();
      return;
    }
    this.redis = redis;
    redis.on("ready", () => {
      this.outage = false;
      this.update();
    });
    redis.on("close", () => this.update());
    const { lease: key } = accountKeys(this.options.prefix, this.options.accountId);
    const lease = new AccountLease({ redis, key, owner: this.self, ...(this.options.ttlMs ? { ttlMs: this.options.ttlMs } : {}) });
    this.lease = lease;
    for (const event of ["acquired", "lost", "owner"] as const) lease.on(event, () => this.update());
    this.outage = false;
    if (this.wanted) lease.start();
    this.update();
  }

  /** Once per outage: ioredis reports every failed attempt. */
  private unreachable(why: string): void {
    if (this.outage || this.closed) return;
    this.outage = true;
    this.options.unreachable(why);
  }

  private update(): void {
    if (this.closed) return;
    const { redis, lease } = this;
    if (!redis || !lease) {
      this.change(this.connectFailed ? { kind: "paused" } : { kind: "standby" });
      return;
    }
    const next: Role = lease.held
      ? { kind: "owner" }
      : redis.status !== "ready"
        ? { kind: "paused" }
        : lease.owner !== undefined && lease.owner !== this.self
          ? { kind: "standby", owner: lease.owner }
          : { kind: "standby" };
    this.change(next);
  }

  private change(next: Role): void {
    if (sameRole(next, this.current)) return;
    this.current = next;
    for (const listener of [...this.listeners]) listener();
  }
}
