import assert from "node:assert/strict";
import type { Message } from "../../lib/wechat/types";
import { eventTypesOf } from "../../nodes/wx-event/events";
import { helper, nodeById, waitForEvent } from "../support/node-red";
import { NODES, accountConfig, clientOf, contactsWhen, loadOnline, useSandbox, wxNode } from "./fixture";

type EventMsg = Record<string, unknown> & { topic: string; payload: Record<string, unknown>; wechat: Record<string, unknown> };

/** The next msg at helper `id` whose topic is `topic` (others are skipped). */
function nextEvent(topic: string, id = "out", timeoutMs = 10_000): Promise<EventMsg> {
  return waitForEvent(nodeById(id), "input", (m) => ((m as EventMsg).topic === topic ? (m as EventMsg) : undefined), timeoutMs, `a "${topic}" event`);
}

describe("wx-event", function () {
  const ctx = useSandbox();

  const flow = (extra: Record<string, unknown> = {}, account: Record<string, unknown> = {}) => [
    accountConfig(ctx.sb, account),
    wxNode("events", "wx-event", extra, [["out"]]),
    { id: "out", type: "helper", wires: [] },
  ];

  function plainFriend(): string {
    const friend = ctx.sb.control.worldContacts({ kind: "friend" }).find((c) => !c.remarkName && !/[<&]/.test(c.nickName));
    assert.ok(friend);
    return friend.nickName;
  }

  it("walks through the login: qr (data URL + qrUrl), scanned, online", async function () {
    const qr = new Promise<EventMsg>((resolve, reject) => {
      helper.load(NODES, flow()).then(() => nextEvent("qr").then(resolve, reject), reject);
    });
    const msg = await qr;
    const pending = ctx.sb.control.logins()[0];
    assert.ok(pending);
    assert.equal(msg.payload.qrUrl, `https://login.weixin.qq.com/l/${pending.uuid}`);
    assert.match(String(msg.payload.qr), /^data:image\/png;base64,/);
    assert.equal(msg.wechat.account, "acc1");
    const scanned = nextEvent("scanned");
    ctx.sb.control.scanOnly({ uuid: pending.uuid });
    await scanned;
    const online = nextEvent("online");
    ctx.sb.control.confirm({ uuid: pending.uuid });
    const user = (await online).payload;
    assert.equal(user.nickName, "Sandbox Me");
    assert.match(String(user.userName), /^@/);
  });

  it("sends one qr msg per QR, and a new one when it expires", async function () {
    await helper.load(NODES, flow({ events: ["qr"] }));
    const first = await nextEvent("qr");
    let count = 1;
    nodeById("out").on("input", () => {
      count += 1;
    });
    const second = nextEvent("qr");
    ctx.sb.control.expireQr({});
    const next = await second;
    assert.notEqual(next.payload.qrUrl, first.payload.qrUrl);
    assert.equal(count, 2);
  });

  it("reports logged-out with the server's code", async function () {
    await loadOnline(ctx, flow(), "events");
    const out = nextEvent("logged-out");
    ctx.sb.control.expireSession({ code: 1101 });
    assert.equal((await out).payload.code, 1101);
  });

  it("reports a refused login with the code", async function () {
    ctx.sb.control.settings({ requireDesktop: true });
    await helper.load(NODES, flow({}, { mode: "web" }));
    const pending = await ctx.sb.control.waitForLogin({ timeoutMs: 10_000 });
    const out = nextEvent("refused");
    ctx.sb.control.scan({ uuid: pending.uuid });
    assert.equal((await out).payload.code, 1203);
  });

  it("reports contacts added, renamed and removed, and group members changed", async function () {
    await loadOnline(ctx, flow(), "events");
    let out = nextEvent("contact-added");
    ctx.sb.control.contacts({ op: "add", nickName: "Newcomer" });
    const added = (await out).payload as { change: string; contact: { nickName: string; handle: string; userName: string } };
    assert.equal(added.change, "added");
    assert.equal(added.contact.nickName, "Newcomer");
    assert.equal(added.contact.handle, "Newcomer");

    out = nextEvent("contact-renamed");
    ctx.sb.control.contacts({ op: "modify", name: "Newcomer", nickName: "Old Hand" });
    const renamed = (await out).payload as { contact: { nickName: string }; previous: { nickName: string } };
    assert.equal(renamed.contact.nickName, "Old Hand");
    assert.equal(renamed.previous.nickName, "Newcomer");

    out = nextEvent("contact-removed");
    ctx.sb.control.contacts({ op: "remove", name: "Old Hand" });
    assert.equal(((await out).payload as { contact: { nickName: string } }).contact.nickName, "Old Hand");

    const inGroup = new Set(ctx.sb.control.groupMembers("家人群").map((m) => m.nickName));
    const friend = ctx.sb.control.worldContacts({ kind: "friend" }).find((c) => !/[<&]/.test(c.nickName) && !inGroup.has(c.nickName))?.nickName;
    assert.ok(friend, "a friend outside 家人群");
    out = nextEvent("group-members");
    ctx.sb.control.contacts({ op: "add-members", room: "家人群", members: [friend] });
    const members = (await out).payload as { contact: { displayName: string }; members: { added: { nickName: string }[] } };
    assert.equal(members.contact.displayName, "家人群");
    assert.deepEqual(
      members.members.added.map((m) => m.nickName),
      [friend],
    );
  });

  it("passes only the checked events", async function () {
    await loadOnline(ctx, flow({ events: ["contact-removed"] }), "events");
    const seen: string[] = [];
    nodeById("out").on("input", (m: never) => seen.push((m as EventMsg).topic));
    const out = nextEvent("contact-removed");
    const client = clientOf();
    ctx.sb.control.contacts({ op: "add", nickName: "Passing By" });
    // The removal must come in a later sync than the addition, or the client sees neither.
    await contactsWhen(client, () => client.listContacts({ name: "Passing By" }).length === 1);
    ctx.sb.control.contacts({ op: "remove", name: "Passing By" });
    await out;
    assert.deepEqual(seen, ["contact-removed"]);
  });

  it("sends friend requests that a wx-action accept-friend takes as they are", async function () {
    await loadOnline(
      ctx,
      [
        ...flow({ events: ["friend-request"] }, {}),
        wxNode("accept", "wx-action", { action: "accept-friend" }, [["accepted"]]),
        { id: "accepted", type: "helper", wires: [] },
      ].map((n) => (n.id === "events" ? { ...n, wires: [["out", "accept"]] } : n)),
      "events",
    );
    const out = nextEvent("friend-request");
    const accepted = waitForEvent(nodeById("accepted"), "input", (m) => m as EventMsg);
    ctx.sb.control.inject({ from: "Stranger Zhang", type: "friend-request", text: "hi, it's Zhang" });
    const msg = await out;
    assert.equal(msg.payload.nickName, "Stranger Zhang");
    assert.equal(msg.payload.greeting, "hi, it's Zhang");
    assert.ok(typeof msg.payload.ticket === "string" && msg.payload.ticket !== "");
    const done = await accepted;
    assert.equal((done.wechat.action as { action: string }).action, "accept-friend");
    const client = clientOf();
    await contactsWhen(client, () => client.listContacts({ kind: "friend", name: "Stranger Zhang" }).length === 1);
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("reports a recall with the recalled message", async function () {
    await loadOnline(ctx, [...flow({ events: ["recall"] }), wxNode("recv", "wx-receive", { types: ["text"] }, [["texts"]]), { id: "texts", type: "helper", wires: [] }], "events");
    const friend = plainFriend();
    const text = waitForEvent(nodeById("texts"), "input", (m) => m as { wechat: Message });
    const { msgId } = ctx.sb.control.inject({ from: friend, text: "oops, wrong chat" });
    await text;
    const out = nextEvent("recall");
    ctx.sb.control.inject({ from: friend, type: "recall", msgId });
    const msg = await out;
    assert.equal(msg.payload.msgId, msgId);
    assert.equal((msg.payload.original as Message).text, "oops, wrong chat");
    assert.equal((msg.payload.chat as { displayName: string }).displayName, friend);
    assert.match(String(msg.payload.text), /撤回/);
  });

  it("offers the QR already shown when it is deployed later", async function () {
    const base = [accountConfig(ctx.sb), wxNode("send", "wx-send-text", { target: "filehelper" })];
    await helper.load(NODES, base);
    const pending = await ctx.sb.control.waitForLogin({ timeoutMs: 10_000 });
    // Deploy a wx-event node while that QR is shown: it sends the QR at once.
    await helper.setFlows([...base, wxNode("events", "wx-event", { events: ["qr"] }, [["out"]]), { id: "out", type: "helper", wires: [] }], "nodes");
    const msg = await nextEvent("qr");
    assert.equal(msg.payload.qrUrl, `https://login.weixin.qq.com/l/${pending.uuid}`);
  });
});

describe("wx-event types", function () {
  it("takes every type when the config has no list, only the listed ones otherwise", function () {
    assert.equal(eventTypesOf(undefined).size, 14);
    assert.deepEqual([...eventTypesOf(["qr", "recall", "bogus"])], ["qr", "recall"]);
    assert.equal(eventTypesOf([]).size, 0);
  });
});
