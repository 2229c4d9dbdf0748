import assert from "node:assert/strict";
import { type TestNode, helper, nextSent, nodeById, waitForEvent, waitForStatus } from "../support/node-red";
import { type Context, NODES, accountConfig, catchFlow, clientOf, loadOnline, useSandbox, wxNode } from "./fixture";

interface Caught {
  error: { message: string; code?: string; source: { id: string } };
}

/** Every error report of `node` (its error() calls), to check done(err) is called exactly once. */
function errorCount(node: TestNode): { readonly count: number } {
  const counter = { count: 0 };
  node.on("call:error", () => {
    counter.count += 1;
  });
  return counter;
}

/** Send `msg` into "send" and expect exactly one Catch report with `code`, and nothing sent. */
async function expectRefused(ctx: Context, msg: Record<string, unknown>, code: string): Promise<Caught> {
  const sent = ctx.sb.control.sent().length;
  const send = nodeById("send");
  const errors = errorCount(send);
  const caught = nodeById("caught");
  const received: Caught[] = [];
  caught.on("input", (m: never) => received.push(m as Caught));
  const first = waitForEvent(caught, "input", (m) => m as Caught);
  send.receive(msg);
  const report = await first;
  assert.equal(report.error.code, code, report.error.message);
  assert.equal(report.error.source.id, "send");
  // A later good send goes through: so the refused one is not just late, it is not sent at all.
  const ok = nextSent(send);
  send.receive({ payload: "after", to: "filehelper" });
  await ok;
  assert.equal(received.length, 1, "done(err) reported exactly once");
  assert.equal(errors.count, 1, "one error report, no extra node.error");
  const records = ctx.sb.control.sent().slice(sent);
  assert.deepEqual(
    records.map((r) => r.text),
    ["after"],
  );
  return report;
}

