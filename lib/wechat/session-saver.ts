import type { SentMessages } from "./actions";
import { describeError } from "./errors";
import type { Session } from "./session";
import type { SavedSession } from "./session-store";
import type { SessionStorage } from "./store/storage";
import type { BoundedSet } from "./util";

/** How many of the newest de-duplicated MsgIds a saved session keeps (a restart drops them if they come again). */
const RECENT_IDS_SAVED = 500;
/** How many of the newest own sends a saved session keeps (their echoes are then known after a restart). */
const SENT_IDS_SAVED = 1_000;
/**
 * The shortest time from the start of one background write to the start of the next while sessions keep coming (a
 * burst): about ten writes a second instead of one per page. A single answer after a quiet time is written at once.
 */
const SAVE_SPACING_MS = 100;

/**
 * Writes the client's session to its store (docs/architecture.md): the keys and cookies, the newest MsgIds handled
 * and the newest own sends, so that a restart resumes with nothing received twice and its own echoes known.
 */
export class SessionSaver {
  /** The last session written, as written: saveSent() adds the newest own sends to it (never newer keys). */
  private last: SavedSession | undefined;
  /**
   * The newest session handed to saveSoon() and not written yet (a newer one takes its place), with how to read the
   * cookies when it is written.
   */
  private next: { saved: SavedSession; cookies: () => Promise<unknown> } | undefined;
  /** saveSoon()'s writes, one at a time, while there is one. */
  private writing: Promise<void> | undefined;
  /** The wait between two background writes (SAVE_SPACING_MS), while there is one: a flush ends it at once. */
  private spacing: { end: () => void } | undefined;
  /** Flushes in progress: no wait between writes meanwhile. */
  private flushing = 0;

  constructor(
    private readonly store: SessionStorage,
    private readonly seen: BoundedSet<string>,
    private readonly sent: SentMessages,
    private readonly warn: (message: string) => void,
  ) {}

  /** Writes the session now (a new session, before it is said online); resolves once it is written. */
  async save(session: Session, cookies: () => Promise<unknown>): Promise<void> {
    // Newer than anything saveSoon() left to write: that is dropped, what is being written finishes first.
    await this.drop();
    await this.write(this.taken(session), cookies);
  }

  /**
   * The session after a sync answer, written without making the sync loop wait for the disk or Redis (issue #19: a
   * burst saved after every page, ~1 ms each with the file's fsync). Its keys and newest MsgIds are taken now: the
   * messages handled so far are delivered, those of the pages after are not. The cookies and own sends are read
   * when it is written. One write at a time, and while sessions keep coming one every SAVE_SPACING_MS at most; a newer
   * session waiting replaces an older one, so the newest is always written last. A crash loses what the write in
   * flight and the one waiting hold (~0.1 s of a burst): those messages come again at the next start, as with a
   * crash before any save (at least once, never lost).
   */
  saveSoon(session: Session, cookies: () => Promise<unknown>): void {
    this.next = { saved: this.taken(session), cookies };
    this.writing ??= this.writeQueued();
  }

  /** The session as it is now, with the newest MsgIds handled; cookies and own sends are added when it is written. */
  private taken(session: Session): SavedSession {
    return session.toSaved(undefined, this.seen.newest(RECENT_IDS_SAVED));
  }

  /** One write: the cookies and own sends as they are now; a failure is a warning, never thrown. */
  private async write(taken: SavedSession, cookies: () => Promise<unknown>): Promise<void> {
    try {
      const saved: SavedSession = { ...taken, cookies: await cookies(), ...this.sentIds() };
      // Taken before the write: saves are written in order, so saveSent() builds on the newest one.
      this.last = saved;
      await this.store.save(saved);
    } catch (error) {
      this.warn(`session not saved: ${describeError(error)}`);
    }
  }

  /** Resolves once every session saveSoon() was given is written (before a stop's save, a load, a clear). */
  async flush(): Promise<void> {
    this.flushing++;
    try {
      this.spacing?.end();
      while (this.writing) await this.writing;
    } finally {
      this.flushing--;
    }
  }

  /** The wait between two writes; spacing.end() (a flush) cuts it short. The timer never outlives it. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const end = (): void => {
        clearTimeout(timer);
        this.spacing = undefined;
        resolve();
      };
      const timer = setTimeout(end, ms);
      this.spacing = { end };
    });
  }

  /** Drops the session saveSoon() still holds, and resolves once the write in flight is over (before a clear). */
  async drop(): Promise<void> {
    this.next = undefined;
    await this.flush();
  }

  private async writeQueued(): Promise<void> {
    try {
      for (let next = this.next; next; next = this.next) {
        this.next = undefined;
        const started = Date.now();
        await this.write(next.saved, next.cookies);
        const wait = SAVE_SPACING_MS - (Date.now() - started);
        if (this.next && wait > 0 && this.flushing === 0) await this.pause(wait);
      }
    } finally {
      this.writing = undefined;
    }
  }

  /**
   * On stop: the last saved session again with the sends since (a forward whose echo comes after the restart is
   * still known as ours). Its keys and MsgIds stay those of the last save, so nothing received is skipped.
   */
  async saveSent(session: Session | undefined): Promise<void> {
    await this.flush();
    const last = this.last;
    if (!last || !session || last.sid !== session.sid) return;
    try {
      await this.store.save({ ...last, ...this.sentIds() });
    } catch (error) {
      this.warn(`session not saved: ${describeError(error)}`);
    }
  }

  /** The newest own sends, for the saved session. */
  private sentIds(): { sent?: Array<[string, number]> } {
    const sent = this.sent.newest(SENT_IDS_SAVED);
    return sent.length > 0 ? { sent } : {};
  }
}
