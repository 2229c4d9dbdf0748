import { strict as assert } from "node:assert";
import { SentMessages } from "../../lib/wechat/actions";
import { isWeChatError } from "../../lib/wechat/errors";
import type { WeChatClient } from "../../lib/wechat/client";
import type { Contact, ContactEvent, GroupMember } from "../../lib/wechat/types";
import { envPerTest, loginByQr, waitForEvent, waitForMessages, type Env } from "./env";

const PNG_MAGIC = Buffer.from("89504e47", "hex");
/** A session UserName (never to appear in an error message). */
const USERNAME = /@[0-9a-f]{32}/;

/** Friends the world knows, whose handle resolves to exactly them (no namesakes). */
function uniqueFriends(env: Env, client: WeChatClient): Contact[] {
  const nickNames = new Set(env.sb.control.world().contacts.filter((c) => c.kind === "friend").map((c) => c.nickName));
  return client.listContacts({ kind: "friend" }).filter((c) => {
    if (!nickNames.has(c.nickName)) return false;
    try {
      return client.resolve(c.handle).userName === c.userName;
    } catch {
      return false;
    }
  });
}

function groupWith(client: WeChatClient, match: (g: Contact) => boolean): Contact {
  const group = client.listContacts({ kind: "group" }).find((g) => g.members !== undefined && match(g));
  assert.ok(group, "the world has such a group");
  return group;
}

function waitForContact(client: WeChatClient, match: (e: ContactEvent) => boolean, what: string): Promise<ContactEvent> {
  return waitForEvent(client, "contact", match, 10_000, what);
}

