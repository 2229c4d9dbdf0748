import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { existingSandboxRegistry, type RegistryHost, type SandboxRegistry } from "../../nodes/shared/sandbox-registry";
import { RUNTIME_PACKAGE, helper, nodeById, waitForStatus, type FlowNode } from "../support/node-red";
import { freePort } from "../reliability/red-process";
import { SandboxClient } from "../support/sandbox";
import { ACCOUNT, FAST_TUNING, NODES, accountOf, waitOnline, wxNode } from "./fixture";

/** The runtime's event bus: the node API the helper hands the nodes carries the same one. */
const runtime = createRequire(__filename)(RUNTIME_PACKAGE) as RegistryHost;

function registry(): SandboxRegistry {
  const found = existingSandboxRegistry(runtime);
  if (!found) throw new Error("no sandbox registry in this runtime");
  return found;
}

/** The phone page's control API of the account's sandbox, from the link the dialog shows. */
function phoneApi(): { api: SandboxClient; phoneUrl: string } {
  const phoneUrl = accountOf().view().phoneUrl ?? "";
  const url = new URL(phoneUrl);
  return { api: new SandboxClient(url.origin, new URLSearchParams(url.hash.slice(1)).get("token") ?? ""), phoneUrl };
}

/** Scan on the sandbox phone (what the dialog's Scan button does) and wait until the send node is online. */
async function scanOnline(): Promise<void> {
  await waitForStatus(nodeById("send"), (s) => s.fill === "yellow" && s.shape === "ring");
  const online = waitOnline(nodeById("send"));
  accountOf().sandboxScan();
  await online;
}

describe("wx-account: the built-in sandbox keeps its login across redeploys and restarts (#16.1)", function () {
  let userDir: string;
  let port: number;
  let account: FlowNode;
  const send = wxNode("send", "wx-send-text");

  beforeEach(async function () {
    userDir = mkdtempSync(path.join(tmpdir(), "wxflow-keep-"));
    helper.settings({ userDir, wxAccountClientTuning: FAST_TUNING, wxAccountActionPacing: false, wxAccountSandboxGraceMs: 60_000 });
    port = await freePort();
    account = { id: ACCOUNT, type: "wx-account", name: "sandbox", server: "sandbox", sandboxPort: port, loginUrl: "", mode: "desktop", pacing: 600 };
  });
  afterEach(async function () {
    await helper.unload();
    // the runtime's stop: every sandbox saved and closed (the grace above would keep them a minute)
    await existingSandboxRegistry(runtime)?.closeAll();
    rmSync(userDir, { recursive: true, force: true });
  });

  it("a Full deploy of a change keeps the sandbox, its phone link and the login: no new scan", async function () {
    await helper.load(NODES, [account, send]);
    await scanOnline();
    const before = phoneApi();
    assert.equal((await before.api.logins()).length, 1);

    await helper.setFlows([account, { ...send, name: "changed" }], "full");
    await waitOnline(nodeById("send"));
    const after = phoneApi();
    assert.equal(after.phoneUrl, before.phoneUrl, "the same sandbox, the same token");
    assert.equal((await after.api.logins()).length, 1, "no new login");
    // the account itself changed (a Full deploy of it): the same port comes back to the same sandbox
    await helper.setFlows([{ ...account, pacing: 300 }, { ...send, name: "changed" }], "full");
    await waitOnline(nodeById("send"));
    assert.equal((await phoneApi().api.logins()).length, 1, "no new login after the account itself restarted");
  });

  it("a Node-RED restart goes on from the world saved under the user dir (0600, encrypted): no new scan", async function () {
    await helper.load(NODES, [account, send]);
    await scanOnline();
    const { api, phoneUrl } = phoneApi();
    const token = new URLSearchParams(new URL(phoneUrl).hash.slice(1)).get("token") ?? "";
    // the runtime stops: the sandbox is saved and closed then, not after the (one minute) grace
    await helper.unload();
    await registry().whenClosed();
    await assert.rejects(api.logins(), "the sandbox is closed with the runtime");

    const file = path.join(userDir, "wxflow", `sandbox-port-${port}.world`);
    assert.ok(existsSync(file), "the world is saved");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, "utf8");
    assert.ok(!text.includes(token) && !text.includes("Sandbox Me"), "encrypted: neither the token nor a name in clear");

    await helper.load(NODES, [account, send]);
    await waitOnline(nodeById("send"));
    const after = phoneApi();
    assert.equal(after.phoneUrl, phoneUrl, "the phone page's link still works");
    assert.equal((await after.api.logins()).length, 0, "resumed: no login at all on the restored sandbox");
  });

  it("closes the sandbox once a deploy leaves no account on its port", async function () {
    await helper.load(NODES, [account, send]);
    await waitForStatus(nodeById("send"), (s) => s.fill === "yellow" && s.shape === "ring");
    const { api } = phoneApi();
    await api.logins();
    await helper.setFlows([{ id: "other", type: "helper", wires: [] }], "full");
    await registry().whenClosed();
    await assert.rejects(api.logins(), "the port is closed");
  });
});
