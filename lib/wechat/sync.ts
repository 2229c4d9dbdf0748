import { WeChatError, errorText, isWeChatError } from "./errors";
import { afterCallsStarted, backoffDelay, sleep } from "./http";
import type { OnPage, PreparedSync, SessionApi, SyncAnswer } from "./api";

/** Why a sync loop ended on its own: the server ended the session. */
export interface SessionEnd {
  code: number;
  message: string;
}

/** What the loop hands on; the names are those of the next hop (Inbound.handle, the client's "warn" and "sync"). */
export interface SyncHandlers {
  /** One webwxsync answer, keys already applied to the session: Inbound.handle. Awaited before the next call. */
  handle(answer: SyncAnswer): Promise<void>;
  /** The answer was handled (its keys may have changed): a good moment to save the session. */
  handled(): Promise<void>;
  warn(message: string): void;
  /**
   * Sync keeps failing (after `troubleAfter` failures in a row: called again at each further failure), or it
   * works again (`failing` false, once, at the first success after trouble). The client's "sync" event.
   */
  sync?(trouble: SyncTrouble): void;
}

/** A sync loop that keeps failing: nothing is received meanwhile. */
export interface SyncTrouble {
  failing: boolean;
  /** Failures in a row. */
  failures: number;
  /** When the first of them happened (unix ms). */
  since: number;
  /** The last failure (no secrets). */
  message: string;
}

export interface SyncOptions {
  /**
   * First back-off delay after a failure (default 250 ms), doubled each time, capped at maxBackoffMs (default
   * 10 s). Jitter only shortens a delay (to 75-100 %), so five failures in a row wait under 8 s in all and a
   * server that answers again is heard from within about 4 s.
   */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Failures in a row after which the trouble is reported (default 3). */
  troubleAfter?: number;
  /**
   * Once the trouble is reported, a failure is said in a warning again only this long after the last one said
   * (default 5 min): an hour without a network is a dozen lines in the log, not one every 10 s. The "sync" handler
   * still hears every failure.
   */
  repeatWarnMs?: number;
  /** Wait after synccheck retcode 1205 (default 30 s). */
  throttledMs?: number;
  /** First pause after three empty rounds in a row (default 500 ms). */
  emptyBackoffMs?: number;
  /**
   * A ContinueFlag chain is followed as long as its answers bring something (docs/protocol.md section 4: call
   * webwxsync again at once); this many answers in a row that brought nothing and still said "more" cut it, and the
   * next synccheck resumes it (default 10): a server that keeps saying "more" with nothing in it is not polled in a
   * tight loop. (It replaces `maxContinue`, which cut every chain after that many pages, full or not.)
   */
  maxEmptyContinue?: number;
}

/**
 * The wait after the attempt-th failure in a row (0-based): base * 2^attempt, capped, then shortened by up to a
 * quarter at random (jitter spreads clients apart without ever adding to the wait).
 */
export function cappedBackoff(attempt: number, baseMs: number, maxMs: number): number {
  const plain = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(plain * (0.75 + 0.25 * Math.random()));
}

const ENDING: Record<number, string> = {
  1100: "logged out from the phone",
  1101: "session expired or logged in elsewhere",
  1102: "session cookie invalid",
};

/**
 * The synccheck -> webwxsync loop of one session. Returns when the server ends the session
 * (1100/1101/1102); throws CLOSED when the session's signal aborts. Failures back off with jitter and resume;
 * the back-off resets after a success.
 */
export class SyncLoop {
  private counter = Date.now();

  constructor(
    private readonly api: SessionApi,
    private readonly handlers: SyncHandlers,
    private readonly options: SyncOptions = {},
  ) {}

