import type { SavedSession } from "../session-store";

/**
 * Where one account's session lives (docs/architecture.md, "Session storage"): the encrypted file of one process
 * (FileSessionStorage) or Redis shared by several instances (RedisSessionStorage). The client loads, saves, clears
 * and claims through it. A write fenced out by the account's lease rejects with WeChatError `NOT_OWNER`; a storage
 * that does not answer rejects with `STORE_UNAVAILABLE`.
 */
export interface SessionStorage {
  /** The saved session, or undefined when there is none (or it cannot be opened). */
  load(): Promise<SavedSession | undefined>;
  /**
   * Gets ready for the first save ahead of time (the sealing key: scrypt, ~50 ms): the client calls it when it is
   * made, so that the save of a new session does not wait for it; under the salt of the session saved there, so that
   * resuming it derives one key. Resolves once the derivation has started; never throws nor rejects.
   */
  prepare?(): Promise<void> | void;
  save(session: SavedSession): Promise<void>;
  /** Forgets the session (logout, the server ended it); the de-dup record stays. */
  clear(): Promise<void>;
  /**
   * Records the MsgIds atomically and answers those not recorded before, in the order given: the de-dup set shared
   * by every instance of the account. Only what it answers may be emitted.
   */
  claim(msgIds: string[]): Promise<string[]>;
  /**
   * The same as claim() for a storage whose de-dup set is in this process: answered at once, so that the client's
   * receive path awaits nothing for it. Absent on a shared storage.
   */
  claimNow?(msgIds: string[]): string[];
  /**
   * Gives back MsgIds this instance claimed but did not emit (receiving ended while the claim was in flight), or
   * emitted to a flow that stopped before taking them (Inbound.takeBackLast), so that the next start emits them.
   * Best effort.
   */
  release?(msgIds: string[]): Promise<void>;
}
