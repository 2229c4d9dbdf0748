import { strict as assert } from "node:assert";
import * as path from "node:path";
import { promises as fs } from "node:fs";
import { WeChatError, isWeChatError } from "../../lib/wechat/errors";
import type { Contact } from "../../lib/wechat/types";
import { envPerTest, loginByQr, waitForEvent, waitForMessages, waitForState, type Env } from "./env";

function aFriend(env: Env, contacts: Contact[]): Contact {
  const nickNames = new Set(env.sb.control.world().contacts.filter((c) => c.kind === "friend").map((c) => c.nickName));
  const friend = contacts.find((c) => c.kind === "friend" && nickNames.has(c.nickName) && c.remarkName === "");
  assert.ok(friend);
  return friend;
}

function pattern(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

describe("client lifecycle and media against the sandbox", function () {
  this.timeout(30_000);
  const startEnv = envPerTest();

  it("downloads voice, video (Range) and file media byte-exact, and refuses oversized ones", async () => {
    const env = await startEnv();
    const { client, rec } = env.newClient();
    await loginByQr(env, client);
    const friend = aFriend(env, client.listContacts());
    const voice = pattern(4000);
    const video = Buffer.concat([Buffer.from("\x00\x00\x00\x18ftypmp42", "latin1"), pattern(70_000)]);
    const file = pattern(600_000);
    env.sb.control.inject({ from: friend.nickName, type: "voice", data: voice.toString("base64"), durationMs: 2000 });
    env.sb.control.inject({ from: friend.nickName, type: "video", data: video.toString("base64") });
    env.sb.control.inject({ from: friend.nickName, type: "file", data: file.toString("base64"), fileName: "../../x/report 1.pdf" });
    const [v, vid, f] = await waitForMessages(client, rec, (m) => m.media !== undefined, 3);
    assert.equal(v!.type, "voice");
    assert.ok((await client.download(v!)).equals(voice));
    assert.equal(vid!.type, "video");
    assert.ok((await client.download(vid!)).equals(video));
    assert.equal(f!.type, "file");
    assert.ok(!(f!.media?.fileName ?? "").includes("/"), "a received file name is sanitised");
    assert.ok((await client.download(f!)).equals(file));
    await assert.rejects(client.download(f!, { maxBytes: 1000 }), (e) => isWeChatError(e, "TOO_LARGE"));
  });

  it("applies contact changes: added, modified, removed, group members", async () => {
    const env = await startEnv();
    const { client } = env.newClient();
    await loginByQr(env, client);
    const added = waitForEvent(client, "contacts", (c) => c.added.length > 0);
    env.sb.control.contacts({ op: "add", nickName: "Newcomer", alias: "newbie" });
    await added;
    assert.equal(client.resolve("newbie").nickName, "Newcomer");
    const changed = waitForEvent(client, "contacts", (c) => c.changed.length > 0);
    env.sb.control.contacts({ op: "modify", name: "Newcomer", remarkName: "The New One" });
    await changed;
    assert.equal(client.resolve("The New One").alias, "newbie");
    const removed = waitForEvent(client, "contacts", (c) => c.removed.length > 0);
    env.sb.control.contacts({ op: "remove", name: "The New One" });
    await removed;
    assert.throws(() => client.resolve("newbie"), (e) => isWeChatError(e, "NOT_FOUND"));

    const group = client.listContacts({ kind: "group" })[0]!;
    const before = group.members?.length ?? 0;
    const stranger = client.listContacts({ kind: "friend" }).find((c) => !group.members?.some((m) => m.userName === c.userName))!;
    const grown = waitForEvent(client, "contacts", (c) => c.changed.includes(group.userName));
    env.sb.control.contacts({ op: "add-members", room: group.userName, members: [stranger.nickName] });
    await grown;
    await waitForState(client, () => (client.getContact(group.userName)?.members?.length ?? 0) === before + 1);
    assert.ok(client.getContact(group.userName)?.members?.some((m) => m.userName === stranger.userName));
    const count = client.listContacts().length;
    await client.refreshContacts();
    assert.equal(client.listContacts().length, count, "a reload finds the same contacts");
    assert.ok(client.getContact(group.userName)?.members?.some((m) => m.userName === stranger.userName));
  });

  it("rides out a sandbox restart mid-stream without losing or repeating messages", async () => {
    const env = await startEnv({ syncPageSize: 2 });
    const { client, rec } = env.newClient();
    await loginByQr(env, client);
    const friend = aFriend(env, client.listContacts());
    env.sb.control.inject({ from: friend.nickName, text: "r0" });
    await waitForMessages(client, rec, (m) => m.text === "r0", 1);
    await env.sb.restart();
    env.sb.control.injectBulk({ from: friend.nickName, count: 5, prefix: "r" });
    const got = await waitForMessages(client, rec, (m) => /^r \d$/.test(m.text), 5, 15_000);
    assert.deepEqual(
      got.map((m) => m.text),
      ["r 1", "r 2", "r 3", "r 4", "r 5"],
      "in order, once each (ContinueFlag pages of 2)",
    );
    assert.ok(rec.warns.some((w) => /network error/.test(w)), "the restart cut the held poll");
    assert.equal(client.state.state, "online");
  });

  it("stop() stops receiving first, lets the queued sends go out, and the next start receives what came meanwhile once (#18)", async () => {
    const env = await startEnv();
    const sessionFile = path.join(env.dir, "drain.session");
    const first = env.newClient({ sessionFile, sessionSecret: "s", pacing: { perMinute: 600, burst: 1, jitter: 0 } });
    await loginByQr(env, first.client);
    const friend = aFriend(env, first.client.listContacts());
    // ten sends queued at 10 a second: most still wait when stop() comes
    const sends = Array.from({ length: 10 }, (_, i) => first.client.sendText(friend.userName, `queued ${i}`));
    await sends[0];
    const stopped = first.client.stop();
    // arrives while the client drains: not taken now (receiving has stopped), delivered after the restart
    env.sb.control.inject({ from: friend.nickName, text: "during the drain" });
    await stopped;
    const results = await Promise.allSettled(sends);
    assert.deepEqual(
      results.map((r) => r.status),
      Array.from({ length: 10 }, () => "fulfilled"),
      "no queued send failed CLOSED",
    );
    const texts = env.sb.control.sent({ type: "text" }).map((r) => r.text);
    assert.deepEqual(texts, Array.from({ length: 10 }, (_, i) => `queued ${i}`), "each once, in order");
    assert.equal(first.rec.messages.filter((m) => m.text === "during the drain").length, 0);
    const again = env.newClient({ sessionFile, sessionSecret: "s" });
    again.client.start();
    const got = await waitForMessages(again.client, again.rec, (m) => m.text === "during the drain", 1, 15_000);
    assert.equal(got.length, 1);
    await again.client.stop();
  });

  // the lease was lost: queued sends fail at once (CLOSED, or the caller's reason: NOT_OWNER from wx-account, #17)
  for (const reason of [undefined, new WeChatError("NOT_OWNER", "the account moved to another instance")]) {
    const code = reason?.code ?? "CLOSED";
    it(`stop({ drain: false${reason ? ", reason" : ""} }): queued sends fail ${code} at once, none goes out after`, async () => {
      const env = await startEnv();
      const first = env.newClient({ pacing: { perMinute: 600, burst: 1, jitter: 0 } });
      await loginByQr(env, first.client);
      const friend = aFriend(env, first.client.listContacts());
      const sends = Array.from({ length: 10 }, (_, i) => first.client.sendText(friend.userName, `queued ${i}`));
      await sends[0];
      await first.client.stop(reason ? { drain: false, reason } : { drain: false });
      const results = await Promise.allSettled(sends);
      const failed = results.filter((r) => r.status === "rejected").map((r) => (r.reason as { code?: string }).code);
      assert.ok(failed.length >= 5, `most sends still queued were refused (${failed.length})`);
      assert.ok(failed.every((c) => c === code), failed.join(","));
      const sent = env.sb.control.sent({ type: "text" }).length;
      assert.equal(sent, results.length - failed.length, "what was refused never went out");
    });
  }

  it("stopReceiving() ends receiving at once: nothing more is synced or emitted, sends still go out, the next start delivers what came", async () => {
    const env = await startEnv();
    const sessionFile = path.join(env.dir, "receiving.session");
    const first = env.newClient({ sessionFile, sessionSecret: "s" });
    await loginByQr(env, first.client);
    const friend = aFriend(env, first.client.listContacts());
    env.sb.control.inject({ from: friend.nickName, text: "before" });
    await waitForMessages(first.client, first.rec, (m) => m.text === "before", 1);
    first.client.stopReceiving();
    const syncsBefore = first.rec.calls.filter((c) => c === "webwxsync").length;
    env.sb.control.inject({ from: friend.nickName, text: "after stopReceiving" });
    await first.client.sendText(friend.userName, "a send still goes out");
    assert.equal(env.sb.control.sent({ type: "text" }).at(-1)?.text, "a send still goes out");
    await first.client.stop();
    assert.equal(first.rec.calls.filter((c) => c === "webwxsync").length, syncsBefore, "no webwxsync after stopReceiving()");
    assert.deepEqual(first.rec.messages.filter((m) => m.text === "after stopReceiving"), []);
    const again = env.newClient({ sessionFile, sessionSecret: "s" });
    again.client.start();
    const got = await waitForMessages(again.client, again.rec, (m) => m.text === "after stopReceiving" || m.text === "before", 1, 15_000);
    assert.deepEqual(got.map((m) => m.text), ["after stopReceiving"], "delivered once by the next start, and nothing older again");
    await again.client.stop();
  });

  it("a stop after messages were emitted but before `delivered` resolved takes their answer back: the next start emits them again, its keys were not saved", async () => {
    const env = await startEnv();
    const sessionFile = path.join(env.dir, "delivered.session");
    // Node-RED delivers a node's output a turn later; a flow stopped in that turn drops it. Here the stop comes
    // exactly then, once, for the answer carrying "in transit".
    let stopInTransit = false;
    let heldBack = 0;
    const first = env.newClient({
      sessionFile,
      sessionSecret: "s",
      delivered: async () => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (stopInTransit && first.rec.messages.some((m) => m.text === "in transit")) {
          stopInTransit = false;
          heldBack++;
          first.client.stopReceiving();
        }
      },
    });
    await loginByQr(env, first.client);
    const friend = aFriend(env, first.client.listContacts());
    env.sb.control.inject({ from: friend.nickName, text: "delivered" });
    await waitForMessages(first.client, first.rec, (m) => m.text === "delivered", 1);
    stopInTransit = true;
    env.sb.control.inject({ from: friend.nickName, text: "in transit" });
    await waitForMessages(first.client, first.rec, (m) => m.text === "in transit", 1);
    await first.client.stop();
    assert.equal(heldBack, 1, "the stop came between the emit and the delivery");
    const again = env.newClient({ sessionFile, sessionSecret: "s" });
    again.client.start();
    const got = await waitForMessages(again.client, again.rec, (m) => m.text === "in transit" || m.text === "delivered", 1, 15_000);
    assert.deepEqual(got.map((m) => m.text), ["in transit"], "emitted again by the next start, and nothing delivered before");
    await again.client.stop();
  });

  it("logout() ends the session on the server, forgets the saved one and offers a QR", async () => {
    const env = await startEnv();
    const sessionFile = path.join(env.dir, "l.session");
    const { client, rec } = env.newClient({ sessionFile, sessionSecret: "s" });
    await loginByQr(env, client);
    await fs.stat(sessionFile);
    const qr = waitForState(client, (s) => s.state === "waiting-scan", 10_000);
    await client.logout();
    await qr;
    await assert.rejects(fs.stat(sessionFile));
    assert.ok(rec.calls.includes("webwxlogout"));
    assert.ok(!rec.states.some((s) => s.state === "push-login"), "a user logout does not try push login");
    const world = env.sb.control.world();
    assert.equal(world.accounts[0]!.online, false);
  });

  it("runs two accounts side by side in one process", async () => {
    const env = await startEnv({ accounts: 2 });
    const a = env.newClient();
    const b = env.newClient();
    await loginByQr(env, a.client, 0);
    await loginByQr(env, b.client, 1);
    const bName = b.client.state.user!.nickName;
    await a.client.sendText(bName, "hello b");
    const [got] = await waitForMessages(b.client, b.rec, (m) => m.text === "hello b", 1);
    assert.equal(got!.sender.userName, b.client.resolve(a.client.state.user!.nickName).userName);
    assert.equal(a.rec.messages.filter((m) => m.text === "hello b" && !m.fromSelf).length, 0);
  });
});
