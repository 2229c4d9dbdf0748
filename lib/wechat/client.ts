/**
 * WeChatClient: the facade of WeChatClientApi (one short method per public call), its typed events, and the run
 * loop (which login to try, back-off, refusals, interrupts). It stays over 400 lines because the public API is
 * wide (about 30 calls, each a few lines); every part with a job of its own lives beside it: LoginFlow
 * (login-flow.ts), LoginProblems (login-problems.ts: why a login fails, logged once per reason), OnlineSession
 * (online-session.ts), SessionSaver (session-saver.ts), Inbound (inbound.ts), Actions and SentMessages
 * (actions.ts), Sender (send.ts). docs/architecture.md shows how they connect.
 */
import { EventEmitter } from "node:events";
import type { CookieJar } from "tough-cookie";
import { restoreWatchedJar, watchedJar } from "./cookie-header";
import { SentMessages } from "./actions";
import { DEFAULT_TIMEOUTS, SessionApi, type ApiTimeouts } from "./api";
import { batchGet, loadContacts, type RetryPolicy } from "./contact-loader";
import { ContactStore } from "./contacts";
import { WeChatError, describeError as describe, isWeChatError, noAnswer } from "./errors";
import { HttpClient, backoffDelay, preloadHttp, sleep } from "./http";
import type { LoginMode } from "./login";
import { LoginFlow, type PushTarget, type ReadySession } from "./login-flow";
import { OnlineSession } from "./online-session";
import { downloadMedia } from "./media";
import { forwardRequest, type ForwardSource, type SendQueueTuning } from "./outbox";
import type { SavedSession } from "./session-store";
import { FileSessionStorage } from "./store/file";
import type { SessionStorage } from "./store/storage";
import { SessionSaver } from "./session-saver";
import { LoginProblems } from "./login-problems";
import type { SessionEnd, SyncOptions } from "./sync";
import { isGroupUserName, isSpecialUserName, toContact } from "./messages/contact";
import { BoundedSet, ClientMsgIds, RecentMessages, extensionFor, sniffMime } from "./util";
import type {
  ClientEvents,
  ClientOptions,
  Contact,
  ContactQuery,
  FriendRequestRef,
  Logger,
  Message,
  RevokeTarget,
  SendFileOptions,
  SendResult,
  StateInfo,
  StopOptions,
  WeChatClientApi,
} from "./types";

/** Knobs for tests and benchmarks; the defaults follow the official client. */
export interface ClientTuning {
  timeouts?: Partial<ApiTimeouts> & { loginPollMs?: number };
  sync?: SyncOptions;
  /** First delay of the HTTP retries (default 500 ms). */
  retryDelayMs?: number;
  /** First delay after a failed login step (default 2 s; capped at 60 s). */
  loginBackoffMs?: number;
  /** Capacity of the MsgId de-duplication set (default 10000). */
  dedupCapacity?: number;
  /** Called with the endpoint name before every HTTP attempt. */
  onRequest?: (what: string) => void;
  /** Send queue knobs (1205 cool-down, retries). */
  sendQueue?: SendQueueTuning;
  /**
   * How long stop() lets the sends already queued go out, with receiving stopped first (default 10 s, inside
   * Node-RED's 15 s close timeout); 0: they fail CLOSED at once.
   */
  stopDrainMs?: number;
  /** What a recall is matched against: the last `capacity` messages of the last `maxAgeMs` (500, 10 min). */
  recentMessages?: { capacity?: number; maxAgeMs?: number };
  /**
   * How a step after the login ticket is retried on its own (webwxinit, each contact page, each member batch)
   * instead of dropping the redeemed session: default 6 tries, back-off from 1 s up to 30 s.
   */
  loadRetry?: Partial<RetryPolicy>;
  /** How long a send or look-up by name waits for the contacts still loading after login (default 60 s). */
  contactsWaitMs?: number;
}

export type WeChatClientOptions = ClientOptions & { tuning?: ClientTuning };

const quietLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Why the current session or login attempt was ended from our side. */
type Interrupt = "new-qr" | "logout";

/**
 * The WeChat client of one account: login (saved session -> push login -> QR), contacts, the sync loop, sends,
 * downloads. An EventEmitter of ClientEvents. Several can run side by side in one process.
 */
export class WeChatClient extends EventEmitter implements WeChatClientApi {
  private current: StateInfo = { state: "offline" };
  private readonly logger: Logger;
  private readonly mode: LoginMode;
  /** Where the session is kept: options.sessionStorage, else the file of options.sessionFile, else nowhere. */
  private readonly store?: SessionStorage;
  private readonly contactStore = new ContactStore();
  private readonly timeouts: ApiTimeouts & { loginPollMs: number };
  private jar = watchedJar();
  private run: { abort: AbortController; done: Promise<void>; http: HttpClient; receiving: AbortController } | undefined;
  /** Aborts the current login attempt or session (newQr, logout), not the run. */
  private step: { abort: AbortController; reason?: Interrupt } | undefined;
  private session: OnlineSession | undefined;
  private forceQr = false;
  /** MsgIds handled by this client, across sessions; the newest few are saved with the session. */
  private readonly seen: BoundedSet<string>;
  /** LocalID / ClientMsgId of every send of this client, unique across its sessions. */
  private readonly clientMsgIds = new ClientMsgIds();
  private wake: (() => void) | undefined;
  /** Recent messages by MsgId, for the `recall` event's original. */
  private readonly recent: RecentMessages;
  /** When this client sent what, for revoke(). */
  private readonly sentMessages = new SentMessages();
  private readonly loadRetry: RetryPolicy;
  /** Why the login keeps failing, shown in every state until a login step succeeds (#16.2). */
  private readonly problems: LoginProblems;
  /** Writes the session (keys, cookies, MsgIds handled, own sends) when there is a session file. */
  private readonly saver: SessionSaver | undefined;
  /**
   * The session storage keeps its claims in `seen` (the client made it for its session file): a MsgId the inbound
   * step marks handled is claimed by that, and is not claimed again.
   */
  private readonly claimsInSeen: boolean = false;

  constructor(private readonly options: WeChatClientOptions = {}) {
    super();
    // got is an ES module loaded on demand: start now so start() does not wait for it (errors show on use).
    preloadHttp().catch(() => undefined);
    this.logger = options.logger ?? quietLogger;
    this.mode = options.mode ?? "desktop";
    const t = options.tuning?.timeouts ?? {};
    this.timeouts = {
      requestMs: t.requestMs ?? DEFAULT_TIMEOUTS.requestMs,
      syncCheckMs: t.syncCheckMs ?? DEFAULT_TIMEOUTS.syncCheckMs,
      contactsMs: t.contactsMs ?? DEFAULT_TIMEOUTS.contactsMs,
      loginPollMs: t.loginPollMs ?? 38_000,
    };
    const retry = options.tuning?.loadRetry ?? {};
    this.loadRetry = { attempts: retry.attempts ?? 6, backoffMs: retry.backoffMs ?? 1_000, maxBackoffMs: retry.maxBackoffMs ?? 30_000 };
    this.seen = new BoundedSet<string>(options.tuning?.dedupCapacity ?? 10_000);
    const recent = options.tuning?.recentMessages ?? {};
    this.recent = new RecentMessages(recent.capacity ?? 500, recent.maxAgeMs ?? 10 * 60_000);
    if (options.sessionStorage) {
      this.store = options.sessionStorage;
    } else if (options.sessionFile) {
      if (!options.sessionSecret) throw new WeChatError("INVALID_ARGUMENT", "sessionSecret is required with sessionFile");
      // Its de-dup set is the client's own: each MsgId is marked handled and claimed by one lookup (online()).
      this.store = new FileSessionStorage(options.sessionFile, options.sessionSecret, {
        warn: (m) => this.warn(m),
        info: (m) => this.logger.info(m),
        previous: options.previousSessionSecrets ?? [],
        dedup: this.seen,
      });
      this.claimsInSeen = true;
    }
    if (this.store) this.saver = new SessionSaver(this.store, this.seen, this.sentMessages, (m) => this.warn(m));
    // The sealing key (scrypt, ~50 ms of CPU in libuv's pool) is derived from now on, as got is loaded: the first
    // save of a login does not wait for it (issue #19).
    void this.store?.prepare?.();
    this.problems = new LoginProblems(this.logger, (m) => this.warn(m));
  }

