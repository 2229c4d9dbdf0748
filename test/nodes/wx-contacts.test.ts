import assert from "node:assert/strict";
import type { ContactOut } from "../../nodes/shared/contacts";
import { nodeById, waitForEvent } from "../support/node-red";
import { accountConfig, catchFlow, clientOf, loadOnline, useSandbox, wxNode } from "./fixture";

interface Caught {
  error: { code?: string; message: string };
}

describe("wx-contacts", function () {
  const ctx = useSandbox();

  const flow = (extra: Record<string, unknown> = {}) => [
    accountConfig(ctx.sb),
    wxNode("contacts", "wx-contacts", extra, [["out"]]),
    { id: "out", type: "helper", wires: [] },
    ...catchFlow(["contacts"]),
  ];

  async function ask(msg: Record<string, unknown>): Promise<unknown> {
    const out = waitForEvent(nodeById("out"), "input", (m) => (m as { payload: unknown }).payload);
    nodeById("contacts").receive(msg);
    return out;
  }

  async function refused(msg: Record<string, unknown>): Promise<Caught> {
    const caught = waitForEvent(nodeById("caught"), "input", (m) => m as Caught);
    nodeById("contacts").receive(msg);
    return caught;
  }

  it("lists contacts by kind with stable fields", async function () {
    await loadOnline(ctx, flow({ action: "list", kind: "all" }), "contacts");
    const all = (await ask({})) as ContactOut[];
    const world = ctx.sb.control.world();
    assert.ok(all.length >= world.counts.friends + world.counts.groups);
    const groups = (await ask({ kind: "groups" })) as ContactOut[];
    assert.ok(groups.length >= 1);
    assert.ok(groups.every((c) => c.type === "group" && c.userName.startsWith("@@")));
    const family = groups.find((c) => c.handle === "家人群");
    assert.ok(family);
    assert.equal(typeof family.memberCount, "number");
    const friends = (await ask({ kind: "friends" })) as ContactOut[];
    assert.ok(friends.length > 0 && friends.every((c) => c.type === "friend"));
    for (const c of friends) {
      for (const key of ["userName", "handle", "displayName", "nickName", "remarkName", "alias", "type"]) assert.ok(key in c, key);
    }
    assert.equal(friends.some((c) => "members" in c), false);
  });

  it("filters by a name substring", async function () {
    await loadOnline(ctx, flow({ action: "list" }), "contacts");
    const found = (await ask({ name: "家人" })) as ContactOut[];
    assert.deepEqual(
      found.map((c) => c.handle),
      ["家人群"],
    );
  });

  it("gets one contact by name, a group with its members", async function () {
    await loadOnline(ctx, flow({ action: "get" }), "contacts");
    const group = (await ask({ payload: "家人群" })) as ContactOut;
    assert.equal(group.type, "group");
    assert.ok(Array.isArray(group.members) && group.members.length > 0);
    const helper = (await ask({ name: "filehelper" })) as ContactOut;
    assert.equal(helper.userName, "filehelper");
  });

  it("lists the members of a group", async function () {
    await loadOnline(ctx, flow({ action: "members", query: "家人群" }), "contacts");
    const members = (await ask({})) as { userName: string; nickName: string; displayName: string }[];
    const expected = ctx.sb.control.groupMembers("家人群");
    assert.equal(members.length, expected.length);
    assert.ok(members.some((m) => m.nickName === "Sandbox Me"));
  });

  it("refreshes from the server and sees a new contact", async function () {
    await loadOnline(ctx, flow({ action: "refresh", kind: "friend", query: "Newcomer" }), "contacts");
    assert.equal(clientOf().listContacts({ name: "Newcomer" }).length, 0);
    ctx.sb.control.contacts({ op: "add", nickName: "Newcomer" });
    const found = (await ask({})) as ContactOut[];
    assert.deepEqual(
      found.map((c) => c.nickName),
      ["Newcomer"],
    );
  });

  it("reports NOT_FOUND, a non-group and bad input through Catch", async function () {
    await loadOnline(ctx, flow({ action: "get" }), "contacts");
    assert.equal((await refused({ payload: "Nobody Of That Name" })).error.code, "NOT_FOUND");
    assert.equal((await refused({ action: "members", name: "filehelper" })).error.code, "INVALID_ARGUMENT");
    assert.equal((await refused({ action: "drop-table" })).error.code, "INVALID_ARGUMENT");
    assert.equal((await refused({ action: "get" })).error.code, "INVALID_ARGUMENT");
  });
});
