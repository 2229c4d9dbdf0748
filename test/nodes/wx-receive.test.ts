import assert from "node:assert/strict";
import * as QRCode from "qrcode";
import type { Contact, Message } from "../../lib/wechat/types";
import { passes } from "../../nodes/wx-receive/filter";
import { nodeById, waitForEvent } from "../support/node-red";
import { accountConfig, loadOnline, useSandbox, wxNode } from "./fixture";

type Msg = Record<string, unknown> & { payload: unknown; topic: string; wechat: Message & { downloadError?: { code: string } } };

function nextOut(id = "out"): Promise<Msg> {
  return waitForEvent(nodeById(id), "input", (m) => m as Msg, 10_000, `a msg at ${id}`);
}

describe("wx-receive", function () {
  const ctx = useSandbox();

  const flow = (extra: Record<string, unknown> = {}) => [
    accountConfig(ctx.sb),
    wxNode("recv", "wx-receive", extra, [["out"]]),
    { id: "out", type: "helper", wires: [] },
  ];

  function friendName(): string {
    const friend = ctx.sb.control.worldContacts({ kind: "friend" }).find((c) => !c.remarkName && !/[<&]/.test(c.nickName));
    assert.ok(friend, "a plain-named friend in the sandbox world");
    return friend.nickName;
  }

  it("sends one msg per message: decoded text, chat name as topic, the message as a plain clone", async function () {
    await loadOnline(
      ctx,
      [...flow(), wxNode("recv2", "wx-receive", {}, [["out2"]]), { id: "out2", type: "helper", wires: [] }],
      "recv",
    );
    const name = friendName();
    const a = nextOut();
    const b = nextOut("out2");
    ctx.sb.control.inject({ from: name, text: "1 < 2 & 3 > 2 😀" });
    const [msg, other] = await Promise.all([a, b]);
    assert.equal(msg.payload, "1 < 2 & 3 > 2 😀");
    assert.equal(msg.topic, name);
    assert.equal(msg.wechat.type, "text");
    assert.equal(msg.wechat.chat.displayName, name);
    assert.equal(msg.wechat.fromSelf, false);
    // Plain data, and each node its own copy.
    assert.deepEqual(JSON.parse(JSON.stringify(msg.wechat)), msg.wechat);
    assert.notEqual(msg.wechat, other.wechat);
    assert.deepEqual(msg.wechat, other.wechat);
  });

  it("passes only the checked types", async function () {
    await loadOnline(ctx, flow({ types: ["text"] }), "recv");
    const out = nextOut();
    const name = friendName();
    ctx.sb.control.inject({ from: name, type: "image" });
    ctx.sb.control.inject({ from: name, type: "link", title: "t", url: "https://example.com/" });
    ctx.sb.control.inject({ from: name, text: "only this" });
    const msg = await out;
    assert.equal(msg.payload, "only this");
  });

  it("passes nothing when no type is checked", async function () {
    await loadOnline(ctx, [...flow({ types: [] }), wxNode("all", "wx-receive", {}, [["out2"]]), { id: "out2", type: "helper", wires: [] }], "recv");
    let leaked = false;
    nodeById("out").on("input", () => {
      leaked = true;
    });
    const other = nextOut("out2");
    ctx.sb.control.inject({ from: friendName(), text: "anyone?" });
    await other;
    assert.equal(leaked, false);
  });

  it("passes only the listed chats, matched by stable name", async function () {
    await loadOnline(ctx, flow({ chats: ["家人群"] }), "recv");
    const members = ctx.sb.control.groupMembers("家人群").filter((m) => m.nickName !== "Sandbox Me");
    const member = members[0];
    assert.ok(member);
    const out = nextOut();
    ctx.sb.control.inject({ from: friendName(), text: "private" });
    ctx.sb.control.inject({ from: member.nickName, room: "家人群", text: "in the group" });
    const msg = await out;
    assert.equal(msg.payload, "in the group");
    assert.equal(msg.topic, "家人群");
    assert.equal(msg.wechat.room?.displayName, "家人群");
    assert.equal(msg.wechat.sender.displayName.length > 0, true);
  });

  it("in groups passes only messages that @mention the account when asked", async function () {
    await loadOnline(ctx, flow({ mentionedOnly: true }), "recv");
    const member = ctx.sb.control.groupMembers("家人群").find((m) => m.nickName !== "Sandbox Me");
    assert.ok(member);
    const out = nextOut();
    ctx.sb.control.inject({ from: member.nickName, room: "家人群", text: "not for you" });
    ctx.sb.control.inject({ from: member.nickName, room: "家人群", text: "hey", mention: true });
    const msg = await out;
    assert.equal(msg.wechat.mentioned, true);
    assert.match(String(msg.payload), /^hey/);
  });

  it("skips the account's own messages unless 'include own messages' is on", async function () {
    await loadOnline(
      ctx,
      [...flow(), wxNode("own", "wx-receive", { includeOwn: true }, [["out2"]]), { id: "out2", type: "helper", wires: [] }],
      "recv",
    );
    const own = nextOut("out2");
    const other = nextOut();
    // A message this account wrote in a group (as from the phone), then one from someone else.
    ctx.sb.control.inject({ from: "Sandbox Me", room: "家人群", text: "my own words" });
    ctx.sb.control.inject({ from: friendName(), text: "someone else" });
    const mine = await own;
    assert.equal(mine.payload, "my own words");
    assert.equal(mine.wechat.fromSelf, true);
    assert.equal((await other).payload, "someone else");
  });

  it("downloads media into msg.payload as a Buffer", async function () {
    await loadOnline(ctx, flow({ types: ["image"], download: true, maxSize: 1 }), "recv");
    const png = await QRCode.toBuffer("wxflow");
    const out = nextOut();
    ctx.sb.control.inject({ from: friendName(), type: "image", data: png.toString("base64") });
    const msg = await out;
    assert.ok(Buffer.isBuffer(msg.payload));
    assert.ok((msg.payload as Buffer).equals(png));
    assert.equal(msg.wechat.type, "image");
  });

  it("keeps the text and says why when media is over the size limit", async function () {
    await loadOnline(ctx, flow({ types: ["image"], download: true, maxSize: 0.0001 }), "recv");
    const png = await QRCode.toBuffer("wxflow: a QR code that is larger than one hundred bytes for sure");
    const out = nextOut();
    ctx.sb.control.inject({ from: friendName(), type: "image", data: png.toString("base64") });
    const msg = await out;
    assert.equal(typeof msg.payload, "string");
    assert.equal(msg.wechat.downloadError?.code, "TOO_LARGE");
  });
});

