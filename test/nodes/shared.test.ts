import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import * as path from "node:path";
import { WeChatError } from "../../lib/wechat/errors";
import { MAX_TEXT_LENGTH } from "../../lib/wechat/send";
import type { Contact, SessionState, WeChatClientApi } from "../../lib/wechat/types";
import { accountSettings } from "../../nodes/shared/account";
import { instanceName, leaseTtlMs } from "../../nodes/shared/instance";
import { INSTALL_SECRET_FILE, SESSION_KEY_ENV, SESSION_KEY_FILE_ENV, baseSecret, sessionKey, sessionSecret } from "../../nodes/shared/secret";
import { statusFor } from "../../nodes/shared/status";
import { chooseTarget, markUncertain, mentionsOf, withSent } from "../../nodes/shared/target";
import { textOf } from "../../nodes/shared/text";

describe("session secret", function () {
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(path.join(tmpdir(), "wxflow-secret-"));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it("uses the user's credentialSecret first", function () {
    const settings = { credentialSecret: "user secret", get: () => "generated" };
    assert.equal(baseSecret(settings, dir), "user secret");
  });

  it("else the secret Node-RED generated for its credentials file", function () {
    const settings = { get: (key: string) => (key === "_credentialSecret" ? "generated-by-node-red" : undefined) };
    assert.equal(baseSecret(settings, dir), "generated-by-node-red");
  });

  it("else a per-install random secret, 0600, the same at every start", function () {
    // credentialSecret false = Node-RED encryption disabled; settings.get throws before settings load.
    const settings = {
      credentialSecret: false as const,
      get: (): unknown => {
        throw new Error("settings not available");
      },
    };
    const first = baseSecret(settings, dir);
    assert.ok(first.length >= 32);
    const file = path.join(dir, INSTALL_SECRET_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, "utf8"), first);
    assert.equal(baseSecret(settings, dir), first);
  });

  describe("session key from outside the user dir (#14.5)", function () {
    const KEY = "k".repeat(20) + "-from-outside";
    const noSettings = (): unknown => undefined;

    it("takes WXFLOW_SESSION_KEY first; the user-dir secret stays as the one to migrate from", function () {
      const settings = { userDir: dir, get: (k: string) => (k === "_credentialSecret" ? "generated-by-node-red" : undefined) };
      const key = sessionKey(settings, path.join(dir, "wxflow"), { [SESSION_KEY_ENV]: KEY, [SESSION_KEY_FILE_ENV]: "/nonexistent" });
      assert.equal(key.secret, KEY);
      assert.equal(key.source, "env");
      assert.equal(key.inUserDir, false);
      assert.deepEqual(key.previous, ["generated-by-node-red"]);
      assert.ok(!key.where.includes(KEY), "the key is never named in the warning text");
    });

    it("reads a key file from WXFLOW_SESSION_KEY_FILE or settings.js wxflow.sessionKeyFile", function () {
      const outside = mkdtempSync(path.join(tmpdir(), "wxflow-keyfile-"));
      try {
        const file = path.join(outside, "session.key");
        writeFileSync(file, `${KEY}\n`, { mode: 0o600 });
        const byEnv = sessionKey({ userDir: dir, get: noSettings }, dir, { [SESSION_KEY_FILE_ENV]: file });
        assert.deepEqual([byEnv.secret, byEnv.source, byEnv.inUserDir], [KEY, "file", false]);
        const bySettings = sessionKey({ userDir: dir, wxflow: { sessionKeyFile: file }, get: noSettings }, dir, {});
        assert.deepEqual([bySettings.secret, bySettings.source, bySettings.inUserDir], [KEY, "file", false]);
        assert.equal(existsSync(path.join(dir, INSTALL_SECRET_FILE)), false, "no install secret is created when a key is configured");
      } finally {
        rmSync(outside, { recursive: true, force: true });
      }
    });

    it("says when the key lives in the user dir, and refuses a short or unreadable configured key", function () {
      const inside = path.join(dir, "keys", "session.key");
      mkdirSync(path.dirname(inside));
      writeFileSync(inside, KEY);
      assert.equal(sessionKey({ userDir: dir, wxflow: { sessionKeyFile: "keys/session.key" }, get: noSettings }, dir, {}).inUserDir, true);
      const derived = sessionKey({ userDir: dir, get: (k: string) => (k === "_credentialSecret" ? "generated" : undefined) }, dir, {});
      assert.deepEqual([derived.secret, derived.source, derived.inUserDir], ["generated", "node-red", true]);
      assert.throws(() => sessionKey({ userDir: dir, get: noSettings }, dir, { [SESSION_KEY_ENV]: "short" }), /shorter than/);
      assert.throws(() => sessionKey({ userDir: dir, get: noSettings }, dir, { [SESSION_KEY_FILE_ENV]: path.join(dir, "missing") }), /cannot be read/);
    });
  });

  it("derives one key per account", function () {
    const a = sessionSecret("base", "account-a");
    assert.equal(a, sessionSecret("base", "account-a"));
    assert.notEqual(a, sessionSecret("base", "account-b"));
    assert.notEqual(a, sessionSecret("other", "account-a"));
    assert.doesNotMatch(a, /base/);
  });
});

