/**
 * The example flows of the new nodes, run as they are on a sandbox (only the account is pointed at the test's
 * sandbox, debug nodes are swapped for test helpers and delays shortened).
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { RUNTIME_PACKAGE, type FlowNode, helper, nodeById, readExample, repoRoot } from "../support/node-red";
import { NODES, type Context, login, nextAt, useSandbox } from "./fixture";

const runtime = createRequire(createRequire(__filename).resolve(RUNTIME_PACKAGE));
const CORE = ["common/20-inject.js", "common/90-comment.js", "function/10-function.js", "function/10-switch.js", "function/15-change.js", "function/89-delay.js"].map(
  (file) => runtime(`@node-red/nodes/core/${file}`) as unknown,
);

function example(ctx: Context, name: string): FlowNode[] {
  return readExample(name).map((node) => {
    if (node.type === "wx-account") return { ...node, server: "custom", loginUrl: ctx.sb.url, pacing: 600 };
    if (node.type === "debug") return { id: node.id, type: "helper", z: node.z, wires: [] };
    if (node.type === "delay") return { ...node, timeout: "0.05" };
    return node;
  });
}

function ofType(flow: FlowNode[], type: string): FlowNode {
  const node = flow.find((n) => n.type === type);
  assert.ok(node, `a ${type} node`);
  return node;
}

async function loadExample(ctx: Context, name: string, online = true): Promise<FlowNode[]> {
  const flow = example(ctx, name);
  await helper.load([...NODES, ...CORE], flow);
  const user = flow.find((n) => n.type.startsWith("wx-") && n.type !== "wx-account");
  assert.ok(user);
  if (online) await login(ctx, nodeById(user.id), ofType(flow, "wx-account").id);
  return flow;
}

describe("example flows, run", function () {
  const ctx = useSandbox();

  it("send-file: a generated CSV goes to the File Transfer chat", async function () {
    const flow = await loadExample(ctx, "send-file");
    const out = nextAt(ofType(flow, "helper").id);
    nodeById(ofType(flow, "inject").id).receive({});
    await out;
    const [record] = ctx.sb.control.sent();
    assert.equal(record?.type, "file");
    assert.equal(record?.fileName, "report.csv");
    assert.equal(record?.toName, "文件传输助手");
  });

  it("login-qr-by-event: the QR becomes an email-ready msg with a PNG attachment", async function () {
    const flow = await loadExample(ctx, "login-qr-by-event", false);
    const mail = (await nextAt(ofType(flow, "helper").id)) as { topic: string; payload: string; attachments: { content: Buffer }[] };
    assert.equal(mail.topic, "WeChat needs a scan");
    assert.match(mail.payload, /<img src="data:image\/png;base64,/);
    const png = Buffer.from(mail.attachments[0]?.content ?? []);
    assert.equal(png.readUInt32BE(0), 0x89504e47);
    const online = nextAt(ofType(flow, "helper").id);
    ctx.sb.control.scan({});
    assert.match(String((await online).payload), /online/);
  });

  it("recall-sent-message: the text is sent, then recalled", async function () {
    const flow = await loadExample(ctx, "recall-sent-message");
    const out = nextAt(ofType(flow, "helper").id);
    nodeById(ofType(flow, "inject").id).receive({});
    await out;
    const text = ctx.sb.control.sent({ type: "text" })[0];
    const revoke = ctx.sb.control.sent({ type: "revoke" })[0];
    assert.ok(text && revoke);
    assert.equal(revoke.msgId, text.msgId);
  });

  it("accept-friend-requests: a request is accepted and the new friend welcomed", async function () {
    await loadExample(ctx, "accept-friend-requests");
    ctx.sb.control.inject({ from: "Hiker Zhou", type: "friend-request", text: "we met on the trail" });
    const welcome = await ctx.sb.control.waitForSent((r) => r.type === "text", { timeoutMs: 10_000 });
    assert.equal(welcome.toName, "Hiker Zhou");
    assert.equal(welcome.text, "Hello! Nice to meet you.");
    assert.equal(ctx.sb.control.worldContacts({ kind: "friend", name: "Hiker Zhou" }).length, 1);
  });

  it("create-group: the group is made and greeted by its name", async function () {
    const flow = await loadExample(ctx, "create-group");
    const out = nextAt(ofType(flow, "helper").id);
    nodeById(ofType(flow, "inject").id).receive({});
    await out;
    assert.equal(ctx.sb.control.worldContacts({ kind: "group", name: "Weekend hiking" }).length, 1);
    const members = ctx.sb.control.groupMembers("Weekend hiking").map((m) => m.nickName);
    assert.ok(members.includes("胡超") && members.includes("黄艳涛"), members.join(","));
    assert.equal(ctx.sb.control.sent()[0]?.toName, "Weekend hiking");
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("#16.4: all examples deployed together on one account answer each message at most once", async function () {
    // every example as it ships, all on one account: the case of a user who points them all at one WeChat
    const files = readdirSync(path.join(repoRoot(), "examples")).filter((f) => f.endsWith(".json"));
    const ACC = "together";
    const known = new Set(["tab", "comment", "inject", "function", "switch", "change", "delay", "wx-account"]);
    const flow: FlowNode[] = [{ id: ACC, type: "wx-account", name: "all", server: "custom", loginUrl: ctx.sb.url, mode: "desktop", pacing: 600 }];
    for (const file of files) {
      for (const node of example(ctx, path.basename(file, ".json"))) {
        if (node.type === "wx-account") continue;
        if (node.type.startsWith("wx-")) flow.push({ ...node, account: ACC });
        else if (known.has(node.type)) flow.push(node);
        else flow.push({ id: node.id, type: "helper", z: node.z, wires: [] }); // csv, file, catch: not under test
      }
    }
    await helper.load([...NODES, ...CORE], flow);
    await login(ctx, nodeById(ofType(flow, "wx-receive").id), ACC);
    const friend = ctx.sb.control.worldContacts({ kind: "friend" }).find((c) => !c.remarkName && !/[<&]/.test(c.nickName));
    const member = ctx.sb.control.groupMembers("家人群").find((m) => m.nickName !== "Sandbox Me" && !/[<&]/.test(m.nickName));
    assert.ok(friend && member);
    const asked = [
      { from: friend.nickName, text: "what are your opening hours?" }, // private: the echo answers, the keyword bot does not
      { from: member.nickName, room: "家人群", text: "@Sandbox Me price?", mention: true }, // group @me: the keyword bot only
      { from: member.nickName, room: "家人群", text: "hello all" }, // group, no mention: nobody
      { from: "Hiker Li", type: "friend-request" as const, text: "hi" }, // accepted and welcomed once
    ];
    for (const m of asked) ctx.sb.control.inject(m);
    await ctx.sb.control.waitForSent((r) => r.toName === friend.nickName, { timeoutMs: 10_000 });
    await ctx.sb.control.waitForSent((r) => r.toName === "家人群", { timeoutMs: 10_000 });
    await ctx.sb.control.waitForSent((r) => r.toName === "Hiker Li", { timeoutMs: 10_000 });
    // a last private text: once its echo is sent, every answer to the earlier ones has been sent too (one queue)
    ctx.sb.control.inject({ from: friend.nickName, text: "last" });
    await ctx.sb.control.waitForSent((r) => r.text === "last", { timeoutMs: 10_000 });
    const answers = (name: string): string[] => ctx.sb.control.sent({ type: "text" }).filter((r) => r.toName === name).map((r) => r.text ?? "");
    assert.deepEqual(answers(friend.nickName), ["what are your opening hours?", "last"]);
    assert.deepEqual(answers("家人群").length, 1, answers("家人群").join(" | "));
    assert.match(answers("家人群")[0] ?? "", /Coffee 15/);
    assert.deepEqual(answers("Hiker Li"), ["Hello! Nice to meet you."]);
  });
});
