/**
 * Issue #12 points 9 and 11 end to end over real HTTP: a fake server on 127.0.0.1 answers with the fixtures of
 * test/fixtures/ byte for byte (text/plain without a charset, the real layout, NewMsgId as a 19-digit number,
 * Uin as a string, names raw and escaped), and the client comes online, keeps every digit and every name.
 */
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { WeChatClient } from "../../lib/wechat/client";
import { HttpClient } from "../../lib/wechat/http";
import { LoginApi } from "../../lib/wechat/login";
import type { Message } from "../../lib/wechat/types";
import { isWeChatError } from "../../lib/wechat/errors";
import { loginByQr, startEnv, waitForEvent, waitForState, waitForSyncIdle, type Env } from "./env";
import { HostileServer, text } from "../reliability/hostile-server";

const FIXTURES = resolve(__dirname, "..", "..", "..", "test", "fixtures");
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), "utf8");

const TUNING = {
  timeouts: { requestMs: 2_000, syncCheckMs: 1_500, loginPollMs: 2_000 },
  retryDelayMs: 10,
  loginBackoffMs: 200,
  sync: { backoffMs: 100, maxBackoffMs: 400, throttledMs: 100 },
};
const TEAM = "Dev <Team> & 朋友";
const LAST_ID = "9007199254740993";