describe("client operations beyond sending, against the sandbox", function () {
  this.timeout(60_000);
  const startEnv = envPerTest();

  it("revokes its own message within 2 minutes, refuses older ones itself, and maps the server's refusal", async () => {
    const env = await startEnv();
    const { client, rec } = env.newClient({ pacing: false });
    await loginByQr(env, client);
    const [friend] = uniqueFriends(env, client);
    const sent = await client.sendText(friend!.handle, "oops");
    assert.ok(typeof sent.time === "number" && Math.abs(Date.now() - sent.time) < 5_000);
    await client.revoke(sent);
    const revoke = env.sb.control.sent({ type: "revoke" }).at(-1);
    assert.equal(revoke?.msgId, sent.msgId);
    assert.equal(revoke?.to, friend!.userName);

    const calls = () => rec.calls.filter((c) => c === "webwxrevokemsg").length;
    const before = calls();
    await assert.rejects(
      client.revoke({ ...sent, time: Date.now() - 2 * 60_000 - 1_000 }),
      (e) => isWeChatError(e, "INVALID_ARGUMENT") && /2 minutes/.test(e.message),
    );
    assert.equal(calls(), before, "an old message is refused without asking the server");

    // Ids only (a SendResult that went through JSON): the client still knows when it sent it.
    const second = await client.sendText(friend!.userName, "again");
    env.sb.control.fault({ endpoint: "webwxrevokemsg", kind: "ret", ret: 1, count: 1 });
    await assert.rejects(
      client.revoke({ msgId: second.msgId, localId: second.localId, to: second.to }),
      (e) => isWeChatError(e, "INVALID_ARGUMENT") && e.ret === 1 && /refused/.test(e.message),
    );
    await client.revoke({ msgId: second.msgId, localId: second.localId, to: second.to });
    assert.equal(env.sb.control.sent({ type: "revoke" }).at(-1)?.msgId, second.msgId);
  });

  it("emits recall with the original message, and friend-request with what acceptFriend needs", async () => {
    const env = await startEnv();
    const { client, rec } = env.newClient({ actionPacing: false });
    await loginByQr(env, client);
    const [friend] = uniqueFriends(env, client);
    const { msgId } = env.sb.control.inject({ from: friend!.nickName, text: "regret this" });
    await waitForMessages(client, rec, (m) => m.id === msgId, 1);
    const recalled = waitForEvent(client, "recall", () => true);
    env.sb.control.inject({ from: friend!.nickName, type: "recall", msgId });
    const recall = await recalled;
    assert.equal(recall.message.type, "recall");
    assert.equal(recall.message.recall?.msgId, msgId);
    assert.equal(recall.original?.id, msgId);
    assert.equal(recall.original?.text, "regret this");
    assert.doesNotThrow(() => JSON.parse(JSON.stringify(recall)), "plain JSON");

    const requested = waitForEvent(client, "friend-request", () => true);
    env.sb.control.inject({ from: "Zed Newcomer", type: "friend-request", text: "hi, it's Zed & co" });
    const request = await requested;
    assert.equal(request.type, "friend-request");
    assert.equal(request.friendRequest?.nickName, "Zed Newcomer");
    assert.equal(request.friendRequest?.greeting, "hi, it's Zed & co");
    assert.ok(request.friendRequest?.ticket);
    assert.ok(rec.messages.some((m) => m.id === request.id), "also a message");

    const added = waitForContact(client, (e) => e.change === "added" && e.contact.nickName === "Zed Newcomer", "the new friend");
    await client.acceptFriend(request.friendRequest!);
    const event = await added;
    assert.equal(event.contact.kind, "friend");
    assert.equal(client.resolve("Zed Newcomer").userName, event.contact.userName);
    await client.sendText("Zed Newcomer", "welcome");
    assert.equal(env.sb.control.sent({ type: "text" }).at(-1)?.toName, "Zed Newcomer");
    await assert.rejects(client.acceptFriend({ userName: "", ticket: "" }), (e) => isWeChatError(e, "INVALID_ARGUMENT"));
    await assert.rejects(client.acceptFriend(rec.messages[0]!.friendRequest), (e) => isWeChatError(e, "INVALID_ARGUMENT"), "not a friend request");

    // A friend request to a group member we have no contact for.
    const self = client.state.user!.userName;
    const group = groupWith(client, (g) => g.members!.some((m) => m.userName !== self && !client.getContact(m.userName)));
    const stranger = group.members!.find((m) => m.userName !== self && !client.getContact(m.userName))!;
    await client.addFriend(stranger.userName, "hello from the group");
    assert.ok(rec.calls.filter((c) => c === "webwxverifyuser").length === 2);
  });

  it("sets a remark and pins, with contact events that carry the previous names", async () => {
    const env = await startEnv();
    const { client } = env.newClient({ actionPacing: false });
    await loginByQr(env, client);
    const friend = uniqueFriends(env, client).find((c) => c.remarkName === "")!;
    const renamed = waitForContact(client, (e) => e.change === "renamed" && e.contact.userName === friend.userName, "renamed");
    await client.setRemark(friend.handle, "Remark <One> & Co");
    const event = await renamed;
    assert.equal(event.contact.remarkName, "Remark <One> & Co");
    assert.equal(event.previous?.remarkName, "");
    assert.equal(event.previous?.nickName, friend.nickName);
    assert.equal(client.resolve("Remark <One> & Co").userName, friend.userName);
    assert.equal(client.getContact(friend.userName)?.handle, "Remark <One> & Co", "a remark becomes the stable handle");

    const starred = waitForEvent(client, "contacts", () => client.getContact(friend.userName)?.starred === true, 10_000, "starred");
    await client.pin(friend.userName, true);
    await starred;
    const unstarred = waitForEvent(client, "contacts", () => client.getContact(friend.userName)?.starred === false, 10_000, "unstarred");
    await client.pin("Remark <One> & Co", false);
    await unstarred;
    const group = groupWith(client, () => true);
    await assert.rejects(client.setRemark(group.userName, "x"), (e) => isWeChatError(e, "INVALID_ARGUMENT"));
    await assert.rejects(client.pin(friend.userName, "yes" as unknown as boolean), (e) => isWeChatError(e, "INVALID_ARGUMENT"));
  });

  it("creates a group, adds (invites from 40 members on), removes members and renames it", async () => {
    const env = await startEnv();
    const { client, rec } = env.newClient({ actionPacing: false });
    await loginByQr(env, client);
    const friends = uniqueFriends(env, client);
    assert.ok(friends.length >= 4);
    const addedEvent = waitForContact(client, (e) => e.change === "added" && e.contact.nickName === "Launch & <Plan>", "the new group");
    const created = await client.createGroup("Launch & <Plan>", [friends[0]!.handle, friends[1]!.handle]);
    assert.equal((await addedEvent).contact.userName, created.userName);
    assert.equal(created.kind, "group");
    assert.ok(created.userName.startsWith("@@"));
    assert.equal(client.resolve("Launch & <Plan>").userName, created.userName);
    assert.deepEqual(
      created.members!.map((m) => m.nickName).sort(),
      [client.state.user!.nickName, friends[0]!.nickName, friends[1]!.nickName].sort(),
    );
    await assert.rejects(client.createGroup("Too small", [friends[0]!.handle]), (e) => isWeChatError(e, "INVALID_ARGUMENT"));

    const joined = waitForContact(client, (e) => e.change === "members" && e.contact.userName === created.userName, "members added");
    await client.addMembers(created.handle, [friends[2]!.handle]);
    const join = await joined;
    assert.deepEqual(join.members?.added.map((m: GroupMember) => m.nickName), [friends[2]!.nickName]);
    assert.deepEqual(join.members?.removed, []);

    const left = waitForContact(client, (e) => e.change === "members" && e.contact.userName === created.userName, "members removed");
    await client.removeMembers(created.handle, [friends[0]!.nickName]);
    const leave = await left;
    assert.deepEqual(leave.members?.removed.map((m) => m.nickName), [friends[0]!.nickName]);

    const renamed = waitForContact(client, (e) => e.change === "renamed" && e.contact.userName === created.userName, "renamed group");
    await client.renameGroup(created.handle, "Launch v2");
    const rename = await renamed;
    assert.equal(rename.previous?.nickName, "Launch & <Plan>");
    assert.equal(client.resolve("Launch v2").userName, created.userName);

    // A group of 40 or more: invitemember (the sandbox refuses addmember there).
    const big = groupWith(client, (g) => (g.memberCount ?? 0) >= 40);
    const outsider = friends.find((f) => !big.members!.some((m) => m.userName === f.userName))!;
    const invited = waitForContact(client, (e) => e.change === "members" && e.contact.userName === big.userName, "invited");
    await client.addMembers(big.userName, [outsider.handle]);
    assert.deepEqual((await invited).members?.added.map((m) => m.userName), [outsider.userName]);
    assert.equal(rec.calls.filter((c) => c === "webwxupdatechatroom").length, 4);
    await assert.rejects(client.removeMembers(big.userName, ["Nobody In Here"]), (e) => isWeChatError(e, "NOT_FOUND"));
  });

  it("marks a chat read and fetches avatars of contacts, groups and group members", async () => {
    const env = await startEnv();
    const { client, rec } = env.newClient();
    await loginByQr(env, client);
    const [friend] = uniqueFriends(env, client);
    await client.markRead(friend!.handle);
    assert.ok(rec.calls.filter((c) => c === "webwxstatusnotify").length >= 2, "login's Code 3, then Code 1");
    const own = await client.avatar(friend!.handle);
    assert.ok(own.subarray(0, 4).equals(PNG_MAGIC));
    const self = client.state.user!.userName;
    const group = groupWith(client, (g) => g.members!.length > 2);
    assert.ok((await client.avatar(group.handle)).length > 0);
    const member = group.members!.find((m) => m.userName !== self)!;
    assert.ok(group.encryChatRoomId, "the group's EncryChatRoomId is known (member avatars need it)");
    assert.ok((await client.avatar(member.nickName, { group: group.handle })).length > 0);
    assert.ok(rec.calls.includes("webwxgeticon") && rec.calls.includes("webwxgetheadimg"));
    await assert.rejects(client.avatar("nobody at all"), (e) => isWeChatError(e, "NOT_FOUND"));
  });

  it("@mentions resolve names to members' UserNames and notify through MsgSource", async () => {
    const env = await startEnv();
    const { client } = env.newClient({ pacing: false, actionPacing: false });
    await loginByQr(env, client);
    const self = client.state.user!.userName;
    const friends = new Set(uniqueFriends(env, client).map((f) => f.userName));
    const group = groupWith(client, (g) => g.members!.filter((m) => m.userName !== self).length >= 3 && g.members!.some((m) => friends.has(m.userName)));
    const friendMember = group.members!.find((m) => friends.has(m.userName))!;
    const others = group.members!.filter((m) => m.userName !== self && m.userName !== friendMember.userName);
    // Mentioned by our remark for them: the text shows their name in the group.
    await client.setRemark(friendMember.userName, "My Remark For Them");
    await waitForEvent(client, "contact", (e) => e.contact.userName === friendMember.userName, 10_000, "remark");
    const a = others[0]!;
    const nameOf = (m: GroupMember) => m.displayName || m.nickName;
    await client.sendText(group.handle, "meeting at 3", { mentions: [a.nickName, "My Remark For Them"] });
    const sent = env.sb.control.sent({ type: "text" }).at(-1)!;
    assert.equal(sent.text, `@${nameOf(a)}\u2005@${nameOf(friendMember)}\u2005meeting at 3`);
    assert.equal(
      sent.msgSource,
      `<msgsource><atusername>${a.userName},${friendMember.userName}</atusername><atchatroomname>${group.userName}</atchatroomname></msgsource>`,
    );

    // Already written in the text: not added twice.
    const b = others[1]!;
    await client.sendText(group.userName, `hey @${nameOf(b)}\u2005look`, { mentions: [nameOf(b)] });
    assert.equal(env.sb.control.sent({ type: "text" }).at(-1)!.text, `hey @${nameOf(b)}\u2005look`);

    const count = env.sb.control.sent({ type: "text" }).length;
    await assert.rejects(
      client.sendText(group.handle, "x", { mentions: ["Nobody Of That Name"] }),
      (e) => isWeChatError(e, "NOT_FOUND") && !USERNAME.test(e.message) && e.message.includes("Nobody Of That Name"),
    );
    await assert.rejects(client.sendText([...friends][0]!, "x", { mentions: [a.nickName] }), (e) => isWeChatError(e, "INVALID_ARGUMENT"));
    assert.equal(env.sb.control.sent({ type: "text" }).length, count, "nothing was sent");
  });

  it("paces friend and group operations more strictly than messages, in the same queue", async () => {
    const env = await startEnv();
    const { client, rec } = env.newClient({ pacing: false, actionPacing: { perMinute: 300, burst: 1, jitter: 0 } });
    await loginByQr(env, client);
    const [f1, f2] = uniqueFriends(env, client);
    const started = Date.now();
    await Promise.all([client.pin(f1!.userName, true), client.pin(f2!.userName, true), client.pin(f1!.userName, false)]);
    const texts = Promise.all([1, 2, 3].map((i) => client.sendText(f2!.userName, `quick ${i}`)));
    await texts;
    const opLogs = rec.timedCalls.filter((c) => c.what === "webwxoplog" && c.at >= started).map((c) => c.at);
    assert.equal(opLogs.length, 3);
    for (let i = 1; i < opLogs.length; i++) assert.ok(opLogs[i]! - opLogs[i - 1]! >= 190, `actions ${opLogs[i]! - opLogs[i - 1]!} ms apart`);
    const sends = rec.timedCalls.filter((c) => c.what === "webwxsendmsg" && c.at >= started).map((c) => c.at);
    assert.equal(sends.length, 3);
    for (let i = 1; i < sends.length; i++) assert.ok(sends[i]! - sends[i - 1]! < 190, "messages are not held to the action pace");
  });
});

describe("sent-message bookkeeping (SentMessages, beside recall in actions.ts)", function () {
  it("remembers when each send went out, across sessions, and forgets the oldest beyond its capacity", function () {
    const sent = new SentMessages(3);
    const result = { msgId: "100", localId: "1", to: "@a", toHandle: "A", time: 1_000 };
    assert.equal(sent.record(result), result, "hands the SendResult back unchanged");
    const before = Date.now();
    sent.record({ msgId: "101", localId: "2", to: "@a", toHandle: "A" });
    assert.ok((sent.sentAt("101") ?? 0) >= before, "a result without a time is taken as sent now");
    assert.equal(sent.sentAt("100"), 1_000);
    sent.record({ ...result, msgId: "102" });
    sent.record({ ...result, msgId: "103" });
    assert.equal(sent.sentAt("100"), undefined, "the oldest went when a fourth came");
    assert.equal(sent.sentAt("103"), 1_000);
    assert.equal(sent.sentAt("999"), undefined);
  });
});