describe("wx-send-text", function () {
  const ctx = useSandbox();

  const flow = (extra: Record<string, unknown> = {}) => [
    accountConfig(ctx.sb),
    wxNode("send", "wx-send-text", extra, [["out"]]),
    { id: "out", type: "helper", wires: [] },
    ...catchFlow(["send"]),
  ];

  it("sends msg.payload to msg.to by name and adds msg.wechat.sent", async function () {
    await loadOnline(ctx, flow(), "send");
    const send = nodeById("send");
    const out = nextSent(send);
    send.receive({ payload: "hello <&> 你好", to: "家人群", topic: "keep" });
    const msg = await out;
    const record = await ctx.sb.control.waitForSent((r) => r.text === "hello <&> 你好", { timeoutMs: 5000 });
    assert.equal(record.toName, "家人群");
    assert.equal(record.type, "text");
    const sent = (msg.wechat as { sent: Record<string, unknown> }).sent;
    assert.equal(sent.msgId, record.msgId);
    assert.equal(sent.localId, record.localId);
    assert.equal(sent.to, record.to);
    assert.equal(msg.topic, "keep");
    assert.equal(msg.payload, "hello <&> 你好");
  });

  it("uses the configured target, and msg.to overrides it", async function () {
    await loadOnline(ctx, flow({ target: "家人群" }), "send");
    const send = nodeById("send");
    let out = nextSent(send);
    send.receive({ payload: "to the node's target" });
    await out;
    out = nextSent(send);
    send.receive({ payload: "to msg.to", to: "filehelper" });
    await out;
    const records = ctx.sb.control.sent();
    assert.deepEqual(
      records.map((r) => [r.text, r.toName]),
      [
        ["to the node's target", "家人群"],
        ["to msg.to", "文件传输助手"],
      ],
    );
  });

  it("replies to msg.wechat.chat when there is no msg.to and no target (echo)", async function () {
    await loadOnline(
      ctx,
      [accountConfig(ctx.sb), wxNode("recv", "wx-receive", { types: ["text"] }, [["send"]]), wxNode("send", "wx-send-text", {}, [["out"]]), { id: "out", type: "helper", wires: [] }],
      "send",
    );
    const friend = ctx.sb.control.worldContacts({ kind: "friend" })[0];
    assert.ok(friend);
    ctx.sb.control.inject({ from: friend.remarkName || friend.nickName, text: "echo me" });
    const record = await ctx.sb.control.waitForSent((r) => r.text === "echo me", { timeoutMs: 5000 });
    assert.equal(record.toName, friend.remarkName || friend.nickName);
  });

  it("stringifies non-string payloads", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "send");
    const send = nodeById("send");
    for (const payload of [42, true, { a: 1 }, Buffer.from("bytes")]) {
      const out = nextSent(send);
      send.receive({ payload });
      await out;
    }
    assert.deepEqual(
      ctx.sb.control.sent().map((r) => r.text),
      ["42", "true", '{"a":1}', "bytes"],
    );
  });

  it("@mentions group members from msg.mentions", async function () {
    await loadOnline(ctx, flow(), "send");
    const members = ctx.sb.control.groupMembers("家人群").filter((m) => m.nickName !== "Sandbox Me");
    const member = members[0];
    assert.ok(member);
    const send = nodeById("send");
    const out = nextSent(send);
    send.receive({ payload: "look", to: "家人群", mentions: [member.displayName || member.nickName] });
    await out;
    const record = ctx.sb.control.sent()[0];
    assert.ok(record?.msgSource?.includes("<atusername>"), record?.msgSource);
    assert.ok(record?.text?.includes("@"));
  });

  it("@mentions that notify: the sent MsgSource names the members' UserNames and the group", async function () {
    await loadOnline(ctx, flow(), "send");
    const group = clientOf().resolve("家人群");
    const others = (group.members ?? []).filter((m) => m.nickName !== "Sandbox Me" && !/[<&]/.test(m.displayName || m.nickName)).slice(0, 2);
    assert.equal(others.length, 2, "two members to mention");
    const send = nodeById("send");
    const out = nextSent(send);
    send.receive({ payload: "meeting at 8", to: "家人群", mentions: others.map((m) => m.displayName || m.nickName) });
    await out;
    const record = ctx.sb.control.sent()[0];
    assert.equal(
      record?.msgSource,
      `<msgsource><atusername>${others.map((m) => m.userName).join(",")}</atusername><atchatroomname>${group.userName}</atchatroomname></msgsource>`,
    );
    for (const m of others) assert.ok(record?.text?.includes(`@${m.displayName || m.nickName}\u2005`), record?.text);
    assert.equal(record?.to, group.userName);
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("refuses an empty payload: done(err) once, nothing sent", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "send");
    await expectRefused(ctx, { payload: "  " }, "INVALID_ARGUMENT");
  });

  it("refuses an unknown target", async function () {
    await loadOnline(ctx, flow(), "send");
    await expectRefused(ctx, { payload: "x", to: "Nobody Of That Name" }, "NOT_FOUND");
  });

  it("refuses an ambiguous target and lists the candidates", async function () {
    await loadOnline(ctx, flow(), "send");
    ctx.sb.control.contacts({ op: "add", nickName: "Twin" });
    ctx.sb.control.contacts({ op: "add", nickName: "Twin" });
    const client = clientOf();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("contacts did not arrive")), 10_000);
      const check = (): void => {
        if (client.listContacts({ name: "Twin" }).length < 2) return;
        clearTimeout(timer);
        client.off("contacts", check);
        resolve();
      };
      client.on("contacts", check);
      check();
    });
    const report = await expectRefused(ctx, { payload: "x", to: "Twin" }, "AMBIGUOUS");
    assert.match(report.error.message, /Twin/);
  });

  it("refuses with no target at all", async function () {
    await loadOnline(ctx, flow(), "send");
    await expectRefused(ctx, { payload: "x" }, "INVALID_ARGUMENT");
  });

  it("refuses msg.mentions outside a group", async function () {
    await loadOnline(ctx, flow(), "send");
    await expectRefused(ctx, { payload: "x", to: "filehelper", mentions: ["someone"] }, "INVALID_ARGUMENT");
  });

  it("reports THROTTLED when the server answers 1205", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "send");
    ctx.sb.control.fault({ endpoint: "webwxsendmsg", kind: "ret", ret: 1205, count: 1 });
    await expectRefused(ctx, { payload: "too fast" }, "THROTTLED");
  });

  it("reports a send whose answer was lost as SEND_UNCERTAIN with its ClientMsgId, delivered once, never resent", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "send");
    const before = ctx.sb.control.sent().length;
    ctx.sb.control.fault({ endpoint: "webwxsendmsg", kind: "lost-500", count: 1 });
    const send = nodeById("send");
    const errors = errorCount(send);
    const caught = waitForEvent(nodeById("caught"), "input", (m) => m as Caught & { wechat?: { uncertain?: { clientMsgId?: string } } });
    send.receive({ payload: "fate unknown" });
    const report = await caught;
    assert.equal(report.error.code, "SEND_UNCERTAIN", report.error.message);
    const clientMsgId = report.wechat?.uncertain?.clientMsgId ?? "";
    assert.match(clientMsgId, /^\d{17}$/);
    assert.ok(report.error.message.includes(clientMsgId), "the message names the ClientMsgId");
    // A later send goes through, so the uncertain one had its chance to be (wrongly) repeated.
    const ok = nextSent(send);
    send.receive({ payload: "after" });
    await ok;
    assert.equal(errors.count, 1, "done(err) once");
    const records = ctx.sb.control.sent().slice(before);
    assert.deepEqual(records.map((r) => [r.text, r.text === "fate unknown" ? r.localId : ""]), [["fate unknown", clientMsgId], ["after", ""]], "delivered exactly once");
  });

  it("reports the server's refusal (1204)", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "send");
    ctx.sb.control.fault({ endpoint: "webwxsendmsg", kind: "ret", ret: 1204, count: 1 });
    await expectRefused(ctx, { payload: "no permission" }, "NOT_FOUND");
  });
});

