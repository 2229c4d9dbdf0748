import * as fs from "node:fs";
import * as path from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import * as QRCode from "qrcode";
import { WeChatError, errorText } from "../../lib/wechat/errors";
import { DEFAULT_LOGIN_URL } from "../../lib/wechat/hosts";
import type { ClientOptions, ContactEvent, Logger, LoginProblem, Message, RecallEvent, StateInfo, SyncTroubleEvent, WeChatClientApi } from "../../lib/wechat/types";
import { type Ownership, type Role, roleOwner } from "./ownership";
import type { Node, NodeStatus } from "./red";
import { sessionSecret } from "./secret";
import { statusFor } from "./status";

export const DEFAULT_SANDBOX_PORT = 1881;
export const DEFAULT_PACING = 60;

export type ServerKind = "wechat" | "sandbox" | "custom";

export const DEFAULT_REDIS_PREFIX = "wxflow";

export interface AccountSettings {
  server: ServerKind;
  sandboxPort: number;
  loginUrl: string;
  mode: "desktop" | "web";
  pacing: number;
  /** Where the session lives: the encrypted file (default) or Redis, shared by several instances (#17). */
  store: "file" | "redis";
  /** store "redis": redis://host:port[/db] (the password is a credential, never in the URL). */
  redisUrl: string;
  /** store "redis": the keys are <prefix>:<account id>:lease, :session, :seen. */
  redisPrefix: string;
}

/** What the client reports beyond messages, for nodes that follow the account (wx-event). */
export type AccountEvent =
  | { kind: "state"; state: StateInfo }
  | { kind: "contact"; event: ContactEvent }
  | { kind: "friend-request"; message: Message }
  | { kind: "recall"; event: RecallEvent }
  | { kind: "sync"; event: SyncTroubleEvent }
  /** Another instance (or this one, `self`) holds the account now (#17). */
  | { kind: "owner"; owner: string; previous: string | undefined; self: boolean };

/** A node that uses the account: it mirrors the session status and may take messages and events. */
export interface AccountUser {
  readonly node: Pick<Node, "id" | "status">;
  /** May return a promise that settles once the message is handed to the flow (node.send) or dropped. */
  onMessage?(message: Message): void | Promise<void>;
  onEvent?(event: AccountEvent): void;
}

export interface SandboxHandle {
  url: string;
  /** The phone page with the control token (in its fragment): only for users with wx-account.write. */
  phoneUrl: string;
  /** The phone page's Scan button, for the editor dialog's (#16.5). */
  readonly control: { scan(): unknown };
  close(): Promise<void>;
}

export interface AccountDeps {
  node: Node;
  settings: AccountSettings;
  /** Node-RED user dir; without it no session is saved. */
  userDir?: string | undefined;
  /**
   * Base secret for session files and the earlier ones existing files may be under (see shared/secret.ts), asked
   * for only when a session file is used.
   */
  secret: (dir: string) => { secret: string; previous: readonly string[] };
  translate: (key: string) => string;
  publish: (topic: string, data: unknown, retain: boolean) => void;
  createClient: (options: ClientOptions) => WeChatClientApi;
  startSandbox: (options: { host: string; port: number }) => Promise<SandboxHandle>;
  /** store "redis": the lease this account runs under; without it the account runs whenever a wx node uses it. */
  ownership?: Ownership | undefined;
  /** How long messages wait for a wx-receive node after the last one left while the account stays (default 10 s). */
  receiverGapMs?: number | undefined;
}

/** How long messages wait for a receiving node when the last one left but the account runs on (a redeploy of it). */
export const RECEIVER_GAP_MS = 10_000;

/**
 * The part of the state every editor user may see (the comms topic): the problem without its message, the node
 * status every user sees on the nodes anyway, and whether the contacts still load (the editor's accounts sidebar).
 */
export type AccountSummary = Pick<AccountView, "state" | "server" | "users" | "seq" | "code" | "ownership"> & {
  problem?: Omit<LoginProblem, "message">;
  status?: NodeStatus;
  contacts?: StateInfo["contacts"];
};

