import { Actions, type SentMessages } from "./actions";
import { SessionApi, type ApiTimeouts } from "./api";
import { contactEvents } from "./contact-events";
import { loadContacts, type RetryPolicy } from "./contact-loader";
import type { ContactStore } from "./contacts";
import { WeChatError, describeError, isWeChatError } from "./errors";
import { afterCallsStarted, type HttpClient } from "./http";
import { Inbound, type InboundOptions } from "./inbound";
import type { ReadySession } from "./login-flow";
import { isGroupUserName, toContact } from "./messages/contact";
import type { SendQueueTuning } from "./outbox";
import { Sender } from "./send";
import type { Session } from "./session";
import { SyncLoop, type SessionEnd, type SyncOptions, type SyncTrouble } from "./sync";
import type { ClientEmit, PacingOptions, StateInfo } from "./types";
import type { BoundedSet, ClientMsgIds, RecentMessages } from "./util";

/** What an online session takes from the client that runs it (which outlives every session). */
export interface OnlineDeps {
  http: HttpClient;
  contacts: ContactStore;
  timeouts: ApiTimeouts;
  loadRetry: RetryPolicy;
  /** MsgIds handled by the client, across its sessions. */
  seen: BoundedSet<string>;
  /** Aborted by the client's stopReceiving(): the sync loop ends as in a drain, nothing more is emitted. */
  receiving?: AbortSignal;
  /** The session storage's de-dup set, when there is a storage (Inbound claims there before emitting). */
  claims?: InboundOptions["claims"];
  /** The client's last messages by MsgId, across its sessions (a "recall" event carries the original). */
  recent: RecentMessages;
  /** LocalID / ClientMsgId of every send of the client, unique across its sessions. */
  ids: ClientMsgIds;
  /** What the client sent and when, for revoke(). */
  sent: SentMessages;
  pacing?: PacingOptions | false | undefined;
  actionPacing?: PacingOptions | false | undefined;
  sendQueue?: SendQueueTuning | undefined;
  sync?: SyncOptions | undefined;
  /** The client's state, read and set (online, contacts loaded, sync trouble). */
  state: { current(): StateInfo; set(info: StateInfo): void };
  /** Whether this is still the client's current session (a late contact load must not touch a newer one). */
  isCurrent(online: OnlineSession): boolean;
  /** Raises a client event ("warn" included: the client logs it too). */
  emit: ClientEmit;
  /** Saves the session (keys, cookies, the newest MsgIds); never throws. Undefined: nothing is saved (no store). */
  save?: ((session: Session) => Promise<void>) | undefined;
  /** The same after a sync answer, written in the background (SessionSaver.saveSoon); given with `save`. */
  saveSoon?: ((session: Session) => void) | undefined;
  /** ClientOptions.delivered: awaited after an answer's messages went out, before its keys are saved. */
  delivered?: (() => Promise<void>) | undefined;
}

/**
 * One logged-in session, wired: its SessionApi, the Sender (send queue), the Actions, the Inbound step and the
 * sync loop (docs/protocol.md section 4), plus the contact load that runs while the account is already online.
 * Created by the client for each ready session (LoginFlow); run() lasts as long as the session.
 */
export class OnlineSession {
  readonly session: Session;
  readonly api: SessionApi;
  readonly sender: Sender;
  readonly inbound: Inbound;
  readonly actions: Actions;
  /** The contact load while it runs: settles when it ends (never rejects); `covers` the groups it fetches. */
  loading?: { done: Promise<void>; covers: Set<string> } | undefined;

  /** Ends the sync loop alone (drain): the session stays up for the sends still queued. */
  private readonly syncStop = new AbortController();
  private readonly endReceiving = (): void => this.syncStop.abort();