describe("account settings", function () {
  it("defaults to the real WeChat server, desktop mode, 60 per minute, sandbox port 1881", function () {
    assert.deepEqual(accountSettings({}), {
      server: "wechat",
      sandboxPort: 1881,
      loginUrl: "",
      mode: "desktop",
      pacing: 60,
      store: "file",
      redisUrl: "",
      redisPrefix: "wxflow",
    });
  });

  it("reads the editor's values and rejects out-of-range ones", function () {
    assert.deepEqual(accountSettings({ server: "sandbox", sandboxPort: "0", mode: "web", pacing: "30", loginUrl: " http://x " }), {
      server: "sandbox",
      sandboxPort: 0,
      loginUrl: "http://x",
      mode: "web",
      pacing: 30,
      store: "file",
      redisUrl: "",
      redisPrefix: "wxflow",
    });
    const bad = accountSettings({ server: "evil", sandboxPort: 70000, pacing: -1, mode: "x" });
    assert.equal(bad.server, "wechat");
    assert.equal(bad.sandboxPort, 1881);
    assert.equal(bad.pacing, 60);
    assert.equal(bad.mode, "desktop");
  });

  it("#17: reads the Redis store (URL and prefix trimmed, prefix defaulted); anything else is the file store", function () {
    const redis = accountSettings({ store: "redis", redisUrl: " redis://127.0.0.1:6379/2 ", redisPrefix: " team " });
    assert.deepEqual([redis.store, redis.redisUrl, redis.redisPrefix], ["redis", "redis://127.0.0.1:6379/2", "team"]);
    assert.equal(accountSettings({ store: "redis", redisPrefix: "  " }).redisPrefix, "wxflow");
    assert.equal(accountSettings({ store: "memcached" }).store, "file");
  });
});

describe("instance name (#17)", function () {
  it("takes settings.js wxflow.instanceName, else $WXFLOW_INSTANCE, else host:pid", function () {
    assert.equal(instanceName({ wxflow: { instanceName: " blue " } }, { WXFLOW_INSTANCE: "green" }), "blue");
    assert.equal(instanceName({ get: (k: string) => (k === "wxflow" ? { instanceName: "from-get" } : undefined) }, {}), "from-get");
    assert.equal(instanceName({ wxflow: { instanceName: "" } }, { WXFLOW_INSTANCE: " green " }), "green");
    assert.equal(instanceName({}, {}, 4242), `${hostname()}:4242`);
  });

  it("reads wxflow.leaseTtlMs, ignoring values too small to renew", function () {
    assert.equal(leaseTtlMs({ wxflow: { leaseTtlMs: 5000 } }), 5000);
    assert.equal(leaseTtlMs({ wxflow: { leaseTtlMs: 10 } }), undefined);
    assert.equal(leaseTtlMs({}), undefined);
  });
});

