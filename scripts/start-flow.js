"use strict";
// The flow `npm start` deploys on its first start: the echo example under ids of its own, so importing the echo
// example (or any other) into that Node-RED never asks "nodes already exist: import copy?" (#16.4), with an account
// named for what it is and the sandbox on the port start.js chose.
const fs = require("fs");
const path = require("path");

const EXAMPLE = "echo-bot-sandbox.json";
/** Every id of the example gets this prefix: the examples' ids start with "wx", so the two never meet. */
const PREFIX = "start-";

/** @param {string} examplesDir @param {number} sandboxPort @returns {Array<Record<string, unknown>>} */
function startFlow(examplesDir, sandboxPort) {
  const nodes = JSON.parse(fs.readFileSync(path.join(examplesDir, EXAMPLE), "utf8"));
  const ids = new Map(nodes.map((n) => [n.id, PREFIX + n.id]));
  const mapped = (id) => ids.get(id) ?? id;
  return nodes.map((node) => {
    const out = { ...node, id: mapped(node.id) };
    for (const key of ["z", "account"]) if (typeof out[key] === "string") out[key] = mapped(out[key]);
    if (Array.isArray(out.wires)) out.wires = out.wires.map((port) => port.map(mapped));
    if (Array.isArray(out.scope)) out.scope = out.scope.map(mapped);
    if (out.type === "tab") out.label = "WeChat echo bot (npm start)";
    if (out.type === "wx-account") Object.assign(out, { name: "Sandbox account (npm start)", sandboxPort });
    return out;
  });
}

module.exports = { startFlow };