describe("wx-send-text before login", function () {
  const ctx = useSandbox();

  it("refuses with NOT_LOGGED_IN: done(err) once, nothing sent", async function () {
    await helper.load(NODES, [accountConfig(ctx.sb), wxNode("send", "wx-send-text", { target: "filehelper" }, [["out"]]), { id: "out", type: "helper", wires: [] }, ...catchFlow(["send"])]);
    const send = nodeById("send");
    const errors = errorCount(send);
    const caught = waitForEvent(nodeById("caught"), "input", (m) => m as Caught);
    send.receive({ payload: "early" });
    const report = await caught;
    assert.equal(report.error.code, "NOT_LOGGED_IN");
    assert.equal(errors.count, 1);
    assert.equal(ctx.sb.control.sent().length, 0);
  });

  it("refuses when the node has no account", async function () {
    await helper.load(NODES, [{ id: "send", type: "wx-send-text", account: "", wires: [[]] }, ...catchFlow(["send"])]);
    const caught = waitForEvent(nodeById("caught"), "input", (m) => m as Caught);
    nodeById("send").receive({ payload: "x", to: "filehelper" });
    assert.equal((await caught).error.code, "INVALID_ARGUMENT");
  });
});

describe("wx-send-text failure status (#16.8)", function () {
  // a short hold so the test waits on the status events, not on the 10 s default
  const ctx = useSandbox({}, { wxFailureStatusMs: 300 });

  it("shows a failed send on the node for a while, then the account's status again", async function () {
    await loadOnline(ctx, [accountConfig(ctx.sb), wxNode("send", "wx-send-text", { target: "filehelper" }), ...catchFlow(["send"])], "send");
    const send = nodeById("send");
    const failed = waitForStatus(send, (s) => s.fill === "red");
    const started = Date.now();
    send.receive({ payload: "  " });
    const shown = await failed;
    assert.equal(shown.shape, "dot");
    assert.match(shown.text ?? "", /status\.failed: INVALID_ARGUMENT$/);
    const back = await waitForStatus(send, (s) => s.fill === "green");
    assert.equal(back.text, "wx-account.status.online");
    assert.ok(Date.now() - started >= 250, "the failure stayed for the hold time");
  });
});
