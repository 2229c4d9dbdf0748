/**
 * wx-account on Redis (#17), in one Node-RED: the rival instance is a second AccountLease on the same key, so the
 * account meets another owner without a second runtime (test/scale-out/ runs two).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { Redis } from "ioredis";
import { AccountLease } from "../../lib/wechat/store";
import type { NodeStatus } from "../../nodes/shared/red";
import { type FlowNode, RUNTIME_PACKAGE, type TestNode, helper, nodeById, repoRoot, waitForEvent, waitForStatus } from "../support/node-red";
import { type RedisProcess, startRedis } from "../support/redis";
import { ACCOUNT, type Caught, NODES, accountConfig, accountOf, catchFlow, login, useSandbox, wxNode } from "./fixture";

const TTL_MS = 1_500;
const SELF = "node-a";
const RIVAL = "node-b";
const SETTINGS = { credentialSecret: "a shared secret of every instance", wxflow: { instanceName: SELF, leaseTtlMs: TTL_MS } };

interface OwnerChanged {
  topic: string;
  payload: { owner: string; previous: string | null; self: boolean };
}

function flow(url: string, extra: Record<string, unknown> = {}): (sb: Parameters<typeof accountConfig>[0]) => FlowNode[] {
  return (sb) => [
    accountConfig(sb, { store: "redis", redisUrl: url, redisPrefix: "wxflow", ...extra }),
    wxNode("send", "wx-send-text", { target: "filehelper" }, [["out"]]),
    { id: "out", type: "helper", wires: [] },
    wxNode("events", "wx-event", { events: ["owner-changed", "online"] }, [["ev"]]),
    { id: "ev", type: "helper", wires: [] },
    ...catchFlow(["send"]),
  ];
}

const standbyOf = (owner: string) => (s: NodeStatus): boolean => s.fill === "blue" && s.shape === "ring" && s.text === `wx-account.status.standby: ${owner}`;
const isPaused = (s: NodeStatus): boolean => s.fill === "grey" && s.text === "wx-account.status.paused: wx-account.status.redisUnreachable";
const isOnline = (s: NodeStatus): boolean => s.fill === "green" && s.shape === "dot";

function nextOwnerChange(ev: TestNode, owner: string): Promise<OwnerChanged> {
  return waitForEvent(ev, "input", (m) => ((m as OwnerChanged).topic === "owner-changed" && (m as OwnerChanged).payload.owner === owner ? (m as OwnerChanged) : undefined), 10_000, `owner-changed to ${owner}`);
}

/** A send on a standby account: done(err) once with NOT_OWNER, nothing reaches the server. */
async function expectNotOwner(sent: () => number): Promise<void> {
  const before = sent();
  const caught = waitForEvent(nodeById("caught"), "input", (m) => m as Caught);
  nodeById("send").receive({ payload: "while standing by" });
  const report = await caught;
  assert.equal(report.error.code, "NOT_OWNER", report.error.message);
  assert.equal(sent(), before, "nothing sent");
}

