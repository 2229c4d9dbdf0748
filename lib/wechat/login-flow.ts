import type { SentMessages } from "./actions";
import { SessionApi, type ApiTimeouts } from "./api";
import { retried, type RetryPolicy } from "./contact-loader";
import { WeChatError, describeError, isWeChatError, noAnswer } from "./errors";
import { hostsFor, isWeChatHost, loginOrigin } from "./hosts";
import { afterCallsStarted, backoffDelay, sleep, type HttpClient } from "./http";
import { LoginApi, ScanCode, qrDataUrl, qrText, type LoginMode, type ScanAnswer } from "./login";
import { StatusNotifyCode } from "./messages/constants";
import { decodeContent } from "./messages/text";
import { Session, readSyncKey } from "./session";
import type { SavedSession } from "./session-store";
import type { StateInfo } from "./types";
import type { BoundedSet } from "./util";

/** What webwxinit says beyond the session's user: the account's own wire record and the recent chats. */
export interface InitInfo {
  /** The wire User of webwxinit (richer than what a resumed session knows): the account's own contact. */
  self: Record<string, unknown>;
  /** ContactList: the top recent chats, in full. */
  recent: Record<string, unknown>[];
  /** ChatSet: every recent chat's UserName (unsaved groups among them). */
  chatSet: string[];
  /**
   * The status notify (code 3), on the wire beside the first contact pages: settles when it has answered, never
   * rejects (a failure is a warning; the end of the session is told by the sync loop).
   */
  notified: Promise<void>;
}

/** A session that webwxinit has run on, its status notify sent: what the sync loop and the contact load start from. */
export interface ReadySession {
  session: Session;
  init: InitInfo;
}

/** Where a push login goes: the page host and wxuin of the session that ended. */
export interface PushTarget {
  pageUrl: string;
  uin: number;
}

export interface LoginFlowOptions {
  mode: LoginMode;
  /** The configured login URL (undefined: the real login host). */
  loginUrl?: string | undefined;
  /** false: no QR image in the state, only its text (qrUrl). */
  qrImage?: boolean | undefined;
  timeouts: ApiTimeouts & { loginPollMs: number };
  /** How webwxinit is retried on its own (a redeemed login is never thrown away over a hiccup). */
  loadRetry: RetryPolicy;
  /** The client's state: read (the scan avatar is kept) and set at every step. */
  state: { current(): StateInfo; set(info: StateInfo): void };
  /** MsgIds already handled: a resumed session brings back those it saved. */
  seen: BoundedSet<string>;
  /** What this client sent: a resumed session brings back the sends it saved (their echoes stay ours). */
  sent: SentMessages;
  /** Forgets the saved session (it is no longer usable). */
  forgetSaved(): Promise<void>;
  /** A warning; with `error`, a failure that may repeat (logged once per reason by the client). */
  warn(message: string, error?: unknown): void;
  info(message: string): void;
}

/**
 * The login state machine of one client run (docs/protocol.md section 3): resume() a saved session, or login() by
 * push login, else a QR until the phone confirms, then the tickets redeemed; both run webwxinit + status notify and
 * hand back a ready session. Sets the client's state at each step. Owns no timer beyond the calls it awaits.
 * Which of the two to try, and what to do after a failure, is the client's run loop (WeChatClient.main).
 */
export class LoginFlow {
  constructor(
    private readonly http: HttpClient,
    private readonly options: LoginFlowOptions,
  ) {}

  /** A new login, ready: push login to `push` when given (one tap on the phone), else a QR until confirmed. */
  async login(signal: AbortSignal, push?: PushTarget): Promise<ReadySession> {
    const session = await this.confirmed(signal, push);
    return { session, init: await this.prepare(session, signal) };
  }

  /**
   * A saved session: webwxinit + status notify on it, as a fresh login does (the user and SKey come fresh), but the
   * saved SyncKey and MsgIds stay: what arrived while we were down comes once, nothing twice. Undefined when the
   * server no longer knows the session (then push login, then QR).
   */
  async resume(saved: SavedSession, signal: AbortSignal): Promise<ReadySession | undefined> {
    this.setState({ state: "resuming" });
    const session = Session.fromSaved(saved);
    for (const id of saved.seen ?? []) this.options.seen.add(id);
    this.options.sent.restore(saved.sent ?? []);
    this.http.pageOrigin = session.hosts.page;
    try {
      const init = await this.initSession(this.api(session, signal), session, false);
      return { session, init };
    } catch (error) {
      if (isWeChatError(error, "CLOSED") || signal.aborted || noAnswer(error)) throw error;
      this.options.warn(`saved session not usable (${describeError(error)}); logging in again`);
      await this.options.forgetSaved();
      return undefined;
    }
  }

