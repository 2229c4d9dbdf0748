#!/usr/bin/env node
"use strict";
// `npm start`: Node-RED on http://127.0.0.1:1880 with this pack loaded from its build and, on the first start,
// the sandbox echo flow deployed. The Node-RED user directory is .node-red/ inside the repo (git-ignored).
const fs = require("fs");
const path = require("path");
const { spawn } = require("child_process");

const root = path.resolve(__dirname, "..");
const userDir = path.join(root, ".node-red");
const port = Number(process.env.PORT || 1880);

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

const settingsFile = path.join(userDir, "settings.js");
fs.writeFileSync(
  settingsFile,
  `// Written by scripts/start.js at every start: edit that file, not this one.
module.exports = {
  uiHost: "127.0.0.1",
  uiPort: ${port},
  flowFile: "flows.json",
  flowFilePretty: true,
  telemetry: { enabled: false },
  diagnostics: { enabled: false },
  editorTheme: { tours: false, projects: { enabled: false } },
  logging: { console: { level: "info", metrics: false, audit: false } },
};
`,
);

// First start: deploy the sandbox echo flow so a newcomer sees the pack work without a WeChat account.
const flowFile = path.join(userDir, "flows.json");
if (!fs.existsSync(flowFile)) {
  const examples = path.join(root, "examples");
  const echo = fs.existsSync(examples) ? fs.readdirSync(examples).find((f) => /echo.*\.json$/.test(f)) : undefined;
  if (echo) fs.copyFileSync(path.join(examples, echo), flowFile);
}

const red = require.resolve("node-red/red.js", { paths: [root] });
const child = spawn(process.execPath, [red, "--settings", settingsFile, "--userDir", userDir], {
  stdio: "inherit",
  cwd: root,
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
