/**
 * Child process of the scale-out tests (#17): one Node-RED instance of several that run the same flow file.
 * Embeds the runtime WXFLOW_NODE_RED names in an http server on 127.0.0.1 (port 0) with the wx nodes of the built
 * layout, and gives the flow two things through its global context (`global.get("scaleOut")`):
 *   - `ledger(entry)`: appends one line to this instance's ledger file, synchronously, so a line written before a
 *     SIGKILL is on disk; the parent also hears of it over IPC (to wait on it, not to count it);
 *   - `report(kind, data)`: status changes and wx-event msgs, to the parent over IPC.
 * Every connection of its wx-accounts goes to `sandboxProxyPort` (wxAccountTransport), a proxy of the parent's that
 * tells which instance made which request. Sends {ready: port} once listening; "stop" stops Node-RED and exits.
 */
import { appendFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { Transport } from "../../lib/wechat/types";
import { listenUntilStopped, packageDir } from "../support/node-red-child";

interface EmbeddedRed {
  init(server: ReturnType<typeof createServer>, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly httpAdmin: (req: unknown, res: unknown, next: () => void) => void;
  readonly httpNode: (req: unknown, res: unknown, next: () => void) => void;
}

/** What the parent passes in WXFLOW_SCALE_OUT (JSON). */
export interface HostConfig {
  userDir: string;
  instanceName: string;
  ledgerFile: string;
  sandboxProxyPort: number;
  /** Merged into the Node-RED settings (wxflow: {...}, pacing knobs, ...). */
  settings: Record<string, unknown>;
}

/** A message of this process to the parent. */
export type HostMessage =
  | { ready: number }
  | { ledger: LedgerEntry }
  | { report: { kind: string; data: unknown; at: number } };

/** One line of a ledger: a message the flow received. */
export interface LedgerEntry {
  instance: string;
  msgId: string;
  text: string;
  at: number;
}

function send(message: HostMessage): void {
  if (process.connected) process.send?.(message);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.WXFLOW_SCALE_OUT ?? "{}") as HostConfig;
  const load = createRequire(__filename);
  const RED = load(process.env.WXFLOW_NODE_RED || "node-red") as EmbeddedRed;
  const transport: Transport = { connect: () => ({ host: "127.0.0.1", port: config.sandboxProxyPort }) };
  const scaleOut = {
    ledger(entry: { msgId: unknown; text: unknown }): void {
      const line: LedgerEntry = { instance: config.instanceName, msgId: String(entry.msgId), text: String(entry.text), at: Date.now() };
      appendFileSync(config.ledgerFile, `${JSON.stringify(line)}\n`);
      send({ ledger: line });
    },
    report(kind: unknown, data: unknown): void {
      send({ report: { kind: String(kind), data, at: Date.now() } });
    },
  };
  const server = createServer();
  RED.init(server, {
    uiHost: "127.0.0.1",
    httpAdminRoot: "/admin",
    httpNodeRoot: "/",
    userDir: config.userDir,
    flowFile: "flows.json",
    credentialSecret: "wxflow-scale-out",
    nodesDir: [packageDir(config.userDir)],
    logging: { console: { level: "warn", metrics: false, audit: false } },
    editorTheme: { tours: false, projects: { enabled: false } },
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    externalModules: { palette: { allowInstall: false } },
    functionGlobalContext: { scaleOut },
    wxAccountTransport: transport,
    ...config.settings,
  });
  server.on("request", (req, res) => {
    const notFound = (): void => {
      res.statusCode = 404;
      res.end();
    };
    if ((req.url ?? "").startsWith("/admin")) RED.httpAdmin(req, res, notFound);
    else RED.httpNode(req, res, notFound);
  });
  await RED.start();
  const port = await listenUntilStopped(RED, server);
  send({ ready: port });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
