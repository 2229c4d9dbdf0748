import * as path from "node:path";
import { WeChatClient, type ClientTuning } from "../../lib/wechat/client";
import { WeChatError, describeError, errorText, isWeChatError } from "../../lib/wechat/errors";
import type { ContactKind, ErrorCode, Transport } from "../../lib/wechat/types";
import { findAccount } from "../shared/account-ref";
import { pickerEntry } from "../shared/contacts";
import type { AdminRequest, AdminResponse, Node, NodeAPI, NodeDef } from "../shared/red";
import { DEFAULT_SANDBOX_GRACE_MS, sandboxRegistry } from "../shared/sandbox-registry";
import { instanceName, leaseTtlMs } from "../shared/instance";
import { RedisOwnership } from "../shared/redis-ownership";
import { sessionKey, sessionSecret } from "../shared/secret";
import { SelfAvatars } from "../shared/self-avatar";
import { RECEIVER_GAP_MS, WxAccount, accountSettings, stateTopic } from "../shared/account";
import { durationSetting } from "../shared/settings";

interface AccountDef extends NodeDef {
  store?: string;
  redisUrl?: string;
  redisPrefix?: string;
  server?: string;
  sandboxPort?: number | string;
  loginUrl?: string;
  mode?: string;
  pacing?: number | string;
}

const PICKER_LIMIT = 50;
const KINDS: readonly ContactKind[] = ["friend", "group", "official", "special", "self", "stranger"];

/** An admin route's error: our own message, but of a foreign error only its name (it may quote a URL with keys). */
function sendError(res: AdminResponse, status: number, error: unknown): void {
  const code = isWeChatError(error) ? error.code : "ERROR";
  res.status(status).json({ error: { code, message: describeError(error) } });
}

/** Advanced client knobs from settings.js (`wxAccountClientTuning: {...}`), e.g. timeouts; tests use it too. */
function clientTuning(RED: NodeAPI): ClientTuning | undefined {
  const value: unknown = (RED.settings as Record<string, unknown>).wxAccountClientTuning;
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as ClientTuning) : undefined;
}

/**
 * Where the client's connections go, from settings.js (`wxAccountTransport: { connect, ca?, lookup? }`, see
 * lib/wechat/transport.ts): the sandbox's real-hosts mode, or a test of the real-WeChat mode without a network.
 */
function clientTransport(RED: NodeAPI): Transport | undefined {
  const value: unknown = (RED.settings as Record<string, unknown>).wxAccountTransport;
  return value !== null && typeof value === "object" && typeof (value as { connect?: unknown }).connect === "function" ? (value as Transport) : undefined;
}

/** A Redis URL the account may use: redis:// or rediss://, and no password in it (that is the credential's). */
function checkRedisUrl(RED: NodeAPI, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new WeChatError("INVALID_ARGUMENT", "invalid Redis URL");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw new WeChatError("INVALID_ARGUMENT", "the Redis URL must be redis:// or rediss://");
  if (url.password) throw new WeChatError("INVALID_ARGUMENT", RED._("wx-account.log.redisUrlPassword"));
}

/** Where a container set-up may put the Redis password when the flow carries no credentials file (#17). */
const REDIS_PASSWORD_ENV = "WXFLOW_REDIS_PASSWORD";

/** The account's Redis password: its credential, else $WXFLOW_REDIS_PASSWORD; never from the flow's own fields. */
function redisPassword(node: { credentials?: { redisPassword?: unknown } }): string | undefined {
  const credential = node.credentials?.redisPassword;
  if (typeof credential === "string" && credential !== "") return credential;
  const env = process.env[REDIS_PASSWORD_ENV];
  return env ? env : undefined;
}

