import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { isWeChatError } from "../../lib/wechat/errors";
import { MAX_TEXT_LENGTH } from "../../lib/wechat/send";
import type { Contact } from "../../lib/wechat/types";
import { envPerTest, loginByQr, type Env } from "./env";

function bytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function aFriend(env: Env, contacts: Contact[]): Contact {
  const nickNames = new Set(env.sb.control.world().contacts.filter((c) => c.kind === "friend").map((c) => c.nickName));
  const friend = contacts.find((c) => c.kind === "friend" && nickNames.has(c.nickName));
  assert.ok(friend);
  return friend;
}

describe("client sends against the sandbox", function () {
  this.timeout(60_000);
  const startEnv = envPerTest();

  it("sends text by stable handle and a real @mention in a group", async () => {
    const env = await startEnv();
    const { client } = env.newClient();
    await loginByQr(env, client);
    const friend = aFriend(env, client.listContacts());
    const result = await client.sendText(friend.handle, "hi <there> & 😀");
    assert.equal(result.to, friend.userName);
    assert.equal(result.toHandle, friend.handle);
    assert.match(result.localId, /^\d{17}$/);
    const sent = env.sb.control.sent({ type: "text" });
    assert.equal(sent.at(-1)!.text, "hi <there> & 😀");
    assert.equal(sent.at(-1)!.msgId, result.msgId);

    const self = client.state.user!.userName;
    const group = client.listContacts({ kind: "group" }).find((g) => (g.members?.length ?? 0) > 2)!;
    const member = group.members!.find((m) => m.userName !== self)!;
    const name = member.displayName || member.nickName;
    await client.sendText(group.handle, "look", { mentions: [name] });
    const mention = env.sb.control.sent({ type: "text" }).at(-1)!;
    assert.equal(mention.to, group.userName);
    assert.equal(mention.text, `@${name}\u2005look`);
    assert.equal(mention.msgSource, `<msgsource><atusername>${member.userName}</atusername><atchatroomname>${group.userName}</atchatroomname></msgsource>`);
    await assert.rejects(client.sendText("no such person at all", "x"), (e) => isWeChatError(e, "NOT_FOUND"));
  });

  it("refuses an over-long text with TOO_LARGE before anything is sent, and goes on sending", async () => {
    const env = await startEnv();
    const { client } = env.newClient();
    await loginByQr(env, client);
    const friend = aFriend(env, client.listContacts());
    const before = env.sb.control.sent().length;
    await assert.rejects(
      client.sendText(friend.handle, "長".repeat(MAX_TEXT_LENGTH + 1)),
      (e) => isWeChatError(e, "TOO_LARGE") && /16000/.test(e.message),
    );
    assert.equal(env.sb.control.sent().length, before, "nothing reached the server");
    const longest = "a".repeat(MAX_TEXT_LENGTH);
    await client.sendText(friend.handle, longest);
    assert.equal(env.sb.control.sent({ type: "text" }).at(-1)!.text, longest);
  });

  it("slows down on 1205 instead of hammering the server", async () => {
    const env = await startEnv();
    const { client, rec } = env.newClient({ pacing: false });
    await loginByQr(env, client);
    const friend = aFriend(env, client.listContacts());
    env.sb.control.fault({ endpoint: "webwxsendmsg", kind: "ret", ret: 1205, count: 1 });
    const started = Date.now();
    const results = await Promise.all([1, 2, 3].map((i) => client.sendText(friend.userName, `burst ${i}`)));
    const elapsed = Date.now() - started;
    const calls = rec.calls.filter((c) => c === "webwxsendmsg").length;
    assert.equal(calls, 4, "3 sends + the one answered 1205, retried once after a pause: no hammering");
    // After a 1205 even an unpaced queue waits (cool-down, then at least 1 s between sends).
    assert.ok(elapsed >= 150 + 1000, `the queue slowed down after the 1205 (took ${elapsed} ms)`);
    assert.ok(rec.warns.some((w) => /1205/.test(w)), "the slow-down was reported");
    assert.deepEqual(
      env.sb.control.sent({ type: "text" }).map((s) => s.text),
      ["burst 1", "burst 2", "burst 3"],
      "order kept",
    );
    assert.equal(new Set(results.map((r) => r.msgId)).size, 3);
  });

  it("uploads 1.2 MB, 30 MB and CJK-named files byte-exact, and an image, a sticker, a video", async () => {
    const env = await startEnv();
    const { client } = env.newClient({ pacing: false });
    await loginByQr(env, client);
    const friend = aFriend(env, client.listContacts());
    for (const [size, name] of [
      [1_200_000, "report.pdf"],
      [30 * 1024 * 1024 + 123, "big.bin"],
    ] as const) {
      const data = bytes(size, size);
      const result = await client.sendFile(friend.userName, data, { fileName: name });
      const sent = env.sb.control.sent({ type: "file" }).at(-1)!;
      assert.equal(sent.msgId, result.msgId);
      assert.equal(sent.fileName, name);
      const stored = await env.api.upload(sent.mediaId!);
      assert.ok(stored.equals(data), `${name} arrived byte-exact`);
      const record = env.sb.control.uploads().find((u) => u.mediaId === sent.mediaId)!;
      assert.equal(record.chunks, Math.ceil(size / 524_288));
      assert.equal(record.md5, createHash("md5").update(data).digest("hex"));
    }
    const cjk = bytes(700_000, 5);
    await client.sendFile(friend.userName, cjk, { fileName: "报告 2024 «最终».pdf" });
    const sentCjk = env.sb.control.sent({ type: "file" }).at(-1)!;
    assert.equal(sentCjk.fileName, "报告 2024 «最终».pdf");
    assert.ok((await env.api.upload(sentCjk.mediaId!)).equals(cjk));

    const png = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), bytes(5000, 9)]);
    const image = await client.sendImage(friend.userName, png);
    const sentImage = env.sb.control.sent({ type: "image" }).at(-1)!;
    assert.equal(sentImage.msgId, image.msgId);
    assert.ok(env.sb.control.upload(sentImage.mediaId!)?.equals(png));
    assert.equal(env.sb.control.uploads().find((u) => u.mediaId === sentImage.mediaId)?.mediaType, "pic");

    const gif = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");
    await client.sendFile(friend.userName, gif, { fileName: "wave.gif" });
    const sticker = env.sb.control.sent({ type: "sticker" }).at(-1)!;
    assert.ok(env.sb.control.upload(sticker.mediaId!)?.equals(gif), "a gif goes as a sticker");

    const mp4 = Buffer.concat([Buffer.from("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "latin1"), bytes(900_000, 4)]);
    await client.sendFile(friend.userName, mp4, { fileName: "clip.mp4" });
    const video = env.sb.control.sent({ type: "video" }).at(-1)!;
    assert.ok((await env.api.upload(video.mediaId!)).equals(mp4), "an mp4 goes as a video");
  });

  it("sanitises a hostile file name and refuses empty and oversized data", async () => {
    const env = await startEnv();
    const { client } = env.newClient({ pacing: false });
    await loginByQr(env, client);
    const friend = aFriend(env, client.listContacts());
    const hostile = "../../etc/<passwd>&\u0000\u202e'x\".txt";
    const data = bytes(2000, 3);
    await client.sendFile(friend.userName, data, { fileName: hostile });
    const sent = env.sb.control.sent({ type: "file" }).at(-1)!;
    assert.ok(sent.fileName, "a file name was sent");
    for (const bad of ["/", "\\", "\u0000", "\u202e"]) {
      assert.ok(!sent.fileName.includes(bad), `sanitised: ${JSON.stringify(sent.fileName)}`);
    }
    assert.ok(!sent.fileName.includes(".."), "no path traversal");
    assert.ok(env.sb.control.upload(sent.mediaId!)?.equals(data));
    await assert.rejects(client.sendFile(friend.userName, Buffer.alloc(0), { fileName: "empty.txt" }), (e) => isWeChatError(e, "INVALID_ARGUMENT"));
    await assert.rejects(
      client.sendFile(friend.userName, Buffer.alloc(21 * 1024 * 1024), { fileName: "v.mp4", mime: "video/mp4", as: "video" }),
      (e) => isWeChatError(e, "TOO_LARGE"),
    );
  });
});
