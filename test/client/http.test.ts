import { strict as assert } from "node:assert";
import * as http from "node:http";
import { createRequire } from "node:module";
import * as zlib from "node:zlib";
import { HttpClient, buildUrl, raw, parseJsonBody, checkBaseResponse, backoffDelay, mayHaveBeenSent } from "../../lib/wechat/http";
import type { CallDeadlines } from "../../lib/wechat/call-deadlines";
import { isWeChatError } from "../../lib/wechat/errors";
import { serve } from "../support/http-server";

describe("client http", () => {
  it("hands an answer to onAnswer before the call settles, direct or through got; a hook that throws does not fail the call", async () => {
    const srv = await serve((_req, res) => res.end("window.synccheck={retcode:\"0\",selector:\"2\"}"));
    const client = new HttpClient();
    try {
      const heard: string[] = [];
      const text = await client.text({ what: "t", url: `${srv.origin}/a`, onAnswer: (answer) => void heard.push(answer.body.toString("utf8")) });
      assert.deepEqual(heard, [text]);
      const again = await client.text({
        what: "t",
        url: `${srv.origin}/b`,
        onAnswer: () => {
          throw new Error("a broken hook");
        },
      });
      assert.equal(again, text);
      // Through got too (direct: false): the hook is not silently skipped there, and a throwing one is ignored alike.
      const viaGot = await client.text({ what: "t", url: `${srv.origin}/c`, direct: false, onAnswer: (answer) => void heard.push(answer.body.toString("utf8")) });
      assert.deepEqual(heard, [text, viaGot]);
      const gotAgain = await client.text({
        what: "t",
        url: `${srv.origin}/d`,
        direct: false,
        onAnswer: () => {
          throw new Error("a broken hook");
        },
      });
      assert.equal(gotAgain, text);
    } finally {
      client.close();
      await srv.close();
    }
  });

  it("a direct call's hook runs before the call's timeout and abort watch end (the hook's work comes first); a hook that stops the client does not fail its answered call", async () => {
    const srv = await serve((_req, res) => res.end("ok"));
    const client = new HttpClient();
    try {
      const order: string[] = [];
      const deadlines = (client as unknown as { deadlines: CallDeadlines }).deadlines;
      const watch = deadlines.watch.bind(deadlines);
      deadlines.watch = (timeoutMs, onTimeout) => {
        const end = watch(timeoutMs, onTimeout);
        return () => {
          order.push("timeout ended");
          end();
        };
      };
      assert.equal(await client.text({ what: "t", url: `${srv.origin}/a`, onAnswer: () => void order.push("told") }), "ok");
      assert.deepEqual(order, ["told", "timeout ended"]);
      // The hook of an answered call stops the client (a listener's stop() while a page is handled there): the call
      // is settled already, so the abort does not fail it.
      assert.equal(await client.text({ what: "t", url: `${srv.origin}/b`, onAnswer: () => client.close() }), "ok");
    } finally {
      client.close();
      await srv.close();
    }
  });

  it("direct calls one after the other keep their timeouts on one timer, not one each; a hang still times out", async () => {
    const srv = await serve((req, res) => {
      if (req.url?.startsWith("/hang")) return;
      res.end("window.synccheck={retcode:\"0\",selector:\"0\"}");
    });
    const client = new HttpClient();
    const original = globalThis.setTimeout;
    let made = 0;
    try {
      globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
        made++;
        return original(...args);
      }) as typeof setTimeout;
      try {
        for (let i = 0; i < 20; i++) await client.text({ what: "synccheck", url: `${srv.origin}/s${i}`, timeoutMs: 15_000 });
      } finally {
        globalThis.setTimeout = original;
      }
      assert.ok(made <= 1, `${made} timers for 20 calls`);
      const started = Date.now();
      await assert.rejects(client.request({ what: "hang", url: `${srv.origin}/hang`, timeoutMs: 150, retries: 0 }), (e) => isWeChatError(e, "NETWORK") && e.kind === "timeout");
      assert.ok(Date.now() - started >= 140, "not before its time");
    } finally {
      client.close();
      await srv.close();
    }
  });

  it("builds URLs with pass_ticket verbatim and other values encoded once", () => {
    const url = buildUrl("http://h:1/", "webwxinit", { r: 5, pass_ticket: raw("qg%2BL%3D"), x: "a b+c", u: undefined });
    assert.equal(url, "http://h:1/cgi-bin/mmwebwx-bin/webwxinit?r=5&pass_ticket=qg%2BL%3D&x=a%20b%2Bc");
    assert.equal(buildUrl("http://h", "/jslogin", {}), "http://h/jslogin");
    assert.equal(new URL(url).search.includes("%252B"), false);
  });

  it("parses JSON whatever the content type and checks BaseResponse", () => {
    assert.deepEqual(parseJsonBody(Buffer.from('\uFEFF{"a":1}'), "x"), { a: 1 });
    assert.throws(() => parseJsonBody("{nope", "x"), (e) => isWeChatError(e, "PROTOCOL"));
    checkBaseResponse({ BaseResponse: { Ret: 0 } }, "x");
    assert.throws(() => checkBaseResponse({ BaseResponse: { Ret: 1101 } }, "x"), (e) => isWeChatError(e, "SESSION_EXPIRED") && e.ret === 1101);
    assert.throws(() => checkBaseResponse({ BaseResponse: { Ret: 1205 } }, "x"), (e) => isWeChatError(e, "THROTTLED"));
    const d = backoffDelay(3, 100, 10_000);
    assert.ok(d >= 400 && d <= 1200);
  });

  it("tells from got's error.code and error.timings whether a failed request may have reached the server", () => {
    const http = "http://127.0.0.1:1/x";
    const https = "https://wx.qq.com/x";
    // Never connected: a DNS failure, a refused connection, a connect timeout (no connect timing).
    for (const code of ["ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED"]) assert.equal(mayHaveBeenSent({ code, timings: { connect: 5 } }, http), false, code);
    assert.equal(mayHaveBeenSent({ code: "ETIMEDOUT", timings: {} }, http), false, "connect timeout");
    assert.equal(mayHaveBeenSent({ code: "ETIMEDOUT", timings: { connect: 5 } }, https), false, "TLS not done: nothing written");
    assert.equal(mayHaveBeenSent({ code: "ERR_X" }, http), false, "failed before a request existed");
    // Connected: a read timeout, a reset, a hang-up may come after the server read the request.
    for (const code of ["ETIMEDOUT", "ECONNRESET", "ECONNABORTED", "EPIPE"]) {
      assert.equal(mayHaveBeenSent({ code, timings: { connect: 5 } }, http), true, code);
      assert.equal(mayHaveBeenSent({ code, timings: { connect: 5, secureConnect: 6 } }, https), true, code);
    }
  });

  it("sends a call that names no path over node:http directly, as direct: true does; direct: false and forms go through got (#19)", async () => {
    const ports: { url: string; port: number }[] = [];
    const srv = await serve((req, res) => {
      ports.push({ url: req.url ?? "", port: req.socket.remotePort ?? 0 });
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"BaseResponse":{"Ret":0}}');
    });
    const client = new HttpClient({ retryDelayMs: 1 });
    try {
      // One after the other, so that each path's keep-alive connection is reused: the two paths never share one.
      await client.json({ what: "a", url: `${srv.origin}/default` });
      await client.json({ what: "b", url: `${srv.origin}/direct`, direct: true });
      await client.json({ what: "c", url: `${srv.origin}/got`, direct: false });
      await client.json({ what: "d", url: `${srv.origin}/form`, method: "POST", form: { a: "1" } });
      const port = (url: string) => ports.find((p) => p.url === url)?.port;
      assert.equal(port("/default"), port("/direct"), "the default call and a direct one share the direct calls' connection");
      assert.notEqual(port("/got"), port("/direct"), "got has its own connections");
      assert.equal(port("/form"), port("/got"), "a form goes through got");
    } finally {
      client.close();
      await srv.close();
    }
  });

  it("hands node:http a direct call's URL already split when parsing would leave it as it is, else the URL; the server sees the same request (#19)", async () => {
    const seen: { url: string; host: string }[] = [];
    const srv = await serve((req, res) => {
      seen.push({ url: req.url ?? "", host: req.headers.host ?? "" });
      res.end("{}");
    });
    // What node:http is given, for each call (on the module object itself, which the client calls through).
    const nodeHttp = createRequire(__filename)("node:http") as { request: (...args: unknown[]) => http.ClientRequest };
    const given: unknown[] = [];
    const request = nodeHttp.request;
    const client = new HttpClient({ retryDelayMs: 1 });
    try {
      nodeHttp.request = (...args: unknown[]) => {
        given.push(args[0]);
        return request(...args);
      };
      const plain = `/cgi-bin/mmwebwx-bin/webwxsync?sid=a%2Bb&skey=@crypt_1_x&pass_ticket=Ab/c+d==&r=-123`;
      const urls = [
        `${srv.origin}${plain}`,
        // node:http parses these, as before: what parsing escapes or drops (a quote, a space, a fragment, dot segments)
        `${srv.origin}/a?name='x'`,
        `${srv.origin}/a?x=1 2`,
        `${srv.origin}/a/./b?x=1#frag`,
        // "%2e" is a dot to URL parsing too
        `${srv.origin}/a/%2e%2E/b?x=1`,
        // an origin not written as URL writes it
        `${srv.origin.replace("http:", "HTTP:")}/upper`,
      ];
      for (const url of urls) await client.text({ what: "t", url });
      assert.equal(given.length, urls.length);
      const port = new URL(srv.origin).port;
      assert.deepEqual(given[0], { method: "GET", headers: (given[0] as { headers: unknown }).headers, agent: (given[0] as { agent: unknown }).agent, protocol: "http:", hostname: "127.0.0.1", port, path: plain });
      assert.deepEqual(given.slice(1), urls.slice(1), "handed over as URLs");
      assert.deepEqual(
        seen.map((s) => s.url),
        [plain, "/a?name=%27x%27", "/a?x=1%202", "/a/b?x=1", "/b?x=1", "/upper"],
      );
      assert.ok(seen.every((s) => s.host === `127.0.0.1:${port}`));
    } finally {
      nodeHttp.request = request;
      client.close();
      await srv.close();
    }
  });

  // Calls go over node:http directly (direct-request.ts) unless they carry a form or ask for got: both paths
  // must behave the same.
  for (const [path, via] of [
    ["through got", { direct: false }],
    ["over node:http directly", { direct: true }],
  ] as const) {
    describe(path, () => {
      it("sends browser headers and cookies, keeps Set-Cookie of a 301 without following it", async () => {
        const seen: http.IncomingHttpHeaders[] = [];
        const srv = await serve((req, res) => {
          seen.push(req.headers);
          if (req.url?.startsWith("/redirect")) {
            res.writeHead(301, { location: "/elsewhere", "set-cookie": ["wxsid=SID1; Path=/", "wxuin=42; Path=/"] });
            res.end("<error><ret>0</ret></error>");
            return;
          }
          res.writeHead(200, { "content-type": "text/plain" });
          res.end(JSON.stringify({ BaseResponse: { Ret: 0 }, ok: true }));
        });
        const client = new HttpClient();
        try {
          client.pageOrigin = srv.origin;
          const text = await client.text({ ...via, what: "t", url: `${srv.origin}/redirect` });
          assert.equal(text, "<error><ret>0</ret></error>");
          assert.equal(seen.length, 1, "the 301 was not followed");
          assert.equal(await client.cookie(srv.origin, "wxuin"), "42");
          const json = await client.json({ ...via, what: "j", url: `${srv.origin}/j`, method: "POST", json: { a: 1 } });
          assert.equal(json.ok, true);
          assert.match(String(seen[1]["cookie"]), /wxsid=SID1/);
          assert.match(String(seen[1]["user-agent"]), /Mozilla/);
          assert.equal(seen[1]["referer"], `${srv.origin}/`);
          // Host as Node makes it (the URL's host and port), the connection kept, gzip asked for, each header once.
          assert.equal(seen[1]["host"], new URL(srv.origin).host);
          assert.equal(seen[1]["connection"], "keep-alive");
          assert.match(String(seen[1]["accept-encoding"]), /gzip/);
          assert.equal(seen[1]["content-length"], String(Buffer.byteLength(JSON.stringify({ a: 1 }))));
          assert.equal(seen[1]["content-type"], "application/json");
        } finally {
          client.close();
          await srv.close();
        }
      });

      it("retries 5xx and resets a bounded number of times, then fails typed without secrets", async () => {
        let calls = 0;
        const srv = await serve((req, res) => {
          calls++;
          if (req.url?.startsWith("/flaky") && calls < 3) {
            if (calls === 1) res.writeHead(500).end("x");
            else req.socket.destroy();
            return;
          }
          if (req.url?.startsWith("/dead")) {
            res.writeHead(503).end();
            return;
          }
          res.end('{"BaseResponse":{"Ret":0},"n":1}');
        });
        const client = new HttpClient({ retryDelayMs: 5 });
        try {
          const json = await client.json({ ...via, what: "flaky", url: `${srv.origin}/flaky?skey=SECRETSKEY` });
          assert.equal(json.n, 1);
          assert.equal(calls, 3);
          calls = 0;
          await assert.rejects(client.request({ ...via, what: "dead", url: `${srv.origin}/dead?skey=SECRETSKEY`, retries: 2 }), (e) => {
            assert.ok(isWeChatError(e, "SERVER"));
            assert.ok(!e.message.includes("SECRETSKEY"));
            return true;
          });
          assert.equal(calls, 3);
        } finally {
          client.close();
          await srv.close();
        }
      });

      it("times out a hang, caps bodies, and ends held calls at once on close", async () => {
        const srv = await serve((req, res) => {
          if (req.url?.startsWith("/big")) {
            res.end(Buffer.alloc(4096, 1));
            return;
          }
          // hang: never answer
        });
        const client = new HttpClient({ retryDelayMs: 5 });
        try {
          await assert.rejects(client.request({ ...via, what: "hang", url: `${srv.origin}/hang`, timeoutMs: 200, retries: 1 }), (e) =>
            isWeChatError(e, "NETWORK"),
          );
          await assert.rejects(client.request({ ...via, what: "big", url: `${srv.origin}/big`, maxBytes: 1000 }), (e) => isWeChatError(e, "TOO_LARGE"));
          const held = client.request({ ...via, what: "held", url: `${srv.origin}/hang`, timeoutMs: 60_000 });
          const started = Date.now();
          setImmediate(() => client.close());
          await assert.rejects(held, (e) => isWeChatError(e, "CLOSED"));
          assert.ok(Date.now() - started < 2000);
        } finally {
          client.close();
          await srv.close();
        }
      });

      it("ends the held calls of an aborted signal at once, and only those; later calls still run", async () => {
        const srv = await serve((req, res) => {
          if (req.url?.startsWith("/quick")) res.end("ok");
          // hang: never answer
        });
        const client = new HttpClient({ retryDelayMs: 5 });
        try {
          const session = new AbortController();
          const other = new AbortController();
          const held = [1, 2].map((n) => client.request({ ...via, what: `held${n}`, url: `${srv.origin}/hang`, timeoutMs: 60_000, signal: session.signal }));
          const spared = client.request({ ...via, what: "spared", url: `${srv.origin}/hang`, timeoutMs: 300, retries: 0, signal: other.signal });
          // Calls that ended before the abort are not touched by it.
          assert.equal((await client.request({ ...via, what: "quick", url: `${srv.origin}/quick`, signal: session.signal })).status, 200);
          const started = Date.now();
          setImmediate(() => session.abort());
          for (const call of held) await assert.rejects(call, (e) => isWeChatError(e, "CLOSED"));
          assert.ok(Date.now() - started < 2000);
          await assert.rejects(spared, (e) => isWeChatError(e, "NETWORK"), "another signal's call runs to its own timeout");
          assert.equal((await client.request({ ...via, what: "quick", url: `${srv.origin}/quick`, signal: other.signal })).status, 200);
          await assert.rejects(client.request({ ...via, what: "late", url: `${srv.origin}/quick`, signal: session.signal }), (e) => isWeChatError(e, "CLOSED"));
        } finally {
          client.close();
          await srv.close();
        }
      });

      it("skips a Set-Cookie the jar refuses (foreign Domain, a port in Domain, a bad date) and keeps the answer", async () => {
        let calls = 0;
        const srv = await serve((_req, res) => {
          calls++;
          res.writeHead(301, {
            location: "/elsewhere",
            "set-cookie": [
              "bad1=1; Domain=wx.qq.com:443; Path=/",
              "bad2=2; Domain=foreign.example; Path=/",
              "=nameless; Path=/",
              "dated=3; Path=/; Expires=Thu, 99 Foo 20xx 99:99:99 GMT",
              "wxuin=42; Path=/",
            ],
          });
          res.end("<error><ret>0</ret></error>");
        });
        const client = new HttpClient({ retryDelayMs: 5 });
        try {
          const text = await client.text({ ...via, what: "ticket", url: `${srv.origin}/ticket`, idempotent: false });
          assert.equal(text, "<error><ret>0</ret></error>");
          assert.equal(calls, 1, "answered once, never asked again");
          assert.equal(await client.cookie(srv.origin, "wxuin"), "42", "the good cookie is kept");
          assert.equal(await client.cookie(srv.origin, "bad2"), undefined);
        } finally {
          client.close();
          await srv.close();
        }
      });

      it("repeats a call that must not reach the server twice only when the connection failed before it was written", async () => {
        const attempts: string[] = [];
        const srv = await serve((req, res) => {
          if (req.url?.startsWith("/reset")) req.socket.destroy();
          else if (req.url?.startsWith("/500")) res.writeHead(500).end("x");
          else if (req.url?.startsWith("/garbled")) res.end('{"BaseResponse": {"Ret": 0,');
          // /hang: never answered
        });
        const closed = await serve(() => undefined);
        await closed.close();
        const client = new HttpClient({ retryDelayMs: 5, onRequest: (what) => attempts.push(what) });
        const count = (what: string): number => attempts.filter((a) => a === what).length;
        try {
          const refused = await client.request({ ...via, what: "refused", url: `${closed.origin}/x`, idempotent: false, retries: 2 }).catch((e: unknown) => e);
          assert.ok(isWeChatError(refused, "NETWORK") && !refused.afterSent, String(refused));
          assert.equal(count("refused"), 3, "a refused connection sent nothing: retried");
          for (const [what, code] of [
            ["reset", "NETWORK"],
            ["500", "SERVER"],
            ["hang", "NETWORK"],
            ["garbled", "PROTOCOL"],
          ] as const) {
            const error = await client.json({ ...via, what, url: `${srv.origin}/${what}`, method: "POST", json: { Msg: 1 }, idempotent: false, retries: 2, timeoutMs: 300 }).catch((e: unknown) => e);
            assert.ok(isWeChatError(error, code), `${what}: ${String(error)}`);
            assert.equal(error.afterSent, true, `${what}: may have reached the server`);
            assert.equal(count(what), 1, `${what}: not repeated`);
          }
          // An ordinary (idempotent) call still retries a reset.
          await client.request({ ...via, what: "read", url: `${srv.origin}/reset`, retries: 1 }).catch(() => undefined);
          assert.equal(count("read"), 2);
        } finally {
          client.close();
          await srv.close();
        }
      });

      it("decodes gzip, deflate and br answers, caps the decoded size, and fails a body cut short as a reset", async () => {
        const json = Buffer.from(JSON.stringify({ BaseResponse: { Ret: 0 }, n: "x".repeat(5000) }));
        const srv = await serve((req, res) => {
          assert.match(String(req.headers["accept-encoding"]), /gzip/);
          const encoding = req.url?.slice(1) ?? "";
          if (encoding === "hang") return;
          if (encoding === "cut") {
            res.writeHead(200, { "content-length": "10000" });
            res.write("{");
            setImmediate(() => req.socket.destroy());
            return;
          }
          const packed = encoding === "gzip" ? zlib.gzipSync(json) : encoding === "deflate" ? zlib.deflateSync(json) : zlib.brotliCompressSync(json);
          res.writeHead(200, { "content-encoding": encoding, "content-length": String(packed.length) });
          res.end(packed);
        });
        const client = new HttpClient({ retryDelayMs: 5 });
        try {
          for (const encoding of ["gzip", "deflate", "br"]) {
            const answer = await client.json({ ...via, what: encoding, url: `${srv.origin}/${encoding}` });
            assert.equal(String(answer.n).length, 5000, encoding);
          }
          // Under 100 bytes on the wire, 5 KB decoded: the cap counts the decoded bytes (a small answer can unpack huge).
          await assert.rejects(client.json({ ...via, what: "capped", url: `${srv.origin}/gzip`, maxBytes: 1000 }), (e) => isWeChatError(e, "TOO_LARGE"));
          const cut = await client.request({ ...via, what: "cut", url: `${srv.origin}/cut`, retries: 0 }).catch((e: unknown) => e);
          assert.ok(isWeChatError(cut, "NETWORK") && cut.afterSent === true && cut.kind === "reset", String(cut));
          const timedOut = await client.request({ ...via, what: "t", url: `${srv.origin}/hang`, retries: 0, timeoutMs: 150 }).catch((e: unknown) => e);
          assert.ok(isWeChatError(timedOut, "NETWORK") && timedOut.afterSent === true && timedOut.kind === "timeout", String(timedOut));
        } finally {
          client.close();
          await srv.close();
        }
      });
    });
  }
});