/** What the editor sees of the session (the state admin route). */
export interface AccountView {
  state: StateInfo["state"];
  qr?: string;
  qrUrl?: string;
  avatar?: string;
  user?: { nickName: string; avatar?: string };
  code?: number;
  message?: string;
  server: ServerKind;
  phoneUrl?: string;
  users: number;
  /** Grows with every state change, so the editor can drop an answer older than what it already shows. */
  seq: number;
  /** Why the login fails and when it tries again (retryAt, unix ms), while it does (#16.2). */
  problem?: LoginProblem;
  /** store "redis": this instance's name, its role, and the instance that runs the account when known (#17). */
  ownership?: { self: string; role: Role["kind"]; owner?: string };
}

export function stateTopic(id: string): string {
  return `wx-account/${id}/state`;
}

/** Read the settings of a wx-account configuration, with defaults and validation. */
export function accountSettings(config: Record<string, unknown>): AccountSettings {
  const server: ServerKind = config.server === "sandbox" || config.server === "custom" ? config.server : "wechat";
  const port = Number(config.sandboxPort);
  const pacing = Number(config.pacing);
  return {
    server,
    sandboxPort:
      config.sandboxPort === undefined || config.sandboxPort === "" || !Number.isInteger(port) || port < 0 || port > 65535
        ? DEFAULT_SANDBOX_PORT
        : port,
    loginUrl: typeof config.loginUrl === "string" ? config.loginUrl.trim() : "",
    mode: config.mode === "web" ? "web" : "desktop",
    pacing: Number.isFinite(pacing) && pacing >= 1 ? Math.min(Math.floor(pacing), 600) : DEFAULT_PACING,
    store: config.store === "redis" ? "redis" : "file",
    redisUrl: typeof config.redisUrl === "string" ? config.redisUrl.trim() : "",
    redisPrefix: typeof config.redisPrefix === "string" && config.redisPrefix.trim() !== "" ? config.redisPrefix.trim() : DEFAULT_REDIS_PREFIX,
  };
}

/**
 * The runtime side of one wx-account: owns one WeChatClient (and, for server "sandbox", one emulator),
 * started when the first wx node registers and stopped when the last one leaves or the account closes.
 * Lifecycle steps run one after the other, so a stop always finishes before the next start begins.
 */
export class WxAccount {
  private readonly users = new Map<string, AccountUser>();
  private client: WeChatClientApi | undefined;
  private sandbox: SandboxHandle | undefined;
  private info: StateInfo = { state: "offline" };
  private seq = 0;
  private loggedQr: string | undefined;
  private lifecycle: Promise<void> = Promise.resolve();
  private closed = false;
  /** The instance last known to hold the account (Redis only), for owner-changed. */
  private knownOwner: string | undefined;

  private readonly onState = (info: StateInfo): void => this.setState(info);
  /** Messages a user has not handed to its flow yet (delivered() waits for them). */
  private readonly handing = new Set<Promise<void>>();
  /**
   * The last receiving node (wx-receive) left while other wx nodes keep the account running: a redeploy of that
   * node alone. Until a receiving node registers again (or `receiverGapMs` passes), the messages the client emits
   * are held here and delivered() waits, so the client neither takes the next answer nor saves its sync position.
   */
  private gap: { held: Message[]; timer: NodeJS.Timeout; end: () => void } | undefined;
  private readonly onMessage = (message: Message): void => {
    // Until the gap is closed (a receiving node is back: closed on the next microtask), behind what is held.
    if (this.gap) {
      this.gap.held.push(message);
      return;
    }
    this.handTo(this.users.values(), message);
  };

  /** Hands a message to the users that take messages; delivered() waits for what they return. */
  private handTo(users: Iterable<AccountUser>, message: Message): void {
    for (const user of users) {
      try {
        const handed = user.onMessage?.(message);
        if (handed) {
          const tracked = handed.catch(() => undefined).finally(() => this.handing.delete(tracked));
          this.handing.add(tracked);
        }
      } catch (error) {
        this.deps.node.error(`message dispatch failed: ${errorText(error)}`);
      }
    }
  }

