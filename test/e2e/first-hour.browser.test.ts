/**
 * The first hour with the pack, walked in Chromium as a newcomer does it (#16 "Done means"): Node-RED started the way
 * `npm start` starts it (the pack linked into a fresh user dir, the flow scripts/start-flow.js deploys, real red.js),
 * the editor, the phone page's Scan, the account online, a message from the phone echoed back, a Full deploy of a
 * change and a Node-RED restart that both keep the login (#16.1), and every example imported through the editor's
 * import dialog without an "already exist: import copy?" conflict (#16.4).
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type Browser, type Page, chromium } from "playwright-core";
import { repoRoot } from "../support/node-red";
import { freePort } from "../reliability/red-process";
import { npmStartUserDir, startNodeRed, stopNodeRed } from "./npm-start";
import { SandboxClient } from "../support/sandbox";

const load = createRequire(__filename);
const { startFlow } = load(path.join(repoRoot(), "scripts", "start-flow.js")) as {
  startFlow(examplesDir: string, sandboxPort: number): { id: string; type: string; name?: string }[];
};

const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

declare const RED: {
  nodes: { node(id: string): Record<string, unknown> | null; getType(type: string): unknown; dirty(): boolean; dirty(value: boolean): void };
  editor: { editConfig(name: string, type: string, id: string): void };
  comms: { subscribe(topic: string, handler: (topic: string, message: { state?: string }) => void): void };
  actions: { invoke(name: string): void };
};
/** The editor page's window: the states the account's comms topic carried, recorded by openEditor(). */
declare const window: { wxStates?: string[] };

