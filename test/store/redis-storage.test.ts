import { strict as assert } from "node:assert";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Redis } from "ioredis";
import { isWeChatError } from "../../lib/wechat/errors";
import { BoundedSet } from "../../lib/wechat/util";
import { FileSessionStorage, RedisSessionStorage, accountKeys, openRedis, type LeaseFence } from "../../lib/wechat/store";
import { startRedis, type RedisProcess } from "../support/redis";
import { countingScrypt } from "../support/scrypt";
import { sampleSession } from "../support/session";

const sample = sampleSession;

const code = (c: string) => (error: unknown) => isWeChatError(error) && error.code === c;

describe("session storages: Redis (fenced, encrypted) and file", function () {
  this.timeout(20_000);
  let server: RedisProcess;
  let redis: Redis;
  let n = 0;

  before(async () => {
    server = await startRedis();
    redis = await openRedis({ url: server.url });
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
  });

  /** An account whose lease is held with `token` (as AccountLease would hold it). */
  async function account(token = "5:node-a"): Promise<{ accountId: string; fence: LeaseFence; keys: ReturnType<typeof accountKeys> }> {
    const accountId = `acct${++n}`;
    const keys = accountKeys("wxtest", accountId);
    await redis.set(keys.lease, token, "PX", 60_000);
    return { accountId, fence: { key: keys.lease, token }, keys };
  }

  function storage(accountId: string, fence: LeaseFence, extra: Partial<ConstructorParameters<typeof RedisSessionStorage>[0]> = {}): RedisSessionStorage {
    return new RedisSessionStorage({ redis, prefix: "wxtest", accountId, secret: "redis secret", lease: fence, ...extra });
  }

  it("round-trips the session encrypted: the stored value holds no sid, skey, pass_ticket or cookie", async () => {
    const { accountId, fence, keys } = await account();
    const store = storage(accountId, fence);
    assert.equal(await store.load(), undefined);
    await store.save(sample());
    const raw = await redis.get(keys.session);
    assert.ok(raw);
    for (const secret of ["SIDSECRETVALUE", "SKEYSECRET", "qg%2BL", "e123456789012345", "COOKIESECRET", "webwx_data_ticket"]) {
      assert.ok(!raw.includes(secret), `Redis holds ${secret} in clear`);
    }
    assert.equal(JSON.parse(raw).format, "wxflow-session", "the same envelope as the session file");
    assert.deepEqual(await storage(accountId, fence).load(), sample());

    const warns: string[] = [];
    assert.equal(await storage(accountId, fence, { secret: "another", warn: (m) => warns.push(m) }).load(), undefined);
    assert.ok(warns.some((w) => /could not be decrypted/.test(w)));
    const migrated = storage(accountId, fence, { secret: "new secret", previous: ["redis secret"] });
    assert.deepEqual(await migrated.load(), sample());
    assert.deepEqual(await storage(accountId, fence, { secret: "new secret" }).load(), sample(), "re-sealed under the new secret");

    await store.clear();
    assert.equal(await redis.exists(keys.session), 0);
    assert.equal(await store.load(), undefined);
  });

  it("resuming the session in Redis derives one key: its salt opens it and seals the next saves", async () => {
    const { accountId, fence } = await account();
    await storage(accountId, fence).save(sample());
    const store = storage(accountId, fence);
    await countingScrypt(async (derivations) => {
      await store.prepare();
      assert.deepEqual(await store.load(), sample());
      await store.save({ ...sample(), savedAt: 5 });
      assert.equal(derivations(), 1, "one scrypt for the load and the save (two before: a new salt for the saves)");
    });
    assert.equal((await storage(accountId, fence).load())?.savedAt, 5);
  });

  it("a fenced-out writer gets NOT_OWNER and changes nothing", async () => {
    const { accountId, fence, keys } = await account("9:node-b");
    const owner = storage(accountId, fence);
    await owner.save(sample(1));
    assert.deepEqual(await owner.claim(["m1"]), ["m1"]);
    const before = { session: await redis.get(keys.session), seen: await redis.zrange(keys.seen, 0, -1) };

    // A paused process that still believes it holds the lease it had before node-b.
    const stale = storage(accountId, { key: keys.lease, token: "8:node-a" });
    await assert.rejects(stale.save(sample(2)), code("NOT_OWNER"));
    await assert.rejects(stale.claim(["m1", "m2"]), code("NOT_OWNER"));
    await assert.rejects(stale.clear(), code("NOT_OWNER"));
    // One that knows it lost the lease does not even ask Redis.
    await assert.rejects(storage(accountId, { key: keys.lease, token: undefined }).save(sample(3)), code("NOT_OWNER"));
    assert.deepEqual({ session: await redis.get(keys.session), seen: await redis.zrange(keys.seen, 0, -1) }, before);
    // The lease gone altogether (expired): fenced out too.
    await redis.del(keys.lease);
    await assert.rejects(owner.save(sample(4)), code("NOT_OWNER"));
    assert.equal(await redis.get(keys.session), before.session);
  });

  it("claims across two storages: each MsgId is granted once, in order; the set keeps the newest N", async () => {
    const { accountId, fence, keys } = await account();
    const one = storage(accountId, fence, { dedupCapacity: 4 });
    const two = storage(accountId, fence, { dedupCapacity: 4 });
    assert.deepEqual(await one.claim(["a", "b", "b"]), ["a", "b"]);
    assert.deepEqual(await two.claim(["b", "c", "a", "d"]), ["c", "d"]);
    assert.deepEqual(await one.claim([]), []);
    const both = await Promise.all([one.claim(["e", "f"]), two.claim(["f", "e"])]);
    assert.deepEqual([...both[0], ...both[1]].sort(), ["e", "f"], "concurrent claims grant each id once");
    assert.equal(await redis.zcard(keys.seen), 4, "bounded");
    assert.deepEqual((await redis.zrange(keys.seen, 0, -1)).sort(), ["c", "d", "e", "f"], "the newest kept");
    assert.deepEqual(await two.claim(["a"]), ["a"], "an id trimmed away is granted again");
    await one.release(["a", "c"]);
    assert.deepEqual(await two.claim(["a", "c", "d"]), ["a", "c"], "given back: granted again");
    await assert.rejects(storage(accountId, { key: keys.lease, token: "0:other" }).release(["e"]), code("NOT_OWNER"));
    assert.notEqual(await redis.zscore(keys.seen, "e"), null, "a fenced-out give-back changes nothing");
  });

  it("a Redis that is gone: STORE_UNAVAILABLE at once (no offline queue)", async () => {
    const other = await startRedis();
    try {
      const conn = await openRedis({ url: other.url });
      const store = new RedisSessionStorage({ redis: conn, accountId: "x", secret: "s", lease: { key: "k", token: "1:a" } });
      await other.kill();
      const started = Date.now();
      await assert.rejects(store.claim(["m"]), code("STORE_UNAVAILABLE"));
      await assert.rejects(store.load(), code("STORE_UNAVAILABLE"));
      assert.ok(Date.now() - started < 2_000);
      conn.disconnect();
      await assert.rejects(openRedis({ url: other.url }), code("STORE_UNAVAILABLE"));
    } finally {
      await other.stop();
    }
  });

  it("the file storage: today's encrypted file; claims answered at once, seeded from the saved MsgIds", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wxflow-filestore-"));
    try {
      const file = path.join(dir, "s.json");
      const first = new FileSessionStorage(file, "secret", { dedupCapacity: 3 });
      assert.deepEqual(first.claimNow(["a", "b", "a"]), ["a", "b"]);
      assert.deepEqual(await first.claim(["b", "c"]), ["c"]);
      await first.save({ ...sample(), seen: ["a", "b", "c"] });
      assert.ok(!(await fs.readFile(file, "utf8")).includes("SIDSECRETVALUE"));
      const second = new FileSessionStorage(file, "secret");
      assert.deepEqual(second.claimNow(["a"]), ["a"], "nothing known before load");
      const third = new FileSessionStorage(file, "secret");
      assert.equal((await third.load())?.sid, "SIDSECRETVALUE");
      assert.deepEqual(third.claimNow(["a", "b", "c", "d"]), ["d"]);
      await third.clear();
      assert.equal(await third.load(), undefined);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("the file storage keeps its claims in the de-dup set it is given: what the set holds is claimed, load seeds it", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wxflow-filestore-"));
    try {
      const file = path.join(dir, "s.json");
      await new FileSessionStorage(file, "secret").save({ ...sample(), seen: ["a", "b"] });
      const dedup = new BoundedSet<string>(10);
      dedup.add("x");
      const storage = new FileSessionStorage(file, "secret", { dedup, dedupCapacity: 1 });
      assert.deepEqual(storage.claimNow(["x", "y"]), ["y"], "an id the set holds is claimed already");
      assert.deepEqual(dedup.newest(10), ["x", "y"], "a claim goes into the set given");
      await storage.load();
      assert.deepEqual(dedup.newest(10), ["x", "y", "a", "b"], "the saved MsgIds go into it at load");
      await storage.release(["y"]);
      assert.equal(dedup.has("y"), false, "a claim given back leaves the set");
      assert.deepEqual(storage.claimNow(["a", "b", "c", "d"]), ["c", "d"], "its capacity is the set's, not dedupCapacity");
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
