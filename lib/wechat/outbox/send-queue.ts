import { EventEmitter } from "node:events";
import { WeChatError, isWeChatError } from "../errors";
import type { PacingOptions } from "../types";

export interface SendQueueDeps {
  now?(): number;
  /** A number in [0, 1). */
  random?(): number;
  setTimer?(callback: () => void, ms: number): unknown;
  clearTimer?(handle: unknown): void;
}

export interface SendQueueTuning {
  /** How often a task that got 1205 is re-run before it is rejected (default 2). */
  maxRetries?: number;
  /** First cool-down pause after a 1205 (default 30 s); doubles on repeated 1205s. */
  cooldownMs?: number;
  /** Longest cool-down pause (default 10 min). */
  maxCooldownMs?: number;
  /** Longest interval between sends after slowing down (default 60 s, or the base interval if longer). */
  maxIntervalMs?: number;
  /** Consecutive successes after which the slow-down halves (default 10). */
  recoverAfter?: number;
}

export type SendQueueOptions = SendQueueDeps &
  SendQueueTuning & {
    /**
     * Extra pacing of the tasks run with `{action: true}` (friend and group operations), on top of the common one.
     * Default: none.
     */
    actionPacing?: PacingOptions | false;
  };

/** A token bucket: `burst` tasks back to back, then one per `interval` ms (plus jitter). */
interface Bucket {
  interval: number;
  burst: number;
  jitter: number;
  tokens: number;
  lastRefill: number;
}

export interface ThrottleInfo {
  /** The interval between sends from now on. */
  intervalMs: number;
  /** The pause before the next send. */
  pauseMs: number;
  /** 1205s in a row not yet forgiven by successes. */
  strikes: number;
  /** The task will be run again after the pause. */
  willRetry: boolean;
  label?: string;
}

export interface SendQueueEvents {
  /** The server said 1205: the queue slowed down. First argument: the new interval in ms. */
  throttled: [intervalMs: number, info: ThrottleInfo];
  /** Nothing queued or running any more. */
  idle: [];
}

interface Job {
  task: () => Promise<unknown>;
  label?: string;
  action: boolean;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  retries: number;
}

const DEFAULT_PER_MINUTE = 60;
const DEFAULT_BURST = 5;
const DEFAULT_JITTER = 0.3;
/** After a 1205 even an unpaced queue keeps at least this interval (until it recovers). */
const MIN_THROTTLED_INTERVAL = 1000;
/** Float slack when comparing token counts. */
const EPSILON = 1e-9;

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new WeChatError("INVALID_ARGUMENT", `pacing: ${what} must be a positive number`);
  }
  return value;
}

/** Checked pacing options: interval (ms), burst, jitter. */
function pacingOf(options: PacingOptions, defaults: { burst: number }): { interval: number; burst: number; jitter: number } {
  const perMinute = positive(options?.perMinute, DEFAULT_PER_MINUTE, "perMinute");
  const burst = options.burst ?? defaults.burst;
  if (!Number.isInteger(burst) || burst < 1) throw new WeChatError("INVALID_ARGUMENT", "pacing: burst must be an integer >= 1");
  const jitter = options.jitter ?? DEFAULT_JITTER;
  if (typeof jitter !== "number" || !(jitter >= 0 && jitter <= 1)) {
    throw new WeChatError("INVALID_ARGUMENT", "pacing: jitter must be between 0 and 1");
  }
  return { interval: 60_000 / perMinute, burst, jitter };
}

function refillBucket(bucket: Bucket, now: number): void {
  if (now > bucket.lastRefill) bucket.tokens = Math.min(bucket.burst, bucket.tokens + (now - bucket.lastRefill) / bucket.interval);
  bucket.lastRefill = Math.max(bucket.lastRefill, now);
}

/**
 * Serialises the sends of one account and paces them (docs/protocol.md section 8): tasks run one at a time in
 * order; up to `burst` go back to back, then one per 60000/perMinute ms plus jitter (a token bucket).
 * A task failing with THROTTLED (1205) slows the queue down (interval doubles, a cool-down pause that grows
 * with repeated 1205s) and is re-run after the pause a bounded number of times, then rejected.
 */
