/**
 * Node-RED started the way `npm start` starts it (scripts/start.js): the pack linked into a user dir, settings with a
 * credential secret, the flow scripts/start-flow.js writes, real red.js in a child process. For the first-hour walk
 * and the README screenshots.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { RUNTIME_PACKAGE, repoRoot } from "../support/node-red";

const load = createRequire(__filename);
const { startFlow } = load(path.join(repoRoot(), "scripts", "start-flow.js")) as {
  startFlow(examplesDir: string, sandboxPort: number): { id: string; type: string; name?: string }[];
};

/** A user dir as `npm start` makes it (scripts/start.js): the pack linked in, settings with a credential secret. */
export function npmStartUserDir(dir: string, uiPort: number, sandboxPort: number): string {
  mkdirSync(path.join(dir, "node_modules", "@wxflow"), { recursive: true });
  symlinkSync(repoRoot(), path.join(dir, "node_modules", "@wxflow", "node-red-wechat"), "dir");
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "wxflow-dev", private: true, dependencies: { "@wxflow/node-red-wechat": "file:.." } }));
  const settings = path.join(dir, "settings.js");
  writeFileSync(
    settings,
    `module.exports = ${JSON.stringify({
      uiHost: "127.0.0.1",
      uiPort,
      credentialSecret: "wxflow-first-hour-walk",
      flowFile: "flows.json",
      flowFilePretty: true,
      telemetry: { enabled: false },
      diagnostics: { enabled: false },
      editorTheme: { tours: false, projects: {}, palette: { catalogues: [] } },
      // loopback only: no palette catalogue, no update check
      externalModules: { palette: { allowInstall: false } },
      logging: { console: { level: "info", metrics: false, audit: false } },
    })};\n`,
  );
  writeFileSync(path.join(dir, "flows.json"), JSON.stringify(startFlow(path.join(repoRoot(), "examples"), sandboxPort), null, 2));
  return settings;
}

/** red.js as `npm start` runs it; resolves once Node-RED says it is running. */
export function startNodeRed(settings: string, userDir: string): Promise<ChildProcess> {
  const red = load.resolve(`${RUNTIME_PACKAGE}/red.js`);
  const child = spawn(process.execPath, [red, "--settings", settings, "--userDir", userDir], { cwd: repoRoot(), stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`Node-RED did not start within 60 s:\n${output}`)), 60_000);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      output += chunk.toString("utf8");
      if (/Started flows/.test(output)) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        resolve(child);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("exit", (code) => fail(new Error(`Node-RED exited with ${String(code)}:\n${output}`)));
  });
}

/** Ctrl+C, as a user stops `npm start`: Node-RED closes its flows, then exits. */
export function stopNodeRed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGINT");
  });
}
