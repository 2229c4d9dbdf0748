import { EventEmitter } from "node:events";
import { CookieJar } from "tough-cookie";
import { Actions } from "./actions";
import { contactEvents } from "./contact-events";
import { DEFAULT_TIMEOUTS, SessionApi, type ApiTimeouts } from "./api";
import { batchGet, loadContacts, retried, toContact, type RetryPolicy } from "./contact-loader";
import { ContactStore } from "./contacts";
import { WeChatError, isWeChatError } from "./errors";
import { hostsFor, isWeChatHost, loginOrigin } from "./hosts";
import { HttpClient, afterCallsStarted, backoffDelay, preloadHttp, sleep } from "./http";
import { Inbound } from "./inbound";
import { LoginApi, qrDataUrl, qrText, type LoginMode, type ScanAnswer } from "./login";
import { downloadMedia } from "./media";
import { Sender } from "./send";
import type { SendQueueTuning } from "./outbox";
import { Session, readSyncKey } from "./session";
import { SessionStore, type SavedSession } from "./session-store";
import { SyncLoop, type SessionEnd, type SyncOptions, type SyncTrouble } from "./sync";
import { decodeContent } from "./messages/text";
import { isGroupUserName, isSpecialUserName } from "./messages/contact";
import { BoundedSet, ClientMsgIds, RecentMessages, sniffMime } from "./util";
import type {
  ClientEvents,
  ClientOptions,
  Contact,
  ContactQuery,
  FriendRequestRef,
  Logger,
  LoginProblem,
  Message,
  RevokeTarget,
  SendFileOptions,
  SendResult,
  StateInfo,
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

/** How many of the newest de-duplicated MsgIds a saved session keeps (a restart drops them if they come again). */
const RECENT_IDS_SAVED = 500;
/** Send times remembered for revoke() calls that bring no time (far more than fit in 2 minutes). */
const SENT_TIMES_KEPT = 2_000;
const IMAGE_EXTENSIONS: Record<string, string> = { "image/png": "png", "image/jpeg": "jpg", "image/bmp": "bmp", "image/gif": "gif" };

/** What webwxinit says beyond the user: the recent chats to fetch with the contacts. */
interface InitInfo {
  /** ContactList: the top recent chats, in full. */
  recent: Record<string, unknown>[];
  /** ChatSet: every recent chat's UserName (unsaved groups among them). */
  chatSet: string[];
}

const quietLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Why the current session or login attempt was ended from our side. */
type Interrupt = "new-qr" | "logout";

/** States that mean the server answered a login step: a problem shown until then is over. */
const LOGIN_PROGRESS: ReadonlySet<StateInfo["state"]> = new Set(["waiting-scan", "scanned", "logging-in", "online"]);

/** Two failures are "the same" for the log when kind, HTTP status and server code agree. */
function failureKey(problem: Pick<LoginProblem, "kind" | "status" | "ret">): string {
  return `${problem.kind}/${problem.status ?? ""}/${problem.ret ?? ""}`;
}

/**
 * The WeChat client of one account: login (saved session -> push login -> QR), contacts, the sync loop, sends,
 * downloads. An EventEmitter of ClientEvents. Several can run side by side in one process.
 */
export class WeChatClient extends EventEmitter implements WeChatClientApi {
  private current: StateInfo = { state: "offline" };
  private readonly logger: Logger;
  private readonly mode: LoginMode;
  private readonly store?: SessionStore;
  private readonly contactStore = new ContactStore();
  private readonly timeouts: ApiTimeouts & { loginPollMs: number };
  private jar = new CookieJar();
  private run?: { abort: AbortController; done: Promise<void>; http: HttpClient };
  /** Aborts the current login attempt or session (newQr, logout), not the run. */
  private step?: { abort: AbortController; reason?: Interrupt };
  private session?: { session: Session; api: SessionApi; sender: Sender; inbound: Inbound; actions: Actions };
  private forceQr = false;
  /** MsgIds handled by this client, across sessions; the newest few are saved with the session. */
  private readonly seen: BoundedSet<string>;
  /** LocalID / ClientMsgId of every send of this client, unique across its sessions. */
  private readonly clientMsgIds = new ClientMsgIds();
  /** The wire User of webwxinit (richer than what a resumed session knows). */
  private selfRaw?: Record<string, unknown>;
  private wake?: () => void;
  /** Recent messages by MsgId, for the `recall` event's original. */
  private readonly recent: RecentMessages;
  /** When this client sent what (msgId -> ms), for revoke(). */
  private readonly sentTimes = new Map<string, number>();
  /** The contact load of the current session while it runs: settles when it ends (never rejects). */
  private loading?: { done: Promise<void>; covers: Set<string> };
  private readonly loadRetry: RetryPolicy;
  /** Why the login keeps failing, shown in every state until a login step succeeds (#16.2). */
  private problem?: LoginProblem;
  /** The failure last logged at warn level: the same one again is logged at debug only, until it changes. */
  private loggedFailure?: string;

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
    if (options.sessionFile) {
      if (!options.sessionSecret) throw new WeChatError("INVALID_ARGUMENT", "sessionSecret is required with sessionFile");
      this.store = new SessionStore(options.sessionFile, options.sessionSecret, {
        warn: (m) => this.warn(m),
        info: (m) => this.logger.info(m),
        previous: options.previousSessionSecrets ?? [],
      });
    }
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

  /** Each listener runs on its own: one that throws neither breaks the loops nor starves the others. */
  override emit<K extends keyof ClientEvents>(event: K, ...args: ClientEvents[K]): boolean {
    const listeners = this.rawListeners(event) as ((...a: unknown[]) => unknown)[];
    for (const listener of listeners) {
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
    const onRequest = this.options.tuning?.onRequest;
    const http = new HttpClient({
      logger: this.logger,
      jar: this.jar,
      timeoutMs: this.timeouts.requestMs,
      ...this.retryOption(),
      ...(onRequest ? { onRequest } : {}),
      ...(this.options.transport ? { transport: this.options.transport } : {}),
    });
    const run = { abort, http, done: Promise.resolve() };
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
          this.clearProblem();
          this.setState({ state: "offline" });
        }
      });
  }

  async stop(): Promise<void> {
    const run = this.run;
    if (!run) return;
    run.abort.abort();
    this.wake?.();
    run.http.close();
    await run.done;
    this.session?.sender.close();
    this.session = undefined;
    if (this.run === run) this.run = undefined;
    this.clearProblem();
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
    await this.store?.clear();
    this.jar = new CookieJar();
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
    const groups = this.contactStore.list({ kind: "group" }).map((c) => c.userName);
    // Someone waits for this answer: fewer tries than the login's background load.
    const retry = { ...this.loadRetry, attempts: Math.min(this.loadRetry.attempts, 3) };
    const { complete } = await loadContacts(active.api, this.contactStore, { groups, retry, warn: (m) => this.warn(`contacts: ${m}`) });
    this.addSelf(active.session);
    if (this.session === active && this.current.state === "online" && !this.loading) this.setState({ ...this.current, contacts: complete ? "loaded" : "incomplete" });
    this.emit("contacts", { added: this.contactStore.list().map((c) => c.userName), removed: [], changed: [] });
  }

  async contactsReady(timeoutMs = this.options.tuning?.contactsWaitMs ?? 60_000): Promise<boolean> {
    const loading = this.loading;
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
   * client does not know yet is fetched from the server (an unsaved group, protocol.md section 7).
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
        fileName: options?.fileName ?? `image.${IMAGE_EXTENSIONS[mime ?? ""] ?? "jpg"}`,
        ...(mime ? { mime } : {}),
        as: "image",
      }),
    );
  }

  async sendFile(to: string, data: Buffer, options: SendFileOptions): Promise<SendResult> {
    const target = await this.findContact(to);
    return this.sent(this.requireSession().sender.sendMedia(target, data, options));
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
    if (resolved.startsWith("@@")) throw new WeChatError("INVALID_ARGUMENT", "addFriend: a group cannot be added as a friend");
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
    const result = await pending;
    this.sentTimes.set(result.msgId, result.time ?? Date.now());
    if (this.sentTimes.size > SENT_TIMES_KEPT) this.sentTimes.delete(this.sentTimes.keys().next().value as string);
    return result;
  }

  private async resolveAll(targets: string[], what: string): Promise<Contact[]> {
    if (!Array.isArray(targets) || targets.length === 0) throw new WeChatError("INVALID_ARGUMENT", `${what}: at least one member is required`);
    const found: Contact[] = [];
    for (const t of targets) found.push(await this.findContact(t));
    return found;
  }

  /** A message went out to the listeners: remember it for recalls, and raise the events it stands for. */
  private emitInbound(message: Message): void {
    this.emit("message", message);
    if (message.type === "friend-request" && message.friendRequest) this.emit("friend-request", message);
    if (message.type === "recall" && message.recall) {
      const original = message.recall.msgId ? this.recent.get(message.recall.msgId) : undefined;
      this.emit("recall", { message, ...(original ? { original } : {}) });
    } else if (message.type !== "status") {
      this.recent.add(message);
    }
  }

  // ---- the run ----

  private retryOption(): { retryDelayMs?: number } {
    const d = this.options.tuning?.retryDelayMs;
    return d === undefined ? {} : { retryDelayMs: d };
  }

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
    if (LOGIN_PROGRESS.has(info.state)) {
      // The server answers again: said once, and the problem is no longer shown.
      if (this.problem) {
        const { kind, failures } = this.problem;
        this.logger.info(`login: the server answers again (after ${failures} failed attempt${failures === 1 ? "" : "s"}: ${kind})`);
      }
      this.clearProblem();
    }
    if (this.problem) next.problem = { ...this.problem };
    this.current = next;
    this.emit("state", { ...next });
  }

  private clearProblem(): void {
    this.problem = undefined;
    this.loggedFailure = undefined;
  }

  /**
   * A failure worth a warning, logged once: the same failure again (same kind, status and code) goes to debug
   * only, so a login retrying for hours without a network writes one line, and another when the reason changes.
   */
  private warnOnce(error: unknown, message: string): void {
    const key = failureKey(problemOf(error));
    if (key === this.loggedFailure) {
      this.logger.debug(message);
      return;
    }
    this.loggedFailure = key;
    this.warn(`${message} (logged once until the reason changes)`);
  }

  /** A login attempt failed: the state says why and when the next starts; the log says it once per reason. */
  private loginFailed(error: unknown, failures: number, retryInMs?: number): void {
    const found = problemOf(error);
    const since = this.problem?.since ?? Date.now();
    this.problem = { ...found, message: describe(error), failures, since, ...(retryInMs !== undefined ? { retryAt: Date.now() + retryInMs } : {}) };
    const then = retryInMs === undefined ? "" : `; retrying in ${Math.round(retryInMs / 100) / 10} s`;
    this.warnOnce(error, `login: ${describe(error)}${then}`);
  }

  private warn(message: string): void {
    this.logger.warn(message);
    if (this.listenerCount("warn") > 0) this.emit("warn", message);
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

  private async main(run: { abort: AbortController; http: HttpClient }): Promise<void> {
    const signal = run.abort.signal;
    let saved = this.store && !this.forceQr ? await this.store.load() : undefined;
    if (saved) {
      this.jar = await restoreJar(saved.cookies, this.jar);
      run.http.jar = this.jar;
    }
    let push: { pageUrl: string; uin: number } | undefined = saved ? { pageUrl: saved.pageUrl, uin: saved.uin } : undefined;
    let failures = 0;
    while (!signal.aborted) {
      const step: { abort: AbortController; reason?: Interrupt } = { abort: new AbortController() };
      this.step = step;
      const stepSignal = AbortSignal.any([signal, step.abort.signal]);
      try {
        let ready: { session: Session; init: InitInfo } | undefined;
        if (saved && !this.forceQr) {
          const candidate = saved;
          saved = undefined;
          try {
            ready = await this.resume(run.http, candidate, stepSignal);
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
          let redeemed: Session;
          try {
            redeemed = await this.login(run.http, stepSignal, usePush);
          } catch (error) {
            // Likewise a push login that got no answer is tried again rather than given up for a QR.
            if (noAnswer(error) && !this.forceQr) push = usePush;
            throw error;
          }
          ready = { session: redeemed, init: await this.prepare(run.http, redeemed, stepSignal) };
        }
        const session = ready.session;
        failures = 0;
        const end = await this.online(run.http, session, ready.init, stepSignal);
        // The server ended the session: say so, forget it, and go on to push login, then QR.
        this.session?.sender.close();
        this.session = undefined;
        await this.store?.clear();
        this.setState({ state: "logged-out", code: end.code, message: end.message, user: { ...session.user } });
        push = { pageUrl: session.hosts.page, uin: session.uin };
      } catch (error) {
        this.session?.sender.close();
        this.session = undefined;
        if (signal.aborted) break;
        if (isWeChatError(error, "CLOSED") && step.reason) {
          if (step.reason === "logout") this.setState({ state: "logged-out", code: 0, message: "logged out" });
          continue;
        }
        if (isWeChatError(error, "LOGIN_REFUSED")) {
          this.loginFailed(error, failures + 1);
          this.setState({
            state: "refused",
            message: error.message,
            ...(error.ret !== undefined ? { code: error.ret } : {}),
          });
          if (!this.forceQr) await this.waitForWake(signal);
          continue;
        }
        failures++;
        const delay = backoffDelay(failures - 1, this.options.tuning?.loginBackoffMs ?? 2_000, 60_000);
        this.loginFailed(error, failures, delay);
        // Offline until the next attempt, and why: shown on every node and in the account dialog (#16.2).
        this.setState({ state: "offline" });
        try {
          await sleep(delay, stepSignal);
        } catch {
          // stopped or interrupted: the loop head decides
        }
        // The attempt starts now: no retry time is pending while it runs.
        if (this.problem?.retryAt !== undefined && !signal.aborted) {
          delete this.problem.retryAt;
          if (this.current.state === "offline") this.setState({ state: "offline" });
        }
      } finally {
        if (this.step === step) this.step = undefined;
      }
    }
  }

  /**
   * A saved session: webwxinit + status notify on it, as a fresh login does (the user and SKey come fresh), but the
   * saved SyncKey and MsgIds stay: what arrived while we were down comes once, nothing twice. Undefined when the
   * server no longer knows the session (then push login, then QR).
   */
  private async resume(http: HttpClient, saved: SavedSession, signal: AbortSignal): Promise<{ session: Session; init: InitInfo } | undefined> {
    this.setState({ state: "resuming" });
    const session = Session.fromSaved(saved);
    for (const id of saved.seen ?? []) this.seen.add(id);
    http.pageOrigin = session.hosts.page;
    try {
      const init = await this.initSession(new SessionApi(http, session, this.timeouts, signal), session, false);
      return { session, init };
    } catch (error) {
      if (isWeChatError(error, "CLOSED") || signal.aborted || noAnswer(error)) throw error;
      this.warn(`saved session not usable (${describe(error)}); logging in again`);
      await this.store?.clear();
      return undefined;
    }
  }

  /** Push login when possible, else QR, until the phone confirms: the redeemed session. */
  private async login(http: HttpClient, signal: AbortSignal, push?: { pageUrl: string; uin: number }): Promise<Session> {
    const origin = loginOrigin(this.options.loginUrl);
    // wechat mode: a login that starts at WeChat may only be sent on to WeChat (https page hosts on its domains).
    const policy = { wechatHostsOnly: isWeChatHost(new URL(origin).hostname) };
    const loginApi = new LoginApi(http, this.mode, { requestMs: this.timeouts.requestMs, longPollMs: this.timeouts.loginPollMs }, policy);
    if (push) {
      this.setState({ state: "push-login" });
      try {
        const pageHosts = hostsFor(push.pageUrl);
        const uuid = await loginApi.pushLogin(pageHosts.page, push.uin, signal);
        if (uuid) {
          const redirect = await this.waitForConfirm(loginApi, pageHosts.login, uuid, signal, true);
          if (redirect) return await this.redeem(loginApi, redirect, signal);
        }
      } catch (error) {
        if (isWeChatError(error, "CLOSED") || isWeChatError(error, "LOGIN_REFUSED") || noAnswer(error)) throw error;
        this.warn(`push login failed (${describe(error)}); showing a QR`);
      }
    }
    for (;;) {
      const uuid = await loginApi.newUuid(origin, signal);
      const text = qrText(uuid);
      // The first scan poll goes out before the QR is drawn, so drawing it overlaps the wait for the phone.
      const first = loginApi.poll(origin, uuid, 1, signal);
      first.catch(() => undefined);
      // Drawing is synchronous work: it starts once the poll is on the wire (afterCallsStarted), not before.
      const qr = this.options.qrImage === false ? {} : { qr: await afterCallsStarted().then(() => qrDataUrl(text)) };
      this.setState({ state: "waiting-scan", ...qr, qrUrl: text });
      const redirect = await this.waitForConfirm(loginApi, origin, uuid, signal, false, first);
      if (redirect) return await this.redeem(loginApi, redirect, signal);
      // expired or cancelled: a fresh uuid and QR
    }
  }

  /** Polls one uuid: the redirect_uri, or undefined when it expired / was cancelled. */
  private async waitForConfirm(
    loginApi: LoginApi,
    origin: string,
    uuid: string,
    signal: AbortSignal,
    push: boolean,
    first?: Promise<ScanAnswer>,
  ): Promise<string | undefined> {
    let tip: 0 | 1 = 1;
    let failures = 0;
    let pending = first;
    for (;;) {
      let answer;
      try {
        const poll = pending ?? loginApi.poll(origin, uuid, tip, signal);
        pending = undefined;
        answer = await poll;
        failures = 0;
      } catch (error) {
        if (!isWeChatError(error, "NETWORK") || ++failures > 5) throw error;
        await sleep(backoffDelay(failures - 1, 1_000, 15_000), signal);
        continue;
      }
      tip = 0;
      switch (answer.code) {
        case 408:
          continue;
        case 201:
          if (this.current.state !== "scanned" || answer.avatar !== this.current.avatar) {
            this.setState({ state: "scanned", ...(answer.avatar ? { avatar: answer.avatar } : {}) });
          }
          continue;
        case 200:
          return answer.redirectUri;
        case 400:
        case 202:
          if (!push && answer.code === 202) this.logger.info("login cancelled on the phone; new QR");
          return undefined;
      }
    }
  }

  private async redeem(loginApi: LoginApi, redirectUri: string, signal: AbortSignal): Promise<Session> {
    this.setState({ state: "logging-in", ...(this.current.avatar ? { avatar: this.current.avatar } : {}) });
    return loginApi.redeem(redirectUri, signal);
  }

  /** After the tickets: init and status notify (the contacts load once online). */
  private async prepare(http: HttpClient, session: Session, signal: AbortSignal): Promise<InitInfo> {
    if (this.current.state !== "logging-in") this.setState({ state: "logging-in" });
    http.pageOrigin = session.hosts.page;
    return this.initSession(new SessionApi(http, session, this.timeouts, signal), session, true);
  }

  /**
   * webwxinit (retried on its own: a redeemed login is never thrown away over a hiccup), then status notify, whose
   * failure is only a warning. `fresh`: take init's SyncKey (a new login); a resumed session keeps its own.
   */
  private async initSession(api: SessionApi, session: Session, fresh: boolean): Promise<InitInfo> {
    const init = await retried(() => api.init(), this.loadRetry, api.signal, (m, error) => this.warnOnce(error, `login: ${m}`));
    const user = (init.User ?? {}) as Record<string, unknown>;
    const avatar = this.current.avatar ?? session.user.avatar;
    session.user = {
      userName: typeof user.UserName === "string" ? user.UserName : "",
      nickName: decodeContent(typeof user.NickName === "string" ? user.NickName : ""),
      uin: Number(user.Uin) || session.uin,
      ...(avatar ? { avatar } : {}),
    };
    if (!session.user.userName) throw new WeChatError("PROTOCOL", "webwxinit: no User in the answer");
    if (fresh) {
      session.syncKey = readSyncKey(init.SyncKey);
      session.syncCheckKey = undefined;
    }
    if (typeof init.SKey === "string" && init.SKey) session.skey = init.SKey;
    this.selfRaw = user;
    try {
      await api.statusNotify(3, session.user.userName);
    } catch (error) {
      if (isWeChatError(error, "CLOSED") || isWeChatError(error, "SESSION_EXPIRED") || api.signal?.aborted) throw error;
      this.warn(`webwxstatusnotify failed (${describe(error)}); going on`);
    }
    return {
      recent: Array.isArray(init.ContactList) ? (init.ContactList as Record<string, unknown>[]).filter((c) => c !== null && typeof c === "object") : [],
      chatSet: typeof init.ChatSet === "string" ? init.ChatSet.split(",").map((n) => n.trim()).filter(Boolean) : [],
    };
  }

  /** The account itself in the contact list (webwxgetcontact leaves it out). */
  private addSelf(session: Session): void {
    const raw = this.selfRaw ?? { UserName: session.user.userName, NickName: session.user.nickName, Uin: session.user.uin };
    this.contactStore.upsert([toContact(raw, session.user.userName)]);
  }

  /**
   * Online until the server ends the session (returned) or we stop / interrupt (throws CLOSED). The contacts load
   * meanwhile (state `contacts: "loading"`); the load ends with the session.
   */
  private async online(http: HttpClient, session: Session, init: InitInfo, signal: AbortSignal): Promise<SessionEnd> {
    const api = new SessionApi(http, session, this.timeouts, signal);
    const ended = new AbortController();
    const inbound = new Inbound(api, this.contactStore, {
      emitMessage: (m) => this.emitInbound(m),
      emitContacts: (c) => this.emit("contacts", c),
      emitContact: (e) => this.emit("contact", e),
      warn: (m) => this.warn(m),
      seen: this.seen,
      loading: (userName) => this.loading?.covers.has(userName) ?? false,
    });
    const sender = new Sender(api, this.contactStore, {
      ...(this.options.pacing !== undefined ? { pacing: this.options.pacing } : {}),
      ...(this.options.actionPacing !== undefined ? { actionPacing: this.options.actionPacing } : {}),
      ...(this.options.tuning?.sendQueue ? { queue: this.options.tuning.sendQueue } : {}),
      ids: this.clientMsgIds,
      warn: (m) => this.warn(m),
    });
    const actions = new Actions(api, this.contactStore, sender.sendQueue, {
      sentAt: (msgId) => this.sentTimes.get(msgId),
      learnt: (before, after) => {
        this.emit("contacts", before ? { added: [], removed: [], changed: [after.userName] } : { added: [after.userName], removed: [], changed: [] });
        for (const event of contactEvents(before, after)) this.emit("contact", event);
      },
    });
    this.session = { session, api, sender, inbound, actions };
    // UserNames are new at every login: nothing of an earlier session's contacts is valid.
    this.contactStore.clear();
    this.addSelf(session);
    await this.save(http, session);
    const load = this.loadInBackground(new SessionApi(http, session, this.timeouts, AbortSignal.any([signal, ended.signal])), session, init);
    this.setState({ state: "online", user: { ...session.user }, contacts: "loading" });
    this.emit("contacts", { added: this.contactStore.list().map((c) => c.userName), removed: [], changed: [] });
    let savedKeys = JSON.stringify([session.syncKey, session.syncCheckKey, session.skey]);
    const loop = new SyncLoop(
      api,
      {
        onSync: (answer) => inbound.handle(answer),
        onKeys: async () => {
          const keys = JSON.stringify([session.syncKey, session.syncCheckKey, session.skey]);
          if (keys === savedKeys) return;
          savedKeys = keys;
          await this.save(http, session);
        },
        onWarn: (m) => this.warn(m),
        onTrouble: (trouble) => this.syncTrouble(session, trouble),
      },
      this.options.tuning?.sync ?? {},
    );
    try {
      return await loop.run();
    } finally {
      ended.abort();
      await load;
    }
  }

  /**
   * The address book of a new session, loaded while the account is already online: every page and member batch
   * retried on its own, the ChatSet's groups (unsaved ones are never listed) fetched too. Never rejects.
   */
  private loadInBackground(api: SessionApi, session: Session, init: InitInfo): Promise<void> {
    const covers = new Set(init.chatSet.filter(isGroupUserName));
    const warn = (m: string): void => this.warn(`contacts: ${m}`);
    const loading = { covers, done: Promise.resolve() };
    const mine = (): boolean => this.session?.session === session && this.current.state === "online";
    loading.done = (async () => {
      let outcome: "loaded" | "incomplete" = "incomplete";
      try {
        const result = await loadContacts(api, this.contactStore, { initial: init.recent, groups: [...covers], fill: true, retry: this.loadRetry, warn });
        outcome = result.complete ? "loaded" : "incomplete";
      } catch (error) {
        // The session or the client ended: the sync loop says why; anything else leaves the list incomplete.
        if (api.signal?.aborted || isWeChatError(error, "CLOSED") || isWeChatError(error, "SESSION_EXPIRED")) return;
        warn(`not all could be loaded (${describe(error)}); wx-contacts refresh tries again`);
      } finally {
        if (this.loading === loading) this.loading = undefined;
      }
      if (!mine()) return;
      this.addSelf(session);
      this.setState({ ...this.current, contacts: outcome });
      this.emit("contacts", { added: this.contactStore.list().map((c) => c.userName), removed: [], changed: [] });
    })();
    this.loading = loading;
    return loading.done;
  }

  /** The sync loop keeps failing, or works again: shown in the state, and a `sync` event at each turn. */
  private syncTrouble(session: Session, trouble: SyncTrouble): void {
    if (this.session?.session !== session || this.current.state !== "online") return;
    const wasFailing = this.current.sync !== undefined;
    const rest: StateInfo = { ...this.current };
    delete rest.sync;
    this.setState(trouble.failing ? { ...rest, sync: { failures: trouble.failures, since: trouble.since, message: trouble.message } } : rest);
    if (trouble.failing !== wasFailing) this.emit("sync", { ...trouble });
  }

  private async save(http: HttpClient, session: Session): Promise<void> {
    if (!this.store) return;
    try {
      await this.store.save(session.toSaved(await http.jar.serialize(), this.seen.newest(RECENT_IDS_SAVED)));
    } catch (error) {
      this.warn(`session not saved: ${describe(error)}`);
    }
  }
}

/**
 * The server did not answer the call (no network, a refused or dropped connection, a timeout, an HTTP 5xx): says
 * nothing of a saved session or a push login, which stay for the next attempt.
 */
function noAnswer(error: unknown): boolean {
  return isWeChatError(error) && (error.code === "NETWORK" || (error.kind === "http" && (error.status ?? 0) >= 500));
}

/** The kind (and status, code) of a failure; a plain Error is a network one. */
function problemOf(error: unknown): Pick<LoginProblem, "kind" | "status" | "ret"> {
  if (!(error instanceof WeChatError)) return { kind: "network" };
  return {
    kind: error.kind ?? "network",
    ...(error.status !== undefined ? { status: error.status } : {}),
    ...(error.ret !== undefined ? { ret: error.ret } : {}),
  };
}

function describe(error: unknown): string {
  if (error instanceof WeChatError) return error.message;
  if (error instanceof Error) return error.name;
  return "unknown error";
}

async function restoreJar(serialized: unknown, fallback: CookieJar): Promise<CookieJar> {
  try {
    return await CookieJar.deserialize(serialized as Parameters<typeof CookieJar.deserialize>[0]);
  } catch {
    return fallback;
  }
}