export = function register(RED: NodeAPI): void {
  // Once per Node-RED process (register runs once), not once per account.
  let keyWarned = false;
  // The built-in sandboxes outlive a redeploy of their account (#16.1): one registry per runtime, by port.
  const sandboxes = sandboxRegistry(RED, RED);

  /** The node's credentials (Node-RED sets them on the node, from the credentials file, never from the flow). */
  type AccountNode = Node & { wx?: WxAccount; credentials?: { redisPassword?: unknown } };

  function setup(node: AccountNode, config: AccountDef): void {
    const settings = accountSettings({ ...config });
    const userDir = typeof RED.settings.userDir === "string" ? RED.settings.userDir : undefined;
    const secret = (dir: string): ReturnType<typeof sessionKey> => {
      const key = sessionKey(RED.settings, dir);
      if (key.inUserDir && !keyWarned) {
        keyWarned = true;
        node.warn(`${RED._("wx-account.log.keyInUserDir")} ${key.where}`);
      }
      return key;
    };
    // Leased when the account is created, so a redeploy that brings it back never leaves its sandbox unused.
    const lease =
      settings.server === "sandbox"
        ? sandboxes.lease({
            port: settings.sandboxPort,
            accountId: node.id,
            ...(userDir ? { dir: path.join(userDir, "wxflow") } : {}),
            secret,
            warn: (message) => node.warn(message),
            log: (message) => node.log(message),
            // How long an unused built-in sandbox waits for its account (settings.js; tests: 0).
            graceMs: () => durationSetting(RED, "wxAccountSandboxGraceMs", DEFAULT_SANDBOX_GRACE_MS),
          })
        : undefined;
    let ownership: RedisOwnership | undefined;
    if (settings.store === "redis") {
      try {
        checkRedisUrl(RED, settings.redisUrl);
      } catch (error) {
        // no account rather than one that silently runs on the file store beside the other instances
        node.error(errorText(error));
        node.on("close", (_removed, done) => done());
        return;
      }
      ownership = new RedisOwnership({
        url: settings.redisUrl,
        password: redisPassword(node),
        prefix: settings.redisPrefix,
        accountId: node.id,
        self: instanceName(RED.settings),
        ttlMs: leaseTtlMs(RED.settings),
        secret: () => {
          const key = secret(path.join(userDir ?? process.cwd(), "wxflow"));
          // every instance must decrypt what another saved: a key of this user dir alone will not do
          if (key.source === "install" || key.source === "node-red") throw new WeChatError("INVALID_ARGUMENT", `${RED._("wx-account.log.redisKeyNotShared")} ${key.where}`);
          return { secret: sessionSecret(key.secret, node.id), previous: key.previous.map((p) => sessionSecret(p, node.id)) };
        },
        unreachable: (why) => node.warn(`${RED._("wx-account.log.redisError")} ${why}`),
        warn: (message) => node.warn(message),
      });
    }
    const wx = new WxAccount({
      node,
      ownership,
      // How long messages wait for a redeployed wx-receive (shared/account.ts, `gap`).
      receiverGapMs: durationSetting(RED, "wxReceiverGapMs", RECEIVER_GAP_MS),
      settings,
      userDir,
      secret,
      translate: (key) => RED._(key),
      publish: (topic, data, retain) => RED.comms.publish(topic, data, retain),
      createClient: (options) => {
        const tuning = clientTuning(RED);
        // settings.js `wxAccountActionPacing: false` turns the friend/group action pacing off (tests only).
        const settings = RED.settings as Record<string, unknown>;
        const actionPacing = settings.wxAccountActionPacing === false ? { actionPacing: false as const } : {};
        // settings.js `wxAccountSendPacing: false` turns the message send pacing off (benchmarks, tests only):
        // the node's own pacing field accepts 1..600 a minute.
        const sendPacing = settings.wxAccountSendPacing === false ? { pacing: false as const } : {};
        const transport = clientTransport(RED);
        const base = { ...options, ...actionPacing, ...sendPacing, ...(transport ? { transport } : {}) };
        return new WeChatClient(tuning ? { ...base, tuning } : base);
      },
      startSandbox: (options) => {
        if (!lease) return Promise.reject(new Error("not a built-in sandbox account"));
        return lease.start(options);
      },
    });
    node.wx = wx;
    RED.comms.publish(stateTopic(node.id), wx.summary(), true);
    node.on("close", (removed, done) => {
      wx.close(removed)
        .then(() => lease?.release(removed))
        .then(() => done(), done);
    });
  }
  function WxAccountNode(this: AccountNode, config: AccountDef): void {
    RED.nodes.createNode(this, config);
    setup(this, config);
  }
  RED.nodes.registerType("wx-account", WxAccountNode, { credentials: { redisPassword: { type: "password" } } });

  // The QR is a credential (whoever scans it binds their phone to this bot) and the contact list is private.
  // Node-RED grants every "*.read" permission to read-only editor users, so every route needs wx-account.write.
  const write = RED.auth.needsPermission("wx-account.write");

  /** The account of a route, or a 404 answer (an account that is not deployed yet). */
  function accountFor(req: AdminRequest, res: AdminResponse): WxAccount | undefined {
    const wx = findAccount(RED, req.params.id);
    if (!wx) res.status(404).json({ state: "undeployed", error: { code: "NOT_FOUND", message: "account not deployed" } });
    return wx;
  }

  RED.httpAdmin.get("/wx-account/:id/state", write, (req, res) => {
    const wx = accountFor(req, res);
    if (wx) res.json(wx.view());
  });

  RED.httpAdmin.get("/wx-account/:id/contacts", write, (req, res) => {
    const wx = accountFor(req, res);
    if (!wx) return;
    const client = wx.runningClient();
    if (!client || wx.state.state !== "online") {
      res.json({ state: wx.state.state, contacts: [] });
      return;
    }
    const q = typeof req.query.q === "string" ? req.query.q.trim() : "";
    const kind = KINDS.find((k) => k === req.query.kind);
    try {
      const found = client.listContacts({ kind: kind ?? "all", ...(q ? { name: q } : {}) });
      const contacts = found
        .filter((c) => c.kind !== "self")
        .map(pickerEntry)
        .sort((a, b) => a.displayName.localeCompare(b.displayName))
        .slice(0, PICKER_LIMIT);
      res.json({ state: wx.state.state, contacts, more: found.length > contacts.length, ...(wx.state.contacts === "loading" ? { loading: true } : {}) });
    } catch (error) {
      sendError(res, 500, error);
    }
  });

  // The logged-in user's avatar for the editor, as JSON holding a data: URL: an <img src> would carry no admin token,
  // and the URL names the account only (the icon's own URL carries the session's skey).
  const avatars = new SelfAvatars();
  RED.httpAdmin.get("/wx-account/:id/avatar", write, (req, res) => {
    const wx = accountFor(req, res);
    if (!wx) return;
    const client = wx.runningClient();
    const user = wx.state.user;
    if (!client || wx.state.state !== "online" || !user) {
      res.status(409).json({ error: { code: "NOT_LOGGED_IN", message: "the account is not logged in" } });
      return;
    }
    avatars.get(wx, client, user.userName).then(
      (avatar) => res.json({ avatar }),
      (error: unknown) => sendError(res, isWeChatError(error, "NOT_FOUND") ? 404 : 502, error),
    );
  });

  /**
   * A POST route that runs one command of the account and answers {ok: true}: an error with code `conflict` (the
   * account's state forbids the command) or NOT_OWNER answers 409, any other 500.
   */
  function command(name: string, conflict: ErrorCode, run: (wx: WxAccount) => void | Promise<void>): void {
    RED.httpAdmin.post(`/wx-account/:id/${name}`, write, (req, res) => {
      const wx = accountFor(req, res);
      if (!wx) return;
      Promise.resolve().then(() => run(wx)).then(
        () => res.json({ ok: true }),
        // NOT_OWNER: another instance runs the account (#17), so the command belongs there
        (error: unknown) => sendError(res, isWeChatError(error, conflict) || isWeChatError(error, "NOT_OWNER") ? 409 : 500, error),
      );
    });
  }

  command("logout", "NOT_LOGGED_IN", (wx) => wx.logout());
  // The dialog's Scan button of a built-in sandbox account: the sandbox phone page's Scan, without leaving the editor.
  command("sandbox-scan", "INVALID_ARGUMENT", (wx) => wx.sandboxScan());
  command("qr", "NOT_LOGGED_IN", (wx) => wx.newQr());
};
