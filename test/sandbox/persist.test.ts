import { strict as assert } from "node:assert";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isSnapshot, startSandbox, type Sandbox, type SandboxSnapshot } from "../../lib/sandbox";
import { WeChatClient } from "../../lib/wechat/client";
import type { Message } from "../../lib/wechat/types";
import { SANDBOX_DEFAULTS, fastTuning, onlineLoaded, uuidOf, waitForEvent, waitForState } from "../client/env";

/** #16.1: a sandbox saved with snapshot() and started again with `restore` goes on where it was. */
describe("sandbox snapshot and restore (#16.1)", function () {
  let dir: string;
  const open: { sandboxes: Sandbox[]; clients: WeChatClient[] } = { sandboxes: [], clients: [] };

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "wxflow-persist-"));
  });
  afterEach(async () => {
    for (const client of open.clients.splice(0)) await client.stop();
    for (const sb of open.sandboxes.splice(0)) await sb.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function sandbox(options: Parameters<typeof startSandbox>[0] = {}): Promise<Sandbox> {
    const sb = await startSandbox({ ...SANDBOX_DEFAULTS, ...options });
    open.sandboxes.push(sb);
    return sb;
  }

  function client(sb: Sandbox): WeChatClient {
    const c = new WeChatClient({ loginUrl: sb.url, sessionFile: path.join(dir, "a.session"), sessionSecret: "persist-test", tuning: fastTuning() });
    open.clients.push(c);
    return c;
  }

  /** A client of `sb` logged in by a scan, its session saved. */
  async function loggedIn(sb: Sandbox): Promise<WeChatClient> {
    const c = client(sb);
    c.start();
    sb.control.scan({ uuid: uuidOf(await waitForState(c, (s) => s.state === "waiting-scan")) });
    await waitForState(c, onlineLoaded, 10_000, "online");
    return c;
  }

  it("a client resumes its saved session against the restored sandbox on the same port, with no scan", async () => {
    const first = await sandbox();
    const before = await loggedIn(first);
    first.control.contacts({ op: "add", nickName: "Kept Friend" });
    await waitForEvent(before, "contact", (e) => e.contact.nickName === "Kept Friend", 10_000, "the new friend");
    const friend = before.resolve("Kept Friend");
    await before.sendText(friend.userName, "before the restart");
    await before.stop();

    // the snapshot is plain JSON (what a file holds)
    const saved = JSON.parse(JSON.stringify(first.snapshot())) as unknown;
    assert.ok(isSnapshot(saved));
    const snapshot: SandboxSnapshot = saved;
    assert.equal(snapshot.sessions.length, 1, "the live session is kept");
    const port = Number(new URL(first.url).port);
    const token = first.token;
    await first.close();

    const second = await sandbox({ port, restore: snapshot });
    assert.equal(second.url, first.url);
    assert.equal(second.token, token, "the phone page's link (its token) stays valid");
    assert.ok(second.control.sent().some((r) => r.text === "before the restart"), "the bot's sends are kept");

    const after = client(second);
    const states: string[] = [];
    after.on("state", (s) => states.push(s.state));
    after.start();
    await waitForState(after, onlineLoaded, 10_000, "online");
    assert.ok(!states.includes("waiting-scan"), `no scan: ${states.join(", ")}`);
    assert.equal(second.control.logins().length, 0, "no login was needed");
    assert.equal(after.resolve("Kept Friend").nickName, "Kept Friend", "the world keeps its changes");

    // messages go both ways on the resumed session
    const arrived = waitForEvent(after, "message", (m: Message) => m.text === "after the restart", 10_000, "the message");
    second.control.inject({ from: "Kept Friend", text: "after the restart" });
    await arrived;
    await after.sendText(after.resolve("Kept Friend").userName, "still here");
    assert.ok(second.control.sent().some((r) => r.text === "still here"));
    assert.deepEqual(second.control.violations(), [], "no protocol violation after the restore");
  });

  it("a new world (no restore) does not know the saved session: the client must scan", async () => {
    const first = await sandbox();
    const before = await loggedIn(first);
    await before.stop();
    const port = Number(new URL(first.url).port);
    await first.close();

    const second = await sandbox({ port });
    const after = client(second);
    after.start();
    await waitForState(after, (s) => s.state === "waiting-scan", 10_000, "a QR");
  });
});
