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
 * Writes the client's session to its store (docs/architecture.md): the keys and cookies, the newest MsgIds handled
 * and the newest own sends, so that a restart resumes with nothing received twice and its own echoes known.
 */
export class SessionSaver {
  /** The last session written, as written: saveSent() adds the newest own sends to it (never newer keys). */
  private last: SavedSession | undefined;

  constructor(
    private readonly store: SessionStorage,
    private readonly seen: BoundedSet<string>,
    private readonly sent: SentMessages,
    private readonly warn: (message: string) => void,
  ) {}

  async save(session: Session, cookies: unknown): Promise<void> {
    try {
      const saved: SavedSession = { ...session.toSaved(cookies, this.seen.newest(RECENT_IDS_SAVED)), ...this.sentIds() };
      // Taken before the write: saves are written in order, so saveSent() builds on the newest one queued.
      this.last = saved;
      await this.store.save(saved);
    } catch (error) {
      this.warn(`session not saved: ${describeError(error)}`);
    }
  }

  /**
   * On stop: the last saved session again with the sends since (a forward whose echo comes after the restart is
   * still known as ours). Its keys and MsgIds stay those of the last save, so nothing received is skipped.
   */
  async saveSent(session: Session | undefined): Promise<void> {
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
