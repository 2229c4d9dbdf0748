import { SealedStore, type SealedStoreOptions } from "./sealed-store";

/** A SyncKey as the server sends it. */
export interface SyncKey {
  Count: number;
  List: { Key: number; Val: number }[];
}

/** What survives a restart: enough to resume the session without a scan. Contacts are not saved. */
export interface SavedSession {
  version: 1;
  /** Origin of the page host (hosts follow from it). */
  pageUrl: string;
  uin: number;
  sid: string;
  skey: string;
  passTicket: string;
  deviceId: string;
  user: { userName: string; nickName: string; uin: number };
  syncKey?: SyncKey;
  syncCheckKey?: SyncKey;
  /** MsgIds handled last (newest last): a resumed session with an older SyncKey does not emit them twice. */
  seen?: string[];
  /** MsgIds of this client's own sends and when (ms), newest last: their echoes are known after a restart. */
  sent?: Array<[string, number]>;
  /** tough-cookie jar serialisation. */
  cookies: unknown;
  savedAt: number;
}

/** Whether a decrypted value is a saved session (the file and the Redis storage check the same). */
export function isSavedSession(value: unknown): value is SavedSession {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  const user = v.user as Record<string, unknown> | null | undefined;
  return (
    v.version === 1 &&
    typeof v.pageUrl === "string" &&
    typeof v.uin === "number" &&
    typeof v.sid === "string" &&
    typeof v.skey === "string" &&
    typeof v.passTicket === "string" &&
    typeof v.deviceId === "string" &&
    user !== null &&
    typeof user === "object" &&
    typeof user.userName === "string" &&
    (v.seen === undefined || (Array.isArray(v.seen) && v.seen.every((id) => typeof id === "string"))) &&
    (v.sent === undefined || (Array.isArray(v.sent) && v.sent.every((e) => Array.isArray(e) && typeof e[0] === "string" && typeof e[1] === "number")))
  );
}

/** The envelope format of a saved session, wherever it is kept. */
export const SESSION_FORMAT = "wxflow-session";

export type SessionStoreOptions = Pick<SealedStoreOptions<SavedSession>, "warn" | "info" | "previous">;

/**
 * The saved session of one account (a SealedStore, lib/wechat/sealed-store.ts): AES-256-GCM with a key derived by
 * scrypt from the caller's secret, written atomically with mode 0600. A file that cannot be read back (tampered,
 * another secret, another format) is reported through `warn` and treated as absent.
 */
export class SessionStore extends SealedStore<SavedSession> {
  constructor(file: string, secret: string, options: SessionStoreOptions | ((message: string) => void) = {}) {
    const opts = typeof options === "function" ? { warn: options } : options;
    if (!secret) throw new TypeError("SessionStore: a secret is required");
    super(file, secret, { ...opts, format: SESSION_FORMAT, what: "saved session", accepts: isSavedSession });
  }
}
