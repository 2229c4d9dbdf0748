import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { SandboxRegistry, type SandboxPlace } from "../../nodes/shared/sandbox-registry";
import { freePort } from "../reliability/red-process";
import { SandboxClient } from "../support/sandbox";

/** The registry alone (#16.1): leases, the grace period and its owned timer, without Node-RED. */
describe("sandbox registry (#16.1)", function () {
  let dir: string;
  let registry: SandboxRegistry;
  const notes: string[] = [];

  beforeEach(function () {
    dir = mkdtempSync(path.join(tmpdir(), "wxflow-registry-"));
    registry = new SandboxRegistry();
  });
  afterEach(async function () {
    await registry.closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  function place(port: number, graceMs: number): SandboxPlace {
    return { port, accountId: "a1", dir, secret: () => ({ secret: "registry-test-secret", previous: [] }), warn: (m) => notes.push(m), log: () => undefined, graceMs: () => graceMs };
  }

  it("an account that comes back within the grace period gets the same sandbox; the timer closes it when none does", async function () {
    const port = await freePort();
    const first = registry.lease(place(port, 60_000));
    const sandbox = await first.start({ host: "127.0.0.1" });
    const url = sandbox.phoneUrl;
    await first.release();

    // back within the grace: the same sandbox (same token), not a new one
    const second = registry.lease(place(port, 200));
    assert.equal((await second.start({ host: "127.0.0.1" })).phoneUrl, url);
    const api = new SandboxClient(new URL(url).origin, new URLSearchParams(new URL(url).hash.slice(1)).get("token") ?? "");
    await api.logins();

    // released with nobody coming back: the grace timer (200 ms) closes it
    const closed = once(registry.events, "closed", { signal: AbortSignal.timeout(10_000) });
    const released = Date.now();
    await second.release();
    assert.deepEqual(await closed, [`port-${port}`]);
    assert.ok(Date.now() - released >= 150, "not before the grace period");
    await assert.rejects(api.logins(), "the port is closed");
    assert.deepEqual(notes, []);
  });

  it("a release is counted once; the sandbox stays while another lease holds it", async function () {
    const port = await freePort();
    const a = registry.lease(place(port, 0));
    const b = registry.lease(place(port, 0));
    const url = (await a.start({ host: "127.0.0.1" })).phoneUrl;
    assert.equal((await b.start({ host: "127.0.0.1" })).phoneUrl, url, "one sandbox per port");
    await a.release();
    await a.release();
    const api = new SandboxClient(new URL(url).origin, new URLSearchParams(new URL(url).hash.slice(1)).get("token") ?? "");
    await api.logins();
    await b.release();
    await assert.rejects(api.logins(), "closed with its last lease (no grace)");
  });
});
