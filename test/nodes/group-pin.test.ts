// A pinned group stays pinned: wx-action pin, then the contact list from the server says so.
import assert from "node:assert/strict";
import { nodeById } from "../support/node-red";
import { accountConfig, clientOf, loadOnline, nextAt, useSandbox, wxNode } from "./fixture";

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
