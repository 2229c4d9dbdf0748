import { strict as assert } from "node:assert";
import { once } from "node:events";
import type { Redis } from "ioredis";
import { AccountLease, accountKeys, openRedis } from "../../lib/wechat/store";
import { startRedis, type RedisProcess } from "../support/redis";

const TTL = 600;
const POLL = TTL / 5;

/** The next `event` of `emitter`, or a rejection after `ms`. */
async function next<T extends unknown[]>(emitter: AccountLease, event: "acquired" | "lost" | "owner", ms: number): Promise<T> {
  return (await once(emitter, event, { signal: AbortSignal.timeout(ms) })) as T;
}

/** Lets `ms` pass: the duration under test (renewals over several ttl), not a synchronisation. */
function elapse(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("account lease over a real redis-server", function () {
  this.timeout(20_000);
  let server: RedisProcess;
  const connections: Redis[] = [];
  const leases: AccountLease[] = [];
  let n = 0;

  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await server.stop();
  });
  afterEach(async () => {
    for (const lease of leases.splice(0)) await lease.stop();
    for (const redis of connections.splice(0)) redis.disconnect();
  });

  async function connect(): Promise<Redis> {
    const redis = await openRedis({ url: server.url });
    connections.push(redis);
    return redis;
  }

  async function pair(): Promise<{ key: string; a: AccountLease; b: AccountLease; watch: Redis }> {
    const key = accountKeys("test", `acct${++n}`).lease;
    const a = new AccountLease({ redis: await connect(), key, owner: "node-a", ttlMs: TTL });
    const b = new AccountLease({ redis: await connect(), key, owner: "node-b", ttlMs: TTL });
    leases.push(a, b);
    return { key, a, b, watch: await connect() };
  }

  /** Fails the test if both ever hold the lease at the same moment (checked at every acquisition). */
  function neverTwo(a: AccountLease, b: AccountLease): { violations: number } {
    const seen = { violations: 0 };
    a.on("acquired", () => void (b.held && seen.violations++));
    b.on("acquired", () => void (a.held && seen.violations++));
    return seen;
  }

  it("one holder of two; the standby learns the owner; renewals keep it past several ttl; stop releases it", async () => {
    const { key, a, b, watch } = await pair();
    const two = neverTwo(a, b);
    a.start();
    const [token] = await next<[string]>(a, "acquired", 2_000);
    assert.match(token, /^\d+:node-a$/);
    assert.equal(a.owner, "node-a");
    const ownerSeen = next<[string | undefined]>(b, "owner", 2_000);
    b.start();
    assert.deepEqual(await ownerSeen, ["node-a"]);
    assert.equal(b.held, false);
    assert.equal(b.token, undefined);

    await elapse(TTL * 3);
    assert.equal(a.held, true, "renewed");
    assert.equal(a.token, token, "the same lease, not a new one");
    assert.equal(b.held, false);
    assert.equal(await watch.get(key), token);
    assert.ok((await watch.pttl(key)) > TTL / 3);

    const taken = next<[string]>(b, "acquired", 2_000);
    await a.stop();
    assert.notEqual(await watch.get(key), token, "released at once (compare-and-delete), not left to expire");
    const [tokenB] = await taken;
    assert.ok(Number(tokenB.split(":")[0]) > Number(token.split(":")[0]), "the fencing number grows");
    assert.equal(b.fence, Number(tokenB.split(":")[0]));
    assert.equal(two.violations, 0);
  });

  it("a holder cut off from Redis says lost before its lease expires; the standby takes over within ttl + a poll", async () => {
    const { key, a, b, watch } = await pair();
    const two = neverTwo(a, b);
    const aRedis = connections[connections.length - 3]!;
    a.start();
    const [token] = await next<[string]>(a, "acquired", 2_000);
    b.start();
    await next(b, "owner", 2_000);
    const cutAt = performance.now();
    aRedis.disconnect();
    const lost = next<[string]>(a, "lost", TTL * 2);
    const takeover = next<[string]>(b, "acquired", TTL * 3);
    const [reason] = await lost;
    const lostAt = performance.now();
    assert.equal(reason, "unconfirmed");
    assert.equal(a.held, false);
    // At that moment the lease still stands in Redis, unexpired, and nobody else holds it.
    assert.equal(await watch.get(key), token);
    assert.ok((await watch.pttl(key)) > 0, "lost is said before the lease can expire");
    assert.equal(b.held, false);
    await takeover;
    const takenAt = performance.now();
    assert.ok(takenAt > lostAt);
    assert.ok(takenAt - cutAt <= TTL + POLL + 400, `taken over ${Math.round(takenAt - cutAt)} ms after the cut`);
    assert.equal(two.violations, 0);
  });

  it("a Redis restart: the holder says lost, never two holders, then one of them holds it again", async () => {
    const { a, b } = await pair();
    const two = neverTwo(a, b);
    a.start();
    await next(a, "acquired", 2_000);
    b.start();
    await next(b, "owner", 2_000);
    const lost = next<[string]>(a, "lost", TTL * 3);
    const reacquired = new Promise<void>((resolve) => {
      a.once("acquired", () => resolve());
      b.once("acquired", () => resolve());
    });
    await server.restart();
    const [reason] = await lost;
    assert.ok(reason === "taken" || reason === "unconfirmed");
    await Promise.race([reacquired, elapse(TTL * 10).then(() => Promise.reject(new Error("nobody took the lease again")))]);
    await elapse(POLL * 3);
    assert.equal([a.held, b.held].filter(Boolean).length, 1, "exactly one holder");
    assert.equal(two.violations, 0);
  });

  it("a holder whose lease was taken says lost at its next renewal and never deletes the new holder's lease", async () => {
    const { key, a, watch } = await pair();
    a.start();
    await next(a, "acquired", 2_000);
    await watch.set(key, "99:node-x", "PX", 10_000);
    const [reason] = await next<[string]>(a, "lost", TTL);
    assert.equal(reason, "taken");
    assert.equal(a.owner, undefined);
    await a.stop();
    assert.equal(await watch.get(key), "99:node-x");
  });
});