export class SendQueue extends EventEmitter<SendQueueEvents> {
  private readonly baseInterval: number;
  private readonly burst: number;
  private readonly jitter: number;
  private readonly maxRetries: number;
  private readonly cooldownMs: number;
  private readonly maxCooldownMs: number;
  private readonly maxInterval: number;
  private readonly recoverAfter: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly setTimer: (callback: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;

  private readonly queue: Job[] = [];
  private interval: number;
  private tokens: number;
  private lastRefill: number;
  private pausedUntil = 0;
  private strikes = 0;
  private successes = 0;
  private running = false;
  private timer: unknown = undefined;
  private isClosed = false;
  /** The stricter bucket of action tasks, when configured. */
  private readonly actions?: Bucket;

  constructor(options: PacingOptions | false, deps: SendQueueOptions = {}) {
    super();
    if (options === false) {
      this.baseInterval = 0;
      this.burst = Number.MAX_SAFE_INTEGER;
      this.jitter = 0;
    } else {
      const pacing = pacingOf(options, { burst: DEFAULT_BURST });
      this.baseInterval = pacing.interval;
      this.burst = pacing.burst;
      this.jitter = pacing.jitter;
    }
    const maxRetries = deps.maxRetries ?? 2;
    if (!Number.isInteger(maxRetries) || maxRetries < 0) throw new WeChatError("INVALID_ARGUMENT", "pacing: maxRetries must be an integer >= 0");
    this.maxRetries = maxRetries;
    this.cooldownMs = positive(deps.cooldownMs, 30_000, "cooldownMs");
    this.maxCooldownMs = Math.max(this.cooldownMs, positive(deps.maxCooldownMs, 600_000, "maxCooldownMs"));
    this.maxInterval = Math.max(this.baseInterval, positive(deps.maxIntervalMs, 60_000, "maxIntervalMs"));
    this.recoverAfter = Math.ceil(positive(deps.recoverAfter, 10, "recoverAfter"));
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.setTimer = deps.setTimer ?? ((callback, ms) => setTimeout(callback, ms));
    this.clearTimer = deps.clearTimer ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>));
    this.interval = this.baseInterval;
    this.tokens = this.burst;
    this.lastRefill = this.now();
    if (deps.actionPacing) {
      const pacing = pacingOf(deps.actionPacing, { burst: 1 });
      this.actions = { ...pacing, tokens: pacing.burst, lastRefill: this.lastRefill };
    }
  }

  /** Current interval between paced sends, ms (grows after 1205s). */
  get intervalMs(): number {
    return this.interval;
  }

  /** Tasks waiting (not counting the one running). */
  get pending(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.running || this.queue.length > 0;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Queues a task; it runs when its turn and the pacing allow. Rejects with CLOSED once closed.
   * `action`: a friend / group operation, paced by the action pacing as well (same queue, same order).
   */
  run<T>(task: () => Promise<T>, label?: string, options?: { action?: boolean }): Promise<T> {
    if (this.isClosed) return Promise.reject(new WeChatError("CLOSED", "the send queue is closed"));
    if (typeof task !== "function") return Promise.reject(new WeChatError("INVALID_ARGUMENT", "send queue: task must be a function"));
    return new Promise<T>((resolve, reject) => {
      const job: Job = { task, resolve: resolve as (value: unknown) => void, reject, retries: 0, action: options?.action === true };
      if (label !== undefined) job.label = label;
      this.queue.push(job);
      this.pump();
    });
  }

  /**
   * Rejects every queued task (with CLOSED, or with `reason`, e.g. NOT_OWNER when the account moved to another
   * instance) and clears the timer. A task already running finishes.
   */
  close(reason?: WeChatError): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.cancelTimer();
    const dropped = this.queue.splice(0);
    for (const job of dropped) job.reject(reason ?? new WeChatError("CLOSED", "the send queue was closed before this send"));
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) {
      this.clearTimer(this.timer);
      this.timer = undefined;
    }
  }

  private refill(now: number): void {
    if (this.interval <= 0) {
      this.tokens = this.burst;
    } else if (now > this.lastRefill) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.lastRefill) / this.interval);
    }
    this.lastRefill = Math.max(this.lastRefill, now);
  }

  /** How long the head of the queue must still wait (0: go now). */
  private waitMs(now: number, job: Job): number {
    this.refill(now);
    const pause = Math.max(0, this.pausedUntil - now);
    const deficit = this.tokens >= 1 - EPSILON ? 0 : (1 - this.tokens) * this.interval;
    let wait = Math.max(pause, deficit);
    let spread = this.jitter * this.interval;
    const actions = job.action ? this.actions : undefined;
    if (actions) {
      refillBucket(actions, now);
      wait = Math.max(wait, actions.tokens >= 1 - EPSILON ? 0 : (1 - actions.tokens) * actions.interval);
      spread = Math.max(spread, actions.jitter * actions.interval);
    }
    if (wait === 0) return 0;
    // Jitter only ever adds: never faster than the configured rate.
    return Math.ceil(wait + spread * this.random());
  }

  private pump(): void {
    if (this.isClosed || this.running || this.timer !== undefined) return;
    const job = this.queue[0];
    if (!job) return;
    const wait = this.waitMs(this.now(), job);
    if (wait > 0) {
      this.timer = this.setTimer(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
      return;
    }
    this.queue.shift();
    this.tokens = Math.max(0, this.tokens - 1);
    if (job.action && this.actions) this.actions.tokens = Math.max(0, this.actions.tokens - 1);
    this.running = true;
    void this.execute(job);
  }

  private async execute(job: Job): Promise<void> {
    try {
      const value = await new Promise<unknown>((resolve) => resolve(job.task()));
      this.onSuccess();
      job.resolve(value);
    } catch (error) {
      if (isWeChatError(error, "THROTTLED")) {
        const willRetry = !this.isClosed && job.retries < this.maxRetries;
        this.onThrottled(job, willRetry);
        if (willRetry) {
          job.retries += 1;
          this.queue.unshift(job);
        } else {
          job.reject(error);
        }
      } else {
        job.reject(error);
      }
    } finally {
      this.running = false;
    }
    if (this.queue.length === 0) this.safeEmit("idle");
    this.pump();
  }

  /** A listener that throws must not break the queue (its jobs would never settle). */
  private safeEmit<K extends keyof SendQueueEvents>(event: K, ...args: SendQueueEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: SendQueueEvents[K]) => boolean)(event, ...args);
    } catch {
      // ignored on purpose
    }
  }

  private onSuccess(): void {
    this.successes += 1;
    if (this.successes < this.recoverAfter) return;
    this.successes = 0;
    if (this.strikes > 0) this.strikes -= 1;
    if (this.interval > this.baseInterval) {
      const half = this.interval / 2;
      this.interval = half < Math.max(this.baseInterval, MIN_THROTTLED_INTERVAL) ? this.baseInterval : half;
    }
  }

  private onThrottled(job: Job, willRetry: boolean): void {
    const now = this.now();
    this.successes = 0;
    this.strikes += 1;
    this.interval = Math.min(this.maxInterval, Math.max(this.interval * 2, MIN_THROTTLED_INTERVAL));
    const pause = Math.min(this.maxCooldownMs, this.cooldownMs * 2 ** (this.strikes - 1));
    const pauseMs = Math.ceil(pause * (1 + this.jitter * this.random()));
    this.pausedUntil = Math.max(this.pausedUntil, now + pauseMs);
    // No burst right after a 1205.
    this.refill(now);
    this.tokens = 0;
    if (this.actions) {
      refillBucket(this.actions, now);
      this.actions.tokens = 0;
    }
    const info: ThrottleInfo = { intervalMs: this.interval, pauseMs, strikes: this.strikes, willRetry };
    if (job.label !== undefined) info.label = job.label;
    this.safeEmit("throttled", this.interval, info);
  }
}