describe("the first hour, walked in the browser (#16)", function () {
  this.timeout(180_000);
  let userDir: string;
  let settings: string;
  let origin: string;
  let nodeRed: ChildProcess | undefined;
  let browser: Browser | undefined;
  let editor: Page;
  let phone: Page;
  const flow = startFlow(path.join(repoRoot(), "examples"), 0);
  const accountId = flow.find((n) => n.type === "wx-account")?.id ?? "";
  const pageErrors: string[] = [];

  /** Opens the editor and records every state the account's comms topic carries from now on. */
  async function openEditor(): Promise<void> {
    await editor.goto(`${origin}/`);
    await editor.waitForFunction((id) => typeof RED !== "undefined" && RED.nodes && RED.nodes.node(id)?.type === "wx-account" && RED.nodes.getType("wx-account") !== undefined, accountId, {
      timeout: 30_000,
    });
    await editor.evaluate((id) => {
      window.wxStates = [];
      RED.comms.subscribe(`wx-account/${id}/state`, (_topic, message) => window.wxStates?.push(String(message.state)));
    }, accountId);
  }

  /** Waits until the account's topic says online; returns every state it carried since openEditor() or the reset. */
  async function statesUntilOnline(): Promise<string[]> {
    await editor.waitForFunction(() => (window.wxStates ?? []).includes("online"), undefined, { timeout: 30_000 });
    return editor.evaluate(() => window.wxStates ?? []);
  }

  /** The phone page link the account dialog shows (it carries the control token). */
  async function phoneLink(): Promise<string> {
    await editor.evaluate((id) => RED.editor.editConfig("", "wx-account", id), accountId);
    const link = await editor.waitForSelector("a.wx-account-phone", { timeout: 20_000 });
    const href = (await link.getAttribute("href")) ?? "";
    await editor.click("#node-config-dialog-cancel");
    return href;
  }

  function phoneApi(link: string): SandboxClient {
    const url = new URL(link);
    return new SandboxClient(url.origin, new URLSearchParams(url.hash.slice(1)).get("token") ?? "");
  }

  /** Deploy with the header's Deploy button (a Full deploy, Node-RED's default) and wait until it is done. */
  async function deploy(): Promise<void> {
    await editor.click("#red-ui-header-button-deploy");
    await editor.waitForFunction(() => !RED.nodes.dirty(), undefined, { timeout: 30_000 });
  }

  before(async function () {
    userDir = mkdtempSync(path.join(tmpdir(), "wxflow-first-hour-"));
    const uiPort = await freePort();
    settings = npmStartUserDir(userDir, uiPort, await freePort());
    origin = `http://127.0.0.1:${uiPort}`;
    nodeRed = await startNodeRed(settings, userDir);
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    editor = await context.newPage();
    phone = await context.newPage();
    for (const page of [editor, phone]) page.on("pageerror", (error) => pageErrors.push(error.message));
  });

  after(async function () {
    await browser?.close();
    if (nodeRed) await stopNodeRed(nodeRed);
    if (userDir) rmSync(userDir, { recursive: true, force: true });
  });

  it("scan on the phone page, echo, Full deploy and restart without a new scan, every example imported cleanly", async function () {
    // 1. The editor shows the echo flow; its account waits for a scan.
    await openEditor();
    // the sandbox has started (the dialog links its phone page once it runs)
    await editor.waitForFunction(() => (window.wxStates ?? []).includes("waiting-scan"), undefined, { timeout: 30_000 });
    const link = await phoneLink();
    assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/phone#token=/);

    // 2. The phone page: press Scan, and the account comes online.
    await phone.goto(link);
    await phone.click('li[data-uuid] button[data-action="scan"]', { timeout: 20_000 });
    assert.ok((await statesUntilOnline()).includes("online"));

    // 3. A message from the phone comes back from the echo bot, on the phone page.
    await phone.fill("#text", "hello from the first hour");
    await phone.click("#send");
    await phone.waitForSelector('#sent li[data-side="bot"]:has-text("hello from the first hour")', { timeout: 20_000 });
    const api = phoneApi(link);
    const logins = (await api.logins()).length;

    // 4. A change in the editor, Full deploy: still online, and never asked for a scan.
    await editor.evaluate(() => {
      const debug = RED.nodes.node("start-wxecho00debug001");
      if (!debug) throw new Error("the start flow's debug node is missing");
      debug.name = "sent (changed)";
      debug.changed = true;
      debug.dirty = true;
      RED.nodes.dirty(true);
      window.wxStates = [];
    });
    await deploy();
    let states = await statesUntilOnline();
    assert.ok(!states.includes("waiting-scan"), `no scan after the Full deploy: ${states.join(", ")}`);
    assert.equal((await api.logins()).length, logins, "no new login on the sandbox");
    assert.equal(await phoneLink(), link, "the phone page's link still works");

    // 5. Restart Node-RED (Ctrl+C, npm start again): still online, nothing to scan.
    await stopNodeRed(nodeRed as ChildProcess);
    nodeRed = await startNodeRed(settings, userDir);
    await openEditor();
    states = await statesUntilOnline();
    assert.ok(!states.includes("waiting-scan"), `no scan after the restart: ${states.join(", ")}`);
    assert.equal(await phoneLink(), link, "the same sandbox link after the restart");
    assert.equal((await api.logins()).length, 0, "the restored sandbox saw no login at all: the session resumed");
    // the phone page opened before the restart goes on working after a reload
    await phone.reload();
    await phone.fill("#text", "after the restart");
    await phone.click("#send");
    await phone.waitForSelector('#sent li[data-side="bot"]:has-text("after the restart")', { timeout: 20_000 });

    // 6. Import every example through the editor's import dialog: never "already exist: import copy?".
    const examples = readdirSync(path.join(repoRoot(), "examples")).filter((f) => f.endsWith(".json"));
    assert.ok(examples.length >= 10, examples.join(", "));
    for (const file of examples) {
      const text = readFileSync(path.join(repoRoot(), "examples", file), "utf8");
      const ids = (JSON.parse(text) as { id: string }[]).map((n) => n.id);
      await editor.evaluate(() => RED.actions.invoke("core:show-import-dialog"));
      await editor.fill("#red-ui-clipboard-dialog-import-text", text);
      // the dialog checks what was typed or pasted on keyup, then enables Import
      await editor.press("#red-ui-clipboard-dialog-import-text", "End");
      await editor.click("#red-ui-clipboard-dialog-ok", { timeout: 10_000 });
      await editor.waitForFunction((wanted) => wanted.every((id) => RED.nodes.node(id) !== null), ids, { timeout: 10_000 }).catch(() => undefined);
      const conflict = await editor.$$eval(".red-ui-notification", (els) => els.map((e) => e.textContent ?? "").filter((t) => /already exist/i.test(t)));
      assert.deepEqual(conflict, [], `${file}: import conflict`);
      const missing = await editor.evaluate((wanted) => wanted.filter((id) => RED.nodes.node(id) === null), ids);
      assert.deepEqual(missing, [], `${file}: imported as is`);
    }
    // ...and deployed together with the start flow, its account still online without a scan.
    await editor.evaluate(() => {
      window.wxStates = [];
    });
    await deploy();
    states = await statesUntilOnline();
    assert.ok(!states.includes("waiting-scan"), `no scan after deploying the examples: ${states.join(", ")}`);
    assert.deepEqual(pageErrors, []);
  });
});
