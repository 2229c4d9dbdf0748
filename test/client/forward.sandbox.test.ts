import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { isWeChatError } from "../../lib/wechat/errors";
import type { WeChatClient } from "../../lib/wechat/client";
import type { Message } from "../../lib/wechat/types";
import type { InjectRequest } from "../../lib/sandbox/types";
import * as path from "node:path";
import { assertNoViolations, envPerTest, loginByQr, onlineLoaded, waitForMessages, waitForState, type Env, type Recorder } from "./env";

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

/** Bytes that are not the sandbox's samples, so a match can only come from the original. */
function bytes(seed: number, size: number, head = ""): Buffer {
  const out = Buffer.alloc(size);
  out.write(head, "latin1");
  for (let i = head.length; i < size; i++) out[i] = (i * 31 + seed * 7) % 256;
  return out;
}

const PNG_HEAD = "\x89PNG\r\n\x1a\n";
const MP4_HEAD = "\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom";
const GIF_HEAD = "GIF89a";

interface Pair {
  env: Env;
  a: { client: WeChatClient; rec: Recorder };
  b: { client: WeChatClient; rec: Recorder };
  /** B's name, as A forwards to it. */
  toB: string;
  friend: string;
}

async function twoAccounts(startEnv: ReturnType<typeof envPerTest>): Promise<Pair> {
  const env = await startEnv({ accounts: 2 });
  const a = env.newClient({ actionPacing: false });
  const b = env.newClient();
  await loginByQr(env, a.client, 0);
  await loginByQr(env, b.client, 1);
  const friend = env.sb.control.worldContacts({ kind: "friend" }).find((c) => !c.remarkName && !/[<&]/.test(c.nickName));
  assert.ok(friend);
  return { env, a, b, toB: b.client.state.user!.nickName, friend: friend.nickName };
}

/** Injects `req` for account A and waits until A's client emitted it. */
async function receivedByA(pair: Pair, req: InjectRequest): Promise<Message> {
  const { msgId } = pair.env.sb.control.inject({ account: 0, ...req });
  const [message] = await waitForMessages(pair.a.client, pair.a.rec, (m) => m.id === msgId, 1);
  return message!;
}

/** What B received as the forward `msgId` (every account gets the one MsgId of a message). */
async function receivedByB(pair: Pair, msgId: string): Promise<Message> {
  const [message] = await waitForMessages(pair.b.client, pair.b.rec, (m) => m.id === msgId, 1);
  return message!;
}

