/**
 * `npm run screenshots`: renews README's pictures in docs/images/ from what a newcomer sees after `npm start`
 * (Chromium, 1280×800): the echo flow with the WeChat sidebar tab, the account dialog of a sandbox account before
 * and after its scan, a real-style login QR (an account on a custom login URL, served by a sandbox in this
 * process), and the sandbox phone page after an echo. Loopback only; every process it starts is stopped.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type Browser, type Page, chromium } from "playwright-core";
import { startSandbox } from "../../lib/sandbox";
import { freePort } from "../reliability/red-process";
import { repoRoot } from "../support/node-red";
import { npmStartUserDir, startNodeRed, stopNodeRed } from "./npm-start";

const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const VIEWPORT = { width: 1280, height: 800 };

declare const RED: {
  nodes: { node(id: string): Record<string, unknown> | null; getType(type: string): unknown };
  editor: { editConfig(name: string, type: string, id: string): void };
  sidebar: { show(id: string): void };
  tray: { close(): Promise<void> | void };
  view: { reveal(id: string): void };
};

interface FlowNode {
  id: string;
  type: string;
  z?: string;
  name?: string;
  [key: string]: unknown;
}

const QR_TAB = "shotqrtab0000001";
const QR_ACCOUNT = "shotqraccount001";

async function waitForState(origin: string, id: string, want: (state: { state?: string; phoneUrl?: string }) => boolean): Promise<{ state?: string; phoneUrl?: string }> {
  const deadline = Date.now() + 60_000;
  for (let attempt = 0; Date.now() < deadline && attempt < 2_000; attempt++) {
    const res = await fetch(`${origin}/wx-account/${id}/state`).catch(() => undefined);
    if (res?.ok) {
      const body = (await res.json()) as { state?: string; phoneUrl?: string };
      if (want(body)) return body;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`account ${id} never reached the state wanted`);
}

async function shoot(page: Page, file: string, clip?: { selector: string }): Promise<void> {
  const target = path.join(repoRoot(), "docs", "images", file);
  if (clip) {
    const element = await page.waitForSelector(clip.selector, { timeout: 20_000 });
    await element.screenshot({ path: target });
  } else {
    await page.screenshot({ path: target });
  }
  console.log(`screenshots: ${path.relative(repoRoot(), target)}`);
}

async function openDialog(page: Page, id: string): Promise<void> {
  await page.waitForFunction((account) => RED.nodes.node(account)?.type === "wx-account", id, { timeout: 30_000 });
  await page.evaluate((account) => RED.editor.editConfig("", "wx-account", account), id);
  await page.waitForSelector("#wx-account-session", { timeout: 20_000 });
  const title = (await page.textContent(".red-ui-tray-titlebar")) ?? "";
  if (/Add new/.test(title)) throw new Error(`the editor did not know account ${id} when its dialog opened`);
}

async function closeDialog(page: Page): Promise<void> {
  await page.click("#node-config-dialog-cancel");
  await page.waitForSelector("#wx-account-session", { state: "detached", timeout: 20_000 });
}

async function main(): Promise<void> {
  mkdirSync(path.join(repoRoot(), "docs", "images"), { recursive: true });
  const userDir = mkdtempSync(path.join(tmpdir(), "wxflow-shots-"));
  const qrServer = await startSandbox({ port: 0 });
  let nodeRed: ChildProcess | undefined;
  let browser: Browser | undefined;
  try {
    const uiPort = await freePort();
    const settings = npmStartUserDir(userDir, uiPort, await freePort());
    // Beside npm start's echo flow, a tab with an account on a custom login URL: its dialog shows a login QR as a
    // real WeChat account's does.
    const flowFile = path.join(userDir, "flows.json");
    const flow = JSON.parse(readFileSync(flowFile, "utf8")) as FlowNode[];
    const echoAccount = flow.find((n) => n.type === "wx-account")?.id ?? "";
    flow.push(
      { id: QR_TAB, type: "tab", label: "Login QR" },
      { id: QR_ACCOUNT, type: "wx-account", name: "WeChat account", server: "custom", loginUrl: qrServer.url, sandboxPort: 1881, mode: "desktop", pacing: 20 },
      { id: "shotqrsend000001", type: "wx-send-text", z: QR_TAB, name: "", account: QR_ACCOUNT, target: "", targetType: "str", x: 200, y: 80, wires: [[]] },
    );
    writeFileSync(flowFile, JSON.stringify(flow, null, 2));
    nodeRed = await startNodeRed(settings, userDir);
    const origin = `http://127.0.0.1:${uiPort}`;
    const waiting = await waitForState(origin, echoAccount, (s) => s.state === "waiting-scan" && typeof s.phoneUrl === "string");
    await waitForState(origin, QR_ACCOUNT, (s) => s.state === "waiting-scan");

    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: VIEWPORT });
    const editor = await context.newPage();
    await editor.goto(`${origin}/`);
    await editor.waitForFunction((id) => typeof RED !== "undefined" && RED.nodes && RED.nodes.node(id)?.type === "wx-account" && RED.nodes.getType("wx-account") !== undefined, echoAccount, { timeout: 60_000 });

    // The login QR of a WeChat account, in its dialog.
    await openDialog(editor, QR_ACCOUNT);
    await editor.waitForSelector("img.wx-account-qr", { timeout: 20_000 });
    await shoot(editor, "qr.png", { selector: ".red-ui-tray" });
    await closeDialog(editor);

    // The sandbox account before its scan: Press Scan (no QR).
    await openDialog(editor, echoAccount);
    await editor.waitForSelector("#wx-account-sandbox-scan", { timeout: 20_000 });
    await shoot(editor, "sandbox-dialog.png", { selector: ".red-ui-tray" });
    await closeDialog(editor);

    // The phone page: Scan, then a message echoed back.
    const phone = await context.newPage();
    await phone.goto(waiting.phoneUrl ?? "");
    await phone.click('li[data-uuid] button[data-action="scan"]', { timeout: 20_000 });
    await waitForState(origin, echoAccount, (s) => s.state === "online");
    await phone.fill("#text", "Hello, echo bot!");
    await phone.click("#send");
    await phone.waitForSelector('#sent li[data-side="bot"]:has-text("Hello, echo bot!")', { timeout: 20_000 });
    await shoot(phone, "phone.png");
    await phone.close();

    // The echo flow with the WeChat sidebar tab listing both accounts, then the logged-in account's dialog.
    await editor.bringToFront();
    await editor.evaluate(() => RED.sidebar.show("wxflow-accounts"));
    await editor.waitForSelector(".red-ui-sidebar-content :text('Sandbox account (npm start)')", { timeout: 20_000 }).catch(() => undefined);
    await shoot(editor, "flow.png");
    await openDialog(editor, echoAccount);
    await editor.waitForSelector(".wx-account-nickname", { timeout: 20_000 });
    await shoot(editor, "account.png", { selector: ".red-ui-tray" });
    await closeDialog(editor);
  } finally {
    await browser?.close();
    if (nodeRed) await stopNodeRed(nodeRed);
    await qrServer.close();
    rmSync(userDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
