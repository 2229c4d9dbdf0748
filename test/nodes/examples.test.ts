import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { readExample, repoRoot } from "../support/node-red";

type FlowNode = Record<string, unknown> & { id: string; type: string; wires?: string[][] };

/** Every node type the package declares, but the config node. */
function wxTypes(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot(), "package.json"), "utf8")) as { "node-red": { nodes: Record<string, string> } };
  return Object.keys(pkg["node-red"].nodes).filter((t) => t !== "wx-account");
}
const WX_TYPES = wxTypes();

describe("examples", function () {
  const dir = path.join(repoRoot(), "examples");
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  const flows = new Map(files.map((f) => [f, readExample(path.basename(f, ".json")) as FlowNode[]]));

  it("has the example flows, the echo bot among them", function () {
    for (const name of [
      "echo-bot-sandbox",
      "auto-reply-keyword",
      "forward-images-to-group",
      "daily-contact-export",
      "notify-friend-request",
      "send-file",
      "login-qr-by-event",
      "recall-sent-message",
      "accept-friend-requests",
      "create-group",
      "group-relay",
    ]) {
      assert.ok(flows.has(`${name}.json`), name);
    }
  });

  it("uses every wx node type in some example", function () {
    assert.ok(WX_TYPES.length >= 7 && WX_TYPES.includes("wx-action") && WX_TYPES.includes("wx-event") && WX_TYPES.includes("wx-send-file"));
    const used = new Set([...flows.values()].flat().map((n) => n.type));
    for (const type of WX_TYPES) assert.ok(used.has(type), type);
  });

  for (const file of files) {
    describe(file, function () {
      const flow = flows.get(file) ?? [];

      it("explains itself in a comment node", function () {
        const comment = flow.find((n) => n.type === "comment");
        assert.ok(comment && typeof comment.info === "string" && comment.info.length > 40);
      });

      it("is well formed: unique ids, wires to existing nodes, wx nodes on an included wx-account", function () {
        const ids = new Set(flow.map((n) => n.id));
        assert.equal(ids.size, flow.length);
        const accounts = flow.filter((n) => n.type === "wx-account");
        assert.equal(accounts.length, 1);
        for (const node of flow) {
          for (const out of node.wires ?? []) for (const target of out) assert.ok(ids.has(target), `${node.id} -> ${target}`);
          if (WX_TYPES.includes(node.type)) assert.equal(node.account, accounts[0]?.id, node.id);
        }
      });

      it("never sends a login QR to the debug sidebar (every editor user sees it, read-only ones too)", function () {
        const byId = new Map(flow.map((n) => [n.id, n]));
        const qrSources = flow.filter((n) => n.type === "wx-event" && Array.isArray(n.events) && (n.events as unknown[]).includes("qr"));
        const reached = new Set<string>();
        const queue = qrSources.flatMap((n) => (n.wires ?? []).flat());
        for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
          if (reached.has(next)) continue;
          reached.add(next);
          queue.push(...(byId.get(next)?.wires ?? []).flat());
        }
        for (const id of reached) {
          const node = byId.get(id);
          // Node-RED shows a debug node in the sidebar unless tosidebar is false.
          if (node?.type === "debug") assert.equal(node.tosidebar, false, `debug node ${id} shows the QR in the sidebar`);
        }
      });

      it("stores names, never UserNames", function () {
        for (const node of flow) {
          for (const key of ["target", "query"]) {
            const value = node[key];
            if (typeof value === "string") assert.doesNotMatch(value, /^@/, `${node.id}.${key}`);
          }
          if (typeof node.members === "string") for (const m of node.members.split(",")) assert.doesNotMatch(m.trim(), /^@/, `${node.id}.members`);
          for (const chat of (node.chats as string[] | undefined) ?? []) assert.doesNotMatch(chat, /^@/);
        }
      });
    });
  }

  it("#16.4: imports together without an id conflict, with each other or with the flow `npm start` deploys", function () {
    const require = createRequire(__filename);
    const { startFlow } = require(path.join(repoRoot(), "scripts", "start-flow.js")) as { startFlow: (dir: string, port: number) => FlowNode[] };
    const start = startFlow(dir, 1881);
    assert.ok(start.some((n) => n.type === "wx-receive"), "the start flow is the echo flow");
    const seen = new Map<string, string>();
    for (const [file, flow] of [...flows, ["npm start", start] as const]) {
      for (const node of flow) {
        const other = seen.get(node.id);
        assert.equal(other, undefined, `${node.id} is in ${file} and in ${other}`);
        seen.set(node.id, file);
      }
    }
    // the start flow's nodes still wire to each other and to its own account
    const startIds = new Set(start.map((n) => n.id));
    for (const node of start) {
      for (const target of (node.wires ?? []).flat()) assert.ok(startIds.has(target), target);
      if (typeof node.account === "string") assert.ok(startIds.has(node.account), node.account);
      if (typeof node.z === "string") assert.ok(startIds.has(node.z), node.z);
    }
    assert.equal(start.find((n) => n.type === "wx-account")?.sandboxPort, 1881);
  });

  it("#16.4: each example has its own clearly named sandbox account on any free port (deployed together, none takes another's port)", function () {
    for (const [file, flow] of flows) {
      const account = flow.find((n) => n.type === "wx-account");
      assert.equal(account?.server, "sandbox", file);
      assert.match(String(account?.name), /^Sandbox account \(.+ example\)$/, file);
      assert.equal(account?.sandboxPort, 0, file);
    }
  });

  it("#16.4: the contact export writes under the Node-RED user dir, not the folder Node-RED started in", function () {
    const file = (flows.get("daily-contact-export.json") ?? []).find((n) => n.type === "file");
    assert.ok(file);
    assert.equal(file.filenameType, "jsonata");
    assert.match(String(file.filename), /^\$env\("HOME"\) & "\/\.node-red\/wxflow\//);
    assert.equal(file.createDir, true);
  });

  it("runs the echo bot on the built-in sandbox: wx-receive (text), private chats only (#16.4), to a wx-send-text without target", function () {
    const flow = flows.get("echo-bot-sandbox.json") ?? [];
    const account = flow.find((n) => n.type === "wx-account");
    assert.equal(account?.server, "sandbox");
    const receive = flow.find((n) => n.type === "wx-receive");
    const send = flow.find((n) => n.type === "wx-send-text");
    const privateOnly = flow.find((n) => n.type === "switch");
    assert.ok(receive && send && privateOnly);
    assert.deepEqual(receive.types, ["text"]);
    assert.ok(receive.wires?.[0]?.includes(privateOnly.id));
    assert.equal(privateOnly.property, "wechat.room");
    assert.deepEqual(privateOnly.rules, [{ t: "null" }]);
    assert.ok(privateOnly.wires?.[0]?.includes(send.id));
    assert.equal(send.target, "");
  });
});