describe("wx-account on Redis (#17)", function () {
  this.timeout(60_000);
  const ctx = useSandbox({}, SETTINGS);
  let redis: RedisProcess;
  let admin: Redis;
  const rivals: AccountLease[] = [];

  function rival(): AccountLease {
    const lease = new AccountLease({ redis: admin, key: `wxflow:${ACCOUNT}:lease`, owner: RIVAL, ttlMs: TTL_MS });
    rivals.push(lease);
    return lease;
  }

  beforeEach(async function () {
    redis = await startRedis();
    admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    // the pause test kills the server under this connection too
    admin.on("error", () => undefined);
    await admin.connect();
  });
  afterEach(async function () {
    await helper.unload();
    for (const lease of rivals.splice(0)) await lease.stop();
    admin.disconnect();
    await redis.stop();
  });

  it("stands by while another instance holds the lease (status, NOT_OWNER, owner-changed), and takes over when it goes", async function () {
    const other = rival();
    const acquired = new Promise((resolve) => other.once("acquired", resolve));
    other.start();
    await acquired;
    const sendNode = (): TestNode => nodeById("send");
    await helper.load(NODES, flow(redis.url)(ctx.sb));
    const ev = nodeById("ev");
    const learnt = nextOwnerChange(ev, RIVAL);
    await waitForStatus(sendNode(), standbyOf(RIVAL));
    assert.deepEqual((await learnt).payload, { owner: RIVAL, previous: null, self: false });
    assert.equal(accountOf().runningClient(), undefined, "no client runs on a standby");
    assert.equal(accountOf().view().ownership?.owner, RIVAL, "the dialog names the owner");
    await expectNotOwner(() => ctx.sb.control.sent().length);

    // the rival stops (releases the lease): this instance takes the account over and logs in
    const mine = nextOwnerChange(ev, SELF);
    await other.stop();
    assert.deepEqual((await mine).payload, { owner: SELF, previous: RIVAL, self: true });
    await login(ctx, sendNode());
    assert.deepEqual(accountOf().summary().ownership, { self: SELF, role: "owner", owner: SELF });
    const out = waitForEvent(nodeById("out"), "input", (m) => m);
    sendNode().receive({ payload: "from the owner" });
    await out;
    assert.deepEqual(ctx.sb.control.sent({ type: "text" }).map((r) => r.text), ["from the owner"]);
  });

  it("stops at once when the lease is taken over: queued sends fail NOT_OWNER, none is sent, the status names the new owner", async function () {
    await helper.load(NODES, flow(redis.url, { pacing: 1 })(ctx.sb));
    const ev = nodeById("ev");
    const send = nodeById("send");
    await login(ctx, send);
    // pacing 1 a minute after a burst of 5: the first five go, the next three wait in the queue
    const reports: Caught[] = [];
    const threeReports = waitForEvent(nodeById("caught"), "input", (m) => (reports.push(m as Caught) === 3 ? true : undefined), 10_000, "three reports");
    let out = 0;
    const burst = waitForEvent(nodeById("out"), "input", () => (++out === 5 ? true : undefined), 10_000, "five sends");
    for (let i = 0; i < 8; i++) send.receive({ payload: `queued ${i}` });
    await burst;
    // another instance takes the lease (as after this one's lease had lapsed)
    const moved = nextOwnerChange(ev, RIVAL);
    const standby = waitForStatus(send, standbyOf(RIVAL));
    await admin.del(`wxflow:${ACCOUNT}:lease`);
    const other = rival();
    other.start();
    assert.deepEqual((await moved).payload, { owner: RIVAL, previous: SELF, self: false });
    await standby;
    await threeReports;
    assert.deepEqual(reports.map((r) => r.error.code), ["NOT_OWNER", "NOT_OWNER", "NOT_OWNER"]);
    assert.deepEqual(ctx.sb.control.sent({ type: "text" }).map((r) => r.text), ["queued 0", "queued 1", "queued 2", "queued 3", "queued 4"], "the queued ones never went out");
    assert.equal(accountOf().runningClient(), undefined);
  });

  it("asks for the lease only while a wx node uses the account, and lets it go when the last one leaves", async function () {
    const account = accountConfig(ctx.sb, { store: "redis", redisUrl: redis.url, redisPrefix: "wxflow" });
    const send = wxNode("send", "wx-send-text", { target: "filehelper" }, [[]]);
    // the account alone (e.g. its flow tab is disabled on this instance): connected, but it never takes the lease
    await helper.load(NODES, [account]);
    // its connection is named after the instance (CLIENT LIST): polled, bounded, 20 ms apart
    const connected = async (): Promise<boolean> => String(await admin.client("LIST")).includes(`name=${SELF}`);
    for (let i = 0; i < 250 && !(await connected()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(await connected(), "the account connected to Redis");
    const other = rival();
    const taken = new Promise((resolve) => other.once("acquired", resolve));
    other.start();
    await taken;
    assert.equal(await admin.get(`wxflow:${ACCOUNT}:lease:fence`), "1", "only the rival ever took the lease");
    await other.stop();
    // a wx node comes: the account takes the lease and runs
    await helper.setFlows([account, send], "nodes");
    await waitForStatus(nodeById("send"), (s) => s.fill === "yellow", 15_000);
    assert.equal(accountOf().summary().ownership?.role, "owner");
    // the wx node goes: the lease is released at once (not left to expire)
    await helper.setFlows([account], "nodes");
    assert.equal(await admin.exists(`wxflow:${ACCOUNT}:lease`), 0);
  });

  it("a takeover by another instance resumes the session saved in Redis, without a scan", async function () {
    await helper.load(NODES, flow(redis.url)(ctx.sb));
    await login(ctx, nodeById("send"));
    const logins = ctx.sb.control.world().accounts[0]?.online;
    assert.equal(logins, true);
    // this instance goes (its lease is released); another one, with the same flow, takes the account
    await helper.unload();
    helper.settings({ userDir: ctx.userDir, credentialSecret: SETTINGS.credentialSecret, wxflow: { instanceName: "node-c", leaseTtlMs: TTL_MS } });
    await helper.load(NODES, flow(redis.url)(ctx.sb));
    const ev = nodeById("ev");
    const online = waitForEvent(ev, "input", (m) => ((m as { topic?: string }).topic === "online" ? true : undefined), 15_000, "online");
    const scans: unknown[] = [];
    nodeById("send").on("call:status", (call: never) => {
      const status = (call as { args: [NodeStatus] }).args[0];
      if (status.text === "wx-account.status.scan") scans.push(status);
    });
    await online;
    assert.deepEqual(scans, [], "no QR was offered");
    assert.equal(accountOf().summary().ownership?.owner, "node-c");
  });

  it("pauses while Redis is down (never runs without the lease) and runs again when it is back", async function () {
    await helper.load(NODES, flow(redis.url)(ctx.sb));
    const send = nodeById("send");
    await waitForStatus(send, (s) => s.fill === "yellow");
    const paused = waitForStatus(send, isPaused);
    await redis.kill();
    await paused;
    assert.equal(accountOf().runningClient(), undefined, "the client stopped with the lease");
    assert.equal(accountOf().summary().ownership?.role, "paused");
    await expectNotOwner(() => ctx.sb.control.sent().length);
    const back = waitForStatus(send, (s) => s.fill === "yellow", 15_000);
    await redis.restart();
    await back;
    assert.equal(accountOf().summary().ownership?.role, "owner");
    assert.ok(accountOf().runningClient(), "the client runs again");
  });

  it("deployed while Redis is down: paused (never runs on its own), then runs once Redis answers", async function () {
    await redis.kill();
    await helper.load(NODES, flow(redis.url)(ctx.sb));
    const send = nodeById("send");
    await waitForStatus(send, isPaused);
    assert.equal(accountOf().runningClient(), undefined);
    assert.match(JSON.stringify(helper.log().args), /wx-account\.log\.redisError/);
    const back = waitForStatus(send, (s) => s.fill === "yellow", 15_000);
    await redis.restart();
    await back;
    assert.equal(accountOf().summary().ownership?.role, "owner");
  });

  it("uses the password credential, which never reaches the flow, the log, the state or an error", async function () {
    const password = "redis-pass-5f1c0e";
    await admin.config("SET", "requirepass", password);
    await helper.load(NODES, flow(redis.url)(ctx.sb), { [ACCOUNT]: { redisPassword: password } });
    const send = nodeById("send");
    await login(ctx, send);
    assert.equal(await admin.exists(`wxflow:${ACCOUNT}:lease`), 1);
    const account = nodeById(ACCOUNT) as TestNode & { credentials?: { redisPassword?: string } };
    assert.equal(account.credentials?.redisPassword, password, "a Node-RED credential");
    assert.ok(!JSON.stringify(helper.log().args).includes(password), "not in the log");
    assert.ok(!JSON.stringify([accountOf().view(), accountOf().summary()]).includes(password), "not in the state");
    // a wrong password: the warning says why (by code), never with the password
    await helper.unload();
    await helper.load(NODES, flow(redis.url)(ctx.sb), { [ACCOUNT]: { redisPassword: "wrong-pass-93ab" } });
    await waitForStatus(nodeById("send"), isPaused);
    assert.ok(!JSON.stringify(helper.log().args).includes("wrong-pass-93ab"));
  });

  it("takes the password from $WXFLOW_REDIS_PASSWORD when the account has no credential (a flow file without its credentials)", async function () {
    const password = "env-pass-77d2";
    await admin.config("SET", "requirepass", password);
    process.env.WXFLOW_REDIS_PASSWORD = password;
    try {
      await helper.load(NODES, flow(redis.url)(ctx.sb));
      await waitForStatus(nodeById("send"), (s) => s.fill === "yellow");
      assert.equal(accountOf().summary().ownership?.role, "owner");
      assert.ok(!JSON.stringify(helper.log().args).includes(password));
    } finally {
      delete process.env.WXFLOW_REDIS_PASSWORD;
    }
  });

  it("runs examples/scale-out/flows.json: the owner answers, naming its instance; no password in the flow", async function () {
    const file = readFileSync(path.join(repoRoot(), "examples", "scale-out", "flows.json"), "utf8");
    const runtime = createRequire(createRequire(__filename).resolve(RUNTIME_PACKAGE));
    const core = ["function/10-switch.js", "function/15-change.js", "common/90-comment.js"].map((f) => runtime(`@node-red/nodes/core/${f}`) as unknown);
    const nodes = JSON.parse(file) as FlowNode[];
    for (const node of nodes) assert.ok(!Object.keys(node).some((k) => /password|credential/i.test(k)), `${node.id} carries no password`);
    const flow = nodes.map((node) => {
      if (node.type === "wx-account") {
        assert.equal(node.store, "redis");
        return { ...node, loginUrl: ctx.sb.url, redisUrl: redis.url };
      }
      return node.type === "debug" ? { id: node.id, type: "helper", z: node.z, wires: [] } : node;
    });
    process.env.WXFLOW_INSTANCE = "from-env";
    try {
      await helper.load([...NODES, ...core], flow);
      const account = flow.find((n) => n.type === "wx-account")?.id ?? "";
      await login(ctx, nodeById(flow.find((n) => n.type === "wx-send-text")?.id ?? ""), account);
      const friend = ctx.sb.control.world().contacts.find((c) => c.kind === "friend");
      assert.ok(friend);
      ctx.sb.control.inject({ from: friend.nickName, text: "hi" });
      // settings name this instance node-a: they win over $WXFLOW_INSTANCE for the lease, the flow's answer reads the env
      const answer = await ctx.sb.control.waitForSent((r) => r.toName === friend.nickName, { timeoutMs: 10_000 });
      assert.equal(answer.text, "echo from from-env: hi");
      assert.equal(accountOf(account).summary().ownership?.owner, SELF);
    } finally {
      delete process.env.WXFLOW_INSTANCE;
    }
  });

  it("refuses a Redis URL that holds a password: no account, rather than one that runs beside the others", async function () {
    await helper.load(NODES, flow("redis://:secret-in-url@127.0.0.1:1/0")(ctx.sb));
    await waitForStatus(nodeById("send"), (s) => s.fill === "red" && s.text === "wx-send-text.status.noAccount");
    const logged = JSON.stringify(helper.log().args);
    assert.match(logged, /wx-account\.log\.redisUrlPassword/);
    assert.ok(!logged.includes("secret-in-url"));
  });

  it("without a key shared by the instances (only the user dir's), it refuses to run rather than save what the others cannot read", async function () {
    helper.settings({ userDir: ctx.userDir, wxflow: { instanceName: SELF, leaseTtlMs: TTL_MS } });
    await helper.load(NODES, flow(redis.url)(ctx.sb));
    await waitForStatus(nodeById("send"), (s) => s.fill === "grey" && /redisKeyNotShared/.test(s.text ?? ""));
    assert.equal(accountOf().runningClient(), undefined);
  });
});

describe("wx-account without Redis", function () {
  const ctx = useSandbox();

  it("keeps the file store: no ownership in its state, standby never shown", async function () {
    await helper.load(NODES, [accountConfig(ctx.sb), wxNode("send", "wx-send-text", { target: "filehelper" }, [[]])]);
    const statuses: NodeStatus[] = [];
    nodeById("send").on("call:status", (call: never) => statuses.push((call as { args: [NodeStatus] }).args[0]));
    await login(ctx, nodeById("send"));
    assert.equal(accountOf().view().ownership, undefined);
    assert.ok(statuses.some(isOnline));
    assert.ok(!statuses.some((s) => s.fill === "blue"));
  });
});
