import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as QRCode from "qrcode";
import { isWeChatError } from "../../lib/wechat/errors";
import type { Contact, Message } from "../../lib/wechat/types";
import { passes } from "../../nodes/wx-receive/filter";
import { attachmentName, saveAttachment } from "../../nodes/wx-receive/save";
import { helper, nodeById, waitForEvent } from "../support/node-red";
import type { AccountUser } from "../../nodes/shared/account";
import { ACCOUNT, accountConfig, accountOf, clientOf, loadOnline, logOf, useSandbox, wxNode } from "./fixture";

type Msg = Record<string, unknown> & { payload: unknown; topic: string; filename?: string; wechat: Message & { downloadError?: { code: string }; saveError?: { code: string } } };

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

/**
 * A deploy of modified nodes that changes only the wx-receive node: Node-RED closes the old one and starts the new
 * one while wx-send-text keeps the account running. Messages the client takes in between must reach the new node.
 */
describe("wx-receive redeployed alone", function () {
  const ctx = useSandbox({}, { wxReceiverGapMs: 300 });

  const flow = () => [accountConfig(ctx.sb), wxNode("send", "wx-send-text"), wxNode("recv", "wx-receive", { types: ["text"] })];

  /** Texts in arrival order, and a wait for the n-th one (with a timeout). */
  function texts(what: string): { list: string[]; add(text: string): void; count(n: number, timeoutMs?: number): Promise<void> } {
    const list: string[] = [];
    const waiting: Array<{ n: number; resolve: () => void }> = [];
    return {
      list,
      add(text) {
        list.push(text);
        for (const w of waiting.filter((w) => list.length >= w.n)) w.resolve();
      },
      count(n, timeoutMs = 10_000) {
        if (list.length >= n) return Promise.resolve();
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${what}: ${list.length} of ${n} texts after ${timeoutMs} ms (${list.join(", ")})`)), timeoutMs);
          waiting.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
        });
      },
    };
  }

  /** The texts the client emits from now on, whether or not a node takes them. */
  function emitted(): ReturnType<typeof texts> {
    const out = texts("emitted by the client");
    clientOf().on("message", (m: Message) => m.type === "text" && out.add(m.text));
    return out;
  }

  function friendName(): string {
    const friend = ctx.sb.control.worldContacts({ kind: "friend" }).find((c) => !c.remarkName && !/[<&]/.test(c.nickName));
    assert.ok(friend, "a plain-named friend in the sandbox world");
    return friend.nickName;
  }

  /** A new receiving node, as the redeploy registers it. */
  function receiver(got: ReturnType<typeof texts>): AccountUser {
    return { node: { id: "recv-new", status: () => undefined }, onMessage: (m) => (m.type === "text" ? got.add(m.text) : undefined) };
  }

  /**
   * Online, then the old wx-receive closed as a redeploy closes it (wx-send-text keeps the account running), then
   * `first` from a friend, taken by the client: with no receiving node registered.
   */
  async function inTheGap(first: string): Promise<{ client: ReturnType<typeof texts>; name: string }> {
    await loadOnline(ctx, flow(), "recv");
    const client = emitted();
    await (nodeById("recv") as unknown as { close(removed: boolean): Promise<void> }).close(false);
    const name = friendName();
    ctx.sb.control.inject({ from: name, text: first });
    await client.count(1);
    return { client, name };
  }

  it("holds what arrives between the old node's close and the new one's start, and hands it over in order", async function () {
    const { name } = await inTheGap("in the gap 1");
    ctx.sb.control.inject({ from: name, text: "in the gap 2" });
    const got = texts("at the new node");
    accountOf().register(receiver(got));
    await got.count(2);
    assert.deepEqual(got.list, ["in the gap 1", "in the gap 2"]);
    assert.deepEqual(logOf(ACCOUNT, "warn").filter((w) => /noReceiver/.test(w)), []);
  });

  it("lets them go with a warning when no receiver comes back in time, and goes on receiving", async function () {
    const { client, name } = await inTheGap("nobody listens");
    ctx.sb.control.inject({ from: name, text: "after the wait" });
    // The second answer is taken only once the wait is over (300 ms here) and the first message let go.
    await client.count(2);
    assert.deepEqual(client.list, ["nobody listens", "after the wait"]);
    assert.equal(logOf(ACCOUNT, "warn").filter((w) => /^1 wx-account\.log\.noReceiver$/.test(w)).length, 1, logOf(ACCOUNT, "warn").join("; "));
    // A receiver that comes later gets only what arrives from then on.
    const got = texts("at the late receiver");
    accountOf().register(receiver(got));
    ctx.sb.control.inject({ from: name, text: "with a receiver" });
    await got.count(1);
    assert.deepEqual(got.list, ["with a receiver"]);
  });
});

describe("wx-receive redeployed alone, as Node-RED deploys it", function () {
  const ctx = useSandbox({}, { wxReceiverGapMs: 10_000 });

  it("the real node that comes back takes what was held: handed over once it exists, not while it is being made", async function () {
    const account = accountConfig(ctx.sb);
    const send = wxNode("send", "wx-send-text");
    const recv = wxNode("recv", "wx-receive", { types: ["text"] }, [["out"]]);
    const out = { id: "out", type: "helper", wires: [] };
    await loadOnline(ctx, [account, send, recv, out], "recv");
    const friend = ctx.sb.control.worldContacts({ kind: "friend" }).find((c) => !c.remarkName && !/[<&]/.test(c.nickName));
    assert.ok(friend);
    // Every answer so far delivered (the login's status notify among them): the gap below holds one answer only.
    const before = nextOut();
    ctx.sb.control.inject({ from: friend.nickName, text: "before" });
    assert.equal((await before).payload, "before");
    // A deploy of changed nodes only takes wx-receive away; wx-send-text keeps the account running.
    await helper.setFlows([account, send, out], "nodes");
    const client = clientOf();
    // (the test's own timeout bounds the wait)
    const taken = new Promise<void>((resolve) => {
      const on = (m: Message): void => {
        if (m.text !== "while it was away") return;
        client.off("message", on);
        resolve();
      };
      client.on("message", on);
    });
    ctx.sb.control.inject({ from: friend.nickName, text: "while it was away" });
    await taken;
    // It comes back: the held text is handed to the new node (before: to a node still being made, which threw).
    const next = nextOut();
    await helper.setFlows([account, send, recv, out], "nodes");
    const msg = await next;
    assert.equal(msg.payload, "while it was away");
    assert.deepEqual(logOf(ACCOUNT, "error"), []);
  });
});

describe("wx-receive media", function () {
  const ctx = useSandbox();
  let saveDir: string;
  beforeEach(function () {
    // A folder inside a scratch dir, so anything written next to it (an escape) would be seen.
    saveDir = path.join(ctx.userDir, "scratch", "inbox");
  });

  const flow = (extra: Record<string, unknown> = {}) => [
    accountConfig(ctx.sb),
    wxNode("recv", "wx-receive", { types: ["image", "voice", "video", "file", "sticker"], download: true, maxSize: 5, ...extra }, [["out"]]),
    { id: "out", type: "helper", wires: [] },
  ];

  function friendName(): string {
    const friend = ctx.sb.control.worldContacts({ kind: "friend" }).find((c) => !c.remarkName && !/[<&]/.test(c.nickName));
    assert.ok(friend);
    return friend.nickName;
  }

  it("downloads voice, video and files as Buffers", async function () {
    await loadOnline(ctx, flow(), "recv");
    const from = friendName();
    const doc = Buffer.from("a shared document\n");
    const video = Buffer.concat([Buffer.from("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "latin1"), Buffer.alloc(3000, 9)]);
    const voice = Buffer.concat([Buffer.from("ID3\x03\x00\x00\x00\x00\x00\x00", "latin1"), Buffer.alloc(500, 0x55)]);
    const cases: [string, Buffer, Record<string, unknown>][] = [
      ["voice", voice, { type: "voice", durationMs: 2000 }],
      ["video", video, { type: "video" }],
      ["file", doc, { type: "file", fileName: "notes.txt" }],
    ];
    for (const [type, data, req] of cases) {
      const out = nextOut();
      ctx.sb.control.inject({ from, data: data.toString("base64"), ...req } as Parameters<typeof ctx.sb.control.inject>[0]);
      const msg = await out;
      assert.equal(msg.wechat.type, type);
      assert.ok(Buffer.isBuffer(msg.payload), `${type}: ${String(msg.payload)}`);
      assert.ok((msg.payload as Buffer).equals(data), type);
      assert.equal(msg.filename, undefined);
    }
  });

  it("saves attachments under their sanitised name in the folder, msg.filename = the path", async function () {
    await loadOnline(ctx, flow({ saveDir }), "recv");
    const from = friendName();
    const data = Buffer.from("report body");
    let out = nextOut();
    ctx.sb.control.inject({ from, type: "file", fileName: "report.txt", data: data.toString("base64") });
    const first = await out;
    assert.equal(first.filename, path.join(saveDir, "report.txt"));
    assert.ok(readFileSync(path.join(saveDir, "report.txt")).equals(data));
    // the same name again: a new file, the first one kept
    out = nextOut();
    ctx.sb.control.inject({ from, type: "file", fileName: "report.txt", data: Buffer.from("second").toString("base64") });
    const second = await out;
    assert.equal(second.filename, path.join(saveDir, "report (1).txt"));
    assert.ok(readFileSync(path.join(saveDir, "report.txt")).equals(data));
    // media without a file name get one made from the message
    out = nextOut();
    ctx.sb.control.inject({ from, type: "voice" });
    const voice = await out;
    assert.match(String(voice.filename), /voice-\d+\.mp3$/);
    assert.equal(path.dirname(String(voice.filename)), saveDir);
  });

  it("never lets a hostile file name reach outside the folder (../, absolute paths, NUL)", async function () {
    await loadOnline(ctx, flow({ saveDir }), "recv");
    const from = friendName();
    const hostile = ["../../escape.txt", "/etc/cron.d/evil", "..\\..\\win.txt", "a\u0000b.txt", "..", "CON.txt"];
    const saved: string[] = [];
    for (const fileName of hostile) {
      const out = nextOut();
      ctx.sb.control.inject({ from, type: "file", fileName, data: Buffer.from(`data of ${fileName}`).toString("base64") });
      const msg = await out;
      assert.equal(msg.wechat.saveError, undefined, fileName);
      const file = String(msg.filename);
      assert.equal(path.dirname(file), saveDir, `${JSON.stringify(fileName)} -> ${file}`);
      assert.ok(!path.basename(file).includes("\u0000") && !path.basename(file).startsWith("."), file);
      saved.push(path.basename(file));
    }
    // everything is in the folder, nothing beside it or above it
    assert.deepEqual(readdirSync(saveDir).sort(), [...saved].sort());
    assert.deepEqual(readdirSync(path.dirname(saveDir)), ["inbox"]);
    assert.equal(existsSync(path.join(ctx.userDir, "escape.txt")), false);
    assert.equal(existsSync("/etc/cron.d/evil"), false);
  });

  it("takes a relative folder from the Node-RED user dir", async function () {
    await loadOnline(ctx, flow({ saveDir: "attachments" }), "recv");
    const out = nextOut();
    ctx.sb.control.inject({ from: friendName(), type: "file", fileName: "a.txt", data: Buffer.from("a").toString("base64") });
    assert.equal((await out).filename, path.join(ctx.userDir, "attachments", "a.txt"));
  });

  it("stops saving once the folder's quota is full, and still passes the message on", async function () {
    // quota 0.0001 MB = 105 bytes: the first 80-byte file fits, the second does not.
    await loadOnline(ctx, flow({ saveDir, quota: 0.0001 }), "recv");
    const from = friendName();
    let out = nextOut();
    ctx.sb.control.inject({ from, type: "file", fileName: "first.bin", data: Buffer.alloc(80, 1).toString("base64") });
    const first = await out;
    assert.equal(first.filename, path.join(saveDir, "first.bin"));
    out = nextOut();
    ctx.sb.control.inject({ from, type: "file", fileName: "second.bin", data: Buffer.alloc(80, 2).toString("base64") });
    const second = await out;
    assert.equal(second.wechat.saveError?.code, "TOO_LARGE");
    assert.equal(second.filename, undefined);
    assert.ok(Buffer.isBuffer(second.payload) && second.payload.length === 80, "the download still reaches the flow");
    assert.deepEqual(readdirSync(saveDir), ["first.bin"]);
  });

  it("does not save what is over the size limit", async function () {
    await loadOnline(ctx, flow({ saveDir, maxSize: 0.0001 }), "recv");
    const out = nextOut();
    ctx.sb.control.inject({ from: friendName(), type: "file", fileName: "big.bin", data: Buffer.alloc(1000, 1).toString("base64") });
    const msg = await out;
    assert.equal(msg.wechat.downloadError?.code, "TOO_LARGE");
    assert.equal(msg.filename, undefined);
    assert.equal(existsSync(saveDir), false);
  });
});

describe("attachment saving", function () {
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(path.join(tmpdir(), "wxflow-save-"));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it("cleans any name to one segment inside the folder", async function () {
    for (const name of ["../x", "/abs/y", "..", "", "a/../../b", "nul\u0000byte"]) {
      const file = await saveAttachment(path.join(dir, "in"), name, Buffer.from("x"));
      assert.equal(path.dirname(file), path.join(dir, "in"), name);
    }
    assert.deepEqual(readdirSync(dir), ["in"]);
  });

  it("refuses a save that would pass the folder's quota, counting what is already there", async function () {
    const inbox = path.join(dir, "in");
    await saveAttachment(inbox, "a.bin", Buffer.alloc(60, 1), 100);
    // Files put there by anything else count too.
    writeFileSync(path.join(inbox, "other.bin"), Buffer.alloc(30, 2));
    await saveAttachment(inbox, "b.bin", Buffer.alloc(10, 3), 100);
    await assert.rejects(saveAttachment(inbox, "c.bin", Buffer.alloc(1, 4), 100), (error: unknown) => isWeChatError(error, "TOO_LARGE") && /quota/.test(error.message));
    assert.deepEqual(readdirSync(inbox).sort(), ["a.bin", "b.bin", "other.bin"]);
    // Room made, saving works again.
    rmSync(path.join(inbox, "other.bin"));
    await saveAttachment(inbox, "c.bin", Buffer.alloc(30, 4), 100);
  });

  it("names nameless media after the message", function () {
    const message = { id: "123", media: { kind: "video" } } as unknown as Message;
    assert.equal(attachmentName(message, Buffer.alloc(4)), "video-123.mp4");
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
