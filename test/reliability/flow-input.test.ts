/**
 * Bad input from flows: wrong payload and target types, empty and huge text, unknown targets, hostile file names,
 * sending while logged out. Every bad msg ends in exactly one done(err) with a typed code, nothing reaches the
 * server, and the node keeps working.
 */
import { strict as assert } from "node:assert";
import { helper, nodeById, type TestNode } from "../support/node-red";
import { ACCOUNT, accountConfig, catchFlow, loadOnline, useSandbox, wxNode, type Context } from "../nodes/fixture";
import { summary, watchUnhandledRejections } from "./suite";

interface Outcome {
  error?: { message: string; code?: string };
  sent?: Record<string, unknown>;
}

let nextId = 0;

/** Feed `msg` to node `id`; resolve with its one outcome (matched by _msgid): a Catch report or an output msg. */
function outcome(id: string, msg: Record<string, unknown>, timeoutMs = 10_000): Promise<Outcome> {
  const node = nodeById(id);
  const msgid = `rel-${process.pid}-${++nextId}`;
  msg._msgid = msgid;
  const caught = nodeById("caught");
  return new Promise((resolve, reject) => {
    const onCaught = (m: never): void => {
      const report = m as { _msgid?: string; error: { message: string; code?: string; source: { id: string } } };
      if (report._msgid !== msgid) return;
      const error = report.error;
      finish();
      resolve({ error });
    };
    const output = nodeById(`${id}Out`);
    const onSend = (m: never): void => {
      const out = m as Record<string, unknown>;
      if (out._msgid !== msgid) return;
      finish();
      resolve({ sent: out });
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`no outcome for ${String(msg.payload).slice(0, 40)} in ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      caught.removeListener("input", onCaught);
      output.removeListener("input", onSend);
    };
    caught.on("input", onCaught);
    output.on("input", onSend);
    node.receive(msg);
  });
}

function errorReports(node: TestNode): { count: number } {
  const counter = { count: 0 };
  node.on("call:error", () => counter.count++);
  return counter;
}

const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.alloc(200, 1)]);

describe("reliability: bad input from flows", function () {
  this.timeout(30_000);
  watchUnhandledRejections();
  const ctx: Context = useSandbox({ longPollMs: 400, throttle: false });

  const flow = () => [
    accountConfig(ctx.sb),
    wxNode("text", "wx-send-text", {}, [["textOut"]]),
    wxNode("image", "wx-send-image", {}, [["imageOut"]]),
    { id: "textOut", type: "helper", wires: [] },
    { id: "imageOut", type: "helper", wires: [] },
    ...catchFlow(["text", "image"]),
  ];

  it("wx-send-text: every bad msg fails once with a typed error and sends nothing", async function () {
    await loadOnline(ctx, flow(), "text");
    const text = nodeById("text");
    const reports = errorReports(text);
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    const bad: [string, Record<string, unknown>, string][] = [
      ["empty payload", { payload: "", to: "filehelper" }, "INVALID_ARGUMENT"],
      ["blank payload", { payload: " \n\t ", to: "filehelper" }, "INVALID_ARGUMENT"],
      ["no payload", { to: "filehelper" }, "INVALID_ARGUMENT"],
      ["circular object", { payload: circular, to: "filehelper" }, "*"],
      ["msg.to a number", { payload: "x", to: 42 }, "INVALID_ARGUMENT"],
      ["msg.to an array", { payload: "x", to: ["filehelper"] }, "INVALID_ARGUMENT"],
      ["msg.to an empty object", { payload: "x", to: {} }, "INVALID_ARGUMENT"],
      ["unknown target", { payload: "x", to: "nobody by this name ☃" }, "NOT_FOUND"],
      ["forged UserName", { payload: "x", to: "@0123456789abcdef0123456789abcdef" }, "NOT_FOUND"],
      ["mentions not a list", { payload: "x", to: "filehelper", mentions: 7 }, "INVALID_ARGUMENT"],
    ];
    const before = ctx.sb.control.sent().length;
    const problems: string[] = [];
    for (const [what, msg, code] of bad) {
      const result = await outcome("text", msg);
      if (!result.error) problems.push(`${what}: was sent`);
      else if (code !== "*" && result.error.code !== code) problems.push(`${what}: ${result.error.code ?? "no code"} (${result.error.message}), want ${code}`);
    }
    assert.equal(ctx.sb.control.sent().length, before, "nothing reached the server");
    assert.equal(reports.count, bad.length, "exactly one error report per bad msg");

    // Huge text: refused with a clear error, or sent exactly once; the node goes on either way.
    const huge = "長".repeat(1024 * 1024);
    const hugeResult = await outcome("text", { payload: huge, to: "filehelper" }, 20_000);
    const hugeOnServer = ctx.sb.control.sent().filter((r) => (r.text?.length ?? 0) >= huge.length).length;
    assert.ok(hugeResult.error ? hugeOnServer === 0 : hugeOnServer === 1, "a huge text is either refused or sent once");
    const t0 = Date.now();
    const ok = await outcome("text", { payload: "still working", to: "filehelper" });
    const stalled = Date.now() - t0;
    assert.ok(ok.sent, `the node still sends: ${ok.error?.message ?? ""}`);
    summary.add({
      scenario: "flows: bad wx-send-text input",
      faults: bad.length + 1,
      sent: 1 + hugeOnServer,
      received: 0,
      lost: 0,
      duplicated: 0,
      note: `1 MiB text ${hugeResult.error ? `refused (${hugeResult.error.code ?? "?"})` : "sent"}, next send after ${stalled} ms`,
    });
    assert.deepEqual(problems, []);
    assert.ok(stalled < 2_000, `the next send is not held up by the refused one (took ${stalled} ms)`);
  });

  it("wx-send-image: wrong payloads fail typed, a hostile msg.filename never becomes a path", async function () {
    await loadOnline(ctx, flow(), "image");
    const before = ctx.sb.control.sent().length;
    const bad: [string, Record<string, unknown>, string][] = [
      ["number payload", { payload: 42, to: "filehelper" }, "INVALID_ARGUMENT"],
      ["object payload", { payload: { data: [1, 2] }, to: "filehelper" }, "INVALID_ARGUMENT"],
      ["empty buffer", { payload: Buffer.alloc(0), to: "filehelper" }, "INVALID_ARGUMENT"],
      ["not an image", { payload: Buffer.from("<svg onload=alert(1)>"), to: "filehelper" }, "INVALID_ARGUMENT"],
      ["a path (not enabled)", { payload: "/etc/passwd", to: "filehelper" }, "INVALID_ARGUMENT"],
      ["a URL (not enabled)", { payload: "http://127.0.0.1:1/x.png", to: "filehelper" }, "INVALID_ARGUMENT"],
    ];
    const problems: string[] = [];
    for (const [what, msg, code] of bad) {
      const result = await outcome("image", msg);
      if (!result.error) problems.push(`${what}: was sent`);
      else if (result.error.code !== code) problems.push(`${what}: ${result.error.code ?? "no code"} (${result.error.message}), want ${code}`);
    }
    assert.equal(ctx.sb.control.sent().length, before, "nothing reached the server");
    for (const filename of ["../../../../tmp/evil.png", "/etc/cron.d/x.png", "..\\..\\x.png", "a\u0000b.png"]) {
      const result = await outcome("image", { payload: PNG, to: "filehelper", filename });
      assert.ok(result.sent, `sent with ${JSON.stringify(filename)}: ${result.error?.message ?? ""}`);
    }
    const names = ctx.sb.control.uploads().map((u) => u.fileName);
    for (const name of names) {
      assert.doesNotMatch(name, /[/\\\0]/, `upload name ${JSON.stringify(name)} has no separators or NUL`);
      assert.ok(!name.startsWith(".."), `upload name ${JSON.stringify(name)}`);
    }
    summary.add({ scenario: "flows: bad wx-send-image input", faults: bad.length + 4, sent: names.length, received: 0, lost: 0, duplicated: 0, note: "file names reduced to one segment" });
    assert.deepEqual(problems, []);
  });

  it("sending while logged out: NOT_LOGGED_IN for every msg, nothing sent, nothing crashes", async function () {
    await loadOnline(ctx, flow(), "text");
    const loggedOut = new Promise<void>((resolve) => {
      const on = (e: { online: boolean }): void => {
        if (e.online) return;
        ctx.sb.events.off("session", on);
        resolve();
      };
      ctx.sb.events.on("session", on);
    });
    ctx.sb.control.expireSession({ code: 1101 });
    await loggedOut;
    const before = ctx.sb.control.sent().length;
    const codes: string[] = [];
    for (let i = 0; i < 10; i++) {
      const result = await outcome(i % 2 ? "text" : "image", { payload: i % 2 ? `late ${i}` : PNG, to: "filehelper" });
      assert.ok(result.error, "refused");
      codes.push(result.error.code ?? "?");
    }
    assert.ok(codes.every((c) => c === "NOT_LOGGED_IN" || c === "SESSION_EXPIRED"), codes.join(","));
    assert.equal(ctx.sb.control.sent().length, before, "nothing sent into a dead session");
    assert.ok(helper.getNode(ACCOUNT), "the account node is still there");
    summary.add({ scenario: "flows: sends while logged out", faults: 10, sent: 0, received: 0, lost: 0, duplicated: 0, note: [...new Set(codes)].join("/") });
  });
});