  /** Whether a registered node takes messages (wx-receive). */
  private receiving(): boolean {
    for (const user of this.users.values()) if (user.onMessage) return true;
    return false;
  }

  /** The last receiving node left, the account runs on: hold what comes until one is back (see `gap`). */
  private openGap(): void {
    if (this.gap) return;
    let end = (): void => undefined;
    const ended = new Promise<void>((resolve) => (end = resolve));
    const timer = setTimeout(() => this.closeGap(true), this.deps.receiverGapMs ?? RECEIVER_GAP_MS);
    this.gap = { held: [], timer, end };
    // delivered() waits for the gap as for a message being handed over.
    const tracked = ended.finally(() => this.handing.delete(tracked));
    this.handing.add(tracked);
  }

  /**
   * The gap ends: its messages go to the receiving nodes now registered, in order, before delivered() is let go;
   * with none, they are not passed on: said in the log when the gap timed out (the node was removed, not
   * redeployed). When the account stops instead, the client stopped receiving first: it takes their answer back and
   * they come again at the next start.
   */
  private closeGap(timedOut = false): void {
    const gap = this.gap;
    if (!gap) return;
    this.gap = undefined;
    clearTimeout(gap.timer);
    if (this.receiving()) {
      for (const message of gap.held) this.handTo(this.users.values(), message);
    } else if (timedOut) {
      // Protocol status messages are never passed on by any node: not counted as lost.
      const lost = gap.held.filter((m) => m.type !== "status").length;
      if (lost > 0) this.deps.node.warn(`${lost} ${this.deps.translate("wx-account.log.noReceiver")}`);
    }
    gap.end();
  }

  /**
   * The client's `delivered`: resolves once every message emitted so far was handed to the flow (wx-receive may
   * download first) and Node-RED has delivered it: node.send delivers on a later turn of the event loop, and a flow
   * stopped in between drops it. The client saves its sync position only after this, and not at all if the
   * account stopped receiving meanwhile, so such messages come again at the next start.
   */
  private async delivered(): Promise<void> {
    while (this.handing.size > 0) await Promise.all(this.handing);
    await nextTurn();
  }
  private readonly onContact = (event: ContactEvent): void => this.dispatch({ kind: "contact", event });
  private readonly onFriendRequest = (message: Message): void => this.dispatch({ kind: "friend-request", message });
  private readonly onRecall = (event: RecallEvent): void => this.dispatch({ kind: "recall", event });
  private readonly onSync = (event: SyncTroubleEvent): void => this.dispatch({ kind: "sync", event });

  private dispatch(event: AccountEvent): void {
    for (const user of this.users.values()) {
      try {
        user.onEvent?.(event);
      } catch (error) {
        this.deps.node.error(`event dispatch failed: ${errorText(error)}`);
      }
    }
  }

  constructor(private readonly deps: AccountDeps) {
    const ownership = deps.ownership;
    if (ownership) {
      ownership.onChange(() => this.ownershipChanged());
      ownership.start();
    }
  }

  get id(): string {
    return this.deps.node.id;
  }

  get state(): StateInfo {
    return this.info;
  }

  get userCount(): number {
    return this.users.size;
  }

  /** Where the session of this account is saved, or undefined when there is no user dir. */
  get sessionFile(): string | undefined {
    return this.deps.userDir ? path.join(this.deps.userDir, "wxflow", `${this.id}.session`) : undefined;
  }

  register(user: AccountUser): void {
    if (this.closed) return;
    this.users.set(user.node.id, user);
    user.node.status(this.status());
    // What was held goes to the node once it is made: register() runs inside its constructor, and wx-receive's
    // handler reads a binding assigned only after register returns (handed over at once, the messages were lost).
    if (user.onMessage && this.gap) queueMicrotask(() => this.receiving() && this.closeGap());
    if (this.users.size !== 1) return;
    // Redis: ask for the lease now that the account is used here; the client starts once it is held
    if (this.deps.ownership) void this.deps.ownership.contend(true);
    if (this.mayRun()) this.enqueue(() => this.startClient());
  }

