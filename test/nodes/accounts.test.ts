import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import * as path from "node:path";
import type { Message } from "../../lib/wechat/types";
import { helper, nodeById, waitForEvent } from "../support/node-red";
import { NODES, accountConfig, accountOf, useSandbox } from "./fixture";

type Msg = Record<string, unknown> & { payload: unknown; wechat: Message };

/** Resolve with the uuid of the QR account `id` shows (waiting on its nodes' status changes). */
async function qrUuid(id: string, user: string): Promise<string> {
  const uuid = (): string | undefined => {
    const state = accountOf(id).state;
    return state.state === "waiting-scan" && state.qrUrl ? state.qrUrl.split("/l/")[1] : undefined;
  };
  return uuid() ?? waitForEvent(nodeById(user), "call:status", () => uuid(), 10_000, `a QR of ${id}`);
}

async function online(id: string, user: string): Promise<void> {
  if (accountOf(id).state.state === "online") return;
  await waitForEvent(nodeById(user), "call:status", () => (accountOf(id).state.state === "online" ? true : undefined), 10_000, `${id} online`);
}

describe("several accounts", function () {
  const ctx = useSandbox({ accounts: 2 });

  it("runs two accounts side by side that message each other through flows", async function () {
    const [a, b] = ctx.sb.control.world().accounts;
    assert.ok(a && b, "two phone accounts in the sandbox world");
    const flow = [
      accountConfig(ctx.sb, { id: "accA", name: "A" }),
      accountConfig(ctx.sb, { id: "accB", name: "B" }),
      // A sends to B by name, and hears B's answers
      { id: "sendA", type: "wx-send-text", account: "accA", target: b.nickName, wires: [[]] },
      { id: "recvA", type: "wx-receive", account: "accA", types: ["text"], wires: [["heardA"]] },
      { id: "heardA", type: "helper", wires: [] },
      // B echoes whatever it gets (a reply to msg.wechat.chat), and shows it
      { id: "recvB", type: "wx-receive", account: "accB", types: ["text"], wires: [["echoB", "heardB"]] },
      { id: "echoB", type: "wx-send-text", account: "accB", target: "", wires: [[]] },
      { id: "heardB", type: "helper", wires: [] },
    ];
    await helper.load(NODES, flow);
    const [uuidA, uuidB] = await Promise.all([qrUuid("accA", "sendA"), qrUuid("accB", "recvB")]);
    assert.notEqual(uuidA, uuidB);
    ctx.sb.control.scan({ uuid: uuidA, account: a.nickName });
    ctx.sb.control.scan({ uuid: uuidB, account: b.nickName });
    await Promise.all([online("accA", "sendA"), online("accB", "recvB")]);
    assert.equal(accountOf("accA").state.user?.nickName, a.nickName);
    assert.equal(accountOf("accB").state.user?.nickName, b.nickName);

    const heardB = waitForEvent(nodeById("heardB"), "input", (m) => m as Msg);
    const heardA = waitForEvent(nodeById("heardA"), "input", (m) => ((m as Msg).payload === "ping from A" ? (m as Msg) : undefined));
    nodeById("sendA").receive({ payload: "ping from A" });
    const atB = await heardB;
    assert.equal(atB.payload, "ping from A");
    assert.equal(atB.wechat.chat.displayName, a.nickName);
    const atA = await heardA;
    assert.equal(atA.wechat.chat.displayName, b.nickName);
    assert.equal(atA.wechat.fromSelf, false);

    const sent = ctx.sb.control.sent({ type: "text" });
    assert.deepEqual(
      sent.map((r) => [r.account, r.toName]),
      [
        [a.nickName, b.nickName],
        [b.nickName, a.nickName],
      ],
    );
    // separate clients, separate session files
    assert.notEqual(accountOf("accA").runningClient(), accountOf("accB").runningClient());
    assert.ok(existsSync(path.join(ctx.userDir, "wxflow", "accA.session")));
    assert.ok(existsSync(path.join(ctx.userDir, "wxflow", "accB.session")));
    assert.deepEqual(ctx.sb.control.violations(), []);
  });
});