  async run(): Promise<SessionEnd> {
    const signal = this.api.signal;
    const backoffMs = this.options.backoffMs ?? 250;
    const maxBackoffMs = this.options.maxBackoffMs ?? 10_000;
    const troubleAfter = this.options.troubleAfter ?? 3;
    const repeatWarnMs = this.options.repeatWarnMs ?? 5 * 60_000;
    // Failures in a row, since when, whether they were reported as trouble, and when one was last said in a warning.
    const streak = { failures: 0, since: 0, troubled: false, warnedAt: 0 };
    const succeeded = (): void => {
      if (streak.troubled) this.handlers.sync?.({ failing: false, failures: streak.failures, since: streak.since, message: "sync works again" });
      streak.failures = 0;
      streak.troubled = false;
    };
    // Rounds where synccheck said "something" and webwxsync brought nothing: never let that spin.
    let emptyRounds = 0;
    for (;;) {
      if (signal?.aborted) throw new WeChatError("CLOSED", "stopped");
      try {
        // The webwxsync a change calls for, made ready before the synccheck (held until something comes) and sent the
        // moment its answer says so: a process woken by a message sends it without building it first, nor going
        // back up through the layers (issue #19). Not used if the keys change meanwhile.
        const watch: CallWatch = { waiting: false };
        const ready = this.api.prepareSync(this.earlyTaker(watch));
        const check = await this.api.syncCheck(this.counter++, ready);
        if (ENDING[check.retcode]) return { code: check.retcode, message: ENDING[check.retcode]! };
        if (check.retcode === 1205) {
          this.handlers.warn("synccheck: the server asks to slow down (1205)");
          await sleep(this.options.throttledMs ?? 30_000, signal);
          continue;
        }
        if (check.retcode !== 0) throw new WeChatError("SERVER", `synccheck: retcode ${check.retcode}`, { ret: check.retcode });
        if (check.selector !== "0") {
          const brought = await this.syncAll(ready, check.sync, watch);
          succeeded();
          emptyRounds = brought ? 0 : emptyRounds + 1;
          if (emptyRounds >= 3) {
            await sleep(backoffDelay(emptyRounds - 3, this.options.emptyBackoffMs ?? 500, Math.min(10_000, maxBackoffMs)), signal);
          }
        } else {
          succeeded();
        }
      } catch (error) {
        if (isWeChatError(error, "CLOSED") || signal?.aborted) throw new WeChatError("CLOSED", "stopped");
        // The session storage refused (fenced out) or is gone: the keys of the answer may be past messages not
        // emitted, so this session ends; the next one resumes from the stored session (docs/architecture.md).
        if (isWeChatError(error, "NOT_OWNER") || isWeChatError(error, "STORE_UNAVAILABLE")) throw error;
        if (isWeChatError(error, "SESSION_EXPIRED") && error.ret !== undefined) {
          return { code: error.ret, message: ENDING[error.ret] ?? "session ended" };
        }
        if (streak.failures === 0) streak.since = Date.now();
        streak.failures++;
        const message = `sync: ${errorText(error, "failed")}`;
        const delay = cappedBackoff(streak.failures - 1, backoffMs, maxBackoffMs);
        const now = Date.now();
        if (streak.failures <= troubleAfter || now - streak.warnedAt >= repeatWarnMs) {
          streak.warnedAt = now;
          const count = streak.failures > troubleAfter ? `; ${streak.failures} failures in a row` : "";
          this.handlers.warn(`${message}${count}; retrying in ${Math.round(delay / 100) / 10} s`);
        }
        if (streak.failures >= troubleAfter) {
          streak.troubled = true;
          this.handlers.sync?.({ failing: true, failures: streak.failures, since: streak.since, message });
        }
        await sleep(delay, signal);
      }
    }
  }