  deregister(user: AccountUser, done: () => void): void {
    const known = this.users.delete(user.node.id);
    if (!known || this.users.size > 0 || this.closed) {
      // The last wx-receive left, the account runs on for the other nodes: most likely that node is redeployed.
      if (known && user.onMessage && this.users.size > 0 && !this.closed && this.client && !this.receiving()) this.openGap();
      done();
      return;
    }
    // Now, not when the queued stop runs: a message emitted meanwhile would find no node to take it.
    this.client?.stopReceiving();
    this.closeGap();
    // Redis: the lease goes once the client has stopped (and saved), so another instance may run the account
    const ownership = this.deps.ownership;
    this.enqueue(async () => {
      await this.stopClient();
      if (this.users.size === 0) await ownership?.contend(false);
    }).then(done, done);
  }

  /** Node-RED close: stop everything this account owns; `removed` also forgets the saved session. */
  close(removed: boolean): Promise<void> {
    this.closed = true;
    this.client?.stopReceiving();
    this.closeGap();
    return this.enqueue(async () => {
      await this.stopClient();
      await this.deps.ownership?.close();
      const sandbox = this.sandbox;
      this.sandbox = undefined;
      if (sandbox) await sandbox.close();
      const file = this.sessionFile;
      if (removed && file) await fs.promises.rm(file, { force: true });
      // Drop the retained state so a later editor does not show a stale QR.
      this.seq += 1;
      this.deps.publish(stateTopic(this.id), { state: "offline", server: this.deps.settings.server, users: 0, seq: this.seq }, false);
    });
  }

  /** The client, when logged in; else NOT_LOGGED_IN (nothing may be sent). */
  onlineClient(): WeChatClientApi {
    this.checkOwner();
    const client = this.client;
    if (!client || this.info.state !== "online") {
      throw new WeChatError("NOT_LOGGED_IN", `WeChat account is not logged in (state: ${this.info.state})`);
    }
    return client;
  }

  /** The client when one runs (any state), for contact look-ups in the editor. */
  runningClient(): WeChatClientApi | undefined {
    return this.client;
  }

  async logout(): Promise<void> {
    this.checkOwner();
    const client = this.client;
    if (!client) throw new WeChatError("NOT_LOGGED_IN", "the account is not running (no wx node uses it)");
    await client.logout();
  }

  /** The sandbox phone's Scan (scan and confirm the QR shown now), pressed from the editor dialog. */
  sandboxScan(): void {
    if (!this.sandbox) throw new WeChatError("INVALID_ARGUMENT", "not a built-in sandbox account");
    this.sandbox.control.scan();
  }

  newQr(): void {
    this.checkOwner();
    const client = this.client;
    if (!client) throw new WeChatError("NOT_LOGGED_IN", "the account is not running (no wx node uses it)");
    client.newQr();
  }

  /**
   * What the editor's comms channel carries: every logged-in editor user receives it, read-only ones too, so it
   * holds no QR, user or message. The dialog answers it by fetching view() through the guarded state route.
   */
  summary(): AccountSummary {
    const summary: AccountSummary = { state: this.info.state, server: this.deps.settings.server, users: this.users.size, seq: this.seq };
    if (this.info.code !== undefined) summary.code = this.info.code;
    if (this.info.problem) {
      const { message: _message, ...problem } = this.info.problem;
      summary.problem = problem;
    }
    summary.status = this.status();
    const ownership = this.ownershipView();
    if (ownership) summary.ownership = ownership;
    if (this.info.state === "online" && this.info.contacts) summary.contacts = this.info.contacts;
    return summary;
  }