describe("node status of a session state", function () {
  const t = (key: string): string => key.replace("wx-account.status.", "");
  const cases: [SessionState, string, string, string][] = [
    ["offline", "grey", "ring", "offline"],
    ["waiting-scan", "yellow", "ring", "scan"],
    ["scanned", "yellow", "dot", "confirm"],
    ["online", "green", "dot", "online"],
    ["logged-out", "red", "ring", "loggedOut: 1101"],
    ["refused", "red", "ring", "refused: no web login"],
  ];
  for (const [state, fill, shape, text] of cases) {
    it(`${state} -> ${fill} ${shape} "${text}"`, function () {
      const info = { state, user: { userName: "@me", nickName: "Me", uin: 1 }, code: 1101, ...(state === "refused" ? { message: "no web login" } : {}) };
      const status = statusFor(state === "online" ? info : { ...info, user: undefined }, t);
      assert.deepEqual(status, { fill, shape, text });
    });
  }

  it("#17: on Redis, a standby shows the owner (blue ring) and a paused account why, whatever the session state", function () {
    const t2 = (key: string): string => key.replace("wx-account.status.", "");
    assert.deepEqual(statusFor({ state: "offline" }, t2, { kind: "standby", owner: "node-b" }), { fill: "blue", shape: "ring", text: "standby: node-b" });
    assert.deepEqual(statusFor({ state: "offline" }, t2, { kind: "standby" }), { fill: "blue", shape: "ring", text: "standby" });
    assert.deepEqual(statusFor({ state: "offline" }, t2, { kind: "paused" }), { fill: "grey", shape: "ring", text: "paused: redisUnreachable" });
    assert.deepEqual(statusFor({ state: "online" }, t2, { kind: "owner" }), { fill: "green", shape: "dot", text: "online" });
  });
});

describe("target rules", function () {
  const contacts: Record<string, Contact> = {
    "@alice": { userName: "@alice", nickName: "Alice", remarkName: "", alias: "", kind: "friend", displayName: "Alice", handle: "Alice" },
    "@@room": { userName: "@@room", nickName: "Room", remarkName: "", alias: "", kind: "group", displayName: "Room", handle: "Room" },
  };
  const client = { getContact: (u: string) => contacts[u] } as Pick<WeChatClientApi, "getContact">;

  it("prefers msg.to, then the node's target, then a reply to msg.wechat.chat", function () {
    const chat = { userName: "@alice", handle: "Alice", displayName: "Alice", kind: "friend" };
    assert.deepEqual(chooseTarget({ to: "Bob", wechat: { chat } }, "Carol", client), { target: "Bob", source: "msg.to" });
    assert.deepEqual(chooseTarget({ wechat: { chat } }, "Carol", client), { target: "Carol", source: "node" });
    assert.deepEqual(chooseTarget({ wechat: { chat } }, "", client), { target: "@alice", source: "reply" });
  });

  it("replies by name when the chat's UserName is from an older session", function () {
    const chat = { userName: "@stale", handle: "Alice", displayName: "Alice", kind: "friend" };
    assert.deepEqual(chooseTarget({ wechat: { chat } }, "", client), { target: "Alice", source: "reply" });
  });

  it("takes a contact object as msg.to", function () {
    assert.equal(chooseTarget({ to: contacts["@@room"] }, "", client).target, "@@room");
    assert.equal(chooseTarget({ to: { userName: "@gone", handle: "Room" } }, "", client).target, "Room");
  });

  it("refuses a msg.to that is not a name, and a msg with no target at all", function () {
    assert.throws(() => chooseTarget({ to: 42 }, "", client), (e: unknown) => e instanceof WeChatError && e.code === "INVALID_ARGUMENT");
    assert.throws(() => chooseTarget({}, "", client), (e: unknown) => e instanceof WeChatError && e.code === "INVALID_ARGUMENT");
  });

  it("accepts mentions only in groups", function () {
    const room = contacts["@@room"] as Contact;
    const alice = contacts["@alice"] as Contact;
    assert.deepEqual(mentionsOf({ mentions: ["Alice", " Bob "] }, room), ["Alice", "Bob"]);
    assert.deepEqual(mentionsOf({ mentions: "Alice" }, room), ["Alice"]);
    assert.equal(mentionsOf({}, alice), undefined);
    assert.throws(() => mentionsOf({ mentions: ["Alice"] }, alice), /only work in groups/);
    assert.throws(() => mentionsOf({ mentions: [1] }, room), /array of names/);
  });

  it("adds msg.wechat.sent as plain data, keeping what msg.wechat held", function () {
    const msg = withSent({ payload: "x", wechat: { id: "1" } }, { msgId: "m", localId: "l", to: "@alice", toHandle: "Alice" });
    assert.deepEqual(msg.wechat, { id: "1", sent: { msgId: "m", localId: "l", to: "@alice", toHandle: "Alice" } });
  });
});

