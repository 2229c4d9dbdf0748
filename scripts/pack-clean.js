#!/usr/bin/env node
"use strict";
// `npm pack` / `npm publish` step (prepack, after the build): the published code carries no source maps. The maps
// point at TypeScript sources the package does not ship, so they are dropped, with the sourceMappingURL comment
// that names them (#16.7). A later `npm run build` brings them back for development and tests.
//   node scripts/pack-clean.js [package-root]   (default: this checkout)
const fs = require("fs");
const path = require("path");

const root = path.resolve(process.argv[2] || path.join(__dirname, ".."));
const SHIPPED = ["dist/lib", "dist/nodes", "dist/bin"];
const TRAILER = /\n\/\/# sourceMappingURL=[^\n]*\n?$/;

let maps = 0;
let comments = 0;
function clean(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) clean(file);
    else if (entry.name.endsWith(".map")) {
      fs.rmSync(file);
      maps += 1;
    } else if (entry.name.endsWith(".js")) {
      const text = fs.readFileSync(file, "utf8");
      if (TRAILER.test(text)) {
        fs.writeFileSync(file, text.replace(TRAILER, "\n"));
        comments += 1;
      }
    }
  }
}
for (const dir of SHIPPED) if (fs.existsSync(path.join(root, dir))) clean(path.join(root, dir));
console.log(`pack-clean: ${maps} source map(s) and ${comments} sourceMappingURL comment(s) removed`);