  /**
   * webwxsync, again at once while ContinueFlag is set (cut after `maxEmptyContinue` answers in a row that brought
   * nothing). True when any answer carried something. The next page is asked for (with the new keys) as soon as an
   * answer's keys are read, before its lists are parsed and handled: one call in flight, answers still handled one
   * after the other, in order. A page whose lists cannot be read although its keys could is lost once the next call
   * has gone out with those keys (said in a warning, the loop goes on); without a next call, it is not taken, and
   * asked for again like any failed sync.
   */
  private async syncAll(ready: PreparedSync, started: Promise<SyncAnswer> | undefined, first: CallWatch): Promise<boolean> {
    const maxEmpty = this.options.maxEmptyContinue ?? 10;
    let brought = false;
    // Answers in a row that brought nothing, before this one (whose lists are read once the next call is out).
    let emptyInARow = 0;
    let watch = first;
    let pending: Promise<SyncAnswer> | undefined = started ?? this.api.sync(ready);
    while (pending) {
      watch.waiting = true;
      const answer: SyncAnswer = await pending;
      watch.waiting = false;
      pending = undefined;
      const taken = watch.taken;
      if (taken?.page === answer) {
        // Handled already, in its answer's own event (earlyTaker): what is left is to wait for it and save.
        watch.taken = undefined;
        // Its lists were read before it was taken (a second read is the same arrays).
        brought ||= entryCount(answer) > 0;
        await taken.handling;
        await this.handlers.handled();
        continue;
      }
      const more = answer.continueFlag !== 0 && emptyInARow < maxEmpty && !this.api.signal?.aborted;
      // Read before its keys are taken: a page that cannot be read is asked for again with the same keys.
      let entries = more ? 0 : entryCount(answer);
      this.takeKeys(answer);
      if (more) {
        watch = { waiting: false };
        pending = this.api.sync(undefined, this.earlyTaker(watch));
        // Its failure is seen when it is awaited (next round), not as an unhandled rejection meanwhile.
        pending.catch(() => undefined);
        // Let the call go out before this page is read and handled: the server builds the next page meanwhile.
        await afterCallsStarted();
        try {
          entries = entryCount(answer);
        } catch (error) {
          if (!isWeChatError(error, "PROTOCOL")) {
            await pending.catch(() => undefined);
            throw error;
          }
          this.handlers.warn(`${errorText(error, "sync: unreadable page")}; the next page was already asked for past it, so its messages are lost`);
          emptyInARow++;
          continue;
        }
      }
      brought ||= entries > 0;
      emptyInARow = entries > 0 ? 0 : emptyInARow + 1;
      try {
        await this.handlers.handle(answer);
        await this.handlers.handled();
      } catch (error) {
        // Never leave a call behind: let the page in flight settle (unread: its keys are not taken).
        if (pending) await pending.catch(() => undefined);
        throw error;
      }
    }
    return brought;
  }

  /** The keys of an answer, now the session's (the next call is made with them, and they are saved). */
  private takeKeys(answer: SyncAnswer): void {
    const session = this.api.session;
    if (answer.syncKey) session.syncKey = answer.syncKey;
    if (answer.syncCheckKey) session.syncCheckKey = answer.syncCheckKey;
    else if (answer.syncKey) session.syncCheckKey = answer.syncKey;
    if (answer.skey) session.skey = answer.skey;
  }

  /**
   * What a webwxsync call tells its page to (SessionApi.sync's onPage): a page that ends its chain, which the loop is
   * waiting for with nothing before it left to handle, is handled there and then, in its answer's own event. Its
   * messages reach the listeners before Node's own work on the finished call and the turns back up through the
   * layers (~35 us of every message's way, issue #19; bench/README.md, "Nineteenth pass"). The steps are the loop's
   * own, in its order: the page read, its keys taken, the inbound step started; the loop then waits for that step
   * and saves. Any other page (more to come, one that cannot be read, one that comes while the loop is elsewhere) is
   * left to the loop, as before.
   */
  private earlyTaker(watch: CallWatch): OnPage {
    return (page) => {
      if (!watch.waiting || page.continueFlag !== 0) return;
      // Its lists read before its keys are taken, as the loop does: one that cannot be read is left to the loop.
      try {
        entryCount(page);
      } catch {
        return;
      }
      watch.waiting = false;
      this.takeKeys(page);
      let handling: Promise<void>;
      try {
        handling = this.handlers.handle(page);
      } catch (error) {
        handling = Promise.reject(error);
      }
      // Its failure is seen where the loop awaits it.
      handling.catch(() => undefined);
      watch.taken = { page, handling };
    };
  }
}

/**
 * One webwxsync call as the loop sees it: whether the loop is waiting for its page, and that page once it was
 * handled in its answer's own event (SyncLoop.earlyTaker).
 */
interface CallWatch {
  waiting: boolean;
  taken?: { page: SyncAnswer; handling: Promise<void> } | undefined;
}

/** Messages and contact changes in a page; reading them parses the page (SyncAnswer's lists). */
function entryCount(answer: SyncAnswer): number {
  return answer.addMsgList.length + answer.modContactList.length + answer.delContactList.length + answer.modChatRoomMemberList.length;
}
