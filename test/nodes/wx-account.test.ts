import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { SessionStore } from "../../lib/wechat/session-store";
import type { Message } from "../../lib/wechat/types";
import { SESSION_KEY_FILE_ENV, baseSecret, sessionKey, sessionSecret } from "../../nodes/shared/secret";
import accountNode from "../../nodes/wx-account/wx-account";
import type { AdminHandler, NodeAPI } from "../../nodes/shared/red";
import { type FlowNode, helper, nodeById, waitForEvent, waitForStatus } from "../support/node-red";
import { ACCOUNT, NODES, accountConfig, accountOf, logOf, login, useSandbox, waitOnline, wxNode } from "./fixture";

interface StateBody {
  state: string;
  qr?: string;
  qrUrl?: string;
  user?: { nickName: string };
  phoneUrl?: string;
  code?: number;
  users: number;
}

/** Admin auth for tests: a request holds the permissions listed in its x-test-permissions header. */
function withHeaderAuth(RED: NodeAPI): void | Promise<void> {
  RED.auth = {
    needsPermission(permission: string): AdminHandler {
      return (req, res, next) => {
        const headers = (req as unknown as { headers: Record<string, string | undefined> }).headers;
        const granted = (headers["x-test-permissions"] ?? "").split(",");
        if (granted.includes(permission)) next();
        else res.status(403).json({ error: "forbidden", needed: permission });
      };
    },
  };
  return accountNode(RED);
}

function flow(ctx: { sb: Parameters<typeof accountConfig>[0] }, extra: Record<string, unknown> = {}): FlowNode[] {
  return [accountConfig(ctx.sb, extra), wxNode("send", "wx-send-text"), wxNode("recv", "wx-receive", { types: ["text"] })];
}

