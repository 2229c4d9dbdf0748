import { SessionStore, type SavedSession, type SessionStoreOptions } from "../session-store";
import { BoundedSet } from "../util";
import type { SessionStorage } from "./storage";

export interface FileSessionStorageOptions extends SessionStoreOptions {
  /** How many MsgIds the in-memory de-dup set keeps (default 10000). */
  dedupCapacity?: number | undefined;
  /**
   * The de-dup set to keep the claims in, instead of a set of its own (`dedupCapacity` is then ignored). WeChatClient
   * gives its own set of MsgIds handled when it makes the storage for its `sessionFile`: a MsgId marked handled there
   * is claimed by that one lookup, so the client does not claim it here again (issue #19: two sets holding the same
   * ids cost every message two lookups). A saved session's MsgIds then go into that set at load.
   */
  dedup?: BoundedSet<string> | undefined;
}

/**
 * The session of one process in one encrypted file (SessionStore: scrypt, AES-256-GCM, atomic 0600 write). Its
 * de-dup set is in memory, seeded from the saved session's `seen` list on load: claims answer at once (claimNow), and
 * claims given back (release) are forgotten at once.
 */
export class FileSessionStorage implements SessionStorage {
  private readonly store: SessionStore;
  private readonly claimed: BoundedSet<string>;

  constructor(file: string, secret: string, options: FileSessionStorageOptions = {}) {
    const { dedupCapacity, dedup, ...storeOptions } = options;
    this.store = new SessionStore(file, secret, storeOptions);
    this.claimed = dedup ?? new BoundedSet<string>(dedupCapacity ?? 10_000);
  }

  async load(): Promise<SavedSession | undefined> {
    const saved = await this.store.load();
    for (const id of saved?.seen ?? []) this.claimed.add(id);
    return saved;
  }

  prepare(): Promise<void> {
    return this.store.prepare();
  }

  save(session: SavedSession): Promise<void> {
    return this.store.save(session);
  }

  clear(): Promise<void> {
    return this.store.clear();
  }

  claim(msgIds: string[]): Promise<string[]> {
    return Promise.resolve(this.claimNow(msgIds));
  }

  claimNow(msgIds: string[]): string[] {
    return msgIds.filter((id) => this.claimed.add(id));
  }

  /**
   * Gives claimed MsgIds back (an answer taken back after its messages were emitted but before the flow took them:
   * Inbound.takeBackLast), so that this client's next start emits them again. Without it they stayed claimed here,
   * and the same messages, sent again by the server, were dropped as claimed.
   */
  release(msgIds: string[]): Promise<void> {
    // Newest first: the set forgets its newest value at once.
    for (let i = msgIds.length - 1; i >= 0; i--) this.claimed.delete(msgIds[i] as string);
    return Promise.resolve();
  }
}
