import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { nodeById } from "../support/node-red";
import { accountConfig, catchFlow, expectCaught, loadOnline, nextAt, useSandbox, wxNode } from "./fixture";

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

type Received = Record<string, unknown> & { wechat: Record<string, unknown> };

describe("wx-action forward", function () {
  const ctx = useSandbox();

  async function load(target: string): Promise<void> {
    await loadOnline(
      ctx,
      [
        accountConfig(ctx.sb),
        wxNode("recv", "wx-receive", {}, [["got"]]),
        { id: "got", type: "helper", wires: [] },
        wxNode("act", "wx-action", { action: "forward", target }, [["out"]]),
        { id: "out", type: "helper", wires: [] },
        ...catchFlow(["act"]),
      ],
      "act",
    );
  }

  /** A message injected for the account, as wx receive sends it. */
  async function received(req: Parameters<typeof ctx.sb.control.inject>[0]): Promise<Received> {
    const got = nextAt("got");
    ctx.sb.control.inject(req);
    return (await got) as Received;
  }

  function plainFriend(): string {
    const friend = ctx.sb.control.worldContacts({ kind: "friend" }).find((c) => !c.remarkName && !/[<&,]/.test(c.nickName));
    assert.ok(friend);
    return friend.nickName;
  }

  it("forwards a received image to each configured target with its bytes and no upload; msg.wechat.forwarded lists them", async function () {
    const group = ctx.sb.control.world().contacts.find((c) => c.kind === "group" && !/[<&,]/.test(c.nickName))!.nickName;
    await load(`filehelper, ${group}`);
    const image = Buffer.concat([Buffer.from("\x89PNG\r\n\x1a\n", "latin1"), Buffer.alloc(4000, 7)]);
    const msg = await received({ from: plainFriend(), type: "image", data: image.toString("base64") });
    const out = nextAt("out");
    nodeById("act").receive(msg);
    const done = (await out) as Received;
    const forwarded = done.wechat.forwarded as Array<{ msgId: string; toHandle: string }>;
    assert.deepEqual(forwarded.map((f) => f.toHandle), ["filehelper", group]);
    assert.deepEqual((done.wechat.sent as { msgId: string }).msgId, forwarded[1]!.msgId);
    const records = ctx.sb.control.sent();
    assert.deepEqual(records.map((r) => [r.type, r.toName, r.forwarded]), [["image", "文件传输助手", true], ["image", group, true]]);
    for (const r of records) assert.equal(sha256(ctx.sb.control.media(r.msgId)!.data), sha256(image));
    assert.deepEqual(ctx.sb.control.uploads(), []);
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("msg.to overrides the node's targets: a name, a chat object, or an array of them", async function () {
    await load("filehelper");
    const friend = plainFriend();
    const msg = await received({ from: friend, text: "to the others" });
    const out = nextAt("out");
    nodeById("act").receive({ ...msg, to: [msg.wechat.chat, "filehelper"] });
    await out;
    assert.deepEqual(ctx.sb.control.sent().map((r) => [r.type, r.text, r.toName]), [["text", "to the others", friend], ["text", "to the others", "文件传输助手"]]);
  });

  it("a voice message reaches Catch with NOT_FORWARDABLE, once; a msg that is no received message with INVALID_ARGUMENT", async function () {
    await load("filehelper");
    const friend = plainFriend();
    const voice = await received({ from: friend, type: "voice", durationMs: 1500 });
    const text = await received({ from: friend, text: "fine" });
    const settle = async (): Promise<unknown> => {
      const out = nextAt("out");
      nodeById("act").receive(text);
      return out;
    };
    const caught = await expectCaught("act", voice, "NOT_FORWARDABLE", settle);
    assert.match(caught.error.message, /voice/);
    await expectCaught("act", { payload: "no message" }, "INVALID_ARGUMENT", settle);
    assert.ok(ctx.sb.control.sent().every((r) => r.type === "text"), "only the settling texts went out");
  });
});
