/** Shared set-up of the node tests: a sandbox per test, a temp user dir, flows, and logging in. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { startSandbox } from "../../lib/sandbox";
import type { WeChatClientApi } from "../../lib/wechat/types";
import accountNode from "../../nodes/wx-account/wx-account";
import actionNode from "../../nodes/wx-action/wx-action";
import eventNode from "../../nodes/wx-event/wx-event";
import sendFileNode from "../../nodes/wx-send-file/wx-send-file";
import contactsNode from "../../nodes/wx-contacts/wx-contacts";
import receiveNode from "../../nodes/wx-receive/wx-receive";
import sendImageNode from "../../nodes/wx-send-image/wx-send-image";
import sendTextNode from "../../nodes/wx-send-text/wx-send-text";
import { WxAccount } from "../../nodes/shared/account";
import type { NodeStatus } from "../../nodes/shared/red";
import { type FlowNode, type TestNode, helper, nodeById, waitForEvent, waitForStatus, when } from "../support/node-red";

export type Sandbox = Awaited<ReturnType<typeof startSandbox>>;
export type SandboxOptions = Parameters<typeof startSandbox>[0];

export const NODES = [accountNode, receiveNode, sendTextNode, sendImageNode, contactsNode, sendFileNode, eventNode, actionNode];
export const ACCOUNT = "acc1";

/** Client knobs so error paths (1205) answer in milliseconds instead of the production cool-downs. */
export const FAST_TUNING = { sendQueue: { maxRetries: 0, cooldownMs: 10, maxCooldownMs: 20 }, retryDelayMs: 10, loginBackoffMs: 20 };

export interface Context {
  sb: Sandbox;
  userDir: string;
}

/** mocha hooks: a fresh sandbox and user dir for every test, everything closed after. */
export function useSandbox(options: SandboxOptions = {}, settings: Record<string, unknown> = {}): Context {
  const ctx = {} as Context;
  beforeEach(async function () {
    ctx.userDir = mkdtempSync(path.join(tmpdir(), "wxflow-nodes-"));
    // Friend/group actions unpaced: the pacing is the client's (tested there); here it only slows the suite.
    // Built-in sandboxes close with their account here (no grace: each test starts its own); #16.1 tests set one.
    helper.settings({ userDir: ctx.userDir, wxAccountClientTuning: FAST_TUNING, wxAccountActionPacing: false, wxAccountSandboxGraceMs: 0, ...settings });
    ctx.sb = await startSandbox({ port: 0, ...options });
  });
  afterEach(async function () {
    await helper.unload();
    await ctx.sb.close();
    rmSync(ctx.userDir, { recursive: true, force: true });
  });
  return ctx;
}

export function accountConfig(sb: Sandbox, extra: Record<string, unknown> = {}): FlowNode {
  return { id: ACCOUNT, type: "wx-account", name: "test", server: "custom", loginUrl: sb.url, mode: "desktop", pacing: 600, ...extra };
}

/** A flow node of `type` with the test account. */
export function wxNode(id: string, type: string, extra: Record<string, unknown> = {}, wires: string[][] = [[]]): FlowNode {
  return { id, type, account: ACCOUNT, name: "", wires, ...extra };
}

export function accountOf(id = ACCOUNT): WxAccount {
  const wx = nodeById(id).wx;
  if (!(wx instanceof WxAccount)) throw new Error(`${id} is not a wx-account`);
  return wx;
}

export function clientOf(id = ACCOUNT): WeChatClientApi {
  const client = accountOf(id).runningClient();
  if (!client) throw new Error("the account's client is not running");
  return client;
}

const isOnline = (s: NodeStatus): boolean => s.fill === "green" && s.shape === "dot";

/** Wait until `user` shows the online status (checking the account first: it may already be online). */
export async function waitOnline(user: TestNode, timeoutMs = 15_000, accountId = ACCOUNT): Promise<void> {
  if (accountOf(accountId).state.state === "online") return;
  await waitForStatus(user, isOnline, timeoutMs);
}

/** Scan the newest QR on the sandbox phone and wait until `user` shows online. */
export async function login(ctx: Context, user: TestNode, accountId = ACCOUNT): Promise<void> {
  const online = waitOnline(user, 15_000, accountId);
  const pending = await ctx.sb.control.waitForLogin({ timeoutMs: 10_000 });
  ctx.sb.control.scan({ uuid: pending.uuid });
  await online;
}

/** Load a flow and log its account in through `userId`. */
export async function loadOnline(ctx: Context, flow: FlowNode[], userId: string): Promise<void> {
  await helper.load(NODES, flow);
  await login(ctx, nodeById(userId));
}

/** A Catch node for `scope` wired to a helper node, to count error reports. */
export function catchFlow(scope: string[], helperId = "caught"): FlowNode[] {
  return [
    { id: "catch1", type: "catch", name: "", scope, uncaught: false, wires: [[helperId]] },
    { id: helperId, type: "helper", wires: [] },
  ];
}

export interface Caught {
  error: { message: string; code?: string; source: { id: string } };
}

/**
 * Send `msg` into node `id` and expect exactly one Catch report with `code` (done(err) once, no extra
 * node.error). `settle` then pushes a good msg through the same node and waits for it, so a late second
 * report would have shown up by the time the counts are checked.
 */
export async function expectCaught(id: string, msg: Record<string, unknown>, code: string, settle: () => Promise<unknown>): Promise<Caught> {
  const node = nodeById(id);
  const caught = nodeById("caught");
  let errors = 0;
  let reports = 0;
  const onError = (): void => {
    errors += 1;
  };
  const onReport = (): void => {
    reports += 1;
  };
  node.on("call:error", onError);
  caught.on("input", onReport);
  try {
    const first = waitForEvent(caught, "input", (m) => m as Caught, 10_000, `a Catch report of ${id}`);
    node.receive(msg);
    const report = await first;
    assert.equal(report.error.code, code, report.error.message);
    assert.equal(report.error.source.id, id);
    await settle();
    assert.equal(reports, 1, "done(err) reported exactly once");
    assert.equal(errors, 1, "one error report, no extra node.error");
    return report;
  } finally {
    node.removeListener("call:error", onError);
    caught.removeListener("input", onReport);
  }
}

/** The next msg a helper node receives. */
export function nextAt(id: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return waitForEvent(nodeById(id), "input", (m) => m as Record<string, unknown>, timeoutMs, `a msg at ${id}`);
}

/** Resolve when the client's contact store satisfies `check` (checked on every contacts change). */
export function contactsWhen(client: WeChatClientApi, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  return when(
    {
      on: (_e, l) => client.on("contacts", l),
      off: (_e, l) => client.off("contacts", l),
    },
    "contacts",
    check,
    timeoutMs,
  );
}

/** What node `id` wrote to the Node-RED log at `level` ("warn", "error") since the flow was loaded. */
export function logOf(id: string, level: "warn" | "error"): string[] {
  const value = level === "warn" ? 30 : 20;
  return helper
    .log()
    .args.map((args) => args[0] as { level?: number; id?: string; msg?: unknown })
    .filter((entry) => entry.id === id && entry.level === value)
    .map((entry) => String(entry.msg));
}

/** mocha hooks: a fresh temporary folder (outside the user dir) for every test, removed after. */
export function useTempDir(prefix: string): { path: string } {
  const dir = { path: "" };
  beforeEach(function () {
    dir.path = mkdtempSync(path.join(tmpdir(), prefix));
  });
  afterEach(function () {
    rmSync(dir.path, { recursive: true, force: true });
  });
  return dir;
}
