#!/usr/bin/env node
"use strict";
// Runs `npm ci` when node_modules is missing or older than package-lock.json, so that `npm start` and
// `npm test` work on a fresh clone without a separate install step.
const fs = require("fs");
const path = require("path");
const { execSync } = require("child_process");

const root = path.resolve(__dirname, "..");
const lock = path.join(root, "package-lock.json");
const installed = path.join(root, "node_modules", ".package-lock.json");

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

if (mtime(installed) < 0 || mtime(installed) < mtime(lock)) {
  console.log("ensure-install: installing dependencies (npm ci)");
  execSync("npm ci --no-audit --no-fund", { cwd: root, stdio: "inherit" });
}