  /** Push login when possible, else QR, until the phone confirms: the redeemed session. */
  private async confirmed(signal: AbortSignal, push?: PushTarget): Promise<Session> {
    const origin = loginOrigin(this.options.loginUrl);
    // wechat mode: a login that starts at WeChat may only be sent on to WeChat (https page hosts on its domains).
    const policy = { wechatHostsOnly: isWeChatHost(new URL(origin).hostname) };
    const { requestMs, loginPollMs } = this.options.timeouts;
    const loginApi = new LoginApi(this.http, this.options.mode, { requestMs, longPollMs: loginPollMs }, policy);
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
        this.options.warn(`push login failed (${describeError(error)}); showing a QR`);
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
        case ScanCode.Waiting:
          continue;
        case ScanCode.Scanned: {
          const current = this.options.state.current();
          if (current.state !== "scanned" || answer.avatar !== current.avatar) {
            this.setState({ state: "scanned", ...(answer.avatar ? { avatar: answer.avatar } : {}) });
          }
          continue;
        }
        case ScanCode.Confirmed:
          return answer.redirectUri;
        case ScanCode.Expired:
        case ScanCode.Cancelled:
          if (!push && answer.code === ScanCode.Cancelled) this.options.info("login cancelled on the phone; new QR");
          return undefined;
      }
    }
  }

  private async redeem(loginApi: LoginApi, redirectUri: string, signal: AbortSignal): Promise<Session> {
    const avatar = this.options.state.current().avatar;
    this.setState({ state: "logging-in", ...(avatar ? { avatar } : {}) });
    return loginApi.redeem(redirectUri, signal);
  }

  /** After the tickets: init and status notify (the contacts load once online). */
  private async prepare(session: Session, signal: AbortSignal): Promise<InitInfo> {
    if (this.options.state.current().state !== "logging-in") this.setState({ state: "logging-in" });
    this.http.pageOrigin = session.hosts.page;
    return this.initSession(this.api(session, signal), session, true);
  }

  /**
   * webwxinit (retried on its own: a redeemed login is never thrown away over a hiccup), then status notify, whose
   * failure is only a warning. Nothing waits for its answer here: docs/protocol.md section 3 asks for it after init,
   * not before the contact pages, so those go out beside it (OnlineSession waits for it before "online" and the
   * sync loop). `fresh`: take init's SyncKey (a new login); a resumed session keeps its own.
   */
  private async initSession(api: SessionApi, session: Session, fresh: boolean): Promise<InitInfo> {
    const init = await retried(() => api.init(), this.options.loadRetry, api.signal, (m, error) => this.options.warn(`login: ${m}`, error));
    const user = (init.User ?? {}) as Record<string, unknown>;
    const avatar = this.options.state.current().avatar ?? session.user.avatar;
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
    const notified = api.statusNotify(StatusNotifyCode.INITED, session.user.userName).then(
      () => undefined,
      (error: unknown) => {
        // Stopped, or the session ended: the sync loop says so.
        if (isWeChatError(error, "CLOSED") || isWeChatError(error, "SESSION_EXPIRED") || api.signal?.aborted) return;
        this.options.warn(`webwxstatusnotify failed (${describeError(error)}); going on`);
      },
    );
    return {
      notified,
      self: user,
      recent: Array.isArray(init.ContactList) ? (init.ContactList as Record<string, unknown>[]).filter((c) => c !== null && typeof c === "object") : [],
      chatSet: typeof init.ChatSet === "string" ? init.ChatSet.split(",").map((n) => n.trim()).filter(Boolean) : [],
    };
  }

  private api(session: Session, signal: AbortSignal): SessionApi {
    return new SessionApi(this.http, session, this.options.timeouts, signal);
  }

  private setState(info: StateInfo): void {
    this.options.state.set(info);
  }
}