describe("wx-account", function () {
  const ctx = useSandbox();

  it("walks every user node through scan QR, confirm on phone and online (without the nickname)", async function () {
    const send = () => nodeById("send");
    await helper.load(NODES, flow(ctx));
    // Both users mirror the session.
    await waitForStatus(send(), (s) => s.fill === "yellow" && s.shape === "ring" && /status\.scan/.test(s.text ?? ""));
    const pending = await ctx.sb.control.waitForLogin({ timeoutMs: 10_000 });
    const confirming = waitForStatus(nodeById("recv"), (s) => s.fill === "yellow" && s.shape === "dot");
    ctx.sb.control.scanOnly({ uuid: pending.uuid });
    assert.match((await confirming).text ?? "", /status\.confirm/);
    // Online at once, contacts loading (a green ring), then loaded (a green dot).
    const online = waitForStatus(nodeById("recv"), (s) => s.fill === "green" && s.shape === "dot");
    ctx.sb.control.confirm({ uuid: pending.uuid });
    const status = await online;
    assert.equal(status.shape, "dot");
    // Every editor user sees node status (status.read), read-only ones too: no nickname there.
    assert.equal(status.text, "wx-account.status.online");
  });

  it("serves the live state with the QR and its URL, then the logged-in user", async function () {
    await helper.load(NODES, flow(ctx));
    await waitForStatus(nodeById("send"), (s) => s.fill === "yellow" && s.shape === "ring");
    const pending = await ctx.sb.control.waitForLogin({ timeoutMs: 10_000 });
    const res = await helper.request().get(`/wx-account/${ACCOUNT}/state`);
    assert.equal(res.status, 200);
    const body = res.body as StateBody;
    assert.equal(body.state, "waiting-scan");
    assert.equal(body.qrUrl, `https://login.weixin.qq.com/l/${pending.uuid}`);
    assert.match(body.qr ?? "", /^data:image\/png;base64,/);
    assert.equal(body.users, 2);
    ctx.sb.control.scan({ uuid: pending.uuid });
    await waitOnline(nodeById("send"));
    const after = (await helper.request().get(`/wx-account/${ACCOUNT}/state`)).body as StateBody;
    assert.equal(after.state, "online");
    assert.equal(after.user?.nickName, "Sandbox Me");
    assert.equal(after.qr, undefined);
  });

  it("writes the QR to the log as a terminal QR with its URL", async function () {
    const logged = helper.load(NODES, flow(ctx)).then(() =>
      waitForEvent(nodeById(ACCOUNT), "call:log", (call) => {
        const text = String((call as { args: unknown[] }).args[0]);
        return text.includes("https://login.weixin.qq.com/l/") ? text : undefined;
      }),
    );
    const text = await logged;
    const pending = ctx.sb.control.logins()[0];
    assert.ok(pending);
    assert.ok(text.includes(`https://login.weixin.qq.com/l/${pending.uuid}`));
    // small terminal QR: half blocks
    assert.match(text, /[▀▄█]/);
  });

  it("#16.5: on the built-in sandbox, logs 'press Scan on the sandbox phone page' instead of a terminal QR", async function () {
    const logged = helper.load(NODES, [wxNode("send", "wx-send-text"), { ...accountConfig(ctx.sb), server: "sandbox", sandboxPort: 0, loginUrl: "" }]).then(() =>
      waitForEvent(nodeById(ACCOUNT), "call:log", (call) => {
        const text = String((call as { args: unknown[] }).args[0]);
        return /log\.scan/.test(text) ? text : undefined;
      }),
    );
    const text = await logged;
    assert.equal(text, "wx-account.log.scanSandbox");
    const all = JSON.stringify(helper.log().args);
    assert.doesNotMatch(all, /[▀▄█]|login\.weixin\.qq\.com\/l\//, "no terminal QR, no QR URL");
  });

  it("answers 404 'undeployed' for an account that is not deployed", async function () {
    await helper.load(NODES, flow(ctx));
    const res = await helper.request().get("/wx-account/nope/state");
    assert.equal(res.status, 404);
    assert.equal((res.body as StateBody).state, "undeployed");
  });

  it("guards every admin route with wx-account.write (a read-only user gets every *.read)", async function () {
    await helper.load([withHeaderAuth, ...NODES.slice(1)], flow(ctx));
    await login(ctx, nodeById("send"));
    const get = (p: string, perms: string) => helper.request().get(`/wx-account/${ACCOUNT}/${p}`).set("x-test-permissions", perms);
    const post = (p: string, perms: string) => helper.request().post(`/wx-account/${ACCOUNT}/${p}`).set("x-test-permissions", perms);
    assert.equal((await get("state", "")).status, 403);
    assert.equal((await get("state", "wx-account.read")).status, 403);
    assert.equal((await get("state", "read")).status, 403);
    assert.equal((await get("state", "wx-account.write")).status, 200);
    assert.equal((await get("contacts", "")).status, 403);
    assert.equal((await get("contacts", "wx-account.read")).status, 403);
    assert.equal((await get("contacts", "wx-account.write")).status, 200);
    assert.equal((await get("avatar", "wx-account.read")).status, 403);
    assert.equal((await get("avatar", "wx-account.write")).status, 200);
    assert.equal((await post("logout", "wx-account.read")).status, 403);
    assert.equal((await post("qr", "wx-account.read")).status, 403);
    assert.equal(accountOf().state.state, "online", "a refused logout must not log out");
    const waiting = waitForStatus(nodeById("send"), (s) => s.fill === "yellow" && s.shape === "ring");
    assert.equal((await post("logout", "wx-account.write")).status, 200);
    await waiting;
    assert.equal((await post("qr", "wx-account.write")).status, 200);
  });

  it("#16.9: serves the logged-in user's avatar as a data: URL for the editor, only while logged in", async function () {
    await helper.load(NODES, flow(ctx));
    await waitForStatus(nodeById("send"), (s) => s.fill === "yellow" && s.shape === "ring");
    const before = await helper.request().get(`/wx-account/${ACCOUNT}/avatar`);
    assert.equal(before.status, 409);
    assert.equal((before.body as { error: { code: string } }).error.code, "NOT_LOGGED_IN");
    await login(ctx, nodeById("send"));
    const res = await helper.request().get(`/wx-account/${ACCOUNT}/avatar`);
    assert.equal(res.status, 200);
    const avatar = (res.body as { avatar: string }).avatar;
    assert.match(avatar, /^data:image\/(png|jpeg|gif|webp|bmp);base64,[A-Za-z0-9+/=]+$/);
    // what the sandbox serves as this account's own icon, downloaded once per login
    const again = await helper.request().get(`/wx-account/${ACCOUNT}/avatar`);
    assert.equal((again.body as { avatar: string }).avatar, avatar);
    assert.equal((await helper.request().get("/wx-account/nope/avatar")).status, 404);
  });

  it("#16.9: the comms summary carries the node status (for the accounts sidebar), never the user", async function () {
    await helper.load(NODES, flow(ctx));
    await login(ctx, nodeById("send"));
    const summary = accountOf().summary();
    assert.equal(summary.state, "online");
    assert.equal(summary.status?.fill, "green");
    assert.equal(summary.status?.text, "wx-account.status.online");
    assert.doesNotMatch(JSON.stringify(summary), /Sandbox Me|data:image|"@/);
  });

  it("lists contacts for the pickers by stable name, never with a UserName", async function () {
    await helper.load(NODES, flow(ctx));
    await login(ctx, nodeById("send"));
    const res = await helper.request().get(`/wx-account/${ACCOUNT}/contacts`).query({ q: "家人", kind: "group" });
    assert.equal(res.status, 200);
    const body = res.body as { contacts: Record<string, unknown>[] };
    assert.ok(body.contacts.length >= 1);
    assert.equal(body.contacts[0]?.handle, "家人群");
    for (const c of body.contacts) assert.equal("userName" in c, false);
    assert.doesNotMatch(JSON.stringify(body), /"@/);
  });

  it("saves the session encrypted under the user dir and resumes it after a redeploy without a scan", async function () {
    await helper.load(NODES, flow(ctx));
    await login(ctx, nodeById("send"));
    await helper.unload();
    const file = path.join(ctx.userDir, "wxflow", `${ACCOUNT}.session`);
    assert.ok(existsSync(file), "session file written");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const content = readFileSync(file, "utf8");
    // The sealed envelope (docs/architecture.md): its clear fields say nothing of the session, and the session's
    // names and keys are nowhere in it, neither as text nor inside the base64 fields. (Matching the whole file case-
    // insensitively failed about once in 200 runs: the ciphertext's base64 spelled "sKEy" by chance.)
    const envelope = JSON.parse(content) as Record<string, unknown>;
    assert.deepEqual(Object.keys(envelope).sort(), ["data", "format", "iv", "kdf", "salt", "tag", "v"]);
    const encoded = ["data", "iv", "salt", "tag"].map((key) => envelope[key]);
    for (const value of encoded) assert.match(String(value), /^[A-Za-z0-9+/]+=*$/);
    assert.doesNotMatch(JSON.stringify({ ...envelope, data: "", iv: "", salt: "", tag: "" }), /Sandbox Me|wxsid|skey/i);
    const bytes = Buffer.concat(encoded.map((value) => Buffer.from(String(value), "base64")));
    for (const clear of ["Sandbox Me", '"skey"', '"sid"', "wxsid"]) assert.equal(bytes.includes(clear), false, `${clear} in clear`);
    // Not in the flow either.
    assert.doesNotMatch(JSON.stringify(flow(ctx)), /session|skey/i);
    const logins = ctx.sb.control.logins().length;
    await helper.load(NODES, flow(ctx));
    await waitOnline(nodeById("send"));
    assert.equal(ctx.sb.control.logins().length, logins, "no new QR login was needed");
  });

  it("#16.3: logs a client warning exactly once (a saved session the server no longer knows)", async function () {
    await helper.load(NODES, flow(ctx));
    await login(ctx, nodeById("send"));
    await helper.unload();
    // the server ends the session while the flow is stopped: the redeploy finds the saved session dead
    ctx.sb.control.expireSession({ code: 1101 });
    await helper.load(NODES, flow(ctx));
    await waitForStatus(nodeById("send"), (s) => s.fill === "yellow" && /status\.(scan|confirm)/.test(s.text ?? ""));
    const warned = logOf(ACCOUNT, "warn").filter((w) => /saved session not usable/.test(w));
    assert.equal(warned.length, 1, logOf(ACCOUNT, "warn").join("\n"));
  });

  it("#14.5: with a session key from a file outside the user dir, a copy of the user dir decrypts no session; old sessions migrate", async function () {
    this.timeout(60_000);
    // The helper's log spy starts afresh with every load.
    const keyWarnings = (): number =>
      helper.log().getCalls().filter((c) => JSON.stringify(c.args).includes("wx-account.log.keyInUserDir")).length;
    // Before: a session saved under the key derived from the user dir, and a warning that says so.
    await helper.load(NODES, flow(ctx));
    await login(ctx, nodeById("send"));
    assert.equal(keyWarnings(), 1);
    await helper.unload();
    const file = path.join(ctx.userDir, "wxflow", `${ACCOUNT}.session`);
    assert.ok(existsSync(file));
    const outside = mkdtempSync(path.join(tmpdir(), "wxflow-key-"));
    const keyFile = path.join(outside, "session.key");
    writeFileSync(keyFile, `${"0123456789abcdef".repeat(4)}\n`, { mode: 0o600 });
    const before = process.env[SESSION_KEY_FILE_ENV];
    process.env[SESSION_KEY_FILE_ENV] = keyFile;
    try {
      // With the key file: the saved session still resumes (read once with the old key, re-written under the new).
      const logins = ctx.sb.control.logins().length;
      await helper.load(NODES, flow(ctx));
      await waitOnline(nodeById("send"));
      assert.equal(ctx.sb.control.logins().length, logins, "resumed without a new scan");
      assert.equal(keyWarnings(), 0, "no warning: the key is outside the user dir");
      await helper.unload();
      // Whoever copies the user dir has every secret it holds, and none of them opens the session.
      const copy = path.join(outside, "stolen-user-dir");
      cpSync(ctx.userDir, copy, { recursive: true });
      const stolen = path.join(copy, "wxflow", `${ACCOUNT}.session`);
      const fromCopy = baseSecret({ userDir: copy, get: () => undefined }, path.join(copy, "wxflow"));
      assert.equal(await new SessionStore(stolen, sessionSecret(fromCopy, ACCOUNT)).load(), undefined, "the copy does not decrypt");
      const key = sessionKey({ userDir: ctx.userDir }, path.dirname(file), { [SESSION_KEY_FILE_ENV]: keyFile });
      assert.ok(await new SessionStore(stolen, sessionSecret(key.secret, ACCOUNT)).load(), "the configured key does");
    } finally {
      if (before === undefined) delete process.env[SESSION_KEY_FILE_ENV];
      else process.env[SESSION_KEY_FILE_ENV] = before;
      rmSync(outside, { recursive: true, force: true });
    }
    // Back to the user-dir key: two accounts start, one warning (once per process, not per account).
    const two = [...flow(ctx), accountConfig(ctx.sb, { id: "acc2" }), { ...wxNode("recv2", "wx-receive", { types: ["text"] }), account: "acc2" }];
    await helper.load(NODES, two);
    await Promise.all(["recv", "recv2"].map((id) => waitForStatus(nodeById(id), (st) => /status\.scan/.test(st.text ?? ""))));
    assert.equal(keyWarnings(), 1, "one warning for two accounts");
  });

  it("shows red ring 'logged out' when the server ends the session", async function () {
    await helper.load(NODES, flow(ctx));
    await login(ctx, nodeById("send"));
    const loggedOut = waitForStatus(nodeById("send"), (s) => s.fill === "red" && s.shape === "ring");
    ctx.sb.control.expireSession({ code: 1101 });
    const status = await loggedOut;
    assert.match(status.text ?? "", /status\.loggedOut/);
  });

  it("runs the built-in sandbox for server 'sandbox' and closes it with the account", async function () {
    await helper.load(NODES, [wxNode("send", "wx-send-text"), { ...accountConfig(ctx.sb), server: "sandbox", sandboxPort: 0, loginUrl: "" }]);
    await waitForStatus(nodeById("send"), (s) => s.fill === "yellow" && s.shape === "ring");
    const state = (await helper.request().get(`/wx-account/${ACCOUNT}/state`)).body as StateBody;
    // the link carries the control token in its fragment; without it the control API refuses
    assert.match(state.phoneUrl ?? "", /^http:\/\/127\.0\.0\.1:\d+\/phone#token=[\w-]{32}$/);
    const phone = new URL(state.phoneUrl ?? "");
    const origin = phone.origin;
    const token = new URLSearchParams(phone.hash.slice(1)).get("token") ?? "";
    assert.notEqual(origin, ctx.sb.url);
    const online = waitOnline(nodeById("send"));
    const noToken = await fetch(`${origin}/api/sandbox/scan`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(noToken.status, 401);
    const scan = await fetch(`${origin}/api/sandbox/scan`, { method: "POST", headers: { "content-type": "application/json", "x-sandbox-token": token }, body: "{}" });
    assert.equal(scan.status, 200);
    // the log names the sandbox, never the link with its token
    const logged = JSON.stringify(helper.log().args);
    assert.match(logged, new RegExp(origin.replace(/\./g, "\\.")));
    assert.ok(!logged.includes(token), "the token is not in the log");
    await online;
    await helper.unload();
    await assert.rejects(fetch(`${origin}/api/sandbox/logins`));
  });
});

describe("several accounts", function () {
  const ctx = useSandbox({ accounts: 2 });
  type Msg = Record<string, unknown> & { payload: unknown; wechat: Message };

  /** Resolve with the uuid of the QR account `id` shows (waiting on its nodes' status changes). */
  async function qrUuid(id: string, user: string): Promise<string> {
    const uuid = (): string | undefined => {
      const state = accountOf(id).state;
      return state.state === "waiting-scan" && state.qrUrl ? state.qrUrl.split("/l/")[1] : undefined;
    };
    return uuid() ?? waitForEvent(nodeById(user), "call:status", () => uuid(), 10_000, `a QR of ${id}`);
  }

  async function online(id: string, user: string): Promise<void> {
    if (accountOf(id).state.state === "online") return;
    await waitForEvent(nodeById(user), "call:status", () => (accountOf(id).state.state === "online" ? true : undefined), 10_000, `${id} online`);
  }

  it("runs two accounts side by side that message each other through flows", async function () {
    const [a, b] = ctx.sb.control.world().accounts;
    assert.ok(a && b, "two phone accounts in the sandbox world");
    const flow = [
      accountConfig(ctx.sb, { id: "accA", name: "A" }),
      accountConfig(ctx.sb, { id: "accB", name: "B" }),
      // A sends to B by name, and hears B's answers
      { id: "sendA", type: "wx-send-text", account: "accA", target: b.nickName, wires: [[]] },
      { id: "recvA", type: "wx-receive", account: "accA", types: ["text"], wires: [["heardA"]] },
      { id: "heardA", type: "helper", wires: [] },
      // B echoes whatever it gets (a reply to msg.wechat.chat), and shows it
      { id: "recvB", type: "wx-receive", account: "accB", types: ["text"], wires: [["echoB", "heardB"]] },
      { id: "echoB", type: "wx-send-text", account: "accB", target: "", wires: [[]] },
      { id: "heardB", type: "helper", wires: [] },
    ];
    await helper.load(NODES, flow);
    const [uuidA, uuidB] = await Promise.all([qrUuid("accA", "sendA"), qrUuid("accB", "recvB")]);
    assert.notEqual(uuidA, uuidB);
    ctx.sb.control.scan({ uuid: uuidA, account: a.nickName });
    ctx.sb.control.scan({ uuid: uuidB, account: b.nickName });
    await Promise.all([online("accA", "sendA"), online("accB", "recvB")]);
    assert.equal(accountOf("accA").state.user?.nickName, a.nickName);
    assert.equal(accountOf("accB").state.user?.nickName, b.nickName);

    const heardB = waitForEvent(nodeById("heardB"), "input", (m) => m as Msg);
    const heardA = waitForEvent(nodeById("heardA"), "input", (m) => ((m as Msg).payload === "ping from A" ? (m as Msg) : undefined));
    nodeById("sendA").receive({ payload: "ping from A" });
    const atB = await heardB;
    assert.equal(atB.payload, "ping from A");
    assert.equal(atB.wechat.chat.displayName, a.nickName);
    const atA = await heardA;
    assert.equal(atA.wechat.chat.displayName, b.nickName);
    assert.equal(atA.wechat.fromSelf, false);

    const sent = ctx.sb.control.sent({ type: "text" });
    assert.deepEqual(
      sent.map((r) => [r.account, r.toName]),
      [
        [a.nickName, b.nickName],
        [b.nickName, a.nickName],
      ],
    );
    // separate clients, separate session files
    assert.notEqual(accountOf("accA").runningClient(), accountOf("accB").runningClient());
    assert.ok(existsSync(path.join(ctx.userDir, "wxflow", "accA.session")));
    assert.ok(existsSync(path.join(ctx.userDir, "wxflow", "accB.session")));
    assert.deepEqual(ctx.sb.control.violations(), []);
  });
});

describe("wx-account lifecycle", function () {
  const ctx = useSandbox();

  it("stops the client when the last wx node leaves, and starts it again when one comes back", async function () {
    const account = accountConfig(ctx.sb);
    const send = wxNode("send", "wx-send-text");
    await helper.load(NODES, [account, send]);
    await login(ctx, nodeById("send"));
    assert.ok(accountOf().runningClient());
    await helper.setFlows([account], "nodes");
    assert.equal(accountOf().runningClient(), undefined);
    assert.equal(accountOf().state.state, "offline");
    assert.equal(accountOf().userCount, 0);
    const state = (await helper.request().get(`/wx-account/${ACCOUNT}/state`)).body as StateBody;
    assert.deepEqual([state.state, state.users], ["offline", 0]);
    // Back again: the saved session resumes without a scan.
    const logins = ctx.sb.control.logins().length;
    await helper.setFlows([account, send], "nodes");
    await waitOnline(nodeById("send"));
    assert.equal(ctx.sb.control.logins().length, logins);
  });

  it("forgets the saved session when the account is deleted, not when it is redeployed", async function () {
    const account = accountConfig(ctx.sb);
    const send = wxNode("send", "wx-send-text");
    await helper.load(NODES, [account, send]);
    await login(ctx, nodeById("send"));
    const file = path.join(ctx.userDir, "wxflow", `${ACCOUNT}.session`);
    await helper.setFlows([account], "nodes");
    assert.ok(existsSync(file), "kept while the account exists");
    await helper.setFlows([{ ...account, pacing: 30 }, send], "full");
    await waitOnline(nodeById("send"));
    assert.ok(existsSync(file), "kept across a full redeploy");
    await helper.setFlows([{ id: "other", type: "helper", wires: [] }], "full");
    assert.equal(existsSync(file), false, "deleted with the account");
  });

  it("says why it is offline when the built-in sandbox cannot start", async function () {
    const port = Number(new URL(ctx.sb.url).port);
    const failed = helper
      .load(NODES, [wxNode("send", "wx-send-text"), { ...accountConfig(ctx.sb), server: "sandbox", sandboxPort: port, loginUrl: "" }])
      .then(() => waitForStatus(nodeById("send"), (s) => s.fill === "grey" && /EADDRINUSE|in use/i.test(s.text ?? "")));
    const status = await failed;
    assert.equal(status.shape, "ring");
    assert.equal(accountOf().runningClient(), undefined);
  });
});

describe("wx-account refused login", function () {
  const ctx = useSandbox({ requireDesktop: true });

  it("shows red ring 'refused' when the server refuses the login (1203)", async function () {
    await helper.load(NODES, flow(ctx, { mode: "web" }));
    const refused = waitForStatus(nodeById("send"), (s) => s.fill === "red" && s.shape === "ring");
    const pending = await ctx.sb.control.waitForLogin({ timeoutMs: 10_000 });
    ctx.sb.control.scan({ uuid: pending.uuid });
    const status = await refused;
    assert.match(status.text ?? "", /status\.refused/);
    assert.equal(accountOf().state.code, 1203);
  });
});
