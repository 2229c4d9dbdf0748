import assert from "node:assert/strict";
import { sniffImage } from "../../lib/wechat/util";
import { helper, nodeById, waitForEvent } from "../support/node-red";
import { NODES, accountConfig, accountOf, catchFlow, clientOf, contactsWhen, expectCaught, loadOnline, nextAt, useSandbox, wxNode } from "./fixture";

type Out = Record<string, unknown> & { wechat: { action: { action: string; target?: { userName: string; handle: string } } } };

describe("wx-action", function () {
  const ctx = useSandbox();

  const flow = (extra: Record<string, unknown> = {}) => [
    accountConfig(ctx.sb),
    wxNode("act", "wx-action", extra, [["out"]]),
    { id: "out", type: "helper", wires: [] },
    wxNode("send", "wx-send-text", { target: "filehelper" }, [["sent"]]),
    { id: "sent", type: "helper", wires: [] },
    ...catchFlow(["act"]),
  ];

  async function act(msg: Record<string, unknown>): Promise<Out> {
    const out = nextAt("out");
    nodeById("act").receive(msg);
    return (await out) as Out;
  }

  /** A good action that settles an expectCaught: mark filehelper as read. */
  const settle = () => act({ action: "mark-read", target: "filehelper" });

  /** Friends of the sandbox account with plain names, outside `group` when given. */
  function friends(count: number, group?: string): string[] {
    const inGroup = new Set(group ? ctx.sb.control.groupMembers(group).map((m) => m.nickName) : []);
    const names = ctx.sb.control
      .worldContacts({ kind: "friend" })
      .filter((c) => !c.remarkName && !/[<&]/.test(c.nickName) && !inGroup.has(c.nickName))
      .map((c) => c.nickName);
    assert.ok(names.length >= count, "enough plain-named friends");
    return names.slice(0, count);
  }

  async function sendText(text: string): Promise<Record<string, unknown>> {
    const out = nextAt("sent");
    nodeById("send").receive({ payload: text });
    return out;
  }

  describe("recall", function () {
    it("recalls a message a wx send node just sent, from msg.wechat.sent", async function () {
      await loadOnline(ctx, flow({ action: "recall" }), "act");
      const sent = await sendText("sent by mistake");
      const done = await act(sent);
      assert.equal(done.wechat.action.action, "recall");
      const revoke = ctx.sb.control.sent({ type: "revoke" })[0];
      const original = ctx.sb.control.sent({ type: "text" })[0];
      assert.ok(revoke && original);
      assert.equal(revoke.msgId, original.msgId);
      assert.deepEqual(ctx.sb.control.violations(), []);
    });

    it("refuses a message older than 2 minutes without asking the server", async function () {
      await loadOnline(ctx, flow({ action: "recall" }), "act");
      const sent = await sendText("long ago");
      const old = sent.wechat as { sent: Record<string, unknown> };
      old.sent.time = Date.now() - 3 * 60_000;
      const report = await expectCaught("act", sent, "INVALID_ARGUMENT", settle);
      assert.match(report.error.message, /2 minutes/);
      assert.equal(ctx.sb.control.sent({ type: "revoke" }).length, 0);
    });

    it("refuses a msg without msg.wechat.sent", async function () {
      await loadOnline(ctx, flow({ action: "recall" }), "act");
      await expectCaught("act", { payload: "x" }, "INVALID_ARGUMENT", settle);
    });
  });

  it("accept-friend takes a friend request msg of wx-receive as it is", async function () {
    await loadOnline(ctx, [...flow({ action: "accept-friend" }), wxNode("recv", "wx-receive", { types: ["friend-request"] }, [["act"]])], "act");
    const done = nextAt("out");
    ctx.sb.control.inject({ from: "Stranger Li", type: "friend-request", text: "add me" });
    assert.equal(((await done) as Out).wechat.action.action, "accept-friend");
    const client = clientOf();
    await contactsWhen(client, () => client.listContacts({ kind: "friend", name: "Stranger Li" }).length === 1);
    assert.equal(ctx.sb.control.worldContacts({ kind: "friend", name: "Stranger Li" }).length, 1);
  });

  it("accept-friend refuses a msg without a request", async function () {
    await loadOnline(ctx, flow({ action: "accept-friend" }), "act");
    await expectCaught("act", { payload: "no request here" }, "INVALID_ARGUMENT", settle);
  });

  it("set-remark sets the remark from msg.remark, and the contact is found by it afterwards", async function () {
    await loadOnline(ctx, flow({ action: "set-remark" }), "act");
    const [friend] = friends(1);
    assert.ok(friend);
    const done = await act({ target: friend, remark: "Old Classmate" });
    assert.equal(done.wechat.action.target?.handle, friend);
    const world = ctx.sb.control.worldContacts({ kind: "friend", name: friend })[0];
    assert.equal(world?.remarkName, "Old Classmate");
    const client = clientOf();
    await contactsWhen(client, () => client.listContacts({ name: "Old Classmate" }).length === 1);
    assert.equal(client.resolve("Old Classmate").nickName, friend);
  });

  it("pin and unpin a chat", async function () {
    const [friend] = friends(1);
    assert.ok(friend);
    await loadOnline(ctx, flow({ target: friend }), "act");
    const client = clientOf();
    await act({ action: "pin" });
    await client.refreshContacts();
    assert.equal(client.resolve(friend).starred, true);
    await act({ action: "unpin" });
    await client.refreshContacts();
    assert.equal(client.resolve(friend).starred, false);
    // groups can be pinned too (the sandbox keeps no pin state for groups: only that the call is accepted)
    await act({ action: "pin", target: "家人群" });
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("create-group makes a group of named members with a topic and returns it", async function () {
    await loadOnline(ctx, flow({ action: "create-group", topic: "Hiking Club", members: friends(2).join(", ") }), "act");
    const done = await act({ payload: 1 });
    const group = done.payload as { displayName: string; type: string; members: { nickName: string }[] };
    assert.equal(group.type, "group");
    assert.equal(group.displayName, "Hiking Club");
    assert.equal(ctx.sb.control.worldContacts({ kind: "group", name: "Hiking Club" }).length, 1);
    // msg.topic and msg.members override the node's settings
    const [a, b] = friends(4).slice(2);
    await act({ topic: "Book Club", members: [a, b] });
    const members = ctx.sb.control.groupMembers("Book Club").map((m) => m.nickName);
    assert.ok(members.includes(a ?? "") && members.includes(b ?? ""), members.join(","));
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("create-group refuses without members", async function () {
    await loadOnline(ctx, flow({ action: "create-group", topic: "Lonely" }), "act");
    await expectCaught("act", {}, "INVALID_ARGUMENT", settle);
  });

  it("add-members, remove-members and rename-group change a group", async function () {
    await loadOnline(ctx, flow({ target: "家人群" }), "act");
    const [friend] = friends(1, "家人群");
    assert.ok(friend);
    await act({ action: "add-members", members: [friend] });
    assert.ok(ctx.sb.control.groupMembers("家人群").some((m) => m.nickName === friend));
    const client = clientOf();
    // the member list comes back by sync: then the member can be named for removal
    await contactsWhen(client, () => (client.resolve("家人群").members ?? []).some((m) => m.nickName === friend));
    await act({ action: "remove-members", members: friend });
    assert.ok(!ctx.sb.control.groupMembers("家人群").some((m) => m.nickName === friend));
    await act({ action: "rename-group", topic: "家人群 2.0" });
    assert.equal(ctx.sb.control.worldContacts({ kind: "group", name: "家人群 2.0" }).length, 1);
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("add-members invites once the group has 40 members or more", async function () {
    const big = ctx.sb.control.worldContacts({ kind: "group" }).find((g) => (g.memberCount ?? 0) >= 40 && (g.memberCount ?? 0) < 100);
    assert.ok(big, "a group of 40+ in the sandbox world");
    await loadOnline(ctx, flow({ action: "add-members", target: big.nickName }), "act");
    const [friend] = friends(1, big.nickName);
    await act({ members: [friend] });
    assert.ok(ctx.sb.control.groupMembers(big.nickName).some((m) => m.nickName === friend));
    // the sandbox records an addmember to a 40+ group as a violation
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("add-members refuses a target that is not a group", async function () {
    await loadOnline(ctx, flow({ action: "add-members" }), "act");
    await expectCaught("act", { target: "filehelper", members: ["x"] }, "INVALID_ARGUMENT", settle);
  });

  it("mark-read marks the chat of a received message by default", async function () {
    await loadOnline(ctx, [...flow({ action: "mark-read" }), wxNode("recv", "wx-receive", { types: ["text"] }, [["act"]])], "act");
    const [friend] = friends(1);
    assert.ok(friend);
    const done = nextAt("out");
    ctx.sb.control.inject({ from: friend, text: "read me" });
    const msg = (await done) as Out;
    assert.equal(msg.wechat.action.target?.handle, friend);
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("avatar puts the image into msg.payload, also of a group member", async function () {
    await loadOnline(ctx, flow({ action: "avatar" }), "act");
    const [friend] = friends(1);
    const mine = await act({ target: friend });
    assert.ok(Buffer.isBuffer(mine.payload) && sniffImage(mine.payload), "an image");
    const member = ctx.sb.control.groupMembers("家人群").find((m) => m.nickName !== "Sandbox Me");
    assert.ok(member);
    const theirs = await act({ target: member.displayName || member.nickName, group: "家人群" });
    assert.ok(Buffer.isBuffer(theirs.payload) && sniffImage(theirs.payload), "an image");
  });

  it("logout ends the session: the account shows a new QR", async function () {
    await loadOnline(ctx, flow({ action: "logout" }), "act");
    const before = ctx.sb.control.logins().length;
    await act({});
    const pending = await ctx.sb.control.waitForLogin({ timeoutMs: 10_000 });
    assert.ok(ctx.sb.control.logins().length > before);
    if (accountOf().state.state !== "waiting-scan") {
      await waitForEvent(nodeById("act"), "call:status", () => (accountOf().state.state === "waiting-scan" ? true : undefined), 10_000);
    }
    assert.equal(accountOf().state.qrUrl, `https://login.weixin.qq.com/l/${pending.uuid}`);
  });

  it("msg.action overrides the node's action; an unknown one is refused", async function () {
    await loadOnline(ctx, flow({ action: "logout" }), "act");
    const done = await act({ action: "mark-read", target: "家人群" });
    assert.equal(done.wechat.action.action, "mark-read");
    await expectCaught("act", { action: "explode" }, "INVALID_ARGUMENT", settle);
  });

  it("refuses an ambiguous name, listing the candidates, and acts on nobody", async function () {
    await loadOnline(ctx, flow({ action: "set-remark" }), "act");
    ctx.sb.control.contacts({ op: "add", nickName: "Twin" });
    ctx.sb.control.contacts({ op: "add", nickName: "Twin" });
    const client = clientOf();
    await contactsWhen(client, () => client.listContacts({ name: "Twin" }).length === 2);
    const report = await expectCaught("act", { target: "Twin", remark: "which one?" }, "AMBIGUOUS", settle);
    assert.match(report.error.message, /Twin/);
    assert.equal(ctx.sb.control.worldContacts({ name: "which one?" }).length, 0);
  });

  it("refuses before login with NOT_LOGGED_IN", async function () {
    await helper.load(NODES, flow({ action: "pin", target: "家人群" }));
    const caught = waitForEvent(nodeById("caught"), "input", (m) => m as { error: { code: string } });
    nodeById("act").receive({});
    assert.equal((await caught).error.code, "NOT_LOGGED_IN");
  });
});

// A pinned group stays pinned: wx-action pin, then the contact list from the server says so.
describe("wx-action: pinning a group", function () {
  const ctx = useSandbox();
  it("a pinned group comes back pinned from webwxgetcontact", async function () {
    await loadOnline(ctx, [accountConfig(ctx.sb), wxNode("act", "wx-action", { action: "pin", target: "家人群" }, [["out"]]), { id: "out", type: "helper", wires: [] }], "act");
    const out = nextAt("out");
    nodeById("act").receive({});
    await out;
    await clientOf().refreshContacts();
    assert.equal(clientOf().resolve("家人群").starred, true);
  });
});

describe("wx-action pacing", function () {
  // No wxAccountActionPacing override: the client's default pacing of friend/group actions applies.
  const ctx = useSandbox({}, { wxAccountActionPacing: true });

  it("spaces friend and group actions out (the client's stricter pacing)", async function () {
    this.timeout(20_000);
    await loadOnline(ctx, [accountConfig(ctx.sb), wxNode("act", "wx-action", { action: "pin", target: "家人群" }, [["out"]]), { id: "out", type: "helper", wires: [] }], "act");
    const times: number[] = [];
    for (const action of ["pin", "unpin"]) {
      const out = nextAt("out");
      nodeById("act").receive({ action });
      await out;
      times.push(Date.now());
    }
    const gap = (times[1] ?? 0) - (times[0] ?? 0);
    assert.ok(gap >= 3_000, `the second action waited ${gap} ms`);
  });
});
