import { strict as assert } from "node:assert";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { SessionStore, type SavedSession } from "../../lib/wechat/session-store";
import { FileSessionStorage } from "../../lib/wechat/store";
import type { SessionStorage } from "../../lib/wechat/store/storage";
import type { Contact, Message } from "../../lib/wechat/types";
import { BoundedSet } from "../../lib/wechat/util";
import { envPerTest, loginByQr, stateNames, waitForMessages, waitForState, type Env, type Recorder } from "./env";

const SECRET = "test secret";

function aFriend(env: Env, contacts: Contact[]): Contact {
  const nickNames = new Set(env.sb.control.world().contacts.filter((c) => c.kind === "friend").map((c) => c.nickName));
  const friend = contacts.find((c) => c.kind === "friend" && nickNames.has(c.nickName) && c.remarkName === "");
  assert.ok(friend, "the world has a friend without a remark");
  return friend;
}

function idsOf(rec: Recorder, prefix: string): string[] {
  return rec.messages.filter((m) => m.type === "text" && m.text.startsWith(prefix)).map((m) => m.text);
}

function assertExactlyOnce(texts: string[], expected: string[]): void {
  assert.deepEqual([...texts].sort(), [...expected].sort(), "each message arrives exactly once");
}

/** A file storage whose writes wait at a gate while it is closed (a slow disk, a far Redis). */
function gatedStore(file: FileSessionStorage): { store: SessionStorage; written: SavedSession[]; close(): void; open(): void } {
  let gate: Promise<void> | undefined;
  let opened = (): void => undefined;
  const written: SavedSession[] = [];
  const store: SessionStorage = {
    load: () => file.load(),
    clear: () => file.clear(),
    claim: (ids) => file.claim(ids),
    claimNow: (ids) => file.claimNow(ids),
    async save(saved) {
      if (gate) await gate;
      written.push(saved);
      await file.save(saved);
    },
  };
  return {
    store,
    written,
    close: () => void (gate = new Promise((resolve) => (opened = resolve))),
    open: () => {
      gate = undefined;
      opened();
    },
  };
}

