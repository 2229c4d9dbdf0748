/**
 * The editor, end to end: a real Node-RED (the runtime WXFLOW_NODE_RED selects) with an account on a sandbox,
 * opened in Chromium. The account's edit dialog must show a QR that decodes to the login URL, then the user once
 * the sandbox phone scans it, and the contact picker must store names, never UserNames.
 */
import assert from "node:assert/strict";
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import * as path from "node:path";
import jsQR from "jsqr";
import { type Browser, type ElementHandle, type Page, chromium } from "playwright-core";
import { Redis } from "ioredis";
import { startSandbox } from "../../lib/sandbox";
import { AccountLease } from "../../lib/wechat/store";
import { RUNTIME_PACKAGE, repoRoot } from "../support/node-red";
import { type RedisProcess, startRedis } from "../support/redis";

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

interface PngImage {
  width: number;
  height: number;
  data: Buffer;
}
const load = createRequire(__filename);
const { PNG } = load("pngjs") as { PNG: { sync: { read(data: Buffer): PngImage } } };

const ACCOUNT = "e2eaccount000001";
const ACCOUNT2 = "e2eaccount000002";
/** The text field of the target's typedInput (the original #node-input-target, hidden, sits just before it). */
const TARGET_INPUT = "#node-input-target + .red-ui-typedInput-container input.red-ui-typedInput-input";

/**
 * Lets the picker search what the field holds (a key press: Node-RED's autoComplete searches on keyup) and waits
 * for `option`. A search answered while the dialog was still settling may show nothing; one more key press, as a
 * person would type, searches again.
 */
async function searchPicker(page: Page, input: ElementHandle, option: string): Promise<ElementHandle> {
  await input.press("End");
  try {
    return await page.waitForSelector(option, { timeout: 5_000 });
  } catch {
    await input.press("End");
    return await page.waitForSelector(option, { timeout: 10_000 });
  }
}
/**
 * Opens node `id`'s edit dialog once every earlier dialog has left the page. Node-RED takes a closed tray out of
 * the page only after its 250 ms slide; a dialog opened before that finds the old tray's fields first under the
 * same ids (#node-input-allowUrl of an image node) and fills those instead of its own.
 */
async function editNode(page: Page, id: string): Promise<void> {
  await page.waitForSelector(".red-ui-tray", { state: "detached", timeout: 10_000 });
  await page.evaluate((nodeId) => RED.editor.edit(RED.nodes.node(nodeId)), id);
}

const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

declare const RED: {
  nodes: { node(id: string): Record<string, unknown> | null };
  sidebar: { show(id: string): void };
  editor: { editConfig(name: string, type: string, id: string): void; edit(node: unknown): void };
  tray: { close(): Promise<void> | void };
};

function decodeQr(dataUrl: string): string {
  const match = /^data:image\/png;base64,(.+)$/.exec(dataUrl);
  assert.ok(match, "the QR is a PNG data URL");
  const png = PNG.sync.read(Buffer.from(match[1] ?? "", "base64"));
  const code = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
  assert.ok(code, "the QR image decodes");
  return code.data;
}

