/**
 * #16.9 / #15.7: a node's target as a typedInput. "str" is the name itself (and a flow saved before the typedInput,
 * with no targetType, loads and sends unchanged); msg / flow / global / env are read for every msg.
 */
import assert from "node:assert/strict";
import { helper, nextSent, nodeById } from "../support/node-red";
import { NODES, accountConfig, catchFlow, expectCaught, login, nextAt, useSandbox, wxNode } from "./fixture";

type Store = { set(key: string, value: unknown): void };
type Context = { flow: Store; global: Store };

describe("typed target (wx-send-* and wx-action)", function () {
  const ctx = useSandbox();
  const ENV = "WXFLOW_TEST_TARGET";
  const FILE_HELPER = "文件传输助手";

  afterEach(function () {
    delete process.env[ENV];
  });

  async function load(extra: Record<string, unknown>, type = "wx-send-text"): Promise<void> {
    const tab = { id: "tab1", type: "tab", label: "typed" };
    const nodes = [wxNode("send", type, extra, [["out"]]), { id: "out", type: "helper", wires: [] }, ...catchFlow(["send"])].map((n) => ({ ...n, z: tab.id }));
    await helper.load(NODES, [tab, accountConfig(ctx.sb), ...nodes]);
    await login(ctx, nodeById("send"));
  }

  async function sendsTo(msg: Record<string, unknown>, name: string): Promise<void> {
    const text = `typed ${Math.random()}`;
    const out = nextSent(nodeById("send"));
    nodeById("send").receive({ payload: text, ...msg });
    await out;
    const record = await ctx.sb.control.waitForSent((r) => r.text === text, { timeoutMs: 5000 });
    assert.equal(record.toName, name);
  }

  it("a flow saved before the typedInput (a plain target, no targetType) still sends to that name", async function () {
    await load({ target: "家人群" });
    await sendsTo({}, "家人群");
  });

  it("str: the name itself, even when it looks like a property", async function () {
    await load({ target: "家人群", targetType: "str" });
    await sendsTo({ dest: "filehelper" }, "家人群");
  });

  it("msg: reads the property of each msg (a name or a contact object), and msg.to still wins", async function () {
    await load({ target: "route.dest", targetType: "msg" });
    await sendsTo({ route: { dest: "家人群" } }, "家人群");
    await sendsTo({ route: { dest: { handle: "家人群", userName: "@gone" } } }, "家人群");
    await sendsTo({ route: { dest: "家人群" }, to: "filehelper" }, FILE_HELPER);
  });

  it("msg: a property that holds nothing is refused (never a silent reply), nothing sent", async function () {
    await load({ target: "route.dest", targetType: "msg" });
    const report = await expectCaught("send", { payload: "x", wechat: { chat: { handle: "家人群" } } }, "INVALID_ARGUMENT", () =>
      sendsTo({ route: { dest: "家人群" } }, "家人群"),
    );
    assert.match(report.error.message, /msg\.route\.dest cannot be read/);
    const empty = await expectCaught("send", { payload: "x", route: {}, wechat: { chat: { handle: "家人群" } } }, "INVALID_ARGUMENT", () =>
      sendsTo({ route: { dest: "家人群" } }, "家人群"),
    );
    assert.match(empty.error.message, /msg\.route\.dest is empty/);
  });

  it("flow: read from the flow context for each msg", async function () {
    await load({ target: "wxTarget", targetType: "flow" });
    const context = (nodeById("send") as unknown as { context(): Context }).context();
    context.flow.set("wxTarget", "家人群");
    await sendsTo({}, "家人群");
    context.flow.set("wxTarget", "filehelper");
    await sendsTo({}, FILE_HELPER);
  });

  it("global: read from the global context for each msg", async function () {
    await load({ target: "wxTarget", targetType: "global" });
    (nodeById("send") as unknown as { context(): Context }).context().global.set("wxTarget", "家人群");
    await sendsTo({}, "家人群");
  });

  it("env: the environment variable's value", async function () {
    process.env[ENV] = "家人群";
    await load({ target: ENV, targetType: "env" });
    await sendsTo({}, "家人群");
  });

  it("wx-action: its target is a typedInput too (msg)", async function () {
    await load({ action: "pin", target: "who", targetType: "msg" }, "wx-action");
    const out = nextAt("out");
    nodeById("send").receive({ who: "家人群" });
    const msg = await out;
    assert.equal((msg.wechat as { action: { target: { handle: string } } }).action.target.handle, "家人群");
  });
});
