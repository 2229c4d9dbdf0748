#!/usr/bin/env node
"use strict";
// Builds the layout Node-RED loads. The source tree already has that layout, so this is compile + copy:
//   nodes/<type>/<type>.ts   -> dist/nodes/<type>/<type>.js   (tsc)
//   nodes/<type>/<everything else> (editor .html, locales/<lang>/<type>.{json,html}, icons/) -> dist/nodes/<type>/
//   lib/<everything but .ts> (the sandbox's phone page and the like) -> dist/lib/
// It also checks that package.json lists exactly the node folders that exist, and that each node has its
// editor HTML and both catalogs in every language. The editor's shared code goes to resources/ (see below).
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const root = path.resolve(__dirname, "..");
const dist = path.join(root, "dist");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));

function fail(message) {
  console.error(`build: ${message}`);
  process.exit(1);
}

fs.rmSync(dist, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(root, "tsconfig.json")], {
    stdio: "inherit",
    cwd: root,
  });
} catch {
  fail("TypeScript compilation failed");
}

const nodesDir = path.join(root, "nodes");
const types = fs.existsSync(nodesDir)
  ? fs.readdirSync(nodesDir).filter((t) => fs.existsSync(path.join(nodesDir, t, `${t}.ts`)))
  : [];
const listed = pkg["node-red"].nodes;
for (const type of types) {
  const want = `dist/nodes/${type}/${type}.js`;
  if (listed[type] !== want) fail(`package.json node-red.nodes["${type}"] must be "${want}"`);
}
for (const type of Object.keys(listed)) {
  if (!types.includes(type)) fail(`package.json lists node "${type}" but nodes/${type}/${type}.ts does not exist`);
}

const LANGUAGES = ["en-US", "zh-CN"];
for (const type of types) {
  const dir = path.join(nodesDir, type);
  if (!fs.existsSync(path.join(dir, `${type}.html`))) fail(`nodes/${type}/${type}.html is missing`);
  for (const lang of LANGUAGES) {
    for (const ext of ["json", "html"]) {
      const src = path.join(dir, "locales", lang, `${type}.${ext}`);
      if (!fs.existsSync(src)) fail(`nodes/${type}/locales/${lang}/${type}.${ext} is missing`);
      if (ext === "json") JSON.parse(fs.readFileSync(src, "utf8"));
    }
  }
}

// Everything that is not TypeScript travels beside the compiled code, in the same place.
function copyAssets(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const src = path.join(dir, entry.name);
    if (entry.isDirectory()) copyAssets(src);
    else if (!/\.ts$/.test(entry.name)) {
      const dest = path.join(dist, path.relative(root, src));
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(src, dest);
    }
  }
}
copyAssets(path.join(root, "lib"));
copyAssets(nodesDir);

// The editor code the node editors share: Node-RED serves a package's resources/ folder under
// resources/<package>/, so resources/ holds nodes/shared/editor/*.js as they are and the enum lists generated
// from their TypeScript sources (nodes/editor-lists.ts), never written twice.
const resources = path.join(root, "resources");
fs.rmSync(resources, { recursive: true, force: true });
fs.cpSync(path.join(nodesDir, "shared", "editor"), resources, { recursive: true });
fs.writeFileSync(path.join(resources, "wxflow-lists.js"), require(path.join(dist, "nodes", "editor-lists.js")).editorListsScript());

for (const bin of Object.values(pkg.bin || {})) {
  const file = path.join(root, bin);
  if (!fs.existsSync(file)) fail(`bin ${bin} was not built`);
  fs.chmodSync(file, 0o755);
}
console.log(`build: ${types.length} node(s) assembled in dist/nodes`);
