/**
 * The scale-out tests' witnesses (proxies.ts) must see what they are there to see: two instances' session requests
 * open at the same time are an overlap (and one instance's, or a login poll, is not), and a cut gate holds Redis
 * commands unanswered until it heals.
 */
import { strict as assert } from "node:assert";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { startRedis, type RedisProcess } from "../support/redis";
import { RedisGate, SandboxTap, SpanLog } from "./proxies";

describe("scale-out witnesses (test/scale-out/proxies.ts)", function () {
  describe("SandboxTap and SpanLog", function () {
    let upstream: Server;
    const held: ServerResponse[] = [];
    const arrived = new Set<() => void>();
    const taps: SandboxTap[] = [];

    before(async function () {
      // Answers /hold/... only when told to (a long poll), everything else at once.
      upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
        if ((req.url ?? "").startsWith("/hold/")) held.push(res);
        else res.end("ok");
        for (const wake of [...arrived]) wake();
      });
      await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    });

    after(async function () {
      for (const res of held) res.end();
      await Promise.all(taps.map((t) => t.close()));
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    });

    function heldCount(n: number): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${held.length}/${n} requests held`)), 5000);
        const check = (): void => {
          if (held.length < n) return;
          clearTimeout(timer);
          arrived.delete(check);
          resolve();
        };
        arrived.add(check);
        check();
      });
    }

    it("records each instance's requests and finds two instances' session requests open at once", async function () {
      const log = new SpanLog();
      const port = (upstream.address() as AddressInfo).port;
      const [a, b] = await Promise.all([SandboxTap.start("a", port, log), SandboxTap.start("b", port, log)]);
      taps.push(a, b);
      const get = (tap: SandboxTap, path: string): Promise<string> => fetch(`http://127.0.0.1:${tap.port}${path}`).then((r) => r.text());

      // one instance alone: a held synccheck and a webwxsync beside it are no overlap
      const aPoll = get(a, "/hold/cgi-bin/mmwebwx-bin/synccheck");
      await heldCount(1);
      assert.equal(await get(a, "/cgi-bin/mmwebwx-bin/webwxsync"), "ok");
      // the other instance's login poll is not a session request
      const bLogin = get(b, "/hold/cgi-bin/mmwebwx-bin/login");
      await heldCount(2);
      assert.deepEqual(log.overlaps(), []);

      // the other instance's session request while the first one's poll is open: an overlap
      assert.equal(await get(b, "/cgi-bin/mmwebwx-bin/webwxsync"), "ok");
      const found = log.overlaps();
      assert.deepEqual(found.map(([x, y]) => [x.instance, x.endpoint, y.instance, y.endpoint]), [["a", "synccheck", "b", "webwxsync"]]);
      assert.equal(log.sessionRequests("b").length, 1);

      for (const res of held.splice(0)) res.end("done");
      assert.deepEqual(await Promise.all([aPoll, bLogin]), ["done", "done"]);
      assert.ok(log.spans.every((s) => s.end !== undefined && s.end >= s.start), "every span ended");
    });
  });

  describe("RedisGate", function () {
    let redis: RedisProcess | undefined;
    let gate: RedisGate | undefined;
    let client: Redis | undefined;

    before(async function () {
      redis = await startRedis();
      gate = await RedisGate.start(redis.port);
    });

    after(async function () {
      client?.disconnect();
      await gate?.close();
      await redis?.stop();
    });

    it("passes commands through, holds them unanswered while cut, and lets them through again once healed", async function () {
      // commandTimeout bounds each wait on the gate; retries are immediate so that heal() is seen at once
      client = new Redis(gate!.url, { commandTimeout: 500, maxRetriesPerRequest: null, retryStrategy: () => 10, lazyConnect: true });
      client.on("error", () => undefined);
      await client.connect();
      assert.equal(await client.set("k", "v"), "OK");
      gate!.cut();
      await assert.rejects(client.get("k"), /timed out/i);
      gate!.heal();
      const deadline = Date.now() + 10_000;
      let value: string | null = null;
      for (let i = 0; i < 100 && Date.now() < deadline; i++) {
        value = await client.get("k").catch(() => null);
        if (value !== null) break;
      }
      assert.equal(value, "v");
    });
  });
});
