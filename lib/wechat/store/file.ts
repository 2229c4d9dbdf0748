import { SessionStore, type SavedSession, type SessionStoreOptions } from "../session-store";
import { BoundedSet } from "../util";
import type { SessionStorage } from "./storage";

export interface FileSessionStorageOptions extends SessionStoreOptions {
  /** How many MsgIds the in-memory de-dup set keeps (default 10000). */
  dedupCapacity?: number | undefined;
}

/**
 * The session of one process in one encrypted file (SessionStore: scrypt, AES-256-GCM, atomic 0600 write). Its
 * de-dup set is in memory, seeded from the saved session's `seen` list on load: claims answer at once (claimNow).
 */
export class FileSessionStorage implements SessionStorage {
  private readonly store: SessionStore;
  private readonly claimed: BoundedSet<string>;

  constructor(file: string, secret: string, options: FileSessionStorageOptions = {}) {
    const { dedupCapacity, ...storeOptions } = options;
    this.store = new SessionStore(file, secret, storeOptions);
    this.claimed = new BoundedSet<string>(dedupCapacity ?? 10_000);
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
}
