import assert from "node:assert/strict";
import * as dc from "node:diagnostics_channel";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser } from "playwright-core";
import { startSandbox, type Sandbox } from "../../lib/sandbox";
import { WebClient } from "./webclient";

/**
 * Issue #14.3 in a real browser: a page from another loopback origin (another port) and a DNS-rebound name try to
 * drive the control API the ways a browser allows without the sandbox's consent; the sandbox's state must not move.
 * Chromium maps rebound.test to 127.0.0.1 (--host-resolver-rules), as a rebinding DNS server would.
 */

/** The attacker's page: a text/plain form POST (JSON smuggled in a field name) and no-cors fetches. */
function attackPage(target: string, uuid: string): string {
  const name = JSON.stringify({ uuid, pad: "" }).slice(0, -2);
  return `<!doctype html><html><body>
<iframe name="sink" id="sink"></iframe>
<form id="f" method="POST" enctype="text/plain" action="${target}/api/sandbox/scan" target="sink">
  <input type="hidden" name='${name}' value='"}'>
</form>
<script>
window.attack = async function () {
  const loaded = new Promise((resolve) => document.getElementById("sink").addEventListener("load", resolve, { once: true }));
  document.getElementById("f").submit();
  await loaded;
  const results = [];
  const tries = [
    ["scan", { method: "POST", mode: "no-cors", body: JSON.stringify({ uuid: ${JSON.stringify(uuid)} }) }],
    ["scan", { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ uuid: ${JSON.stringify(uuid)} }) }],
    ["reset", { method: "POST", mode: "no-cors", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "{}" }],
    ["scan", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }],
    ["logins", { method: "GET" }],
  ];
  for (const [path, init] of tries) {
    try {
      const res = await fetch(${JSON.stringify(target)} + "/api/sandbox/" + path, init);
      results.push(res.type + ":" + res.status);
    } catch (e) {
      results.push("blocked");
    }
  }
  return results;
};
</script></body></html>`;
}

/** Status codes the sandbox answered on /api/sandbox/ for requests to `port`. */
function watchControl(port: number): { statuses: number[]; close: () => void } {
  const statuses: number[] = [];
  const listener = (message: unknown): void => {
    const { request, response } = message as { request?: IncomingMessage; response?: ServerResponse };
    if (!request || request.socket.localPort !== port || !request.url?.startsWith("/api/sandbox/")) return;
    response?.once("finish", () => statuses.push(response.statusCode));
  };
  dc.subscribe("http.server.request.start", listener);
  return { statuses, close: () => dc.unsubscribe("http.server.request.start", listener) };
}

describe("sandbox: hostile pages in Chromium cannot drive the control API (issue #14.3)", function () {
  this.timeout(60_000);
  let browser: Browser;
  let attacker: Server;
  let attackerUrl: string;
  const pages = new Map<string, string>();

  before(async () => {
    attacker = createServer((req, res) => {
      const body = pages.get(req.url ?? "") ?? "";
      res.writeHead(body ? 200 : 404, { "Content-Type": "text/html; charset=utf-8" });
      res.end(body);
    });
    await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--host-resolver-rules=MAP rebound.test 127.0.0.1"],
    });
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => attacker?.close(resolve));
  });

  for (const token of [true, false]) {
    describe(token ? "with the token (default)" : "with the token off (--no-token)", () => {
      let sb: Sandbox;
      let port: number;
      before(async () => {
        sb = await startSandbox({ contacts: 4, seed: 31, ...(token ? {} : { token: false as const }) });
        port = Number(new URL(sb.url).port);
      });
      after(async () => {
        await sb?.close();
      });

      async function waitingLogin(): Promise<string> {
        const c = new WebClient(sb.url);
        await c.jslogin();
        return c.uuid;
      }

      it("a page on another loopback port: form POST and no-cors fetches change nothing", async () => {
        const uuid = await waitingLogin();
        const path = `/attack-${String(token)}`;
        pages.set(path, attackPage(sb.url, uuid));
        const watch = watchControl(port);
        const page = await browser.newPage();
        try {
          await page.goto(`${attackerUrl}${path}`);
          const results = (await page.evaluate("window.attack()")) as string[];
          // no-cors answers are opaque; the JSON pre-flight and the cors GET are blocked by the browser
          assert.deepEqual(results, ["opaque:0", "opaque:0", "opaque:0", "blocked", "blocked"]);
        } finally {
          await page.close();
          watch.close();
        }
        assert.equal(sb.control.logins().find((l) => l.uuid === uuid)?.state, "waiting");
        assert.ok(sb.control.logins().some((l) => l.uuid === uuid), "no reset either");
        // they reached the sandbox and were refused there, none answered 2xx
        assert.ok(watch.statuses.length >= 4, `requests seen: ${watch.statuses.join(",")}`);
        assert.deepEqual(
          watch.statuses.filter((s) => s < 400),
          [],
        );
      });

      it("a DNS-rebound name: same-origin calls to the control API and the phone page are refused (403)", async () => {
        const uuid = await waitingLogin();
        const page = await browser.newPage();
        try {
          const landing = await page.goto(`http://rebound.test:${port}/`);
          assert.equal(landing?.status(), 200);
          const text = await page.textContent("body");
          if (sb.token) assert.ok(!text?.includes(sb.token), "the unguarded page never shows the token");
          const statuses = (await page.evaluate(`(async () => {
            const out = [];
            out.push((await fetch("/api/sandbox/scan", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ uuid: ${JSON.stringify(uuid)} }) })).status);
            out.push((await fetch("/api/sandbox/logins")).status);
            out.push((await fetch("/phone")).status);
            return out;
          })()`)) as number[];
          assert.deepEqual(statuses, [403, 403, 403]);
        } finally {
          await page.close();
        }
        assert.equal(sb.control.logins().find((l) => l.uuid === uuid)?.state, "waiting");
      });

      it("the phone page from its own URL still drives it", async () => {
        const uuid = await waitingLogin();
        const page = await browser.newPage();
        try {
          await page.goto(sb.phoneUrl);
          await page.locator(`li[data-uuid="${uuid}"] button[data-action="scan"]`).click();
          const scanned = await new Promise<string | undefined>((resolve) => {
            const check = (): void => {
              const state = sb.control.logins().find((l) => l.uuid === uuid)?.state;
              if (state !== "waiting") {
                sb.events.off("login-state", check);
                clearTimeout(timer);
                resolve(state);
              }
            };
            const timer = setTimeout(() => {
              sb.events.off("login-state", check);
              resolve(undefined);
            }, 10_000);
            sb.events.on("login-state", check);
            check();
          });
          assert.ok(scanned === "scanned" || scanned === "confirmed", `state ${scanned}`);
        } finally {
          await page.close();
        }
        if (token) {
          const bare = await browser.newPage();
          try {
            await bare.goto(`${sb.url}/phone`);
            await bare.locator("#status", { hasText: "needs the sandbox token" }).waitFor({ timeout: 10_000 });
          } finally {
            await bare.close();
          }
        }
      });
    });
  }
});