  constructor(
    private readonly ready: ReadySession,
    private readonly signal: AbortSignal,
    private readonly deps: OnlineDeps,
  ) {
    this.session = ready.session;
    const receiving = deps.receiving;
    if (receiving?.aborted) this.syncStop.abort();
    else receiving?.addEventListener("abort", this.endReceiving, { once: true, signal });
    this.api = new SessionApi(deps.http, this.session, deps.timeouts, signal);
    const warn = (m: string): void => deps.emit("warn", m);
    this.inbound = new Inbound(this.api, deps.contacts, {
      receiving: AbortSignal.any([signal, this.syncStop.signal]),
      emit: deps.emit,
      seen: deps.seen,
      claims: deps.claims,
      recent: deps.recent,
      sent: deps.sent,
      loading: (userName) => this.loading?.covers.has(userName) ?? false,
    });
    this.sender = new Sender(this.api, deps.contacts, {
      pacing: deps.pacing,
      actionPacing: deps.actionPacing,
      queue: deps.sendQueue,
      ids: deps.ids,
      warn,
    });
    this.actions = new Actions(this.api, deps.contacts, this.sender.sendQueue, {
      sent: deps.sent,
      learnt: (before, after) => {
        deps.emit("contacts", before ? { added: [], removed: [], changed: [after.userName] } : { added: [after.userName], removed: [], changed: [] });
        for (const event of contactEvents(before, after)) deps.emit("contact", event);
      },
    });
  }

  /**
   * Online until the server ends the session (returned) or we stop / interrupt (throws CLOSED). The contacts load
   * meanwhile (state `contacts: "loading"`); the load ends with the session.
   */
  async run(): Promise<SessionEnd> {
    const { deps, session } = this;
    const ended = new AbortController();
    // UserNames are new at every login: nothing of an earlier session's contacts is valid.
    deps.contacts.clear();
    this.addSelf();
    // Said "online" once the status notify has answered: the load's outcome is told only after that.
    let announce = (): void => undefined;
    const announced = new Promise<void>((resolve) => (announce = resolve));
    // The address book starts loading at once, beside the status notify (ready.init.notified never rejects).
    const load = this.loadInBackground(new SessionApi(deps.http, session, deps.timeouts, AbortSignal.any([this.signal, ended.signal])), announced);
    // The new session is written beside the address book's first calls, which do not wait for the disk (nor for the
    // sealing key, which may still be derived: ~5 ms of a login, issue #19). Its write starts once the first page's
    // call is out: a request's bytes leave on a later tick, after every pending microtask, and the write's first steps
    // (the cookies serialised, the session sealed: ~3 ms cold) went before them (issue #19). The account is said
    // online, and the sync loop (whose saves come after this one) starts, only once it is written; a failed write is
    // a warning. Never rejects, and awaited below on every way out of here.
    const save = deps.save;
    const saved = save ? afterCallsStarted().then(() => save(session)) : undefined;
    await this.ready.init.notified;
    await saved;
    deps.state.set({ state: "online", user: { ...session.user }, contacts: "loading" });
    deps.emit("contacts", { added: deps.contacts.userNames(), removed: [], changed: [] });
    announce();
    const saveSoon = deps.saveSoon;
    let savedKeys = saveSoon ? JSON.stringify([session.syncKey, session.syncCheckKey, session.skey]) : "";
    const loop = new SyncLoop(
      new SessionApi(deps.http, session, deps.timeouts, AbortSignal.any([this.signal, this.syncStop.signal])),
      {
        handle: (answer) => this.inbound.handle(answer),
        handled: async () => {
          if (deps.delivered && this.inbound.emittedLast) {
            await deps.delivered();
            // Receiving stopped before the flow took them: the answer is taken back, its keys never saved.
            if (this.syncStop.signal.aborted || this.signal.aborted) {
              await this.inbound.takeBackLast();
              throw new WeChatError("CLOSED", "stopped receiving before the messages were delivered");
            }
          }
          // Without a store, the keys are not even compared (a burst changes them on every page: issue #19).
          if (!saveSoon) return;
          const keys = JSON.stringify([session.syncKey, session.syncCheckKey, session.skey]);
          if (keys === savedKeys) return;
          savedKeys = keys;
          saveSoon(session);
        },
        warn: (m) => deps.emit("warn", m),
        sync: (trouble) => this.syncTrouble(trouble),
      },
      deps.sync ?? {},
    );
    try {
      return await loop.run();
    } catch (error) {
      // drained: no more receiving, but the session lives on until stop() ends it
      if (this.syncStop.signal.aborted && !this.signal.aborted) await untilAborted(this.signal);
      throw error;
    } finally {
      ended.abort();
      await load;
    }
  }

