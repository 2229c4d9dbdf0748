#!/usr/bin/env node
"use strict";
// `npm start`: Node-RED on http://127.0.0.1:1880 with this pack loaded from its build and, on the first start,
// the sandbox echo flow deployed. The Node-RED user directory is .node-red/ inside the repo (git-ignored).
// PORT=... picks Node-RED's port and SANDBOX_PORT=... the first start's sandbox port; without them a taken
// 1880 (or 1881) moves to the next free port, and the port in use is printed.
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const { spawn } = require("child_process");
const { startFlow } = require("./start-flow");
const { choosePort } = require("./ports");

const root = path.resolve(__dirname, "..");
const userDir = path.join(root, ".node-red");

/** A credential secret of this user dir, made once: Node-RED then encrypts flows_cred.json with it and says nothing. */
function credentialSecret() {
  const file = path.join(userDir, ".credential-secret");
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    const secret = crypto.randomBytes(32).toString("hex");
    fs.writeFileSync(file, secret + "\n", { mode: 0o600 });
    return secret;
  }
}

async function main() {
  fs.mkdirSync(path.join(userDir, "node_modules", "@wxflow"), { recursive: true });

  // The pack is "installed" in the user directory as a link to this checkout, as `npm link` would do.
  const link = path.join(userDir, "node_modules", "@wxflow", "node-red-wechat");
  try {
    fs.lstatSync(link);
  } catch {
    fs.symlinkSync(path.relative(path.dirname(link), root), link, "dir");
  }
  const userPkg = path.join(userDir, "package.json");
  if (!fs.existsSync(userPkg)) {
    const deps = { "@wxflow/node-red-wechat": "file:.." };
    fs.writeFileSync(userPkg, JSON.stringify({ name: "wxflow-dev", private: true, dependencies: deps }, null, 2) + "\n");
  }

  const flowFile = path.join(userDir, "flows.json");
  const firstStart = !fs.existsSync(flowFile);
  const port = await choosePort("PORT", 1880, 1881);
  const settingsFile = path.join(userDir, "settings.js");
  fs.writeFileSync(
    settingsFile,
    `// Written by scripts/start.js at every start: edit that file, not this one.
module.exports = {
  uiHost: "127.0.0.1",
  uiPort: ${port},
  credentialSecret: ${JSON.stringify(credentialSecret())},
  flowFile: "flows.json",
  flowFilePretty: true,
  telemetry: { enabled: false },
  diagnostics: { enabled: false },
  // projects: {} (not enabled: false) keeps projects off without a warning at every start
  editorTheme: { tours: false, projects: {} },
  logging: { console: { level: "info", metrics: false, audit: false } },
};
  `,
  );

  // First start: deploy the sandbox echo flow so a newcomer sees the pack work without a WeChat account.
  if (firstStart) {
    const sandboxPort = await choosePort("SANDBOX_PORT", 1881, port);
    fs.writeFileSync(flowFile, JSON.stringify(startFlow(path.join(root, "examples"), sandboxPort), null, 2) + "\n");
  }
  console.log(`npm start: Node-RED at http://127.0.0.1:${port}/`);

  const red = require.resolve("node-red/red.js", { paths: [root] });
  const child = spawn(process.execPath, [red, "--settings", settingsFile, "--userDir", userDir], {
    stdio: "inherit",
    cwd: root,
  });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

main().catch((error) => {
  console.error(`npm start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
