/**
 * node-red-node-test-helper bound to the Node-RED runtime chosen by WXFLOW_NODE_RED:
 * "node-red" (default, Node-RED 4.1) or "node-red-5" (the Node-RED 5 alias, needs Node 22; .ci/run installs it
 * for its Node-RED 5 run only, so that `npm ci` on Node 20 stays free of EBADENGINE warnings).
 * Also small waiting utilities for node tests (events with a timeout, never sleeps).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import type { NodeStatus } from "../../nodes/shared/red";

const load = createRequire(__filename);

export const RUNTIME_PACKAGE = process.env.WXFLOW_NODE_RED || "node-red";

/** A flow node as the helper takes it. */
export type FlowNode = Record<string, unknown> & { id: string; type: string };

/** The supertest-like request builder the helper returns (only what the tests use). */
export interface TestResponse {
  status: number;
  body: unknown;
}
export interface TestRequest extends PromiseLike<TestResponse> {
  set(header: string, value: string): TestRequest;
  send(body: unknown): TestRequest;
  query(query: Record<string, string>): TestRequest;
}
export interface TestAgent {
  get(path: string): TestRequest;
  post(path: string): TestRequest;
}

/** A node instance under test: the helper proxies log/status/send/... and emits `call:<method>` events. */
export interface TestNode {
  id: string;
  type: string;
  on(event: string, listener: (...args: never[]) => void): void;
  removeListener(event: string, listener: (...args: never[]) => void): void;
  receive(msg: Record<string, unknown>): void;
  [key: string]: unknown;
}

export interface SinonCall {
  args: unknown[];
}

export interface NodeTestHelper {
  init(runtimePath: string, userSettings?: Record<string, unknown>): void;
  settings(userSettings?: Record<string, unknown>): Record<string, unknown>;
  load(nodes: unknown | unknown[], flow: FlowNode[], credentials?: Record<string, unknown>): Promise<void>;
  unload(): Promise<void>;
  /** Deploy a new flow: "full", "flows" or "nodes" (only changed nodes restart). */
  setFlows(flow: FlowNode[], type?: "full" | "flows" | "nodes"): Promise<void>;
  getNode(id: string): TestNode | null;
  request(): TestAgent;
  startServer(done: (error?: unknown) => void): void;
  stopServer(done: (error?: unknown) => void): void;
  log(): { args: unknown[][]; getCalls(): SinonCall[] };
}

/** The repository root (where package.json names this package), from the compiled or the source tree. */
export function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const file = path.join(dir, "package.json");
    if (existsSync(file) && (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === "@wxflow/node-red-wechat") return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`no repository root above ${__dirname}`);
}

/** The example flow examples/<name>.json as it ships. */
export function readExample(name: string): FlowNode[] {
  return JSON.parse(readFileSync(path.join(repoRoot(), "examples", `${name}.json`), "utf8")) as FlowNode[];
}

export const helper = load("node-red-node-test-helper") as NodeTestHelper;
helper.init(load.resolve(RUNTIME_PACKAGE));

export function startServer(): Promise<void> {
  return new Promise((resolve, reject) => helper.startServer((error) => (error ? reject(error) : resolve())));
}

export function stopServer(): Promise<void> {
  return new Promise((resolve, reject) => helper.stopServer((error) => (error ? reject(error) : resolve())));
}

/** The node with this id, or a failed assertion. */
export function nodeById(id: string): TestNode {
  const node = helper.getNode(id);
  if (!node) throw new Error(`node ${id} is not in the flow`);
  return node;
}

/** Resolve with the first value `check` returns (not undefined) for `event` on `node`; reject after timeoutMs. */
export function waitForEvent<T>(
  node: TestNode,
  event: string,
  check: (...args: unknown[]) => T | undefined,
  timeoutMs = 10_000,
  what = event,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const listener = (...args: unknown[]): void => {
      let value: T | undefined;
      try {
        value = check(...args);
      } catch (error) {
        finish();
        reject(error);
        return;
      }
      if (value !== undefined) {
        finish();
        resolve(value);
      }
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} on ${node.type} ${node.id}`));
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      node.removeListener(event, listener);
    };
    node.on(event, listener);
  });
}

/** The next status the node shows that satisfies `match`. */
export function waitForStatus(node: TestNode, match: (status: NodeStatus) => boolean, timeoutMs = 10_000): Promise<NodeStatus> {
  return waitForEvent(
    node,
    "call:status",
    (call) => {
      const status = (call as SinonCall).args[0] as NodeStatus;
      return match(status) ? status : undefined;
    },
    timeoutMs,
    "a status",
  );
}

/** The next msg the node sends (Node-RED drops sends of a node with no wires: wire it to a helper node). */
export function nextSent(node: TestNode, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return waitForEvent(node, "call:send", (call) => (call as SinonCall).args[0] as Record<string, unknown>, timeoutMs, "a sent msg");
}

/** Resolve when `condition` holds, checked on every event of `emitter`; reject after timeoutMs. */
export function when(
  emitter: { on(event: string, listener: () => void): unknown; off(event: string, listener: () => void): unknown },
  event: string,
  condition: () => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  if (condition()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const listener = (): void => {
      if (!condition()) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve();
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting on "${event}"`));
    }, timeoutMs);
    emitter.on(event, listener);
  });
}