describe("message text of a payload", function () {
  it("keeps strings, converts other values, refuses empty text", function () {
    assert.equal(textOf("hi"), "hi");
    assert.equal(textOf(3.5), "3.5");
    assert.equal(textOf(false), "false");
    assert.equal(textOf([1, "a"]), '[1,"a"]');
    assert.equal(textOf(Buffer.from("字")), "字");
    for (const empty of ["", "   ", undefined, null]) assert.throws(() => textOf(empty), /empty/);
  });
});

describe("SEND_UNCERTAIN in the send nodes", () => {
  it("puts the ClientMsgId on the msg that goes to Catch, plain data only", () => {
    const msg: Record<string, unknown> = { payload: "x", wechat: { chat: { handle: "h" } } };
    markUncertain(msg as never, new WeChatError("SEND_UNCERTAIN", "lost", { clientMsgId: "17000000000001234" }));
    assert.deepEqual(msg.wechat, { chat: { handle: "h" }, uncertain: { clientMsgId: "17000000000001234" } });
    const other: Record<string, unknown> = { payload: "y" };
    markUncertain(other as never, new WeChatError("NETWORK", "down"));
    assert.equal(other.wechat, undefined, "only SEND_UNCERTAIN marks the msg");
  });

  it("is explained in the help of every send node, in both languages", () => {
    const root = path.join(__dirname, "..", "..", "..");
    for (const lang of ["en-US", "zh-CN"]) {
      for (const node of ["wx-send-text", "wx-send-image", "wx-send-file"]) {
        const help = readFileSync(path.join(root, "nodes", node, "locales", lang, `${node}.html`), "utf8");
        assert.match(help, /<code>SEND_UNCERTAIN<\/code>/, `${lang}/${node}`);
        assert.match(help, /msg\.wechat\.uncertain\.clientMsgId/, `${lang}/${node}`);
      }
    }
  });
});

describe("help pages say each fact once (#15)", function () {
  it("no paragraph of a node's help is copied into another node's help, in either language", () => {
    const nodes = path.join(__dirname, "..", "..", "..", "nodes");
    for (const lang of ["en-US", "zh-CN"]) {
      const seen = new Map<string, string>();
      let paragraphs = 0;
      for (const type of readdirSync(nodes).filter((t) => t.startsWith("wx-"))) {
        const help = readFileSync(path.join(nodes, type, "locales", lang, `${type}.html`), "utf8");
        for (const [, body = ""] of help.matchAll(/<p>([\s\S]*?)<\/p>/g)) {
          const text = body.replace(/\s+/g, " ").trim();
          if (text.length < 80) continue; // a one-line reference may read alike
          paragraphs++;
          const other = seen.get(text);
          assert.equal(other, undefined, `${lang}: ${type} repeats a paragraph of ${other ?? ""}: ${text.slice(0, 60)}...`);
          seen.set(text, type);
        }
      }
      assert.ok(paragraphs > 10, `${lang}: the help pages were read`);
    }
  });
});

describe("wx-send-text help (#16.8)", function () {
  it("names TOO_LARGE and the text limit the client enforces, in both languages", () => {
    const root = path.join(__dirname, "..", "..", "..");
    const limit = MAX_TEXT_LENGTH.toLocaleString("en-US"); // "16,000"
    for (const lang of ["en-US", "zh-CN"]) {
      const help = readFileSync(path.join(root, "nodes", "wx-send-text", "locales", lang, "wx-send-text.html"), "utf8");
      assert.match(help, /<code>TOO_LARGE<\/code>/, lang);
      assert.ok(help.includes(limit), `${lang} names the ${limit}-character limit`);
    }
  });
});

describe("nodes/shared depends on no node (#15.4)", function () {
  it("no file under nodes/shared imports from a node folder nodes/wx-*", () => {
    const shared = path.join(__dirname, "..", "..", "..", "nodes", "shared");
    const files = readdirSync(shared).filter((f) => f.endsWith(".ts"));
    assert.ok(files.includes("account.ts"), "the runtime account class lives in nodes/shared");
    let seen = 0;
    for (const file of files) {
      const source = readFileSync(path.join(shared, file), "utf8");
      const from = [...source.matchAll(/\bfrom\s+"([^"]+)"|\brequire\(\s*"([^"]+)"\s*\)|\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? "");
      seen += from.length;
      for (const spec of from) assert.doesNotMatch(spec, /(^|\/)wx-[^/]+(\/|$)/, `nodes/shared/${file} imports ${spec}`);
    }
    assert.ok(seen >= 20, `the imports of nodes/shared were read (${seen})`);
  });
});
