/**
 * Child process of the editor test: embeds the Node-RED runtime chosen by WXFLOW_NODE_RED in an http server on
 * 127.0.0.1, port 0, with the wx nodes of the built layout (../../nodes from this file). Settings come as JSON
 * in WXFLOW_E2E_SETTINGS. Sends {port} to the parent over IPC once listening; "stop" stops it and exits.
 * A separate process, so the runtime's singletons never meet the ones the node tests use.
 */
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { listenUntilStopped, packageDir } from "../support/node-red-child";
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
  const port = await listenUntilStopped(RED, server);
  process.send?.({ port });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