  view(): AccountView {
    const info = this.info;
    const view: AccountView = { state: info.state, server: this.deps.settings.server, users: this.users.size, seq: this.seq };
    if (info.state === "waiting-scan") {
      if (info.qrUrl) view.qrUrl = info.qrUrl;
      if (info.qr) view.qr = info.qr;
    }
    if (info.avatar) view.avatar = info.avatar;
    if (info.user) view.user = info.user.avatar ? { nickName: info.user.nickName, avatar: info.user.avatar } : { nickName: info.user.nickName };
    if (info.code !== undefined) view.code = info.code;
    if (info.message) view.message = info.message;
    if (info.problem) view.problem = { ...info.problem };
    if (this.sandbox) view.phoneUrl = this.sandbox.phoneUrl;
    const ownership = this.ownershipView();
    if (ownership) view.ownership = ownership;
    return view;
  }

  status(): NodeStatus {
    return statusFor(this.info, this.deps.translate, this.deps.ownership?.role);
  }

  /** Redis only: NOT_OWNER while another instance runs the account (or Redis is out of reach): nothing is sent. */
  private checkOwner(): void {
    const ownership = this.deps.ownership;
    if (!ownership || ownership.role.kind === "owner") return;
    const owner = roleOwner(ownership.role, ownership.self);
    throw new WeChatError("NOT_OWNER", owner ? `the account is run by instance ${owner}` : "this instance does not hold the account's lease");
  }

  /** Whether the client may run here: always with the file store, only while the lease is ours with Redis. */
  private mayRun(): boolean {
    const ownership = this.deps.ownership;
    return !ownership || ownership.role.kind === "owner";
  }

  private ownershipView(): AccountView["ownership"] {
    const ownership = this.deps.ownership;
    if (!ownership) return undefined;
    const owner = roleOwner(ownership.role, ownership.self);
    return owner === undefined ? { self: ownership.self, role: ownership.role.kind } : { self: ownership.self, role: ownership.role.kind, owner };
  }

  /**
   * The lease changed hands or Redis came and went. Losing it stops the client at once, without letting queued
   * sends go out (they fail NOT_OWNER: the new owner's flow sends its own); getting it starts the client, which
   * resumes the session saved in Redis.
   */
  private ownershipChanged(): void {
    const ownership = this.deps.ownership;
    if (!ownership || this.closed) return;
    const owner = roleOwner(ownership.role, ownership.self);
    if (owner !== undefined && owner !== this.knownOwner) {
      const previous = this.knownOwner;
      this.knownOwner = owner;
      this.dispatch({ kind: "owner", owner, previous, self: owner === ownership.self });
    }
    if (ownership.role.kind !== "owner") {
      const client = this.client;
      if (client) {
        // detached now, so nothing reaches it any more; the queue below only waits for the stop to finish
        this.client = undefined;
        const stopped = client.stop({ drain: false, reason: new WeChatError("NOT_OWNER", "this instance lost the account's lease") });
        this.enqueue(() => stopped.finally(() => this.listen(client, "off")));
      }
      this.info = { state: "offline" };
    } else if (this.users.size > 0) {
      this.enqueue(() => this.startClient());
    }
    this.refresh();
  }

  /** Show the current status on every user and tell the editor. */
  private refresh(): void {
    this.seq += 1;
    const status = this.status();
    for (const user of this.users.values()) user.node.status(status);
    this.deps.publish(stateTopic(this.id), this.summary(), true);
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.lifecycle.then(step).catch((error: unknown) => {
      this.deps.node.error(errorText(error));
    });
    this.lifecycle = run;
    return run;
  }

