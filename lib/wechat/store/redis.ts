import type { Redis } from "ioredis";
import { WeChatError, isWeChatError } from "../errors";
import { isSavedSession, SESSION_FORMAT, type SavedSession } from "../session-store";
import { Sealer } from "./envelope";
import { accountKeys } from "./redis-connection";
import type { SessionStorage } from "./storage";

/** The marker a fenced script answers with when the lease is not (or no longer) the caller's. */
const FENCED = "WXFLOW_NOT_OWNER";

/** Every write checks the lease first (KEYS[1] holds ARGV[1]): the fence. */
const FENCE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('${FENCED}') end\n`;

const SAVE = `${FENCE}redis.call('SET', KEYS[2], ARGV[2])\nreturn 1`;

const CLEAR = `${FENCE}redis.call('DEL', KEYS[2])\nreturn 1`;

/**
 * The de-dup set: a sorted set of MsgIds scored by claim order (one more than the newest score), trimmed to the
 * newest ARGV[2]. Answers the ids (ARGV[3..]) it did not hold, in the order given.
 */
const CLAIM = `${FENCE}local fresh = {}
local top = redis.call('ZREVRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local seq = tonumber(top[2] or '0')
for i = 3, #ARGV do
  if not redis.call('ZSCORE', KEYS[2], ARGV[i]) then
    seq = seq + 1
    redis.call('ZADD', KEYS[2], seq, ARGV[i])
    fresh[#fresh + 1] = ARGV[i]
  end
end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[2]) - 1)
return fresh`;

/** Gives claimed MsgIds (ARGV[2..]) back. */
const RELEASE_CLAIMS = `${FENCE}for i = 2, #ARGV do redis.call('ZREM', KEYS[2], ARGV[i]) end
return 1`;

/** What the fence compares with: an AccountLease, or anything with its key and current token. */
export interface LeaseFence {
  readonly key: string;
  /** The lease value while held; undefined when not: every write is refused NOT_OWNER without asking Redis. */
  readonly token: string | undefined;
}

export interface RedisSessionStorageOptions {
  /** A connection from openRedis() (no offline queue, no re-send after reconnect). */
  redis: Redis;
  /** Key prefix (default "wxflow"). */
  prefix?: string | undefined;
  /** The account's stable id (the config node's id): keys `<prefix>:<accountId>:session` and `:seen`. */
  accountId: string;
  /** The session's encryption secret: the same envelope as the session file. */
  secret: string;
  /** Secrets the stored session may still be under: it opens with them and is sealed again under `secret`. */
  previous?: readonly string[] | undefined;
  /** The account's lease: every write is fenced by it. */
  lease: LeaseFence;
  /** How many MsgIds the de-dup set keeps (default 10000). */
  dedupCapacity?: number | undefined;
  /** How long a call may take before it fails STORE_UNAVAILABLE (default 5 s). */
  timeoutMs?: number | undefined;
  warn?: ((message: string) => void) | undefined;
}

/**
 * The session of one account in Redis, shared by every instance that runs the account (docs/architecture.md,
 * "Session storage"): the session sealed like the file (Sealer: scrypt, AES-256-GCM), the de-dup set as a bounded
 * sorted set. Every write is one Lua script that checks the lease token first: a fenced-out writer gets NOT_OWNER
 * and changes nothing.
 */
export class RedisSessionStorage implements SessionStorage {
  private readonly redis: Redis;
  private readonly keys: { session: string; seen: string };
  private readonly sealer: Sealer<SavedSession>;
  private readonly lease: LeaseFence;
  private readonly capacity: number;
  private readonly timeoutMs: number;
  private readonly warn: (message: string) => void;
  private writing: Promise<unknown> = Promise.resolve();

  constructor(options: RedisSessionStorageOptions) {
    this.redis = options.redis;
    this.keys = accountKeys(options.prefix ?? "wxflow", options.accountId);
    this.sealer = new Sealer(options.secret, { format: SESSION_FORMAT, accepts: isSavedSession, previous: options.previous });
    this.lease = options.lease;
    this.capacity = options.dedupCapacity ?? 10_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.warn = options.warn ?? (() => undefined);
    if (!Number.isInteger(this.capacity) || this.capacity < 1) throw new RangeError("dedupCapacity must be a positive integer");
  }

  /**
   * Starts deriving the sealing key under the salt of the session stored in Redis (Sealer.prepareFor): resuming it
   * then derives one key, not two. A Redis that does not answer: a fresh salt (load() and save() say what is wrong).
   * Resolves once the derivation has started; never rejects.
   */
  async prepare(): Promise<void> {
    let sealed: string | undefined;
    try {
      sealed = (await this.call("prepare", () => this.redis.get(this.keys.session))) ?? undefined;
    } catch {
      // told by the calls that need Redis
    }
    this.sealer.prepareFor(sealed);
  }

  async load(): Promise<SavedSession | undefined> {
    const text = await this.call("load", () => this.redis.get(this.keys.session));
    if (text === null) return undefined;
    const opened = await this.sealer.open(text);
    if (!opened) {
      this.warn("saved session in Redis could not be decrypted (tampered, another secret or another format); ignored");
      return undefined;
    }
    if (opened.migrated) {
      await this.save(opened.value).catch(() => this.warn("saved session in Redis could not be re-encrypted under the configured session key"));
    }
    return opened.value;
  }

  /** Saves (fenced); calls are serialised so that the last save wins. */
  save(session: SavedSession): Promise<void> {
    const run = this.writing.then(async () => {
      const text = await this.sealer.seal(session);
      await this.fenced("save", SAVE, this.keys.session, [text]);
    });
    this.writing = run.catch(() => undefined);
    return run;
  }

  async clear(): Promise<void> {
    const run = this.writing.then(() => this.fenced("clear", CLEAR, this.keys.session, []));
    this.writing = run.catch(() => undefined);
    await run;
  }

  async claim(msgIds: string[]): Promise<string[]> {
    if (msgIds.length === 0) return [];
    const fresh = await this.fenced("claim", CLAIM, this.keys.seen, [String(this.capacity), ...msgIds]);
    return Array.isArray(fresh) ? fresh.map(String) : [];
  }

  async release(msgIds: string[]): Promise<void> {
    if (msgIds.length === 0) return;
    await this.fenced("release", RELEASE_CLAIMS, this.keys.seen, msgIds);
  }

  private fenced(what: string, script: string, key: string, args: string[]): Promise<unknown> {
    const token = this.lease.token;
    if (token === undefined) return Promise.reject(new WeChatError("NOT_OWNER", `${what}: this instance does not hold the account`));
    return this.call(what, () => this.redis.eval(script, 2, this.lease.key, key, token, ...args));
  }

  /** One Redis call, bounded by timeoutMs; its errors as NOT_OWNER or STORE_UNAVAILABLE (never Redis's text). */
  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WeChatError("STORE_UNAVAILABLE", `${what}: Redis did not answer in ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([run(), late]);
    } catch (error) {
      if (isWeChatError(error)) throw error;
      if (error instanceof Error && error.message.includes(FENCED)) {
        throw new WeChatError("NOT_OWNER", `${what}: fenced out, another instance holds the account`);
      }
      throw new WeChatError("STORE_UNAVAILABLE", `${what}: Redis unavailable (${(error as NodeJS.ErrnoException).code ?? (error as Error).name ?? "error"})`);
    } finally {
      clearTimeout(timer);
    }
  }
}
