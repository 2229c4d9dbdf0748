/**
 * What a flow sees of issue #12 points 1, 2 and 4: an unsaved group right after login (wx-send-text, wx-contacts,
 * the editor picker), the account online while its contacts load, and a sync loop that keeps failing (status,
 * wx-event).
 */
import assert from "node:assert/strict";
import type { ContactOut } from "../../nodes/shared/contacts";
import type { NodeStatus } from "../../nodes/shared/red";
import { helper, nodeById, waitForEvent, waitForStatus } from "../support/node-red";
import { FAST_TUNING, NODES, accountConfig, accountOf, login, useSandbox, wxNode, type Context } from "./fixture";

type EventMsg = Record<string, unknown> & { topic: string; payload: Record<string, unknown> };

function unsavedTopics(ctx: Context): string[] {
  const state = ctx.sb.state;
  return state.unsavedGroups(state.account(0)).map((id) => state.world.groups.get(id)!.topic);
}

describe("unsaved groups and contacts still loading, in a flow (issue #12)", function () {
  const ctx = useSandbox({ groups: 4, unsavedGroups: 0.5, longPollMs: 400 });

  it("right after login, wx-send-text reaches an unsaved group by name; wx-contacts and the picker list it", async function () {
    const topic = unsavedTopics(ctx)[0]!;
    await helper.load(NODES, [
      accountConfig(ctx.sb),
      wxNode("send", "wx-send-text", { target: topic }, [["sent"]]),
      { id: "sent", type: "helper", wires: [] },
      wxNode("contacts", "wx-contacts", { action: "list", kind: "group" }, [["out"]]),
      { id: "out", type: "helper", wires: [] },
    ]);
    // The first green status: online, the contacts may still load.
    const online = waitForStatus(nodeById("send"), (s: NodeStatus) => s.fill === "green");
    const pending = await ctx.sb.control.waitForLogin({ timeoutMs: 10_000 });
    ctx.sb.control.scan({ uuid: pending.uuid });
    await online;
    const sent = waitForEvent(nodeById("sent"), "input", (m) => m as Record<string, unknown>, 10_000, "the send's output");
    nodeById("send").receive({ payload: "to the unsaved group" });
    await sent;
    const record = await ctx.sb.control.waitForSent((r) => r.text === "to the unsaved group", { timeoutMs: 5_000 });
    assert.equal(record.toName, topic);

    const listed = waitForEvent(nodeById("out"), "input", (m) => (m as { payload: ContactOut[] }).payload, 10_000, "the group list");
    nodeById("contacts").receive({});
    assert.ok((await listed).some((c) => c.handle === topic), "wx-contacts lists the unsaved group");

    const res = await helper.request().get(`/wx-account/${accountConfig(ctx.sb).id}/contacts`).query({ q: topic, kind: "group" });
    assert.equal(res.status, 200);
    const body = res.body as { contacts: { handle: string }[]; loading?: boolean };
    assert.ok(body.contacts.some((c) => c.handle === topic), "the editor picker offers the unsaved group");
    assert.equal(body.loading, undefined, "loaded by now");
  });

  it("shows 'loading contacts' while online before they are loaded, then the online status", async function () {
    await helper.load(NODES, [accountConfig(ctx.sb), wxNode("send", "wx-send-text")]);
    const statuses: NodeStatus[] = [];
    nodeById("send").on("call:status", (call: { args: [NodeStatus] }) => statuses.push(call.args[0]));
    await login(ctx, nodeById("send"));
    const green = statuses.filter((s) => s.fill === "green");
    assert.equal(green[0]?.shape, "ring");
    assert.match(green[0]?.text ?? "", /status\.loadingContacts/);
    assert.equal(green.at(-1)?.shape, "dot");
    assert.equal(accountOf().state.contacts, "loaded");
  });
});

describe("a sync loop that keeps failing, in a flow (issue #12 point 4)", function () {
  const ctx = useSandbox({ longPollMs: 400 }, { wxAccountClientTuning: { ...FAST_TUNING, sync: { backoffMs: 50, maxBackoffMs: 200, troubleAfter: 3 } } });

  it("wx-event sends sync-failing then sync-recovered, and the status says it; online is sent once", async function () {
    await helper.load(NODES, [
      accountConfig(ctx.sb),
      wxNode("events", "wx-event", { events: ["online", "sync-failing", "sync-recovered"] }, [["out"]]),
      { id: "out", type: "helper", wires: [] },
    ]);
    const topics: string[] = [];
    nodeById("out").on("input", (m: EventMsg) => topics.push(m.topic));
    await login(ctx, nodeById("events"));
    const next = (topic: string): Promise<EventMsg> =>
      waitForEvent(nodeById("out"), "input", (m) => ((m as EventMsg).topic === topic ? (m as EventMsg) : undefined), 10_000, topic);
    const failing = next("sync-failing");
    const status = waitForStatus(nodeById("events"), (s: NodeStatus) => /status\.syncFailing/.test(s.text ?? ""));
    // The state (and so the status) is back before the sync-recovered event goes out.
    let failed = false;
    const recovered = waitForStatus(nodeById("events"), (s: NodeStatus) => {
      failed ||= s.fill === "yellow";
      return failed && s.fill === "green" && s.shape === "dot";
    });
    ctx.sb.control.fault({ endpoint: "synccheck", kind: "500", count: 5 });
    const msg = await failing;
    assert.ok(Number(msg.payload.failures) >= 3);
    assert.match(String(msg.payload.message), /HTTP 500/);
    assert.equal((await status).fill, "yellow");
    await next("sync-recovered");
    await recovered;
    assert.equal(accountOf().state.sync, undefined);
    assert.deepEqual(topics, ["online", "sync-failing", "sync-recovered"]);
  });
});
