import { strict as assert } from "node:assert";
import { existsSync } from "node:fs";
import { Redis } from "ioredis";
import { startRedis, type RedisProcess } from "../support/redis";

describe("test support: a real redis-server", () => {
  let server: RedisProcess;
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await server.stop();
  });

  async function ping(): Promise<string> {
    const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await redis.connect();
      return await redis.ping();
    } finally {
      redis.disconnect();
    }
  }

  it("answers PING on 127.0.0.1 and keeps no data over a restart on the same port", async () => {
    assert.match(server.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await ping(), "PONG");
    const redis = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    await redis.set("k", "v");
    redis.disconnect();
    await server.restart();
    assert.equal(await ping(), "PONG");
    const again = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      assert.equal(await again.get("k"), null, "restart starts empty (no persistence)");
    } finally {
      again.disconnect();
    }
  });

  it("kill() makes it unreachable; stop() removes the process and its temp dir", async () => {
    const other = await startRedis();
    assert.ok(existsSync(other.dir));
    await other.kill();
    const gone = new Redis(other.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    gone.on("error", () => undefined);
    await assert.rejects(gone.connect());
    gone.disconnect();
    await other.stop();
    await other.stop();
    assert.ok(!existsSync(other.dir), "temp dir removed");
  });
});
