import { strict as assert } from "node:assert";
import { once } from "node:events";
import type { Redis } from "ioredis";
import { AccountLease, RedisSessionStorage, accountKeys, openRedis } from "../../lib/wechat/store";
import { startRedis, type RedisProcess } from "../support/redis";
import { envPerTest, loginByQr, stateNames, waitForMessages, waitForState } from "./env";

const TTL = 1_000;

describe("client on a Redis session storage against the sandbox", function () {
  this.timeout(30_000);
  const startEnv = envPerTest();
  let server: RedisProcess;
  let redis: Redis;
  const leases: AccountLease[] = [];

  before(async () => {
    server = await startRedis();
    redis = await openRedis({ url: server.url });
  });
  afterEach(async () => {
    for (const lease of leases.splice(0)) await lease.stop();
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
  });

  async function holder(owner: string): Promise<{ lease: AccountLease; storage: RedisSessionStorage }> {
    const lease = new AccountLease({ redis, key: accountKeys("wxtest", "acct").lease, owner, ttlMs: TTL });
    leases.push(lease);
    const acquired = once(lease, "acquired", { signal: AbortSignal.timeout(TTL * 5) });
    lease.start();
    await acquired;
    return { lease, storage: new RedisSessionStorage({ redis, prefix: "wxtest", accountId: "acct", secret: "s3cret", lease }) };
  }

  it("a second client on the same storage resumes with no scan, and what the first emitted is not emitted again", async () => {
    const env = await startEnv();
    const friend = env.sb.control.world().contacts.find((c) => c.kind === "friend" && c.nickName)!;
    const a = await holder("node-a");
    const first = env.newClient({ sessionStorage: a.storage });
    await loginByQr(env, first.client);
    env.sb.control.inject({ from: friend.nickName, text: "m0" });
    await waitForMessages(first.client, first.rec, (m) => m.text === "m0", 1);
    // What Redis holds now: the session as the crash below will leave it, its SyncKey before m1 and m2.
    const sessionKey = accountKeys("wxtest", "acct").session;
    const stale = await redis.get(sessionKey);
    assert.ok(stale && !stale.includes(first.client.state.user!.userName), "sealed");
    env.sb.control.inject({ from: friend.nickName, text: "m1" });
    env.sb.control.inject({ from: friend.nickName, text: "m2" });
    await waitForMessages(first.client, first.rec, (m) => m.text === "m2", 1);
    await first.client.stop();
    // The first instance died after m1 and m2 went to its flow but before its session was written: its process
    // state is gone and Redis has the older SyncKey.
    await redis.set(sessionKey, stale);
    env.sb.control.inject({ from: friend.nickName, text: "m3" });

    // The lease moves to another instance; the first one's writes are fenced out from now on.
    await a.lease.stop();
    const b = await holder("node-b");
    await assert.rejects(a.storage.claim(["m3-by-a"]), (e: Error & { code?: string }) => e.code === "NOT_OWNER");
    const second = env.newClient({ sessionStorage: b.storage });
    second.client.start();
    await waitForMessages(second.client, second.rec, (m) => m.text === "m3", 1);
    env.sb.control.inject({ from: friend.nickName, text: "m4" });
    await waitForMessages(second.client, second.rec, (m) => m.text === "m4", 1);
    assert.deepEqual(stateNames(second.rec).slice(0, 2), ["resuming", "online"], "no scan, no login");
    assert.ok(!stateNames(second.rec).includes("waiting-scan"));
    const texts = (rec: typeof first.rec): string[] => rec.messages.filter((m) => m.type === "text").map((m) => m.text);
    assert.deepEqual(texts(first.rec), ["m0", "m1", "m2"]);
    assert.deepEqual(texts(second.rec), ["m3", "m4"], "m1 and m2, sent again for the old SyncKey, were claimed already");
    const ids = [...first.rec.messages, ...second.rec.messages].map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length, "no MsgId emitted twice across the two clients");
    await second.client.stop();
    await waitForState(second.client, (s) => s.state === "offline");
  });

  it("a client fenced out mid-session emits nothing it could not claim, stops asking the server, and the new owner gets it once", async () => {
    const env = await startEnv();
    const friend = env.sb.control.world().contacts.find((c) => c.kind === "friend" && c.nickName)!;
    const keys = accountKeys("wxtest", "fenced");
    const storage = (token: string) =>
      new RedisSessionStorage({ redis, prefix: "wxtest", accountId: "fenced", secret: "s3cret", lease: { key: keys.lease, token } });
    await redis.set(keys.lease, "1:node-a");
    const first = env.newClient({ sessionStorage: storage("1:node-a") });
    await loginByQr(env, first.client);
    env.sb.control.inject({ from: friend.nickName, text: "f0" });
    await waitForMessages(first.client, first.rec, (m) => m.text === "f0", 1);

    // node-a is paused long enough for its lease to pass to node-b; it still believes it holds "1:node-a".
    await redis.set(keys.lease, "2:node-b");
    env.sb.control.inject({ from: friend.nickName, text: "f1" });
    const offline = await waitForState(first.client, (s) => s.state === "offline");
    assert.match(offline.problem?.message ?? "", /fenced out/);
    const callsWhenFenced = first.rec.calls.length;

    const second = env.newClient({ sessionStorage: storage("2:node-b") });
    second.client.start();
    await waitForMessages(second.client, second.rec, (m) => m.text === "f1", 1);
    assert.deepEqual(stateNames(second.rec).slice(0, 2), ["resuming", "online"], "no scan");
    const texts = (rec: typeof first.rec): string[] => rec.messages.filter((m) => m.type === "text").map((m) => m.text);
    assert.deepEqual(texts(first.rec), ["f0"], "the fenced-out client emitted nothing it could not claim");
    assert.deepEqual(texts(second.rec), ["f1"]);
    assert.equal(first.rec.calls.length, callsWhenFenced, "the fenced-out client asked the server nothing more");
    assert.equal(first.client.state.state, "offline");
  });
});