describe("client sync against the sandbox", function () {
  this.timeout(30_000);
  const startEnv = envPerTest();

  it("receives text, group text with a mention, and an image it can download", async () => {
    const env = await startEnv();
    const { client, rec } = env.newClient();
    await loginByQr(env, client);
    const friend = aFriend(env, client.listContacts());
    env.sb.control.inject({ from: friend.nickName, text: "hello <b>&amp; 😀" });
    const [text] = await waitForMessages(client, rec, (m) => m.type === "text" && m.chat.userName === friend.userName, 1);
    assert.equal(text!.text, "hello <b>&amp; 😀");
    assert.equal(text!.sender.userName, friend.userName);
    assert.equal(text!.fromSelf, false);

    const group = client.listContacts({ kind: "group" }).find((g) => (g.members?.length ?? 0) > 1)!;
    const self = client.state.user!.userName;
    const member = group.members!.find((m) => m.userName !== self)!;
    env.sb.control.inject({ from: member.userName, room: group.userName, text: "ping", mention: true });
    env.sb.control.inject({ from: member.userName, room: group.userName, text: "no mention here" });
    const inGroup = await waitForMessages(client, rec, (m) => m.room?.userName === group.userName, 2);
    assert.equal(inGroup[0]!.mentioned, true);
    assert.match(inGroup[0]!.text, /^ping/);
    assert.equal(inGroup[0]!.sender.userName, member.userName);
    assert.equal(inGroup[1]!.mentioned, false);
    assert.equal(inGroup[1]!.text, "no mention here");

    // A listener that throws breaks nothing: the rest of the batch still arrives.
    client.on("message", () => {
      throw new Error("listener bug");
    });
    env.sb.control.injectBulk({ from: friend.nickName, count: 3, prefix: "batch" });
    await waitForMessages(client, rec, (m) => m.text.startsWith("batch "), 3);

    const png = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(3000, 7)]);
    env.sb.control.inject({ from: friend.nickName, type: "image", data: png.toString("base64") });
    const [image] = await waitForMessages(client, rec, (m) => m.type === "image", 1);
    const full = await client.download(image!);
    assert.ok(full.equals(png), "the full image is byte-exact");
    const thumb = await client.download(image!, { thumbnail: true });
    assert.ok(thumb.length > 0);
    await assert.rejects(client.download(image!, { maxBytes: 100 }), (e: Error & { code?: string }) => e.code === "TOO_LARGE");
  });

  it("resumes a saved session after a restart: messages queued while down arrive exactly once, no QR", async () => {
    const env = await startEnv();
    const sessionFile = path.join(env.dir, "a.session");
    const first = env.newClient({ sessionFile, sessionSecret: SECRET });
    await loginByQr(env, first.client);
    const friend = aFriend(env, first.client.listContacts());
    env.sb.control.inject({ from: friend.nickName, text: "before 1" });
    await waitForMessages(first.client, first.rec, (m) => m.text === "before 1", 1);
    await first.client.stop();
    assert.equal((await fs.stat(sessionFile)).mode & 0o777, 0o600);

    const queued = ["down 1", "down 2", "down 3"];
    for (const text of queued) env.sb.control.inject({ from: friend.nickName, text });
    const second = env.newClient({ sessionFile, sessionSecret: SECRET });
    second.client.start();
    await waitForMessages(second.client, second.rec, (m) => m.text.startsWith("down "), 3);
    env.sb.control.inject({ from: friend.nickName, text: "after 1" });
    await waitForMessages(second.client, second.rec, (m) => m.text === "after 1", 1);
    assert.deepEqual(
      stateNames(second.rec),
      ["resuming", "online"],
      "no QR, no login",
    );
    assertExactlyOnce(
      second.rec.messages.filter((m) => m.type === "text").map((m) => m.text),
      [...queued, "after 1"],
    );
  });

  it("with its own session file, each MsgId is marked handled and claimed by one lookup in one set", async () => {
    const env = await startEnv();
    const sessionFile = path.join(env.dir, "one.session");
    const { client, rec } = env.newClient({ sessionFile, sessionSecret: SECRET });
    await loginByQr(env, client);
    const friend = aFriend(env, client.listContacts());
    // Every de-dup set of the client is a BoundedSet: count their lookups while 40 texts come in.
    const add = BoundedSet.prototype.add;
    const added: string[] = [];
    BoundedSet.prototype.add = function (this: BoundedSet<string>, value: string): boolean {
      added.push(value);
      return add.call(this, value);
    };
    let texts: Message[];
    try {
      env.sb.control.injectBulk({ from: friend.nickName, count: 40, prefix: "once" });
      texts = await waitForMessages(client, rec, (m) => m.text.startsWith("once "), 40);
    } finally {
      BoundedSet.prototype.add = add;
    }
    // (The login's own notices may still be coming in meanwhile: counted by id.)
    const lookups = (id: string): number => added.filter((value) => value === id).length;
    assert.deepEqual(
      texts.map((m) => lookups(m.id)),
      texts.map(() => 1),
      "one lookup per MsgId (the client's set and the file's claims were two)",
    );
    await client.stop();
    const saved = await new FileSessionStorage(sessionFile, SECRET).load();
    assert.ok(saved?.seen?.includes(texts.at(-1)!.id), "the MsgIds handled are saved with the session");
  });

  it("a burst does not wait for the session store: saves are written behind the sync loop, the newest last", async () => {
    const env = await startEnv({ syncPageSize: 20 });
    const file = new FileSessionStorage(path.join(env.dir, "slow.session"), SECRET);
    const { store, written, close, open } = gatedStore(file);
    const { client, rec } = env.newClient({ sessionStorage: store });
    await loginByQr(env, client);
    const friend = aFriend(env, client.listContacts());
    close();
    const before = written.length;
    // 6 pages of 20: with every page waiting for its save, only the first page would come before the gate opens.
    env.sb.control.injectBulk({ from: friend.nickName, count: 120, prefix: "slow" });
    let texts: Message[];
    try {
      texts = await waitForMessages(client, rec, (m) => m.text.startsWith("slow "), 120);
      assert.equal(written.length, before, "nothing written while the gate is closed");
    } finally {
      // Open whatever happened: a save left waiting would hold the client's stop, and the suite with it.
      open();
    }
    assert.equal(new Set(texts.map((m) => m.text)).size, 120);
    await client.stop();
    // One write was waiting at the gate and one newer session replaced the rest; the stop writes the last again.
    const burst = written.slice(before);
    assert.ok(burst.length <= 4, `${burst.length} sessions written for 6 pages`);
    const saved = await file.load();
    assert.ok(saved?.seen, "the session was saved with its MsgIds");
    const lastId = texts.at(-1)!.id;
    assert.ok(saved.seen.includes(lastId), "the newest session (past the last page) is the one on disk");
    assert.deepEqual(saved.syncKey, burst.at(-1)!.syncKey);
  });

  it("a saved session the server ended meanwhile falls back to push login, then QR", async () => {
    const env = await startEnv();
    const sessionFile = path.join(env.dir, "x.session");
    const first = env.newClient({ sessionFile, sessionSecret: SECRET });
    await loginByQr(env, first.client);
    await first.client.stop();
    env.sb.control.expireSession({ code: 1101 });
    const second = env.newClient({ sessionFile, sessionSecret: SECRET });
    second.client.start();
    await waitForState(second.client, (s) => s.state === "push-login");
    const login = await env.sb.control.waitForLogin({ timeoutMs: 5_000 });
    assert.equal(login.push, true);
    env.sb.control.cancel({ uuid: login.uuid });
    await waitForState(second.client, (s) => s.state === "waiting-scan");
    assert.deepEqual(
      stateNames(second.rec),
      ["resuming", "push-login", "waiting-scan"],
    );
    assert.ok(second.rec.warns.some((w) => /saved session not usable/.test(w)));
    await assert.rejects(fs.stat(sessionFile), "the dead session was forgotten");
  });

  it("drops duplicates when resumed with a stale SyncKey", async () => {
    const env = await startEnv();
    const sessionFile = path.join(env.dir, "b.session");
    const { client, rec } = env.newClient({ sessionFile, sessionSecret: SECRET });
    await loginByQr(env, client);
    const friend = aFriend(env, client.listContacts());
    env.sb.control.inject({ from: friend.nickName, text: "m0" });
    await waitForMessages(client, rec, (m) => m.text === "m0", 1);
    await client.stop();
    const stale = await fs.readFile(sessionFile);

    client.start();
    await waitForState(client, (s) => s.state === "online");
    env.sb.control.inject({ from: friend.nickName, text: "m1" });
    env.sb.control.inject({ from: friend.nickName, text: "m2" });
    await waitForMessages(client, rec, (m) => m.text === "m2", 1);
    await client.stop();

    await fs.writeFile(sessionFile, stale, { mode: 0o600 });
    const syncs = rec.calls.filter((c) => c === "webwxsync").length;
    client.start();
    await waitForState(client, (s) => s.state === "online");
    env.sb.control.inject({ from: friend.nickName, text: "m3" });
    await waitForMessages(client, rec, (m) => m.text === "m3", 1);
    assert.ok(rec.calls.filter((c) => c === "webwxsync").length > syncs, "the stale key made the server send again");
    assertExactlyOnce(idsOf(rec, "m"), ["m0", "m1", "m2", "m3"]);
    const ids = rec.messages.map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length, "no MsgId emitted twice");
  });

  it("survives 500s, resets, hangs and truncated answers during sync without losing a message", async () => {
    const env = await startEnv({ skeyRotateEvery: 2 });
    const { client, rec } = env.newClient();
    await loginByQr(env, client);
    const friend = aFriend(env, client.listContacts());
    const faults = [
      { endpoint: "synccheck", kind: "500" as const },
      { endpoint: "synccheck", kind: "reset" as const },
      { endpoint: "synccheck", kind: "hang" as const },
      { endpoint: "webwxsync", kind: "500" as const, count: 3 },
      { endpoint: "webwxsync", kind: "reset" as const },
      { endpoint: "webwxsync", kind: "truncated" as const },
      { endpoint: "webwxsync", kind: "malformed" as const },
    ];
    const expected: string[] = [];
    for (const [i, fault] of faults.entries()) {
      env.sb.control.fault(fault);
      const text = `f${i} ${fault.endpoint} ${fault.kind}`;
      expected.push(text);
      env.sb.control.inject({ from: friend.nickName, text });
      await waitForMessages(client, rec, (m) => m.text === text, 1, 15_000);
    }
    assertExactlyOnce(idsOf(rec, "f"), expected);
    assert.equal(client.state.state, "online");
    assert.ok(rec.warns.length > 0, "the failures were reported as warnings");
  });

  it("1101 ends the session with a state event, tries push login, then offers a QR; no more sync calls", async () => {
    const env = await startEnv();
    const { client, rec } = env.newClient();
    await loginByQr(env, client);
    const loggedOut = waitForState(client, (s) => s.state === "logged-out");
    const pushing = waitForState(client, (s) => s.state === "push-login");
    env.sb.control.expireSession({ code: 1101 });
    const ended = await loggedOut;
    assert.equal(ended.code, 1101);
    const callsAtEnd = rec.calls.length;
    await pushing;
    const login = await env.sb.control.waitForLogin({ timeoutMs: 5_000 });
    assert.equal(login.push, true);
    env.sb.control.cancel({ uuid: login.uuid });
    await waitForState(client, (s) => s.state === "waiting-scan");
    const after = rec.calls.slice(callsAtEnd);
    assert.ok(!after.includes("synccheck") && !after.includes("webwxsync"), `no sync calls after the end: ${after.join(",")}`);
    assert.deepEqual(
      rec.states.slice(-3).map((s) => s.state),
      ["logged-out", "push-login", "waiting-scan"],
    );
  });

  it("sends still queued when the server ends the session fail SESSION_EXPIRED, not CLOSED (the client was not stopped)", async () => {
    const env = await startEnv();
    const { client } = env.newClient({ pacing: { perMinute: 300, burst: 1, jitter: 0 } });
    await loginByQr(env, client);
    const friend = client.listContacts().find((c) => c.kind === "friend");
    assert.ok(friend);
    // ten sends at 5 a second: most still wait in the queue when the session ends
    const sends = Array.from({ length: 10 }, (_, i) => client.sendText(friend.userName, `queued ${i}`));
    await sends[0];
    const loggedOut = waitForState(client, (s) => s.state === "logged-out");
    env.sb.control.expireSession({ code: 1101 });
    await loggedOut;
    const results = await Promise.allSettled(sends);
    const codes = results.filter((r) => r.status === "rejected").map((r) => (r.reason as { code?: string }).code);
    assert.ok(codes.length >= 5, `most queued sends were refused (${codes.length})`);
    assert.ok(
      codes.every((c) => c === "SESSION_EXPIRED"),
      codes.join(","),
    );
    await client.stop();
  });

  it("push login after 1100 brings the session back with one tap", async () => {
    const env = await startEnv();
    const { client, rec } = env.newClient();
    await loginByQr(env, client);
    const pushing = waitForState(client, (s) => s.state === "push-login");
    env.sb.control.expireSession({ code: 1100 });
    await pushing;
    const login = await env.sb.control.waitForLogin({ timeoutMs: 5_000 });
    assert.equal(login.push, true);
    env.sb.control.confirm({ uuid: login.uuid });
    await waitForState(client, (s) => s.state === "online");
    const friend = aFriend(env, client.listContacts());
    env.sb.control.inject({ from: friend.nickName, text: "back" });
    await waitForMessages(client, rec, (m) => m.text === "back", 1);
    assert.equal(rec.states.filter((s) => s.state === "waiting-scan").length, 1, "only the first login showed a QR");
  });

  it("never puts a secret into states, warnings or errors", async () => {
    const env = await startEnv();
    const sessionFile = path.join(env.dir, "c.session");
    const { client, rec } = env.newClient({ sessionFile, sessionSecret: SECRET });
    await loginByQr(env, client);
    const friend = aFriend(env, client.listContacts());
    env.sb.control.fault({ endpoint: "webwxsync", kind: "500", count: 4 });
    env.sb.control.fault({ endpoint: "synccheck", kind: "reset" });
    env.sb.control.inject({ from: friend.nickName, text: "s1" });
    await waitForMessages(client, rec, (m) => m.text === "s1", 1, 15_000);
    const saved = await new SessionStore(sessionFile, SECRET).load();
    assert.ok(saved, "the session was saved");
    const secrets = [saved.sid, saved.skey, saved.passTicket, decodeURIComponent(saved.passTicket)];
    const jar = saved.cookies as { cookies?: { key: string; value: string }[] };
    for (const c of jar.cookies ?? []) {
      if (["wxsid", "webwx_data_ticket", "webwx_auth_ticket", "webwxuvid"].includes(c.key)) secrets.push(c.value);
    }
    assert.ok(secrets.length >= 7);
    const errors: string[] = [];
    await client.sendText("@nobody-here", "x").catch((e: Error) => errors.push(`${e.message} ${String(e.stack)}`));
    await client.download({ id: "1", media: { kind: "file" }, raw: {} } as unknown as Message).catch((e: Error) => errors.push(e.message));
    env.sb.control.fault({ endpoint: "webwxsendmsg", kind: "reset", count: 3 });
    await client.sendText(friend.userName, "x").catch((e: Error) => errors.push(`${e.message} ${String(e.stack)}`));
    env.sb.control.expireSession({ code: 1102 });
    await waitForState(client, (s) => s.state === "logged-out");
    await waitForState(client, (s) => s.state === "push-login" || s.state === "waiting-scan");
    assert.equal(await new SessionStore(sessionFile, SECRET).load(), undefined, "the ended session was forgotten");
    const output = JSON.stringify({ states: rec.states, warns: rec.warns, errors });
    assert.ok(rec.warns.length > 0 && errors.length === 3, errors.join("\n"));
    for (const secret of secrets) assert.ok(!output.includes(secret), "a secret leaked");
  });
});