  private async startClient(): Promise<void> {
    if (this.closed || this.client || this.users.size === 0 || !this.mayRun()) return;
    let loginUrl: string;
    try {
      loginUrl = await this.loginUrl();
    } catch (error) {
      this.setState({ state: "offline", message: errorText(error) });
      throw error;
    }
    if (this.closed || this.users.size === 0 || !this.mayRun()) return;
    const options: ClientOptions = {
      loginUrl,
      mode: this.deps.settings.mode,
      pacing: { perMinute: this.deps.settings.pacing },
      logger: this.logger(),
      delivered: () => this.delivered(),
    };
    const file = this.sessionFile;
    if (this.deps.ownership) {
      try {
        options.sessionStorage = this.deps.ownership.storage();
      } catch (error) {
        this.setState({ state: "offline", message: errorText(error) });
        throw error;
      }
    } else if (file) {
      const dir = path.dirname(file);
      await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
      let key: { secret: string; previous: readonly string[] };
      try {
        key = this.deps.secret(dir);
      } catch (error) {
        // A configured session key that cannot be read: say so on the node, never fall back to the user dir.
        this.setState({ state: "offline", message: errorText(error) });
        throw error;
      }
      options.sessionFile = file;
      options.sessionSecret = sessionSecret(key.secret, this.id);
      options.previousSessionSecrets = key.previous.map((previous) => sessionSecret(previous, this.id));
    }
    // the lease may have gone while the sandbox or the key was awaited
    if (this.closed || !this.mayRun()) return;
    const client = this.deps.createClient(options);
    this.listen(client, "on");
    this.client = client;
    client.start();
    this.setState(client.state);
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    // Receiving ends before the held messages are let go: their answer is taken back, not saved past (see `gap`).
    client.stopReceiving();
    this.closeGap();
    try {
      await client.stop();
    } finally {
      this.listen(client, "off");
      this.setState({ state: "offline" });
    }
  }

  /** One list for subscribing and unsubscribing, so a stopped client never keeps a listener. */
  private listen(client: WeChatClientApi, method: "on" | "off"): void {
    client[method]("state", this.onState);
    client[method]("message", this.onMessage);
    // no "warn" listener: the client's warnings already reach the log through logger() (#16.3: once, not twice)
    client[method]("contact", this.onContact);
    client[method]("friend-request", this.onFriendRequest);
    client[method]("recall", this.onRecall);
    client[method]("sync", this.onSync);
  }

  private async loginUrl(): Promise<string> {
    const settings = this.deps.settings;
    if (settings.server === "wechat") return DEFAULT_LOGIN_URL;
    if (settings.server === "custom") {
      let url: URL;
      try {
        url = new URL(settings.loginUrl);
      } catch {
        throw new WeChatError("INVALID_ARGUMENT", `invalid login URL "${settings.loginUrl}"`);
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new WeChatError("INVALID_ARGUMENT", `the login URL must be http(s): "${settings.loginUrl}"`);
      }
      return url.origin;
    }
    // The emulator lives as long as the account, so a restarted client can resume its session.
    if (!this.sandbox) {
      this.sandbox = await this.deps.startSandbox({ host: "127.0.0.1", port: settings.sandboxPort });
      this.deps.node.log(
        // the phone URL carries the control token: the log names where to find it, not the URL itself
        `${this.deps.translate("wx-account.log.sandbox")} ${this.sandbox.url} (${this.deps.translate("wx-account.log.phone")})`,
      );
    }
    return this.sandbox.url;
  }

  private logger(): Logger {
    const node = this.deps.node;
    return {
      debug: (m) => node.debug(m),
      info: (m) => node.log(m),
      warn: (m) => node.warn(m),
      error: (m) => node.error(m),
    };
  }

  private setState(info: StateInfo): void {
    this.info = info;
    this.refresh();
    this.dispatch({ kind: "state", state: { ...info } });
    if (info.state === "waiting-scan" && info.qrUrl) this.logQr(info.qrUrl);
  }

  /** Headless installs: the QR goes to the log (the editor's PNG comes from the client, which draws one by default). */
  private logQr(url: string): void {
    if (this.loggedQr === url) return;
    this.loggedQr = url;
    // the sandbox logs in from its phone page, not from a phone camera (#16.5)
    if (this.sandbox) {
      this.deps.node.log(this.deps.translate("wx-account.log.scanSandbox"));
      return;
    }
    QRCode.toString(url, { type: "terminal", small: true }).then(
      (art) => this.deps.node.log(`${this.deps.translate("wx-account.log.scan")}\n${art}\n${url}`),
      (error: unknown) => this.deps.node.warn(errorText(error)),
    );
  }
}
