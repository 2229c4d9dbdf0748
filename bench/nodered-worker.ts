/**
 * A bench worker that hosts a real Node-RED runtime (embedded through its API) with the wxflow nodes loaded from
 * the build output, running the flow the parent passes. Answers "mem" and "stop" like worker.ts.
 * With `ceiling`, it also runs one WeChatClient of its own, handed to function nodes as global `wxCeiling`: the
 * echo ceiling of row 7 (the same echo through a plain function node fed by the client directly, no wx nodes).
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { createRequire } from "node:module";
import type { ClientOptions, WeChatClientApi } from "../lib/wechat/types";
import { type Command, serveCommands } from "./ipc";
import { installLoopbackGuard } from "./net-guard";
import { MB } from "./stats";
import { errorText } from "./sides/side";

installLoopbackGuard();

export interface NodeRedInit {
  nodesDir: string;
  userDir: string;
  flows: Record<string, unknown>[];
  /** Run the row 7 ceiling: a client of our own against this login URL, as global `wxCeiling`. */
  ceiling?: { loginUrl: string };
}

interface RedRuntime {
  init(server: http.Server, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
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
    ...(ceiling ? { functionGlobalContext: { wxCeiling: ceiling } } : {}),
  });
  await RED.start();
  ceiling?.start();

  const run = async (command: Command): Promise<unknown> => {
    switch (command.cmd) {
      case "mem": {
        const collect = (globalThis as { gc?: () => void }).gc;
        collect?.();
        collect?.();
        const m = process.memoryUsage();
        return { rssMB: m.rss / MB, heapUsedMB: m.heapUsed / MB, externalMB: m.external / MB };
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
