/**
 * What a test's child process that embeds Node-RED needs (test/e2e/node-red-host.ts, test/scale-out/runtime-host.ts):
 * the built nodes as an installed package, and the http server's life (listen on loopback, stop on "stop").
 */
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

const TYPES = ["wx-account", "wx-receive", "wx-send-text", "wx-send-image", "wx-contacts", "wx-send-file", "wx-event", "wx-action"];

/**
 * The built nodes as an installed package under `userDir`, as a user would have them: package.json with a node-red
 * section beside links to dist/nodes and resources/. Node-RED loads message catalogs only for nodes of a module, not
 * for loose files in nodesDir. Answers its folder, for the `nodesDir` setting; a second call on the same user dir
 * (an instance started again) finds the links already there.
 */
export function packageDir(userDir: string): string {
  const dir = path.join(userDir, "wxflow-under-test");
  mkdirSync(dir, { recursive: true });
  const nodes: Record<string, string> = {};
  for (const type of TYPES) nodes[type] = `nodes/${type}/${type}.js`;
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "@wxflow/node-red-wechat", version: "0.0.0-e2e", "node-red": { nodes } }));
  // the built nodes, and the editor's shared code that Node-RED serves from the package's resources/ folder
  // (scripts/build.js)
  const links: [string, string][] = [["nodes", "../../nodes"], ["resources", "../../../resources"]];
  for (const [name, target] of links) if (!existsSync(path.join(dir, name))) symlinkSync(path.resolve(__dirname, target), path.join(dir, name), "dir");
  return dir;
}

/**
 * Listens on 127.0.0.1 (any free port) and answers the port. The parent's "stop" message, or its end (the IPC
 * channel closes), stops Node-RED, closes the server and exits the process.
 */
export async function listenUntilStopped(red: { stop(): Promise<void> }, server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await red.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    process.exit(0);
  };
  process.on("message", (message) => {
    if (message === "stop") void stop();
  });
  process.on("disconnect", () => void stop());
  return (server.address() as AddressInfo).port;
}
