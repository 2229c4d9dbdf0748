/**
 * Child process of the editor test: embeds the Node-RED runtime chosen by WXFLOW_NODE_RED in an http server on
 * 127.0.0.1, port 0, with the wx nodes of the built layout (../../nodes from this file). Settings come as JSON
 * in WXFLOW_E2E_SETTINGS. Sends {port} to the parent over IPC once listening; "stop" stops it and exits.
 * A separate process, so the runtime's singletons never meet the ones the node tests use.
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import * as path from "node:path";
import { guardDns, offlineTransport } from "../support/offline";

interface EmbeddedRed {
  init(server: ReturnType<typeof createServer>, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly httpAdmin: (req: unknown, res: unknown, next: () => void) => void;
}

const load = createRequire(__filename);
const RED = load(process.env.WXFLOW_NODE_RED || "node-red") as EmbeddedRed;
const settings = JSON.parse(process.env.WXFLOW_E2E_SETTINGS ?? "{}") as Record<string, unknown>;

// WXFLOW_E2E_OFFLINE=dns: a machine without a network (#16.2). Every connection of a wx-account goes to a name
// that does not resolve; any other name something tries to resolve is refused and reported to the parent.
if (process.env.WXFLOW_E2E_OFFLINE === "dns") {
  guardDns((hostname) => process.send?.({ dnsAttempt: hostname }));
  settings.wxAccountTransport = offlineTransport({ kind: "dns" }).transport;
}

const TYPES = ["wx-account", "wx-receive", "wx-send-text", "wx-send-image", "wx-contacts", "wx-send-file", "wx-event", "wx-action"];

/**
 * The built nodes as an installed package (package.json with a node-red section), as a user would have them:
 * Node-RED loads message catalogs only for nodes of a module, not for loose files in nodesDir.
 */
function packageDir(userDir: string): string {
  const dir = path.join(userDir, "wxflow-under-test");
  mkdirSync(dir, { recursive: true });
  const nodes: Record<string, string> = {};
  for (const type of TYPES) nodes[type] = `nodes/${type}/${type}.js`;
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "@wxflow/node-red-wechat", version: "0.0.0-e2e", "node-red": { nodes } }));
  symlinkSync(path.resolve(__dirname, "../../nodes"), path.join(dir, "nodes"), "dir");
  // the editor's shared code, which Node-RED serves from the package's resources/ folder (scripts/build.js)
  symlinkSync(path.resolve(__dirname, "../../../resources"), path.join(dir, "resources"), "dir");
  return dir;
}

async function main(): Promise<void> {
  const server = createServer();
  const userDir = typeof settings.userDir === "string" ? settings.userDir : process.cwd();
  RED.init(server, {
    uiHost: "127.0.0.1",
    httpAdminRoot: "/",
    httpNodeRoot: false,
    nodesDir: [packageDir(userDir)],
    logging: { console: { level: "error", metrics: false, audit: false } },
    editorTheme: { tours: false, projects: { enabled: false } },
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    externalModules: { palette: { allowInstall: false } },
    ...settings,
  });
  server.on("request", (req, res) => {
    RED.httpAdmin(req, res, () => {
      res.statusCode = 404;
      res.end();
    });
  });
  await RED.start();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const stop = async (): Promise<void> => {
    await RED.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    process.exit(0);
  };
  process.on("message", (message) => {
    if (message === "stop") void stop();
  });
  process.on("disconnect", () => void stop());
  process.send?.({ port: (server.address() as AddressInfo).port });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
