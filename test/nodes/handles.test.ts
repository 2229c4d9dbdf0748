import assert from "node:assert/strict";
import type { Message } from "../../lib/wechat/types";
import type { ContactOut } from "../../nodes/shared/contacts";
import { helper, nodeById, waitForEvent } from "../support/node-red";
import { ACCOUNT, accountConfig, accountOf, clientOf, contactsWhen, loadOnline, login, nextAt, useSandbox, wxNode } from "./fixture";

type Msg = Record<string, unknown> & { wechat: Message & { sent?: { to: string; toHandle: string }; action?: { target: { userName: string; handle: string } } } };

/**
 * Stable handles: what a flow stores is a name, resolved again at every use, so flows survive a new login
 * (every UserName changes) and contact changes.
 */
describe("stable handles", function () {
  const ctx = useSandbox();

  const flow = () => [
    accountConfig(ctx.sb),
    wxNode("send", "wx-send-text", { target: "家人群" }, [["sent"]]),
    { id: "sent", type: "helper", wires: [] },
    wxNode("reply", "wx-send-text", {}, [["sent"]]),
    wxNode("recv", "wx-receive", { types: ["text"], chats: ["家人群"] }, [["received"]]),
    { id: "received", type: "helper", wires: [] },
    wxNode("act", "wx-action", { action: "mark-read", target: "家人群" }, [["acted"]]),
    { id: "acted", type: "helper", wires: [] },
  ];

  async function through(id: string, out: string, msg: Record<string, unknown>): Promise<Msg> {
    const next = nextAt(out);
    nodeById(id).receive(msg);
    return (await next) as Msg;
  }

  async function groupMessage(text: string): Promise<Msg> {
    const member = ctx.sb.control.groupMembers("家人群").find((m) => m.nickName !== "Sandbox Me");
    assert.ok(member);
    const next = nextAt("received");
    ctx.sb.control.inject({ from: member.nickName, room: "家人群", text });
    return (await next) as Msg;
  }

  it("keeps configured targets, filters and replies working after a new login (new UserNames)", async function () {
    await loadOnline(ctx, flow(), "send");
    const first = await through("send", "sent", { payload: "before" });
    const firstTo = first.wechat.sent?.to ?? "";
    assert.match(firstTo, /^@@/);
    assert.equal(first.wechat.sent?.toHandle, "家人群");
    const received = await groupMessage("from the first session");
    assert.equal(received.wechat.chat.userName, firstTo);
    assert.equal(received.wechat.chat.handle, "家人群");
    const acted = await through("act", "acted", {});
    assert.equal(acted.wechat.action?.target.userName, firstTo);

    // log out and in again: every UserName changes
    await accountOf().logout();
    await login(ctx, nodeById("send"));
    const group = clientOf().resolve("家人群");
    assert.notEqual(group.userName, firstTo);

    const second = await through("send", "sent", { payload: "after" });
    assert.equal(second.wechat.sent?.to, group.userName);
    assert.equal(second.wechat.sent?.toHandle, "家人群");
    const again = await groupMessage("from the second session");
    assert.equal(again.wechat.chat.userName, group.userName);
    const actedAgain = await through("act", "acted", {});
    assert.equal(actedAgain.wechat.action?.target.userName, group.userName);
    // a reply to a message of the first session finds the chat by its handle
    await through("reply", "sent", { ...received, payload: "late reply" });
    const records = ctx.sb.control.sent({ type: "text" });
    assert.deepEqual(
      records.map((r) => [r.text, r.toName, r.to === firstTo]),
      [
        ["before", "家人群", true],
        ["after", "家人群", false],
        ["late reply", "家人群", false],
      ],
    );
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("resolves a name at use: a new remark works as soon as it arrives", async function () {
    await loadOnline(ctx, flow(), "send");
    const friend = ctx.sb.control.worldContacts({ kind: "friend" }).find((c) => !c.remarkName && !/[<&]/.test(c.nickName));
    assert.ok(friend);
    const client = clientOf();
    ctx.sb.control.contacts({ op: "modify", name: friend.nickName, remarkName: "Cousin Wang" });
    await contactsWhen(client, () => client.listContacts({ name: "Cousin Wang" }).length === 1);
    const out = await through("send", "sent", { payload: "hi cousin", to: "Cousin Wang" });
    assert.equal(out.wechat.sent?.toHandle, "Cousin Wang");
    assert.equal(ctx.sb.control.sent()[0]?.toName, "Cousin Wang");
  });
});

/**
 * Issue #12 point 9 through the nodes, over real HTTP to the sandbox: a group called `Dev <Team> & 朋友`, its
 * name sent raw or HTML-escaped by the server, keeps its name in msg.wechat (wx-receive), in wx-contacts and in
 * the editor's picker, and is a send target by that name (wx-send-text).
 */
describe("names with angle brackets and ampersands (issue #12 point 9)", function () {
  const TEAM = "Dev <Team> & 朋友";
  type NamedMsg = Record<string, unknown> & { payload: unknown; topic: string; wechat: Message };

  const ctx = useSandbox({ contacts: 12, groups: 2 });

  const flow = () => [
    accountConfig(ctx.sb),
    wxNode("recv", "wx-receive", {}, [["out"]]),
    { id: "out", type: "helper", wires: [] },
    wxNode("contacts", "wx-contacts", { action: "list", kind: "all" }, [["listed"]]),
    { id: "listed", type: "helper", wires: [] },
    wxNode("send", "wx-send-text", {}, [["sent"]]),
    { id: "sent", type: "helper", wires: [] },
  ];

  for (const wire of ["raw", "escaped"] as const) {
    it(`a group named ${TEAM}, sent ${wire}, arrives, is listed and is a target by that name`, async function () {
      await loadOnline(ctx, flow(), "recv");
      const [a, b] = ctx.sb.control.worldContacts({ kind: "friend" }).filter((c) => !c.remarkName && !/[<&"]/.test(c.nickName));
      assert.ok(a && b, "two plain-named friends");
      ctx.sb.control.contacts({ op: "add-group", nickName: TEAM, members: [a.nickName, b.nickName], wire });

      // The group's ModContactList comes before (or with) the message: the room is known by name.
      const received = waitForEvent(nodeById("out"), "input", (m) => m as NamedMsg, 10_000, "a msg from the group");
      ctx.sb.control.inject({ room: TEAM, from: a.nickName, text: `hello <Team> & 朋友` });
      const msg = await received;
      assert.equal(msg.wechat.room?.displayName, TEAM);
      assert.equal(msg.wechat.room?.handle, TEAM);
      assert.equal(msg.wechat.chat.displayName, TEAM);
      assert.equal(msg.topic, TEAM);
      assert.equal(msg.payload, "hello <Team> & 朋友");

      const listed = waitForEvent(nodeById("listed"), "input", (m) => (m as { payload: ContactOut[] }).payload, 10_000, "the contact list");
      nodeById("contacts").receive({ name: "<Team>" });
      const found = await listed;
      assert.deepEqual(
        found.map((c) => [c.handle, c.displayName, c.nickName, c.type]),
        [[TEAM, TEAM, TEAM, "group"]],
      );

      const res = await helper.request().get(`/wx-account/${ACCOUNT}/contacts`).query({ q: "<Team> &", kind: "group" });
      assert.equal(res.status, 200);
      const picked = (res.body as { contacts: { handle: string; displayName: string }[] }).contacts;
      assert.deepEqual(picked.map((c) => [c.handle, c.displayName]), [[TEAM, TEAM]]);

      const sent = waitForEvent(nodeById("sent"), "input", (m) => m as NamedMsg, 10_000, "the sent msg");
      nodeById("send").receive({ payload: "reply to <Team>", to: TEAM });
      await sent;
      const record = await ctx.sb.control.waitForSent((r) => r.text === "reply to <Team>", { timeoutMs: 5_000 });
      assert.equal(record.toName, TEAM);
      assert.deepEqual(ctx.sb.control.violations(), []);
    });
  }
});