describe("client: real-shaped answers (issue #12 points 9 and 11)", function () {
  this.timeout(20_000);
  let server: HostileServer | undefined;
  let client: WeChatClient | undefined;
  let http: HttpClient | undefined;
  let env: Env | undefined;

  afterEach(async () => {
    await client?.stop();
    http?.close();
    await server?.close();
    await env?.close();
    client = undefined;
    http = undefined;
    server = undefined;
    env = undefined;
  });

  it("createGroup: Ret 0 with an <e> error in ErrMsg is a refusal, reported with the server's text", async () => {
    env = await startEnv({ contacts: 10, groups: 2 });
    const { client: c } = env.newClient();
    await loginByQr(env, c);
    const friends = c.listContacts({ kind: "friend" }).slice(0, 2);
    assert.equal(friends.length, 2);
    const groupsBefore = c.listContacts({ kind: "group" }).length;
    await env.api.fault({ endpoint: "webwxcreatechatroom", kind: "notice" });
    await assert.rejects(
      c.createGroup("Refused <group>", friends.map((f) => f.handle)),
      (e: unknown) => isWeChatError(e, "SERVER") && /创建群聊失败/.test(e.message),
    );
    assert.equal(c.listContacts({ kind: "group" }).length, groupsBefore, "no group was added");
  });

  it("selector 7 (the phone opens a chat) and 4 (a raw-named group renamed on the phone) are synced and handled", async () => {
    env = await startEnv({ contacts: 10, groups: 2 });
    const { client: c, rec } = env.newClient();
    await loginByQr(env, c);
    const group = c.listContacts({ kind: "group" })[0];
    assert.ok(group);
    // The first webwxsync after login may still be on the wire: wait until the client is back on synccheck.
    await waitForSyncIdle(rec);
    const syncsBefore = rec.calls.filter((w) => w === "webwxsync").length;
    env.sb.control.inject({ from: "self", to: group.handle, type: "open-chat" });
    const renamed = waitForEvent(c, "contact", (e) => e.change === "renamed" && e.contact.userName === group.userName, 10_000, "the rename");
    env.sb.control.contacts({ op: "modify", name: group.handle, nickName: TEAM, wire: "raw" });
    const rename = await renamed;
    assert.equal(rename.contact.displayName, TEAM);
    assert.equal(rename.previous?.displayName, group.displayName);
    assert.ok(rec.calls.filter((w) => w === "webwxsync").length > syncsBefore, "webwxsync was called");
    const member = c.getContact(group.userName)?.members?.find((m) => m.userName !== c.self?.userName);
    assert.ok(member);
    const next = waitForEvent(c, "message", (m) => m.text === "after 7", 10_000, "a text after selector 7");
    env.sb.control.inject({ room: group.userName, from: member.userName, text: "after 7" });
    assert.equal((await next).room?.displayName, TEAM);
    assert.equal(c.state.state, "online");
    assert.equal(c.resolve(TEAM).userName, group.userName);
  });

  it("comes online on the fixtures and keeps ids, names and texts whole", async () => {
    const srv = new HostileServer();
    server = srv;
    let delivered = false;
    srv.on("webwxinit", (_req, res) => text(res, fixture("webwxinit.json")));
    srv.on("synccheck", (_req, res, s) => {
      if (!delivered) return text(res, 'window.synccheck={retcode:"0",selector:"2"}', "text/javascript");
      s.hold(res);
    });
    srv.on("webwxsync", (_req, res) => {
      const body = delivered ? fixture("webwxsync.json").replace(/"AddMsgList": \[[\s\S]*?\n\]\n,\n"ModContactCount"/, '"AddMsgList": [],\n"ModContactCount"') : fixture("webwxsync.json");
      delivered = true;
      text(res, body);
    });
    srv.on("webwxsendmsg", (_req, res) => text(res, fixture("webwxsendmsg.json")));
    await srv.start();

    const c = new WeChatClient({ loginUrl: srv.url, tuning: TUNING });
    client = c;
    const messages: Message[] = [];
    const warnings: string[] = [];
    c.on("message", (m) => messages.push(m));
    c.on("warn", (w) => warnings.push(w));
    const last = new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`the last message never came; warnings: ${warnings.join(" | ")}`)), 10_000);
      c.on("message", (m) => {
        if (m.id !== LAST_ID) return;
        clearTimeout(timer);
        done();
      });
    });
    c.start();
    const online = await waitForState(c, (s) => s.state === "online", 10_000);
    assert.equal(online.user?.uin, 2718281828, "Uin given as a string");
    await last;

    const byId = new Map(messages.map((m) => [m.id, m]));
    const text1 = byId.get("4613209851223344556");
    assert.ok(text1, `the group text arrived (ids: ${[...byId.keys()].join(", ")})`);
    assert.equal(text1.newId, "4613209851223344556", "NewMsgId sent as a 19-digit number keeps every digit");
    assert.equal(text1.room?.displayName, TEAM);
    assert.equal(text1.room?.handle, TEAM);
    assert.equal(text1.text, "Hi <all> & welcome to Dev <Team>\nline two");
    assert.equal(byId.get(LAST_ID)?.newId, LAST_ID, "2^53 + 1 is not rounded");
    assert.equal(byId.get(LAST_ID)?.sender.displayName, "🐱🎉", "an emoji-only nickname");
    assert.equal(byId.get("4613209851223344557")?.media?.size, 48213, "image content with TABs");

    // The group, escaped in webwxinit and raw in ModContactList, is listed once by its name and is a target.
    const groups = c.listContacts().filter((k) => k.kind === "group");
    assert.deepEqual(groups.map((g) => g.displayName), [TEAM]);
    assert.equal(c.resolve(TEAM).userName, text1.room?.userName);
    const sent = await c.sendText(TEAM, "hello <Team> & 朋友");
    assert.equal(sent.msgId, "4613209851223344600");
  });

  it("push login reads ret given as a string", async () => {
    const srv = new HostileServer();
    server = srv;
    let answer = "pushloginurl-ok.json";
    srv.on("webwxpushloginurl", (_req, res) => text(res, fixture(answer)));
    await srv.start();
    http = new HttpClient({ retryDelayMs: 10 });
    const login = new LoginApi(http, "web", { requestMs: 2_000, longPollMs: 2_000 });
    assert.equal(await login.pushLogin(srv.url, 2718281828), "Qa9Zx3Lm0w==");
    answer = "pushloginurl-refused.json";
    assert.equal(await login.pushLogin(srv.url, 2718281828), undefined);
  });
});