describe("forwarding by reference, against the sandbox", function () {
  this.timeout(60_000);
  const startEnv = envPerTest();

  it("forwards text, image, video, file, sticker, location and link with the original bytes and no upload", async () => {
    const pair = await twoAccounts(startEnv);
    const { env, a, b, toB, friend } = pair;
    const image = bytes(1, 3000, PNG_HEAD);
    const video = bytes(2, 70_000, MP4_HEAD);
    const file = bytes(3, 600_000); // over one upload chunk: an upload would take two requests
    const sticker = bytes(4, 900, GIF_HEAD);
    const room = env.sb.control.world().contacts.find((c) => c.kind === "group")!.nickName;
    const member = env.sb.control.groupMembers(room).find((m) => m.nickName !== a.client.state.user!.nickName && !/[<&]/.test(m.nickName))!.nickName;
    const originals: Array<{ req: InjectRequest; check(got: Message, original: Message): Promise<void> | void }> = [
      {
        req: { from: friend, text: "a <b> & 'c' 😀\nsecond line" },
        check: (got) => assert.equal(got.text, "a <b> & 'c' 😀\nsecond line"),
      },
      {
        // a group message: its "@member:<br/>" prefix is not forwarded
        req: { from: member, room, text: "from the group" },
        check: (got) => assert.equal(got.text, "from the group"),
      },
      { req: { from: friend, type: "image", data: image.toString("base64") }, check: async (got) => assert.equal(sha256(await b.client.download(got)), sha256(image)) },
      { req: { from: friend, type: "video", data: video.toString("base64") }, check: async (got) => assert.equal(sha256(await b.client.download(got)), sha256(video)) },
      {
        req: { from: member, room, type: "file", fileName: "report <Q1> & more.pdf", data: file.toString("base64") },
        check: async (got, original) => {
          assert.equal(got.title, "report <Q1> & more.pdf");
          assert.equal(got.media?.fileName, original.media?.fileName);
          assert.equal(sha256(await b.client.download(got)), sha256(file));
        },
      },
      { req: { from: friend, type: "sticker", data: sticker.toString("base64") }, check: async (got) => assert.equal(sha256(await b.client.download(got)), sha256(sticker)) },
      {
        req: { from: friend, type: "location", label: "Café <Nord> & Süd", lat: 39.9, lng: 116.4 },
        check: (got, original) => assert.deepEqual(got.location, original.location),
      },
      {
        req: { from: friend, type: "link", title: "Docs & <news>", url: "https://example.com/a?b=1&c=2", text: "read me" },
        check: (got) => {
          assert.equal(got.title, "Docs & <news>");
          assert.equal(got.url, "https://example.com/a?b=1&c=2");
        },
      },
    ];
    const uploadsBefore = a.rec.calls.filter((c) => c === "webwxuploadmedia").length;
    for (const { req, check } of originals) {
      const original = await receivedByA(pair, req);
      const sent = await a.client.forward(original, toB);
      const got = await receivedByB(pair, sent.msgId);
      assert.equal(got.type, original.type, `${req.type ?? "text"} arrives as its own type`);
      assert.equal(got.fromSelf, false);
      assert.equal(got.sender.displayName, a.client.state.user!.nickName);
      await check(got, original);
    }
    // No upload at all: not in the client's calls, not in the sandbox's request log nor its uploads.
    assert.equal(a.rec.calls.filter((c) => c === "webwxuploadmedia").length, uploadsBefore);
    assert.equal(env.sb.control.deviceIds().filter((r) => r.endpoint === "webwxuploadmedia").length, 0);
    assert.deepEqual(env.sb.control.uploads(), []);
    const forwards = env.sb.control.sent({ account: 0 });
    assert.equal(forwards.length, originals.length);
    assert.ok(forwards.every((r) => r.forwarded === true));
    // The sandbox keeps each forward's media for the phone page: the same bytes.
    const imageForward = forwards.find((r) => r.type === "image")!;
    assert.equal(sha256(env.sb.control.media(imageForward.msgId)!.data), sha256(image));
    await assertNoViolations(env);
  });

  it("forwards into a group and can be recalled like any send", async () => {
    const pair = await twoAccounts(startEnv);
    const { env, a, friend } = pair;
    const group = a.client.listContacts({ kind: "group" })[0]!;
    const original = await receivedByA(pair, { from: friend, text: "pass it on" });
    const sent = await a.client.forward(original, group.handle || group.userName);
    const record = env.sb.control.sent({ account: 0 }).at(-1)!;
    assert.equal(record.to, group.userName);
    assert.equal(record.text, "pass it on");
    await a.client.revoke(sent);
    assert.equal(env.sb.control.sent({ account: 0, type: "revoke" })[0]?.msgId, sent.msgId);
    await assertNoViolations(env);
  });

  it("refuses what cannot be forwarded with NOT_FORWARDABLE, before any request", async () => {
    const pair = await twoAccounts(startEnv);
    const { env, a, toB, friend } = pair;
    const refused = [
      await receivedByA(pair, { from: friend, type: "voice", durationMs: 2000 }),
      await receivedByA(pair, { from: friend, type: "sticker", store: true }),
      await receivedByA(pair, { from: friend, type: "card", card: friend }),
    ];
    const calls = a.rec.calls.length;
    for (const message of refused) {
      await assert.rejects(a.client.forward(message, toB), (e) => isWeChatError(e, "NOT_FORWARDABLE"), message.type);
    }
    assert.ok(!a.rec.calls.slice(calls).some((c) => c.startsWith("webwxsend")), "nothing was sent");
    await assert.rejects(a.client.forward({} as Message, toB), (e) => isWeChatError(e, "INVALID_ARGUMENT"));
    assert.deepEqual(env.sb.control.sent(), []);
    await assertNoViolations(env);
  });

  it("the sandbox refuses an unknown or stale reference with Ret 1 and records it", async () => {
    const pair = await twoAccounts(startEnv);
    const { env, a, toB, friend } = pair;
    const original = await receivedByA(pair, { from: friend, type: "image", data: bytes(5, 2000, PNG_HEAD).toString("base64") });
    // A reference the server never issued.
    const content = String(original.raw.Content);
    const ref = /cdnmidimgurl=(?:&quot;|")([0-9a-f]+)/.exec(content)?.[1];
    assert.ok(ref, "the image names its media by a CDN url");
    const forged = { ...original, raw: { ...original.raw, Content: content.split(ref).join("3057deadbeef") } };
    await assert.rejects(a.client.forward(forged, toB), (e) => isWeChatError(e) && e.ret === 1);
    assert.deepEqual(env.sb.control.violations().map((v) => v.rule), ["forward-unknown"]);
    env.sb.control.clearViolations();
    // The media is gone from the server (evicted): the reference is stale.
    env.sb.state.media.delete(original.id);
    await assert.rejects(a.client.forward(original, toB), (e) => isWeChatError(e) && e.ret === 1);
    assert.deepEqual(env.sb.control.violations().map((v) => v.rule), ["forward-stale"]);
    env.sb.control.clearViolations();
    assert.deepEqual(env.sb.control.sent(), [], "nothing was delivered");
  });

  it("knows its own forwards when the server syncs them back (fromClient), also after a restart in between", async () => {
    const env = await startEnv({ accounts: 1, echoSends: true });
    const file = path.join(env.dir, "a.session");
    const secret = "forward test secret";
    const a = env.newClient({ sessionFile: file, sessionSecret: secret });
    await loginByQr(env, a.client, 0);
    const friend = env.sb.control.worldContacts({ kind: "friend" }).find((c) => !c.remarkName && !/[<&]/.test(c.nickName))!.nickName;
    const { msgId } = env.sb.control.inject({ from: friend, text: "relay me" });
    const [original] = await waitForMessages(a.client, a.rec, (m) => m.id === msgId, 1);
    const first = await a.client.forward(original!, "filehelper");
    const [echo] = await waitForMessages(a.client, a.rec, (m) => m.id === first.msgId, 1);
    assert.equal(echo!.fromSelf, true);
    assert.equal(echo!.fromClient, true);
    assert.equal(echo!.text, "relay me");
    // What the owner types on the phone is the account's too, but not this client's.
    const typed = env.sb.control.inject({ from: "self", to: friend, text: "typed on the phone" });
    const [phone] = await waitForMessages(a.client, a.rec, (m) => m.id === typed.msgId, 1);
    assert.equal(phone!.fromSelf, true);
    assert.equal(phone!.fromClient, undefined);

    // The next echo is held on the server (its webwxsync hangs) while the client stops and starts again.
    env.sb.control.fault({ endpoint: "webwxsync", kind: "hang", count: 1 });
    const syncing = new Promise<void>((resolve) => a.rec.callEvents.on("call", (what: string) => what === "webwxsync" && resolve()));
    const second = await a.client.forward(original!, "filehelper");
    await syncing;
    await a.client.stop();
    const b = env.newClient({ sessionFile: file, sessionSecret: secret });
    b.client.start();
    await waitForState(b.client, onlineLoaded, 10_000, "resumed");
    const [late] = await waitForMessages(b.client, b.rec, (m) => m.id === second.msgId, 1);
    assert.equal(late!.fromClient, true, "the saved session knows the forward sent just before the restart");
    assert.ok(!b.rec.messages.some((m) => [msgId, first.msgId, typed.msgId].includes(m.id)), "nothing handled before the restart comes again");
    assert.equal(env.sb.control.logins().length, 1, "resumed without a new scan");
  });
});
