import { strict as assert } from "node:assert";
import * as path from "node:path";
import { isWeChatError } from "../../lib/wechat/errors";
import type { WeChatClient } from "../../lib/wechat/client";
import { SessionStore } from "../../lib/wechat/session-store";
import type { Contact, ContactEvent } from "../../lib/wechat/types";
import { envPerTest, loginByQr, uuidOf, waitForEvent, waitForMessages, waitForState, type Env } from "./env";

const SECRET = "accounts test secret";

function uniqueFriend(env: Env, client: WeChatClient): Contact {
  const nickNames = new Set(env.sb.control.world().contacts.filter((c) => c.kind === "friend").map((c) => c.nickName));
  const friend = client.listContacts({ kind: "friend" }).find((c) => {
    if (!nickNames.has(c.nickName)) return false;
    try {
      return client.resolve(c.handle).userName === c.userName;
    } catch {
      return false;
    }
  });
  assert.ok(friend, "the world has a friend with a unique handle");
  return friend;
}

function waitForContact(client: WeChatClient, match: (e: ContactEvent) => boolean, what: string): Promise<ContactEvent> {
  return waitForEvent(client, "contact", match, 10_000, what);
}

describe("client contacts, handles and accounts side by side, against the sandbox", function () {
  this.timeout(60_000);
  const startEnv = envPerTest();

  it("emits contact events for added, renamed, removed contacts and group member changes", async () => {
    const env = await startEnv();
    const { client } = env.newClient();
    await loginByQr(env, client);
    const events: ContactEvent[] = [];
    client.on("contact", (e) => events.push(e));

    const added = waitForContact(client, (e) => e.change === "added" && e.contact.nickName === "Eve <new> & 😀", "added");
    env.sb.control.contacts({ op: "add", nickName: "Eve <new> & 😀" });
    const add = await added;
    assert.equal(add.contact.kind, "friend");
    assert.equal(add.previous, undefined);

    const renamed = waitForContact(client, (e) => e.change === "renamed" && e.contact.userName === add.contact.userName, "renamed");
    env.sb.control.contacts({ op: "modify", name: "Eve <new> & 😀", nickName: "Eve Renamed" });
    const rename = await renamed;
    assert.equal(rename.contact.nickName, "Eve Renamed");
    assert.equal(rename.previous?.nickName, "Eve <new> & 😀");

    const removed = waitForContact(client, (e) => e.change === "removed" && e.contact.userName === add.contact.userName, "removed");
    env.sb.control.contacts({ op: "remove", name: "Eve Renamed" });
    assert.equal((await removed).contact.nickName, "Eve Renamed");
    assert.equal(client.getContact(add.contact.userName), undefined);

    const group = client.listContacts({ kind: "group" }).find((g) => (g.memberCount ?? 0) < 40 && g.members)!;
    const joined = waitForContact(client, (e) => e.change === "members" && e.contact.userName === group.userName, "members added");
    env.sb.control.contacts({ op: "add-members", room: group.userName, members: ["Newbie One", "Newbie Two"] });
    const join = await joined;
    assert.deepEqual(join.members?.added.map((m) => m.nickName).sort(), ["Newbie One", "Newbie Two"]);
    assert.deepEqual(join.members?.removed, []);
    assert.equal(
      events.filter((e) => e.contact.userName === group.userName).length,
      1,
      "the group's Mod entry and its ModChatRoomMemberList entry are one change",
    );
    assert.equal(client.getContact(group.userName)?.members?.length, group.members!.length + 2);

    const left = waitForContact(client, (e) => e.change === "members" && e.contact.userName === group.userName, "members removed");
    env.sb.control.contacts({ op: "remove-members", room: group.userName, members: ["Newbie One"] });
    assert.deepEqual((await left).members?.removed.map((m) => m.nickName), ["Newbie One"]);
    assert.doesNotThrow(() => JSON.stringify(join));
  });

  it("stable handles survive a re-login (new UserNames); an ambiguous name lists the candidates", async () => {
    const env = await startEnv();
    const { client, rec } = env.newClient();
    await loginByQr(env, client);
    const friend = uniqueFriend(env, client);
    const group = client.listContacts({ kind: "group" }).find((g) => g.members && g.members.length > 2)!;
    const self = client.state.user!;
    const member = group.members!.find((m) => m.userName !== self.userName)!;
    env.sb.control.inject({ from: friend.nickName, text: "remember me" });
    env.sb.control.inject({ from: member.userName, room: group.userName, text: "and the group" });
    const [direct] = await waitForMessages(client, rec, (m) => m.text === "remember me", 1);
    const [inGroup] = await waitForMessages(client, rec, (m) => m.text === "and the group", 1);
    for (const ref of [direct!.chat, direct!.sender, inGroup!.chat, inGroup!.room!, inGroup!.sender]) {
      assert.ok(ref.handle !== "", `${ref.kind} ${ref.displayName} has a handle`);
    }

    await client.logout();
    const waiting = await waitForState(client, (s) => s.state === "waiting-scan", 10_000, "a new QR after logout");
    env.sb.control.scan({ uuid: uuidOf(waiting) });
    await waitForState(client, (s) => s.state === "online", 10_000, "online again");
    assert.notEqual(client.state.user!.userName, self.userName, "a new login, new UserNames");

    const again = client.resolve(friend.handle);
    assert.notEqual(again.userName, friend.userName);
    assert.equal(again.nickName, friend.nickName);
    assert.equal(client.resolve(direct!.chat.handle).userName, again.userName);
    const groupAgain = client.resolve(inGroup!.room!.handle);
    assert.notEqual(groupAgain.userName, group.userName);
    assert.equal(groupAgain.nickName, group.nickName);
    assert.equal(client.resolve(group.handle).userName, groupAgain.userName);
    assert.throws(() => client.resolve(friend.userName), (e) => isWeChatError(e, "NOT_FOUND"), "the old UserName is gone");
    await client.sendText(friend.handle, "still you");
    assert.equal(env.sb.control.sent({ type: "text" }).at(-1)?.to, again.userName);

    for (const remarkName of ["", ""]) env.sb.control.contacts({ op: "add", nickName: "Twin Name", remarkName });
    await waitForEvent(client, "contacts", () => client.listContacts({ name: "Twin Name" }).length === 2, 10_000, "the twins");
    assert.throws(
      () => client.resolve("Twin Name"),
      (e) => isWeChatError(e, "AMBIGUOUS") && e.candidates?.length === 2 && e.candidates.every((c) => c.startsWith("Twin Name")),
    );
  });

  it("two accounts in one process exchange messages both ways, each with its own session file and queue", async () => {
    const env = await startEnv({ accounts: 2 });
    const fileA = path.join(env.dir, "a.session");
    const fileB = path.join(env.dir, "b.session");
    const a = env.newClient({ sessionFile: fileA, sessionSecret: SECRET, actionPacing: false });
    const b = env.newClient({ sessionFile: fileB, sessionSecret: SECRET });
    const accounts = env.sb.control.world().accounts;
    assert.equal(accounts.length, 2);
    await loginByQr(env, a.client, 0);
    await loginByQr(env, b.client, 1);
    const nickA = a.client.state.user!.nickName;
    const nickB = b.client.state.user!.nickName;
    assert.notEqual(nickA, nickB);
    assert.equal(a.client.state.state, "online", "the second login did not end the first");

    await a.client.sendText(nickB, "hello B, from A");
    const [atB] = await waitForMessages(b.client, b.rec, (m) => m.text === "hello B, from A", 1);
    assert.equal(atB!.fromSelf, false);
    assert.equal(b.client.resolve(atB!.sender.handle).nickName, nickA, "the sender's stable handle (alias, remark or name) resolves");
    await b.client.sendText(atB!.chat.handle, "hello A, from B");
    const [atA] = await waitForMessages(a.client, a.rec, (m) => m.text === "hello A, from B", 1);
    assert.equal(atA!.chat.userName, a.client.resolve(nickB).userName);

    // Both at once, several each: everything arrives, once, in order.
    const fromA = ["a1", "a2", "a3"];
    const fromB = ["b1", "b2", "b3"];
    await Promise.all([
      (async () => {
        for (const t of fromA) await a.client.sendText(nickB, t);
      })(),
      (async () => {
        for (const t of fromB) await b.client.sendText(nickA, t);
      })(),
    ]);
    const gotB = await waitForMessages(b.client, b.rec, (m) => /^a\d$/.test(m.text), 3);
    const gotA = await waitForMessages(a.client, a.rec, (m) => /^b\d$/.test(m.text), 3);
    assert.deepEqual(gotB.map((m) => m.text), fromA);
    assert.deepEqual(gotA.map((m) => m.text), fromB);

    const savedA = await new SessionStore(fileA, SECRET).load();
    const savedB = await new SessionStore(fileB, SECRET).load();
    assert.ok(savedA && savedB);
    assert.notEqual(savedA.uin, savedB.uin);
    assert.notEqual(savedA.sid, savedB.sid);
    assert.notDeepEqual(savedA.cookies, savedB.cookies);

    // A's queue stops with A; B goes on.
    await a.client.stop();
    await assert.rejects(a.client.sendText(nickB, "x"), (e) => isWeChatError(e, "NOT_LOGGED_IN"));
    await b.client.sendText(nickA, "A is away");
    assert.equal(env.sb.control.sent({ type: "text" }).at(-1)?.text, "A is away");
  });

  it("a recall between two accounts brings the recalled message along", async () => {
    const env = await startEnv({ accounts: 2 });
    const a = env.newClient({ pacing: false });
    const b = env.newClient();
    await loginByQr(env, a.client, 0);
    await loginByQr(env, b.client, 1);
    const nickB = b.client.state.user!.nickName;
    const sent = await a.client.sendText(nickB, "take this back");
    const [received] = await waitForMessages(b.client, b.rec, (m) => m.text === "take this back", 1);
    const recalled = waitForEvent(b.client, "recall", () => true);
    await a.client.revoke(sent);
    const recall = await recalled;
    assert.equal(recall.message.chat.userName, received!.chat.userName);
    // The recipient's recall notice names the message as the recipient saw it (anti-recall bots rely on this).
    assert.equal(recall.message.recall?.msgId, received!.id, "the recall names the MsgId the recipient received");
    assert.equal(recall.original?.text, "take this back");
  });
});