  override on<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override off<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }

  override once<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }

  /**
   * Each listener runs on its own: one that throws neither breaks the loops nor starves the others. A "warn" is
   * logged too (with or without listeners): every step of the client warns by this one event.
   */
  override emit<K extends keyof ClientEvents>(event: K, ...args: ClientEvents[K]): boolean {
    if (event === "warn") this.logger.warn(String(args[0]));
    const listeners = this.rawListeners(event) as ((...a: unknown[]) => unknown)[];
    // Indexed: every message comes this way, in code V8 has not optimised yet (issue #19).
    for (let i = 0; i < listeners.length; i++) {
      const listener = listeners[i] as (...a: unknown[]) => unknown;
      try {
        listener.apply(this, args);
      } catch (error) {
        this.logger.error(`a "${event}" listener threw: ${error instanceof Error ? error.message : "error"}`);
      }
    }
    return listeners.length > 0;
  }

  get state(): StateInfo {
    return { ...this.current };
  }

  /** The logged-in user, when online. */
  get self(): StateInfo["user"] {
    return this.session ? { ...this.session.session.user } : undefined;
  }

  start(): void {
    if (this.run) return;
    const abort = new AbortController();
    const http = new HttpClient({
      logger: this.logger,
      jar: this.jar,
      timeoutMs: this.timeouts.requestMs,
      retryDelayMs: this.options.tuning?.retryDelayMs,
      onRequest: this.options.tuning?.onRequest,
      transport: this.options.transport,
    });
    const run = { abort, http, done: Promise.resolve(), receiving: new AbortController() };
    this.run = run;
    run.done = this.main(run)
      .catch((error: unknown) => {
        if (!isWeChatError(error, "CLOSED")) this.logger.error(`client stopped on an unexpected error: ${describe(error)}`);
      })
      .finally(() => {
        // Ended without stop(): let start() begin again.
        if (this.run === run && !abort.signal.aborted) {
          this.run = undefined;
          run.http.close();
          this.problems.clear();
          this.setState({ state: "offline" });
        }
      });
  }

  stopReceiving(): void {
    this.run?.receiving.abort();
  }

  async stop(options: StopOptions = {}): Promise<void> {
    const run = this.run;
    if (!run) return;
    run.receiving.abort();
    const active = this.session;
    // Sends a flow already handed over (a relay's forwards) go out before the session closes (#18), unless the
    // account's lease was lost (drain: false): another instance may run it already, so they fail at once, with
    // `reason` (NOT_OWNER from wx-account, #17), never sent twice.
    if (options.drain === false) active?.close(options.reason);
    else await active?.drain(this.options.tuning?.stopDrainMs ?? 10_000);
    run.abort.abort();
    this.wake?.();
    run.http.close();
    await run.done;
    await this.saver?.saveSent(active?.session);
    this.session?.close();
    this.session = undefined;
    if (this.run === run) this.run = undefined;
    this.problems.clear();
    this.setState({ state: "offline" });
  }

  async logout(): Promise<void> {
    const active = this.session;
    const run = this.run;
    // End our loop first, so that the server's end of the session is not taken for an expiry (push login).
    if (run) this.interrupt("logout");
    if (active && run) {
      try {
        await new SessionApi(run.http, active.session, this.timeouts, run.abort.signal).logout();
      } catch (error) {
        this.warn(`logout: ${describe(error)}`);
      }
    }
    await this.clearSaved();
    this.jar = watchedJar();
    if (run) run.http.jar = this.jar;
  }

  newQr(): void {
    if (!this.run) {
      this.forceQr = true;
      this.start();
      return;
    }
    // Online, a QR makes no sense: logout() is the way to switch accounts.
    if (this.current.state === "online") return;
    this.interrupt("new-qr");
  }

  listContacts(query?: ContactQuery): Contact[] {
    return this.contactStore.list(query);
  }

  getContact(userName: string): Contact | undefined {
    return this.contactStore.get(userName);
  }

  resolve(target: string): Contact {
    return this.contactStore.resolve(target);
  }

  async refreshContacts(): Promise<void> {
    const active = this.requireSession();
    // Unsaved groups are never listed: the ones known (ChatSet, messages) are fetched again with the rest.
    const groups = this.contactStore.userNames().filter(isGroupUserName);
    // Someone waits for this answer: fewer tries than the login's background load.
    const retry = { ...this.loadRetry, attempts: Math.min(this.loadRetry.attempts, 3) };
    const { complete } = await loadContacts(active.api, this.contactStore, { groups, retry, warn: (m) => this.warn(`contacts: ${m}`) });
    active.addSelf();
    if (this.session === active && this.current.state === "online" && !active.loading) this.setState({ ...this.current, contacts: complete ? "loaded" : "incomplete" });
    this.emit("contacts", { added: this.contactStore.userNames(), removed: [], changed: [] });
  }

  async contactsReady(timeoutMs = this.options.tuning?.contactsWaitMs ?? 60_000): Promise<boolean> {
    const loading = this.session?.loading;
    if (!loading) return true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs));
    });
    try {
      return await Promise.race([loading.done.then(() => true), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A target as a live contact, as resolve() does, but: a name waits for the contacts still loading after login
   * (up to contactsWaitMs, then it is looked up among those loaded so far), and a group UserName (@@...) this
   * client does not know yet is fetched from the server (an unsaved group, docs/protocol.md section 7).
   */
  async findContact(target: string): Promise<Contact> {
    const active = this.requireSession();
    const wanted = typeof target === "string" ? target.trim() : "";
    const known = this.contactStore.get(wanted);
    if (known) return known;
    if (isGroupUserName(wanted)) return this.fetchGroup(active, wanted);
    if (wanted === "" || wanted.startsWith("@") || isSpecialUserName(wanted)) return this.resolve(target);
    const ready = await this.contactsReady();
    try {
      return this.resolve(target);
    } catch (error) {
      if (ready || !isWeChatError(error, "NOT_FOUND")) throw error;
      throw new WeChatError("NOT_FOUND", `${error.message} (the contacts are still loading)`);
    }
  }

  /** An unknown group by its UserName, fetched with its members (webwxbatchgetcontact) and kept. */
  private async fetchGroup(active: NonNullable<WeChatClient["session"]>, userName: string): Promise<Contact> {
    const self = active.session.user.userName;
    const found = (await batchGet(active.api, [{ UserName: userName, EncryChatRoomId: "" }]))
      .map((raw) => toContact(raw, self))
      .filter((c) => c.userName === userName);
    if (found.length === 0) throw new WeChatError("NOT_FOUND", "no group with this UserName in the current session");
    const result = this.contactStore.upsert(found);
    this.emit("contacts", { added: result.added, removed: [], changed: result.changed });
    return this.contactStore.get(userName) ?? found[0]!;
  }

  async sendText(to: string, text: string, options?: { mentions?: string[] }): Promise<SendResult> {
    const target = await this.findContact(to);
    return this.sent(this.requireSession().sender.sendText(target, text, options?.mentions ?? []));
  }

  async sendImage(to: string, data: Buffer, options?: { fileName?: string; mime?: string }): Promise<SendResult> {
    const mime = options?.mime ?? (Buffer.isBuffer(data) ? sniffMime(data, options?.fileName) : undefined);
    const target = await this.findContact(to);
    return this.sent(
      this.requireSession().sender.sendMedia(target, data, {
        fileName: options?.fileName ?? `image.${extensionFor(mime ?? "") ?? "jpg"}`,
        mime,
        as: "image",
      }),
    );
  }

  async sendFile(to: string, data: Buffer, options: SendFileOptions): Promise<SendResult> {
    const target = await this.findContact(to);
    return this.sent(this.requireSession().sender.sendMedia(target, data, options));
  }

  async forward(message: ForwardSource, to: string): Promise<SendResult> {
    const request = forwardRequest(message);
    const target = await this.findContact(to);
    return this.sent(this.requireSession().sender.forward(target, request));
  }

  async revoke(sent: RevokeTarget): Promise<void> {
    await this.requireSession().actions.revoke(sent);
  }

  async acceptFriend(request: FriendRequestRef | undefined): Promise<void> {
    await this.requireSession().actions.acceptFriend(request);
  }

  async addFriend(userName: string, greeting: string): Promise<void> {
    const active = this.requireSession();
    const target = typeof userName === "string" ? userName.trim() : "";
    // A UserName of this session (a group member is one we have no contact for), else a known contact.
    const resolved = target.startsWith("@") && !this.contactStore.has(target) ? target : (await this.findContact(target)).userName;
    if (isGroupUserName(resolved)) throw new WeChatError("INVALID_ARGUMENT", "addFriend: a group cannot be added as a friend");
    await active.actions.addFriend(resolved, greeting);
  }

  async setRemark(target: string, remark: string): Promise<void> {
    await this.requireSession().actions.setRemark(await this.findContact(target), remark);
  }

  async pin(target: string, on: boolean): Promise<void> {
    await this.requireSession().actions.pin(await this.findContact(target), on);
  }

  async createGroup(topic: string, memberTargets: string[]): Promise<Contact> {
    const active = this.requireSession();
    return active.actions.createGroup(topic, await this.resolveAll(memberTargets, "createGroup"));
  }

  async addMembers(group: string, targets: string[]): Promise<void> {
    const active = this.requireSession();
    await active.actions.addMembers(await this.findContact(group), await this.resolveAll(targets, "addMembers"));
  }

  async removeMembers(group: string, targets: string[]): Promise<void> {
    const active = this.requireSession();
    if (!Array.isArray(targets) || targets.length === 0) throw new WeChatError("INVALID_ARGUMENT", "removeMembers: at least one member is required");
    await active.actions.removeMembers(await this.findContact(group), targets);
  }

  async renameGroup(group: string, topic: string): Promise<void> {
    await this.requireSession().actions.renameGroup(await this.findContact(group), topic);
  }

  async markRead(target: string): Promise<void> {
    await this.requireSession().actions.markRead(await this.findContact(target));
  }

  async avatar(target: string, options?: { group?: string }): Promise<Buffer> {
    const active = this.requireSession();
    if (options?.group !== undefined) return active.actions.avatar({ member: target, group: await this.findContact(options.group) });
    return active.actions.avatar(await this.findContact(target));
  }

  async download(message: Message, options?: { thumbnail?: boolean; maxBytes?: number }): Promise<Buffer> {
    return downloadMedia(this.requireSession().api, message, options ?? {});
  }

  /** Remembers when a send went out (for revoke() given only the ids). */
  private async sent(pending: Promise<SendResult>): Promise<SendResult> {
    return this.sentMessages.record(await pending);
  }

  private async resolveAll(targets: string[], what: string): Promise<Contact[]> {
    if (!Array.isArray(targets) || targets.length === 0) throw new WeChatError("INVALID_ARGUMENT", `${what}: at least one member is required`);
    const found: Contact[] = [];
    for (const t of targets) found.push(await this.findContact(t));
    return found;
  }

  // ---- the run ----

  private requireSession(): NonNullable<WeChatClient["session"]> {
    if (!this.session || this.current.state !== "online") throw new WeChatError("NOT_LOGGED_IN", "not logged in");
    return this.session;
  }

  private interrupt(reason: Interrupt): void {
    this.forceQr = true;
    if (this.step) {
      this.step.reason = reason;
      this.step.abort.abort();
    }
    this.wake?.();
  }

  private setState(info: StateInfo): void {
    const next: StateInfo = { ...info };
    delete next.problem;
    const problem = this.problems.shownWith(info.state);
    if (problem) next.problem = problem;
    this.current = next;
    this.emit("state", { ...next });
  }

  private warn(message: string): void {
    this.emit("warn", message);
  }

  /** Waits until newQr()/stop() wakes the client (after a refusal). */
  private waitForWake(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }

  private async main(run: { abort: AbortController; http: HttpClient; receiving: AbortController }): Promise<void> {
    const signal = run.abort.signal;
    let saved: SavedSession | undefined;
    let push: PushTarget | undefined;
    // Read at the first attempt, and again after the storage failed (the stored session is then the newest state).
    let loadSaved = this.store !== undefined && !this.forceQr;
    let failures = 0;
    const flow = new LoginFlow(run.http, {
      mode: this.mode,
      loginUrl: this.options.loginUrl,
      qrImage: this.options.qrImage,
      timeouts: this.timeouts,
      loadRetry: this.loadRetry,
      state: { current: () => this.current, set: (info) => this.setState(info) },
      seen: this.seen,
      sent: this.sentMessages,
      forgetSaved: () => this.clearSaved(),
      warn: (m, error) => (error === undefined ? this.warn(m) : this.problems.warnOnce(error, m)),
      info: (m) => this.logger.info(m),
    });
    while (!signal.aborted) {
      const step: { abort: AbortController; reason?: Interrupt } = { abort: new AbortController() };
      this.step = step;
      const stepSignal = AbortSignal.any([signal, step.abort.signal]);
      try {
        if (loadSaved) {
          loadSaved = false;
          saved = await this.loadSaved(run.http);
          if (saved) push = { pageUrl: saved.pageUrl, uin: saved.uin };
        }
        let ready: ReadySession | undefined;
        if (saved && !this.forceQr) {
          const candidate = saved;
          saved = undefined;
          try {
            ready = await flow.resume(candidate, stepSignal);
          } catch (error) {
            // No answer (no network): the session may well be alive, so the next attempt resumes it again (#16.2).
            if (noAnswer(error)) saved = candidate;
            throw error;
          }
        }
        if (!ready) {
          const usePush = this.forceQr ? undefined : push;
          push = undefined;
          this.forceQr = false;
          try {
            ready = await flow.login(stepSignal, usePush);
          } catch (error) {
            // Likewise a push login that got no answer is tried again rather than given up for a QR.
            if (noAnswer(error) && !this.forceQr) push = usePush;
            throw error;
          }
        }
        const session = ready.session;
        failures = 0;
        const end = await this.online(run.http, ready, stepSignal, run.receiving.signal);
        // The server ended the session: say so, forget it, and go on to push login, then QR. Sends still queued
        // fail as sends into that ended session do (SESSION_EXPIRED), not as if the client had been stopped.
        this.session?.close(new WeChatError("SESSION_EXPIRED", `send: the session ended (${end.code}): ${end.message}`, { ret: end.code }));
        this.session = undefined;
        await this.clearSaved();
        this.setState({ state: "logged-out", code: end.code, message: end.message, user: { ...session.user } });
        push = { pageUrl: session.hosts.page, uin: session.uin };
      } catch (error) {
        this.session?.close();
        this.session = undefined;
        if (signal.aborted) break;
        if (isWeChatError(error, "CLOSED") && step.reason) {
          if (step.reason === "logout") this.setState({ state: "logged-out", code: 0, message: "logged out" });
          continue;
        }
        if (isWeChatError(error, "LOGIN_REFUSED")) {
          this.problems.failed(error, failures + 1);
          this.setState({
            state: "refused",
            message: error.message,
            ...(error.ret !== undefined ? { code: error.ret } : {}),
          });
          if (!this.forceQr) await this.waitForWake(signal);
          continue;
        }
        // Fenced out: another instance runs the account now. Nothing more is tried (no webwxinit on its session)
        // until start() after stop(), or newQr(); then the stored session is read again.
        if (isWeChatError(error, "NOT_OWNER")) {
          this.problems.failed(error, failures + 1);
          this.setState({ state: "offline" });
          loadSaved = true;
          await this.waitForWake(signal);
          continue;
        }
        // The storage did not answer: the next attempt resumes from what it holds then (no scan).
        if (isWeChatError(error, "STORE_UNAVAILABLE")) loadSaved = !this.forceQr;
        failures++;
        const delay = backoffDelay(failures - 1, this.options.tuning?.loginBackoffMs ?? 2_000, 60_000);
        this.problems.failed(error, failures, delay);
        // Offline until the next attempt, and why: shown on every node and in the account dialog (#16.2).
        this.setState({ state: "offline" });
        try {
          await sleep(delay, stepSignal);
        } catch {
          // stopped or interrupted: the loop head decides
        }
        // The attempt starts now: no retry time is pending while it runs.
        if (!signal.aborted && this.problems.retryStarts() && this.current.state === "offline") this.setState({ state: "offline" });
      } finally {
        if (this.step === step) this.step = undefined;
      }
    }
  }

  /** Forgets the saved session; nothing the session before still had to write is written after that. */
  private async clearSaved(): Promise<void> {
    await this.saver?.drop();
    await this.store?.clear();
  }

  /** The stored session, its cookies put in the jar. */
  private async loadSaved(http: HttpClient): Promise<SavedSession | undefined> {
    // What the session before this start still had to write is written first (SessionSaver.saveSoon).
    await this.saver?.flush();
    const saved = await this.store?.load();
    if (saved) {
      this.jar = await restoreJar(saved.cookies, this.jar);
      http.jar = this.jar;
    }
    return saved;
  }

  /** The ready session, wired and online until it ends (returned) or we stop / interrupt (throws CLOSED). */
  private online(http: HttpClient, ready: ReadySession, signal: AbortSignal, receiving: AbortSignal): Promise<SessionEnd> {
    const tuning = this.options.tuning;
    const saver = this.saver;
    const online = new OnlineSession(ready, signal, {
      receiving,
      http,
      contacts: this.contactStore,
      timeouts: this.timeouts,
      loadRetry: this.loadRetry,
      seen: this.seen,
      claims: this.claimsInSeen ? undefined : this.store,
      ids: this.clientMsgIds,
      sent: this.sentMessages,
      pacing: this.options.pacing,
      actionPacing: this.options.actionPacing,
      sendQueue: tuning?.sendQueue,
      sync: tuning?.sync,
      state: { current: () => this.current, set: (info) => this.setState(info) },
      isCurrent: (s) => this.session === s,
      recent: this.recent,
      // The client's own emit, bound: no arguments gathered and spread again on every event.
      emit: this.emit.bind(this),
      // No store (the bench's clients, a test's): nothing to save, the jar is not even serialised.
      save: saver ? (session) => saver.save(session, () => http.jar.serialize()) : undefined,
      saveSoon: saver ? (session) => saver.saveSoon(session, () => http.jar.serialize()) : undefined,
      delivered: this.options.delivered,
    });
    this.session = online;
    return online.run();
  }
}

async function restoreJar(serialized: unknown, fallback: CookieJar): Promise<CookieJar> {
  try {
    return await restoreWatchedJar(serialized as Parameters<typeof CookieJar.deserialize>[0]);
  } catch {
    return fallback;
  }
}
