/**
 * A bench worker that hosts a real Node-RED runtime (embedded through its API) with the wxflow nodes loaded from
 * the build output, running the flow the parent passes. Answers "mem", "cpu", "accounts", "loop-delay" and "stop".
 * With `ceiling`, it also runs one WeChatClient of its own, handed to function nodes as global `wxCeiling`: the
 * echo ceiling of row 7 (the same echo through a plain function node fed by the client directly, no wx nodes).
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { createRequire } from "node:module";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { ClientOptions, StateInfo, WeChatClientApi } from "../lib/wechat/types";
import { type AccountsSample, type Command, type CpuSample, type LoopDelaySample, serveCommands } from "./ipc";
import { installLoopbackGuard } from "./net-guard";
import { MB, wallNow } from "./stats";
import { errorText } from "./sides/side";

installLoopbackGuard();

export interface NodeRedInit {
  nodesDir: string;
  userDir: string;
  flows: Record<string, unknown>[];
  /** Ids of the wx-account nodes whose state "accounts" reports. */
  accounts?: string[];
  /** Run the row 7 ceiling: a client of our own against this login URL, as global `wxCeiling`. */
  ceiling?: { loginUrl: string };
}

interface RedRuntime {
  init(server: http.Server, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  nodes: { getNode(id: string): unknown };
}

/** The state of a wx-account node (nodes/wx-account/wx-account.ts keeps its WxAccount as `node.wx`). */
function accountState(node: unknown): StateInfo | undefined {
  const wx = node !== null && typeof node === "object" ? (node as { wx?: { state?: StateInfo } }).wx : undefined;
  return wx?.state;
}

/** The ceiling's client, built like wx-account builds its own (session file, no send pacing), quiet. */
function ceilingClient(loginUrl: string, userDir: string): WeChatClientApi {
  const { WeChatClient } = load(path.join(__dirname, "..", "lib", "wechat", "client.js")) as { WeChatClient: new (o: ClientOptions) => WeChatClientApi };
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  return new WeChatClient({
    loginUrl,
    mode: "desktop",
    pacing: false,
    sessionFile: path.join(userDir, "wxflow", "ceiling.session"),
    sessionSecret: "bench ceiling session key",
    logger: quiet,
  });
}

const init = JSON.parse(process.argv[2] ?? "{}") as NodeRedInit;
const load = createRequire(__filename);

async function main(): Promise<void> {
  fs.mkdirSync(init.userDir, { recursive: true });
  fs.writeFileSync(path.join(init.userDir, "flows.json"), JSON.stringify(init.flows));
  const RED = load("node-red") as RedRuntime;
  const ceiling = init.ceiling ? ceilingClient(init.ceiling.loginUrl, init.userDir) : undefined;
  // What function nodes of the flow count (row 8: every message an account received).
  const received = { count: 0 };
  RED.init(http.createServer(), {
    userDir: init.userDir,
    flowFile: "flows.json",
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    nodesDir: [init.nodesDir],
    logging: { console: { level: process.env.BENCH_NR_LOG ?? "error", metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false } },
    // No send pacing (the node's field accepts 1..600 a minute): wx-account's settings.js knob for benchmarks.
    wxAccountSendPacing: false,
    functionGlobalContext: { wxBenchReceived: received, ...(ceiling ? { wxCeiling: ceiling } : {}) },
  });
  await RED.start();
  ceiling?.start();
  let delay: IntervalHistogram | undefined;

  const run = async (command: Command): Promise<unknown> => {
    switch (command.cmd) {
      case "mem": {
        const collect = (globalThis as { gc?: () => void }).gc;
        collect?.();
        collect?.();
        const m = process.memoryUsage();
        return { rssMB: m.rss / MB, heapUsedMB: m.heapUsed / MB, externalMB: m.external / MB };
      }
      case "cpu": {
        const u = process.cpuUsage();
        const sample: CpuSample = { micros: u.user + u.system, at: wallNow() };
        return sample;
      }
      case "accounts": {
        const states = (init.accounts ?? []).map((id) => accountState(RED.nodes.getNode(id)));
        const sample: AccountsSample = {
          total: states.length,
          online: states.filter((s) => s?.state === "online").length,
          loaded: states.filter((s) => s?.state === "online" && s.contacts === "loaded").length,
          received: received.count,
        };
        return sample;
      }
      case "loop-delay": {
        if (command.action === "start") {
          delay?.disable();
          delay = monitorEventLoopDelay({ resolution: 10 });
          delay.enable();
          return { p50Ms: 0, p99Ms: 0, maxMs: 0 };
        }
        if (!delay) throw new Error("loop-delay stop without start");
        delay.disable();
        // The histogram is in nanoseconds.
        const sample: LoopDelaySample = { p50Ms: delay.percentile(50) / 1e6, p99Ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6 };
        delay = undefined;
        return sample;
      }
      case "stop":
        await ceiling?.stop();
        await RED.stop();
        return { errors: [] };
      default:
        throw new Error(`the Node-RED worker does not do "${command.cmd}"`);
    }
  };
  serveCommands(run);
}

main().catch((error: unknown) => {
  console.error(`node-red worker: ${errorText(error)}`);
  process.exit(1);
});