/** Start Node-RED in a child process; resolve with its origin. */
function startNodeRed(userDir: string, env: Record<string, string> = {}, settings: Record<string, unknown> = {}): Promise<{ child: ChildProcess; origin: string }> {
  const child = fork(path.join(__dirname, "node-red-host.js"), [], {
    env: {
      ...process.env,
      ...env,
      WXFLOW_NODE_RED: RUNTIME_PACKAGE,
      WXFLOW_E2E_SETTINGS: JSON.stringify({ userDir, flowFile: "flows.json", credentialSecret: "wxflow-e2e", ...settings }),
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("Node-RED did not start within 30 s")), 30_000);
    child.once("message", (message) => {
      clearTimeout(timer);
      const port = (message as { port?: number }).port;
      if (typeof port === "number") resolve({ child, origin: `http://127.0.0.1:${port}` });
      else reject(new Error(`unexpected message ${JSON.stringify(message)}`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Node-RED exited with ${code}`));
    });
  });
}

function stopNodeRed(child: ChildProcess): Promise<void> {
  // Already gone (an exit code, or killed by a signal): no "exit" event is coming.
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.send("stop");
  });
}

/** Chromium on the editor at `origin`, once account `id` has its real type; page errors go to `pageErrors`. */
async function openEditor(origin: string, id: string, pageErrors: string[]): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("pageerror", (error) => pageErrors.push(error.message));
  await page.goto(`${origin}/`);
  // an editor opened while the runtime still starts loads the node types and the flow a second time once the
  // runtime says "start" (the account is briefly gone, then an "unknown" placeholder): wait for the real type
  await page.waitForFunction((account) => typeof RED !== "undefined" && RED.nodes && RED.nodes.node(account)?.type === "wx-account", id, { timeout: 30_000 });
  return { browser, page };
}

describe("editor (browser)", function () {
  this.timeout(90_000);
  let sb: Sandbox;
  let userDir: string;
  let nodeRed: { child: ChildProcess; origin: string } | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  before(async function () {
    sb = await startSandbox({ port: 0 });
    userDir = mkdtempSync(path.join(tmpdir(), "wxflow-e2e-"));
    const flows = [
      { id: "e2etab0000000001", type: "tab", label: "e2e" },
      { id: ACCOUNT, type: "wx-account", name: "e2e account", server: "custom", loginUrl: sb.url, sandboxPort: 1881, mode: "desktop", pacing: 60 },
      { id: "e2esend000000001", type: "wx-send-text", z: "e2etab0000000001", name: "", account: ACCOUNT, target: "", x: 300, y: 100, wires: [[]] },
      { id: "e2erecv000000001", type: "wx-receive", z: "e2etab0000000001", name: "", account: ACCOUNT, types: ["text", "image"], chats: ["家人群"], x: 100, y: 200, wires: [[]] },
      { id: "e2eimg0000000001", type: "wx-send-image", z: "e2etab0000000001", name: "", account: ACCOUNT, target: "", x: 300, y: 200, wires: [[]] },
      { id: "e2econtacts00001", type: "wx-contacts", z: "e2etab0000000001", name: "", account: ACCOUNT, action: "members", kind: "all", query: "家人群", x: 500, y: 200, wires: [[]] },
      { id: "e2efile000000001", type: "wx-send-file", z: "e2etab0000000001", name: "", account: ACCOUNT, target: "", as: "file", allowPath: true, allowUrl: true, x: 300, y: 300, wires: [[]] },
      { id: "e2eevent00000001", type: "wx-event", z: "e2etab0000000001", name: "", account: ACCOUNT, events: ["qr", "friend-request"], x: 100, y: 300, wires: [[]] },
      // #16.9: a second account (used by no node: offline) for the accounts sidebar tab
      { id: ACCOUNT2, type: "wx-account", name: "second account", server: "custom", loginUrl: sb.url, sandboxPort: 1881, mode: "desktop", pacing: 60 },
      // saved before the target became a typedInput: a plain name, no targetType
      { id: "e2eoldsend000001", type: "wx-send-text", z: "e2etab0000000001", name: "", account: ACCOUNT, target: "家人群", x: 500, y: 100, wires: [[]] },
      { id: "e2eaction0000001", type: "wx-action", z: "e2etab0000000001", name: "", account: ACCOUNT, action: "create-group", target: "", topic: "Hiking", members: "a, b", remark: "", x: 500, y: 300, wires: [[]] },
    ];
    writeFileSync(path.join(userDir, "flows.json"), JSON.stringify(flows));
    nodeRed = await startNodeRed(userDir);
    ({ browser, page } = await openEditor(nodeRed.origin, ACCOUNT, pageErrors));
  });

  after(async function () {
    await browser?.close();
    if (nodeRed) await stopNodeRed(nodeRed.child);
    await sb?.close();
    if (userDir) rmSync(userDir, { recursive: true, force: true });
  });

  it("puts the wx nodes in the palette under 'wechat'", async function () {
    for (const type of ["wx-receive", "wx-send-text", "wx-send-image", "wx-contacts", "wx-send-file", "wx-event", "wx-action"]) {
      await page.waitForSelector(`.red-ui-palette-node[data-palette-type="${type}"]`, { state: "attached", timeout: 30_000 });
    }
    const categories = await page.$$eval(".red-ui-palette-category", (els) => els.map((e) => e.id));
    assert.ok(categories.some((id) => /wechat/.test(id)), categories.join(","));
    // Labels come from the message catalogs (locales/en-US), not raw keys.
    const label = await page.textContent('.red-ui-palette-node[data-palette-type="wx-send-text"] .red-ui-palette-label');
    assert.equal(label?.replace(/\s+/g, " ").trim(), "wx send text");
  });

  it("shows the live QR in the account dialog, decoding to the login URL", async function () {
    await page.evaluate((id) => RED.editor.editConfig("", "wx-account", id), ACCOUNT);
    const img = await page.waitForSelector("img.wx-account-qr", { timeout: 20_000 });
    const src = await img.getAttribute("src");
    const text = decodeQr(src ?? "");
    const state = (await (await fetch(`${nodeRed?.origin}/wx-account/${ACCOUNT}/state`)).json()) as { qrUrl: string };
    assert.equal(text, state.qrUrl);
    const pending = sb.control.logins()[0];
    assert.ok(pending);
    assert.equal(text, `https://login.weixin.qq.com/l/${pending.uuid}`);
  });

  it("refreshes the QR by itself when it expires", async function () {
    const old = await page.getAttribute("img.wx-account-qr", "src");
    const expired = sb.control.logins()[0];
    assert.ok(expired && old);
    sb.control.expireQr({ uuid: expired.uuid });
    await page.waitForFunction(
      `(function () { var img = document.querySelector("img.wx-account-qr"); return !!img && img.getAttribute("src") !== ${JSON.stringify(old)}; })()`,
      undefined,
      { timeout: 20_000 },
    );
    const text = decodeQr((await page.getAttribute("img.wx-account-qr", "src")) ?? "");
    const fresh = sb.control.logins()[0];
    assert.ok(fresh && fresh.uuid !== expired.uuid);
    assert.equal(text, `https://login.weixin.qq.com/l/${fresh.uuid}`);
  });

  it("shows a failed action's message as text in the notification, never as HTML (#14.8)", async function () {
    const hostile = '<img src="data:," onload="window.__wxInjected=1"><b class="wx-injected">bold</b>';
    const route = `**/wx-account/${ACCOUNT}/qr`;
    await page.route(route, (r) => r.fulfill({ status: 500, contentType: "application/json", body: JSON.stringify({ error: { code: "SERVER", message: hostile } }) }));
    try {
      await page.click("#wx-account-qr");
      const note = await page.waitForSelector(".red-ui-notification-error", { timeout: 5_000 });
      assert.ok((await note.textContent())?.includes(hostile), "the message is shown as the text it is");
      assert.equal(await page.$(".red-ui-notification .wx-injected"), null, "no markup from the answer is rendered");
      assert.equal(await page.evaluate("typeof window.__wxInjected"), "undefined", "no handler from the answer ran");
    } finally {
      await page.unroute(route);
    }
  });

  it("shows the logged-in user once the phone scans", async function () {
    const pending = sb.control.logins()[0];
    assert.ok(pending);
    sb.control.scan({ uuid: pending.uuid });
    const nick = await page.waitForSelector(".wx-account-nickname", { timeout: 20_000 });
    assert.equal(await nick.textContent(), "Sandbox Me");
    // #16.9: with the account's own avatar, fetched through the guarded avatar route
    await page.waitForSelector('img.wx-account-user-avatar[src^="data:image/"]', { timeout: 10_000 });
    await page.waitForSelector("#wx-account-logout", { timeout: 5_000 });
    assert.equal(await page.$("img.wx-account-qr"), null);
    // The node status in the workspace, translated by the runtime; without the nickname (every editor user sees
    // node status, read-only ones too: the name is in the dialog only).
    await page.waitForFunction(
      `(function () { var el = document.querySelector("#e2esend000000001 .red-ui-flow-node-status-label"); return !!el && el.textContent === "online"; })()`,
      undefined,
      { timeout: 10_000 },
    );
  });

  it("logs out from the dialog and shows a fresh QR", async function () {
    const before = sb.control.logins().length;
    await page.click("#wx-account-logout");
    const img = await page.waitForSelector("img.wx-account-qr", { timeout: 20_000 });
    const text = decodeQr((await img.getAttribute("src")) ?? "");
    const pending = sb.control.logins()[0];
    assert.ok(pending && sb.control.logins().length > before);
    assert.equal(text, `https://login.weixin.qq.com/l/${pending.uuid}`);
    // log in again for the picker test
    sb.control.scan({ uuid: pending.uuid });
    await page.waitForSelector(".wx-account-nickname", { timeout: 20_000 });
    await page.click("#node-config-dialog-cancel");
  });

  it("picks a target from the live contacts and stores its name, not its UserName", async function () {
    await editNode(page, "e2esend000000001");
    // the target is a typedInput (#16.9): its own text field, type "a..z" (a name) with the contact picker
    const input = await page.waitForSelector(TARGET_INPUT, { timeout: 10_000 });
    await input.click();
    // Names from the server are shown as text: a contact called "X <dev>" stays text, never markup.
    await input.fill("<");
    await input.press("End");
    const escaped = await page.waitForSelector(".red-ui-autoComplete-container a", { timeout: 10_000 });
    assert.match((await escaped.textContent()) ?? "", /</);
    const container = ".red-ui-autoComplete-container";
    assert.equal(await page.$(`${container} dev, ${container} ops, ${container} qa, ${container} alpha`), null);
    await input.press("Escape");
    // CJK text arrives as an input event without key events: a key press afterwards lets the picker search.
    await input.fill("家人");
    await input.press("End");
    const option = await page.waitForSelector(".red-ui-autoComplete-container a, .red-ui-autoComplete-container li", { timeout: 10_000 });
    await option.click();
    assert.equal(await input.inputValue(), "家人群");
    await page.click("#node-dialog-ok");
    const target = await page.evaluate(() => RED.nodes.node("e2esend000000001")?.target);
    assert.equal(target, "家人群");
    assert.equal(await page.evaluate(() => RED.nodes.node("e2esend000000001")?.targetType), "str");
  });

  it("#16.9: the picker finds a contact by remark or alias, shows groups and friends, and inserts the stable name", async function () {
    const found = (await (await fetch(`${nodeRed?.origin}/wx-account/${ACCOUNT}/contacts?q=alias_`)).json()) as { contacts: { handle: string; alias: string; type: string }[] };
    const friend = found.contacts.find((c) => c.type === "friend" && c.alias.startsWith("alias_") && c.handle !== c.alias);
    assert.ok(friend, JSON.stringify(found));
    await editNode(page, "e2esend000000001");
    const input = await page.waitForSelector(TARGET_INPUT, { timeout: 10_000 });
    await input.fill(friend.alias);
    const option = await searchPicker(page, input, ".red-ui-autoComplete-container a:has(.fa-user)");
    assert.match((await option.textContent()) ?? "", new RegExp(friend.alias));
    await option.click();
    assert.equal(await input.inputValue(), friend.handle, "the stable name, not the alias typed");
    await input.fill("家人");
    await searchPicker(page, input, ".red-ui-autoComplete-container a:has(.fa-users)");
    await input.press("Escape");
    await page.click("#node-dialog-cancel");
  });

  it("#16.9: an old flow's plain target opens as a name, and the target can become a msg property", async function () {
    await editNode(page, "e2eoldsend000001");
    const input = await page.waitForSelector(TARGET_INPUT, { timeout: 10_000 });
    assert.equal(await input.inputValue(), "家人群");
    assert.equal(await page.inputValue("#node-input-targetType"), "str");
    await page.click("#node-input-target + .red-ui-typedInput-container button.red-ui-typedInput-type-select");
    const types = await page.$$eval(".red-ui-typedInput-options:visible a", (els) => els.map((e) => e.getAttribute("value")));
    assert.deepEqual(types, ["str", "msg", "flow", "global", "env"]);
    await page.click('.red-ui-typedInput-options:visible a[value="msg"]');
    await input.fill("route.dest");
    await page.click("#node-dialog-ok");
    const saved = await page.evaluate(() => {
      const n = RED.nodes.node("e2eoldsend000001");
      return [n?.target, n?.targetType];
    });
    assert.deepEqual(saved, ["route.dest", "msg"]);
    await page.waitForFunction(
      `(function () { var el = document.querySelector("#e2eoldsend000001 .red-ui-flow-node-label"); return !!el && /msg\\.route\\.dest/.test(el.textContent); })()`,
      undefined,
      { timeout: 5_000 },
    );
  });

  it("opens every node's dialog with its settings in place", async function () {
    const open = (id: string): Promise<void> => editNode(page, id);
    await open("e2erecv000000001");
    await page.waitForSelector("#node-input-type-text", { timeout: 10_000 });
    assert.equal(await page.isChecked("#node-input-type-text"), true);
    assert.equal(await page.isChecked("#node-input-type-image"), true);
    assert.equal(await page.isChecked("#node-input-type-voice"), false);
    assert.equal(await page.inputValue("#node-input-chats-list .node-input-chat"), "家人群");
    // uncheck image and save: the stored list follows the checkboxes
    await page.uncheck("#node-input-type-image");
    await page.click("#node-dialog-ok");
    assert.deepEqual(await page.evaluate(() => RED.nodes.node("e2erecv000000001")?.types), ["text"]);
    await open("e2eimg0000000001");
    await page.waitForSelector("#node-input-allowUrl", { timeout: 10_000 });
    await page.click("#node-dialog-cancel");
    await open("e2econtacts00001");
    await page.waitForSelector("#node-input-action", { timeout: 10_000 });
    assert.equal(await page.inputValue("#node-input-action"), "members");
    assert.equal(await page.isVisible("#node-input-kind"), false);
    assert.equal(await page.inputValue("#node-input-query"), "家人群");
    await page.click("#node-dialog-cancel");
    await open("e2efile000000001");
    await page.waitForSelector("#node-input-as", { timeout: 10_000 });
    assert.equal(await page.inputValue("#node-input-as"), "file");
    // Saved with the old allowPath checkbox: the folder field is empty (reading files is off) and the private
    // hosts field shows with the URL option.
    assert.equal(await page.inputValue("#node-input-readFolders"), "");
    assert.equal(await page.isVisible("#node-input-allowHosts"), true);
    await page.uncheck("#node-input-allowUrl");
    assert.equal(await page.isVisible("#node-input-allowHosts"), false);
    await page.click("#node-dialog-cancel");
    await open("e2eevent00000001");
    await page.waitForSelector("#node-input-event-qr", { timeout: 10_000 });
    assert.equal(await page.isChecked("#node-input-event-qr"), true);
    assert.equal(await page.isChecked("#node-input-event-recall"), false);
    await page.check("#node-input-event-recall");
    await page.click("#node-dialog-ok");
    assert.deepEqual(await page.evaluate(() => RED.nodes.node("e2eevent00000001")?.events), ["qr", "friend-request", "recall"]);
    await open("e2eaction0000001");
    await page.waitForSelector("#node-input-action", { timeout: 10_000 });
    assert.equal(await page.inputValue("#node-input-action"), "create-group");
    assert.equal(await page.inputValue("#node-input-members"), "a, b");
    assert.equal(await page.isVisible("#node-input-topic"), true);
    assert.equal(await page.isVisible("#node-input-remark"), false);
    await page.selectOption("#node-input-action", "set-remark");
    assert.equal(await page.isVisible("#node-input-remark"), true);
    assert.equal(await page.isVisible("#node-input-members"), false);
    await page.click("#node-dialog-cancel");
  });

  it("#16.9: the WeChat sidebar tab lists every account's state, the logged-in user, and logs out", async function () {
    await page.evaluate(() => RED.sidebar.show("wxflow-accounts"));
    const row = (id: string) => `.wx-accounts-row[data-id="${id}"]`;
    const nick = await page.waitForSelector(`${row(ACCOUNT)} .wx-accounts-nickname`, { timeout: 10_000 });
    assert.equal(await nick.textContent(), "Sandbox Me");
    await page.waitForSelector(`${row(ACCOUNT)} img.wx-accounts-avatar[src^="data:image/"]`, { timeout: 10_000 });
    assert.equal(await page.getAttribute(`${row(ACCOUNT)} .wx-accounts-state`, "data-state"), "online");
    assert.equal((await page.textContent(`${row(ACCOUNT)} .wx-accounts-status`))?.trim(), "online");
    // the second account: no node uses it, so it is offline, with no user and no Log out
    assert.equal((await page.textContent(`${row(ACCOUNT2)} .wx-accounts-name`))?.trim(), "second account");
    assert.equal(await page.getAttribute(`${row(ACCOUNT2)} .wx-accounts-state`, "data-state"), "offline");
    assert.equal(await page.$(`${row(ACCOUNT2)} .wx-accounts-logout`), null);
    // Log out from the tab; the row follows the state live (comms), and so does a new login
    const before = sb.control.logins().length;
    await page.click(`${row(ACCOUNT)} .wx-accounts-logout`);
    await page.waitForSelector(`${row(ACCOUNT)} .wx-accounts-state[data-state="waiting-scan"]`, { timeout: 20_000 });
    assert.equal(await page.$(`${row(ACCOUNT)} .wx-accounts-nickname`), null);
    const pending = await sb.control.waitForLogin({ timeoutMs: 10_000 });
    assert.ok(sb.control.logins().length >= before);
    sb.control.scan({ uuid: pending.uuid });
    await page.waitForSelector(`${row(ACCOUNT)} .wx-accounts-nickname`, { timeout: 20_000 });
  });

  it("#16.9: a read-only user sees the accounts' state in the tab, but no user and no Log out", async function () {
    const viewer = await browser?.newPage({ viewport: { width: 1400, height: 900 } });
    assert.ok(viewer);
    try {
      viewer.on("pageerror", (error) => pageErrors.push(error.message));
      // what the runtime answers a user without wx-account.write: every wx-account route refused; the state still
      // comes over comms (it carries the node status, never the user)
      await viewer.route("**/wx-account/*/*", (r) => r.fulfill({ status: 403, contentType: "application/json", body: "{}" }));
      await viewer.goto(`${nodeRed?.origin}/`);
      await viewer.waitForFunction((id) => typeof RED !== "undefined" && RED.nodes && RED.nodes.node(id)?.type === "wx-account", ACCOUNT, { timeout: 30_000 });
      await viewer.evaluate(() => {
        const red = RED as unknown as { user?: { hasPermission?(p: string): boolean } };
        red.user = red.user ?? {};
        red.user.hasPermission = (p: string) => !/write/.test(p);
      });
      // the tab's rows follow comms whether the tab is in front or not
      await viewer.waitForSelector(`.wx-accounts-row[data-id="${ACCOUNT}"] .wx-accounts-state[data-state="online"]`, { state: "attached", timeout: 20_000 });
      assert.equal((await viewer.textContent(`.wx-accounts-row[data-id="${ACCOUNT}"] .wx-accounts-status`))?.trim(), "online");
      assert.equal(await viewer.$(".wx-accounts-nickname, .wx-accounts-logout, .wx-accounts-avatar"), null);
    } finally {
      await viewer.close();
    }
  });

  it("speaks Chinese to a zh-CN browser", async function () {
    const zh = await browser?.newPage({ locale: "zh-CN" });
    assert.ok(zh);
    try {
      zh.on("pageerror", (error) => pageErrors.push(error.message));
      await zh.goto(`${nodeRed?.origin}/`);
      const selector = '.red-ui-palette-node[data-palette-type="wx-send-text"] .red-ui-palette-label';
      await zh.waitForSelector(selector, { state: "attached", timeout: 30_000 });
      assert.equal((await zh.textContent(selector))?.trim(), "发送微信文本");
      const action = '.red-ui-palette-node[data-palette-type="wx-action"] .red-ui-palette-label';
      assert.equal((await zh.textContent(action))?.trim(), "微信操作");
    } finally {
      await zh.close();
    }
  });

  it("ran without errors in the page", function () {
    assert.deepEqual(pageErrors, []);
  });
});

/** Fetch JSON from `url` until `accept` returns a value; bounded by timeoutMs. */
async function pollJson<T>(url: string, accept: (body: unknown) => T | undefined, timeoutMs = 15_000, headers: Record<string, string> = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; Date.now() < deadline && attempt < 1000; attempt++) {
    const res = await fetch(url, { headers }).catch(() => undefined);
    if (res?.ok) {
      const value = accept(await res.json());
      if (value !== undefined) return value;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting on ${url}`);
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return res.json();
}

describe("echo-bot example (what npm start deploys)", function () {
  this.timeout(60_000);
  let userDir: string;
  let nodeRed: { child: ChildProcess; origin: string } | undefined;

  before(async function () {
    userDir = mkdtempSync(path.join(tmpdir(), "wxflow-echo-"));
    // the flow npm start writes on its first start (scripts/start-flow.js), with the sandbox on any free port here
    const { startFlow } = createRequire(__filename)(path.join(repoRoot(), "scripts", "start-flow.js")) as { startFlow: (dir: string, port: number) => unknown[] };
    const flow = startFlow(path.join(repoRoot(), "examples"), 0);
    writeFileSync(path.join(userDir, "flows.json"), JSON.stringify(flow));
    nodeRed = await startNodeRed(userDir);
  });

  after(async function () {
    if (nodeRed) await stopNodeRed(nodeRed.child);
    if (userDir) rmSync(userDir, { recursive: true, force: true });
  });

  it("logs in on the built-in sandbox and echoes a text back to its sender", async function () {
    const flow = JSON.parse(readFileSync(path.join(userDir, "flows.json"), "utf8")) as { id: string; type: string }[];
    const account = flow.find((n) => n.type === "wx-account");
    assert.ok(account);
    const stateUrl = `${nodeRed?.origin}/wx-account/${account.id}/state`;
    const phoneUrl = await pollJson(stateUrl, (b) => (b as { phoneUrl?: string }).phoneUrl);
    const sandbox = new URL(phoneUrl).origin;
    // the editor's phone link carries the sandbox's control token in its fragment
    const auth = { "x-sandbox-token": new URLSearchParams(new URL(phoneUrl).hash.slice(1)).get("token") ?? "" };
    await pollJson(`${sandbox}/api/sandbox/logins?wait=10000`, (b) => ((b as { logins: unknown[] }).logins.length > 0 ? true : undefined), 15_000, auth);
    await postJson(`${sandbox}/api/sandbox/scan`, {}, auth);
    await pollJson(stateUrl, (b) => ((b as { state: string }).state === "online" ? true : undefined));
    const contacts = (await (await fetch(`${sandbox}/api/sandbox/world/contacts?kind=friend`, { headers: auth })).json()) as { contacts: { nickName: string; remarkName: string }[] };
    const friend = contacts.contacts.find((c) => !/[<&]/.test(c.remarkName || c.nickName));
    assert.ok(friend);
    const name = friend.remarkName || friend.nickName;
    await postJson(`${sandbox}/api/sandbox/messages`, { from: name, text: "ping from the phone" }, auth);
    const sent = await pollJson(
      `${sandbox}/api/sandbox/sent?type=text&wait=10000`,
      (b) => {
        const list = (b as { sent: { text?: string; toName: string }[] }).sent;
        return list.length > 0 ? list : undefined;
      },
      15_000,
      auth,
    );
    assert.deepEqual(
      sent.map((r) => [r.text, r.toName]),
      [["ping from the phone", name]],
    );
  });
});

describe("sandbox account dialog (#16.5)", function () {
  this.timeout(90_000);
  let userDir: string;
  let nodeRed: { child: ChildProcess; origin: string } | undefined;
  let browser: Browser | undefined;

  before(async function () {
    userDir = mkdtempSync(path.join(tmpdir(), "wxflow-sbx-"));
    const { startFlow } = createRequire(__filename)(path.join(repoRoot(), "scripts", "start-flow.js")) as { startFlow: (dir: string, port: number) => unknown[] };
    writeFileSync(path.join(userDir, "flows.json"), JSON.stringify(startFlow(path.join(repoRoot(), "examples"), 0)));
    nodeRed = await startNodeRed(userDir);
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  });

  after(async function () {
    await browser?.close();
    if (nodeRed) await stopNodeRed(nodeRed.child);
    if (userDir) rmSync(userDir, { recursive: true, force: true });
  });

  it("says to press Scan on the sandbox phone page, shows no QR, and its Scan button logs in", async function () {
    const flow = JSON.parse(readFileSync(path.join(userDir, "flows.json"), "utf8")) as { id: string; type: string }[];
    const account = flow.find((n) => n.type === "wx-account");
    assert.ok(account && browser);
    // the sandbox runs and its account waits for a scan before the dialog opens (a loaded machine starts slowly)
    await pollJson(`${nodeRed?.origin}/wx-account/${account.id}/state`, (b) => ((b as { state?: string; phoneUrl?: string }).state === "waiting-scan" && (b as { phoneUrl?: string }).phoneUrl ? true : undefined), 30_000);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${nodeRed?.origin}/`);
    await page.waitForFunction((id) => typeof RED !== "undefined" && RED.nodes && RED.nodes.node(id)?.type === "wx-account", account.id, { timeout: 30_000 });
    await page.waitForSelector('.red-ui-palette-node[data-palette-type="wx-send-text"]', { state: "attached", timeout: 10_000 });
    await page.evaluate((id) => RED.editor.editConfig("", "wx-account", id), account.id);
    // a locator, not a handle: the session panel is drawn again at each state the account publishes
    const scan = page.locator("#wx-account-sandbox-scan");
    await scan.waitFor({ timeout: 20_000 });
    assert.equal((await scan.textContent())?.trim(), "Scan");
    const said = (await page.textContent("#wx-account-session")) ?? "";
    assert.match(said, /Press Scan on the sandbox phone page/);
    assert.doesNotMatch(said, /WeChat on your phone/);
    assert.equal(await page.$("img.wx-account-qr"), null, "no QR for the sandbox");
    await scan.click();
    const nick = await page.waitForSelector(".wx-account-nickname", { timeout: 20_000 });
    assert.equal(await nick.textContent(), "Sandbox Me");
    // #16.8: no wx palette label wraps (a wrapped one makes its palette node taller than a one-line core node)
    const heights = (await page.evaluate(
      'Array.from(document.querySelectorAll(".red-ui-palette-node[data-palette-type]")).filter(function (n) { var t = n.getAttribute("data-palette-type"); return /^wx-/.test(t) || t === "inject"; }).map(function (n) { return [n.getAttribute("data-palette-type"), n.getBoundingClientRect().height]; })',
    )) as [string, number][];
    const oneLine = heights.find(([type]) => type === "inject")?.[1];
    assert.ok(oneLine && heights.length >= 8, JSON.stringify(heights));
    for (const [type, height] of heights) assert.equal(height, oneLine, `${type} palette label wraps`);
    // #16.8: wx-receive's "Types" label heads its grid, level with "all | none" above the checkboxes
    await page.evaluate(() => RED.tray.close());
    const receive = flow.find((n) => n.type === "wx-receive");
    assert.ok(receive);
    await editNode(page, receive.id);
    await page.waitForSelector("#node-input-types-list input", { timeout: 10_000 });
    const box = async (selector: string): Promise<{ y: number; height: number }> => {
      const b = await (await page.waitForSelector(selector)).boundingBox();
      assert.ok(b, selector);
      return b;
    };
    const label = await box(".wx-receive-types-label");
    const all = await box("#wx-receive-types-all");
    const grid = await box("#node-input-types-list");
    assert.ok(Math.abs(label.y - all.y) < 8, `label at ${label.y}, all | none at ${all.y}`);
    assert.ok(all.y + all.height <= grid.y + 1, "all | none above the grid");
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe("a real-WeChat account without a network (#16.2)", function () {
  this.timeout(150_000);
  const account = "e2eofflineacc001";
  const sender = "e2eofflinesend01";
  let userDir: string;
  let nodeRed: { child: ChildProcess; origin: string } | undefined;
  let browser: Browser | undefined;
  const dnsAttempts: string[] = [];

  before(async function () {
    userDir = mkdtempSync(path.join(tmpdir(), "wxflow-offline-"));
    const flows = [
      { id: "e2eofflinetab001", type: "tab", label: "offline" },
      { id: account, type: "wx-account", name: "real account", server: "wechat", sandboxPort: 1881, mode: "desktop", pacing: 60 },
      { id: sender, type: "wx-send-text", z: "e2eofflinetab001", name: "", account, target: "", x: 300, y: 100, wires: [[]] },
    ];
    writeFileSync(path.join(userDir, "flows.json"), JSON.stringify(flows));
    // The login URL stays https://login.wx.qq.com; the host sends every connection to a name that does not resolve.
    // A first retry 5-15 s away, so the dialog has a countdown to show.
    nodeRed = await startNodeRed(userDir, { WXFLOW_E2E_OFFLINE: "dns" }, { wxAccountClientTuning: { loginBackoffMs: 10_000, retryDelayMs: 10 } });
    nodeRed.child.on("message", (message) => {
      const name = (message as { dnsAttempt?: unknown }).dnsAttempt;
      if (typeof name === "string") dnsAttempts.push(name);
    });
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  });

  after(async function () {
    await browser?.close();
    if (nodeRed) await stopNodeRed(nodeRed.child);
    if (userDir) rmSync(userDir, { recursive: true, force: true });
    assert.deepEqual(dnsAttempts, [], "nothing resolved a name outside the test's resolver");
  });

  async function openDialog(locale: string): Promise<{ page: Page; errors: string[] }> {
    assert.ok(browser);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, locale });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${nodeRed?.origin}/`);
    // generous waits: the editor loads slowly on a busy machine
    await page.waitForFunction((id) => typeof RED !== "undefined" && RED.nodes && RED.nodes.node(id)?.type === "wx-account", account, { timeout: 60_000 });
    await page.waitForSelector('.red-ui-palette-node[data-palette-type="wx-send-text"]', { state: "attached", timeout: 30_000 });
    await page.evaluate((id) => RED.editor.editConfig("", "wx-account", id), account);
    await page.waitForSelector("#wx-account-session .wx-account-state", { timeout: 30_000 });
    return { page, errors };
  }

  it("names the reason and the next retry in the node status and the dialog, which counts down", async function () {
    const { page, errors } = await openDialog("en-US");
    // the workspace status of the wx node: short, translated, with the retry time
    const statusSelector = `#${sender} .red-ui-flow-node-status-label`;
    await page.waitForFunction(
      `(function () { var el = document.querySelector(${JSON.stringify(statusSelector)}); return !!el && /^offline: DNS failure, retry \\d\\d:\\d\\d:\\d\\d$/.test(el.textContent); })()`,
      undefined,
      { timeout: 30_000 },
    );
    // the dialog: the reason, the client's message, and the countdown to the same retry time
    const reason = await waitForText(page, ".wx-account-problem-reason", "Cannot log in: DNS failure");
    assert.ok(reason);
    assert.match((await page.textContent(".wx-account-problem-detail")) ?? "", /^jslogin: network error \(ENOTFOUND\)$/);
    // a retry at least 3 s away (one that is about to start is followed by a later one)
    await page.waitForFunction(
      `(function () { var el = document.querySelector(".wx-account-retry"); var m = /in (\\d+) s/.exec(el ? el.textContent : ""); return !!m && Number(m[1]) >= 3; })()`,
      undefined,
      { timeout: 60_000 },
    );
    const first = await retryShown(page);
    assert.equal(first.time, clockOf(first.retryAt));
    // the retry is more than a second away, so the status shows the same attempt's retry time; the status comes by
    // another channel than the dialog's state (it lagged behind it once under CI load on Node-RED 5): waited for
    const expected = `offline: DNS failure, retry ${first.time}`;
    await page
      .waitForFunction(
        `(function () { var el = document.querySelector(${JSON.stringify(statusSelector)}); return !!el && el.textContent === ${JSON.stringify(expected)}; })()`,
        undefined,
        { timeout: 5_000 },
      )
      .catch(() => undefined);
    assert.equal(await page.textContent(statusSelector), expected);
    // it counts down by itself, for the same retry
    await page.waitForFunction(
      `(function () { var el = document.querySelector(".wx-account-retry"); var m = /in (\\d+) s/.exec(el ? el.textContent : ""); return !!m && Number(m[1]) < ${first.seconds} && el.getAttribute("data-retry-at") === ${JSON.stringify(String(first.retryAt))}; })()`,
      undefined,
      { timeout: 10_000 },
    );
    // the state route says the same (epoch ms)
    const state = (await (await fetch(`${nodeRed?.origin}/wx-account/${account}/state`)).json()) as { state: string; problem?: { kind: string; retryAt?: number } };
    assert.equal(state.state, "offline");
    assert.equal(state.problem?.kind, "dns");
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("says it in Chinese to a zh-CN browser", async function () {
    const { page, errors } = await openDialog("zh-CN");
    assert.ok(await waitForText(page, ".wx-account-problem-reason", "无法登录：域名解析失败"));
    await page.waitForFunction(
      `(function () { var el = document.querySelector(".wx-account-retry"); return !!el && /秒后重试|正在重试/.test(el.textContent); })()`,
      undefined,
      { timeout: 20_000 },
    );
    assert.deepEqual(errors, []);
    await page.close();
  });
});

/** Waits until `selector` shows `text`; on a timeout the error says what the session panel showed instead. */
async function waitForText(page: Page, selector: string, text: string): Promise<boolean> {
  try {
    await page.waitForFunction(
      `(function () { var el = document.querySelector(${JSON.stringify(selector)}); return !!el && el.textContent === ${JSON.stringify(text)}; })()`,
      undefined,
      { timeout: 30_000 },
    );
    return true;
  } catch (error) {
    const shown = await page.textContent("#wx-account-session").catch(() => "(no panel)");
    throw new Error(`${selector} never showed "${text}"; the session panel showed: ${shown}`, { cause: error });
  }
}

/** What the dialog's countdown shows: seconds left, the retry time it names, and its retry time (epoch ms). */
async function retryShown(page: Page): Promise<{ seconds: number; time: string; retryAt: number }> {
  const shown = await page.$eval(".wx-account-retry", (el) => ({ text: el.textContent ?? "", at: el.getAttribute("data-retry-at") ?? "" }));
  const match = /^Next try in (\d+) s \(at (\d\d:\d\d:\d\d)\)\.$/.exec(shown.text);
  assert.ok(match, shown.text);
  return { seconds: Number(match[1]), time: match[2] ?? "", retryAt: Number(shown.at) };
}

function clockOf(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

describe("editor, an account on Redis (browser, #17)", function () {
  this.timeout(90_000);
  const REDIS_ACCOUNT = "e2eredisaccount1";
  const PASSWORD = "e2e-redis-pass-4d1f";
  const row = `.wx-accounts-row[data-id="${REDIS_ACCOUNT}"]`;
  const pageErrors: string[] = [];
  let redis: RedisProcess;
  let admin: Redis;
  let rival: AccountLease;
  let sb: Sandbox;
  let page: Page;
  let browser: Browser | undefined;
  let nodeRed: { child: ChildProcess; origin: string } | undefined;
  let userDir: string;

  before(async function () {
    sb = await startSandbox({ port: 0 });
    redis = await startRedis();
    admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
    // Another instance runs the account: this editor's instance stands by. Its lease lasts the default 15 s: with
    // 1.5 s, this process missing its renewals for a second while Chromium and Node-RED start on a loaded machine
    // let this editor's instance take the account (a CI run on Node-RED 5). Its stop() gives the lease back at once.
    rival = new AccountLease({ redis: admin, key: `wxflow:${REDIS_ACCOUNT}:lease`, owner: "e2e-b" });
    const taken = new Promise((resolve) => rival.once("acquired", resolve));
    rival.start();
    await taken;
    userDir = mkdtempSync(path.join(tmpdir(), "wxflow-e2e-redis-"));
    const flows = [
      { id: "e2eredistab00001", type: "tab", label: "e2e redis" },
      { id: REDIS_ACCOUNT, type: "wx-account", name: "shared account", server: "custom", loginUrl: sb.url, mode: "desktop", pacing: 60, store: "redis", redisUrl: redis.url, redisPrefix: "wxflow" },
      { id: "e2eredissend0001", type: "wx-send-text", z: "e2eredistab00001", name: "", account: REDIS_ACCOUNT, target: "", x: 300, y: 100, wires: [[]] },
    ];
    writeFileSync(path.join(userDir, "flows.json"), JSON.stringify(flows));
    nodeRed = await startNodeRed(userDir, {}, { wxflow: { instanceName: "e2e-a", leaseTtlMs: 1_500 } });
    ({ browser, page } = await openEditor(nodeRed.origin, REDIS_ACCOUNT, pageErrors));
  });

  after(async function () {
    await browser?.close();
    if (nodeRed) await stopNodeRed(nodeRed.child);
    await rival?.stop();
    admin?.disconnect();
    await redis?.stop();
    await sb?.close();
    if (userDir) rmSync(userDir, { recursive: true, force: true });
  });

  it("the sidebar tab and the dialog name the instance that runs the account; the Redis rows show for Redis only", async function () {
    await page.evaluate(() => RED.sidebar.show("wxflow-accounts"));
    await page.waitForSelector(`${row} .wx-accounts-owner[data-role="standby"]`, { timeout: 20_000 }).catch(async (error: Error) => {
      // what the runtime says of the account, for a failure that did not show the standby
      const state = await (await fetch(`${nodeRed?.origin}/wx-account/${REDIS_ACCOUNT}/state`)).text().catch(() => "");
      throw new Error(`${error.message}\naccount state: ${state.slice(0, 400)}`);
    });
    assert.equal((await page.textContent(`${row} .wx-accounts-owner`))?.trim(), "instance: e2e-b");
    assert.equal((await page.textContent(`${row} .wx-accounts-status`))?.trim(), "standby: e2e-b");
    await page.evaluate((id) => RED.editor.editConfig("", "wx-account", id), REDIS_ACCOUNT);
    const owner = await page.waitForSelector('.wx-account-owner[data-role="standby"]', { timeout: 20_000 });
    assert.match((await owner.textContent()) ?? "", /instance e2e-b runs this account; this instance \(e2e-a\)/);
    assert.equal(await page.inputValue("#node-config-input-store"), "redis");
    assert.equal(await page.isVisible("#node-config-input-redisUrl"), true);
    assert.equal(await page.isVisible("#node-config-input-redisPassword"), true);
    await page.selectOption("#node-config-input-store", "file");
    assert.equal(await page.isVisible("#node-config-input-redisUrl"), false);
    await page.selectOption("#node-config-input-store", "redis");
    assert.equal(await page.isVisible("#node-config-input-redisUrl"), true);
  });

  it("keeps the password typed in the dialog as a credential: not in the flow file or the flows API", async function () {
    await admin.config("SET", "requirepass", PASSWORD);
    await page.fill("#node-config-input-redisPassword", PASSWORD);
    const v2 = { "Node-RED-API-Version": "v2" };
    const revision = await pollJson(`${nodeRed?.origin}/flows`, (body) => (body as { rev?: string }).rev, 15_000, v2);
    await page.click("#node-config-dialog-ok");
    await page.click("#red-ui-header-button-deploy");
    // deployed once the runtime has a new revision (flows.json and flows_cred.json are written by then)
    await pollJson(`${nodeRed?.origin}/flows`, (body) => ((body as { rev?: string }).rev !== revision ? true : undefined), 20_000, v2);
    // the redeployed account reconnects with the password: standby again, behind the same owner
    await pollJson(`${nodeRed?.origin}/wx-account/${REDIS_ACCOUNT}/state`, (body) => {
      const view = body as { ownership?: { role?: string; owner?: string } };
      return view.ownership?.role === "standby" && view.ownership.owner === "e2e-b" ? true : undefined;
    }, 20_000);
    const flowFile = readFileSync(path.join(userDir, "flows.json"), "utf8");
    assert.ok(!flowFile.includes(PASSWORD), "not in flows.json");
    const saved = (JSON.parse(flowFile) as Record<string, unknown>[]).find((n) => n.id === REDIS_ACCOUNT);
    assert.equal(saved?.store, "redis");
    assert.ok(!readFileSync(path.join(userDir, "flows_cred.json"), "utf8").includes(PASSWORD), "encrypted in flows_cred.json");
    const api = await (await fetch(`${nodeRed?.origin}/flows`)).text();
    assert.ok(!api.includes(PASSWORD), "not in the flows API");
  });

  it("shows this instance as the owner once the other one lets go", async function () {
    await rival.stop();
    await page.evaluate((id) => RED.editor.editConfig("", "wx-account", id), REDIS_ACCOUNT);
    await page.waitForSelector('.wx-account-owner[data-role="owner"]', { timeout: 20_000 });
    assert.match((await page.textContent(".wx-account-owner")) ?? "", /this instance \(e2e-a\)/);
    await page.waitForSelector(`${row} .wx-accounts-owner[data-role="owner"]`, { state: "attached", timeout: 20_000 });
    assert.equal((await page.textContent(`${row} .wx-accounts-owner`))?.trim(), "instance: e2e-a (this one)");
  });

  it("ran without errors in the page", function () {
    assert.deepEqual(pageErrors, []);
  });
});
