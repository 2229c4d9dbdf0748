/**
 * Issue #12 point 9 through the nodes, over real HTTP to the sandbox: a group called `Dev <Team> & 朋友`, its
 * name sent raw or HTML-escaped by the server, keeps its name in msg.wechat (wx-receive), in wx-contacts and in
 * the editor's picker, and is a send target by that name (wx-send-text).
 */
import assert from "node:assert/strict";
import type { ContactOut } from "../../nodes/shared/contacts";
import type { Message } from "../../lib/wechat/types";
import { helper, nodeById, waitForEvent } from "../support/node-red";
import { ACCOUNT, accountConfig, loadOnline, useSandbox, wxNode } from "./fixture";

const TEAM = "Dev <Team> & 朋友";

type Msg = Record<string, unknown> & { payload: unknown; topic: string; wechat: Message };

describe("names with angle brackets and ampersands (issue #12 point 9)", function () {
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
      const received = waitForEvent(nodeById("out"), "input", (m) => m as Msg, 10_000, "a msg from the group");
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

      const sent = waitForEvent(nodeById("sent"), "input", (m) => m as Msg, 10_000, "the sent msg");
      nodeById("send").receive({ payload: "reply to <Team>", to: TEAM });
      await sent;
      const record = await ctx.sb.control.waitForSent((r) => r.text === "reply to <Team>", { timeoutMs: 5_000 });
      assert.equal(record.toName, TEAM);
      assert.deepEqual(ctx.sb.control.violations(), []);
    });
  }
});