  /**
   * Before a stop: the sync loop ends first (what was not fetched yet stays on the server for the next start, and
   * the saved SyncKey covers only what was handled), then the sends already queued go out at their pace, for at
   * most `timeoutMs`; what is left then fails CLOSED when the session closes.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.syncStop.abort();
    const queue = this.sender.sendQueue;
    if (!queue.busy || timeoutMs <= 0) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        queue.off("idle", done);
        this.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      queue.on("idle", done);
      this.signal.addEventListener("abort", done, { once: true });
    });
  }

  /** The account itself in the contact list (webwxgetcontact leaves it out), from webwxinit's User. */
  addSelf(): void {
    this.deps.contacts.upsert([toContact(this.ready.init.self, this.session.user.userName)]);
  }

  /** Ends the send queue (pending sends fail CLOSED, or with `reason`). */
  close(reason?: WeChatError): void {
    this.sender.close(reason);
  }

  private online(): boolean {
    return this.deps.isCurrent(this) && this.deps.state.current().state === "online";
  }

  /**
   * The address book of a new session, loaded from login on (the account is online meanwhile): every page and member batch
   * retried on its own, the ChatSet's groups (unsaved ones are never listed) fetched too. Never rejects.
   */
  private loadInBackground(api: SessionApi, announced: Promise<void>): Promise<void> {
    const { deps, ready } = this;
    const covers = new Set(ready.init.chatSet.filter(isGroupUserName));
    const warn = (m: string): void => deps.emit("warn", `contacts: ${m}`);
    const loading = { covers, done: Promise.resolve() };
    loading.done = (async () => {
      let outcome: "loaded" | "incomplete" = "incomplete";
      try {
        const result = await loadContacts(api, deps.contacts, { initial: ready.init.recent, groups: [...covers], fill: true, retry: deps.loadRetry, warn });
        outcome = result.complete ? "loaded" : "incomplete";
      } catch (error) {
        // The session or the client ended: the sync loop says why; anything else leaves the list incomplete.
        if (api.signal?.aborted || isWeChatError(error, "CLOSED") || isWeChatError(error, "SESSION_EXPIRED")) return;
        warn(`not all could be loaded (${describeError(error)}); wx-contacts refresh tries again`);
      } finally {
        if (this.loading === loading) this.loading = undefined;
      }
      // A small address book can be in before the account is said online: its outcome comes after that.
      await announced;
      if (!this.online()) return;
      this.addSelf();
      deps.state.set({ ...deps.state.current(), contacts: outcome });
      deps.emit("contacts", { added: deps.contacts.userNames(), removed: [], changed: [] });
    })();
    this.loading = loading;
    return loading.done;
  }

  /** The sync loop keeps failing, or works again: shown in the state, and a `sync` event at each turn. */
  private syncTrouble(trouble: SyncTrouble): void {
    if (!this.online()) return;
    const current = this.deps.state.current();
    const wasFailing = current.sync !== undefined;
    const rest: StateInfo = { ...current };
    delete rest.sync;
    this.deps.state.set(trouble.failing ? { ...rest, sync: { failures: trouble.failures, since: trouble.since, message: trouble.message } } : rest);
    if (trouble.failing !== wasFailing) this.deps.emit("sync", { ...trouble });
  }
}

/** Resolves when `signal` aborts. */
function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}