describe("wx-receive filter", function () {
  const chat = { userName: "@abc", handle: "Alice", displayName: "Alice", kind: "friend" as const };
  const base: Message = {
    id: "1",
    type: "text",
    msgType: 1,
    time: 0,
    chat,
    sender: chat,
    fromSelf: false,
    mentioned: false,
    text: "hi",
    raw: {},
  };
  const none = (): Contact | undefined => undefined;
  const filter = { types: undefined, chats: [], mentionedOnly: false, includeOwn: false };

  it("skips own messages unless asked", function () {
    assert.equal(passes({ ...base, fromSelf: true }, filter, none), false);
    assert.equal(passes({ ...base, fromSelf: true }, { ...filter, includeOwn: true }, none), true);
  });

  it("matches chats by remark, nickname or alias of the live contact, case-insensitively", function () {
    const contact: Contact = {
      userName: "@abc",
      nickName: "Alice W",
      remarkName: "Boss",
      alias: "alice_w",
      kind: "friend",
      displayName: "Boss",
      handle: "Boss",
    };
    const lookup = (u: string): Contact | undefined => (u === "@abc" ? contact : undefined);
    for (const name of ["boss", "Alice W", "ALICE_W"]) assert.equal(passes(base, { ...filter, chats: [name] }, lookup), true, name);
    assert.equal(passes(base, { ...filter, chats: ["Carol"] }, lookup), false);
    // A UserName in the list never matches: only stable names are stored.
    assert.equal(passes(base, { ...filter, chats: ["@abc"] }, lookup), false);
  });

  it("never passes protocol status messages", function () {
    assert.equal(passes({ ...base, type: "status" }, filter, none), false);
  });
});
