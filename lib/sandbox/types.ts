/** Public shapes of the sandbox: options, control API requests and answers (see README.md). */

import type { SandboxSnapshot } from "./persist";
import type { RealHostsOptions } from "./real-hosts";

export interface ThrottleSettings {
  /** Sends allowed back to back. */
  burst: number;
  /** Tokens added per second. */
  refillPerSecond: number;
}

export interface Settings {
  requireDesktop: boolean;
  pushLogin: boolean;
  throttle: ThrottleSettings | false;
  qrTtlMs: number;
  longPollMs: number;
  syncPageSize: number;
  contactPageSize: number;
  skeyRotateEvery: number;
  /**
   * Share (0..1) of each account's groups that are not saved to the address book: webwxgetcontact leaves them
   * out; webwxinit's ChatSet and the login status notify name all but the last of them (that one is "quiet").
   */
  unsavedGroups: number;
  /**
   * The sender's own web sends (and forwards) come back in its webwxsync too, From = self, as the server does for
   * the account's other devices: a client must know its own messages by MsgId (default false).
   */
  echoSends: boolean;
}

export interface SandboxOptions extends Partial<Settings> {
  host?: string;
  port?: number;
  /**
   * The control API token: a fresh random one by default (see `sb.token`), a string to choose it, or false to
   * turn the check off (scripts; wx-sandbox --no-token). The phone page carries it in its URL fragment.
   */
  token?: string | false | undefined;
  /** Bytes of media the sandbox keeps at most (injected media, uploads, chunks in progress); oldest used goes first. */
  mediaBudgetBytes?: number;
  seed?: number;
  contacts?: number;
  groups?: number;
  accounts?: number;
  /** Also answer the real WeChat host names over TLS (real-hosts.ts, README.md "Real hosts"). */
  realHosts?: boolean | RealHostsOptions;
  /**
   * Go on from a saved sandbox (`sb.snapshot()`, persist.ts): its world, live sessions, settings and token (unless
   * `token` is given). Logins in progress, queued events and media start empty.
   */
  restore?: SandboxSnapshot;
}

export type LoginState = "waiting" | "scanned" | "confirmed" | "done" | "cancelled" | "expired";

export interface PendingLogin {
  uuid: string;
  state: LoginState;
  push: boolean;
  account?: string;
  createdAt: number;
  desktop?: boolean;
}

export type InjectType =
  | "text"
  | "image"
  | "file"
  | "voice"
  | "video"
  | "sticker"
  | "friend-request"
  | "recall"
  | "link"
  | "location"
  | "card"
  | "system"
  /** The account opens a chat on its phone (from "self", `to` = the chat): a status notify, synccheck selector 7. */
  | "open-chat";

export interface InjectRequest {
  from: string;
  room?: string;
  /** With from = "self" (or the account's own name): the chat the account wrote to from its phone. */
  to?: string;
  account?: string | number;
  type?: InjectType;
  text?: string;
  data?: string;
  fileName?: string;
  durationMs?: number;
  title?: string;
  url?: string;
  label?: string;
  lat?: number;
  lng?: number;
  card?: string;
  msgId?: string;
  mention?: boolean;
  /** sticker: a store sticker, which comes without an md5 (it cannot be forwarded). */
  store?: boolean;
}

export interface BulkRequest {
  from: string;
  room?: string;
  count: number;
  prefix?: string;
  account?: string | number;
}

/** How a name goes on the wire: HTML-escaped (default) or raw, "<" and "&" as they are (both seen from the server). */
export type NameWire = "escaped" | "raw";

export type ContactOp =
  | { op: "add"; kind?: "friend" | "official"; nickName: string; remarkName?: string; alias?: string; wire?: NameWire; account?: string | number }
  | { op: "add-group"; nickName: string; members: string[]; wire?: NameWire; account?: string | number }
  | { op: "modify"; name: string; nickName?: string; remarkName?: string; alias?: string; wire?: NameWire; account?: string | number }
  | { op: "remove"; name: string; account?: string | number }
  | { op: "add-members" | "remove-members"; room: string; members: string[]; account?: string | number };

export type SentType = "text" | "image" | "video" | "sticker" | "file" | "revoke" | "location" | "app";

export interface SentRecord {
  seq: number;
  account: string;
  type: SentType;
  to: string;
  toName: string;
  text?: string;
  mediaId?: string;
  fileName?: string;
  msgSource?: string;
  localId: string;
  msgId: string;
  time: number;
  /** The appid of a file appmsg (type "file"). */
  appId?: string;
  /** A forward by reference (Scene 2, or a sticker by its md5): its media is at `GET media/<msgId>`. */
  forwarded?: boolean;
}

/** The DeviceID a request carried (BaseRequest.DeviceID, synccheck deviceid), in request order. */
export interface DeviceIdRecord {
  endpoint: string;
  account: string;
  deviceId: string;
  time: number;
}

export interface SentFilter {
  account?: string | number;
  to?: string;
  type?: SentType;
  after?: number;
}

export interface UploadRecord {
  mediaId: string;
  account: string;
  fileName: string;
  size: number;
  md5: string;
  mediaType: string;
  mime: string;
  to: string;
  time: number;
  chunks: number;
}

export interface Violation {
  time: number;
  endpoint: string;
  rule: string;
  detail: string;
}

/**
 * Faults answer instead of the handler, except the "lost-*" ones (the call is handled, a send delivered, then its
 * answer is lost: 500, connection reset or never answered) and "bad-cookies" (handled and answered, with Set-Cookie
 * headers a cookie jar must refuse added to the answer).
 * notice: Ret 0 with an `<e>` error XML in ErrMsg (webwxcreatechatroom: and no ChatRoomName), a failure.
 * slow: held for `delayMs`, then answered as usual.
 */
export type FaultKind = "500" | "reset" | "hang" | "ret" | "malformed" | "truncated" | "notice" | "lost-500" | "lost-reset" | "lost-hang" | "bad-cookies" | "slow";

export interface FaultSpec {
  endpoint: string;
  kind: FaultKind;
  ret?: number;
  count?: number;
  /** kind "slow": how long the answer is held before it is given as usual (default 1000 ms). */
  delayMs?: number;
}

export type WorldContactKind = "friend" | "group" | "official" | "special" | "account";

export interface WorldContact {
  nickName: string;
  remarkName: string;
  alias: string;
  kind: WorldContactKind;
  userName?: string;
  memberCount?: number;
}

export interface WorldSummary {
  seed: number;
  accounts: { nickName: string; uin: number; online: boolean; userName?: string }[];
  counts: { friends: number; groups: number; official: number; special: number };
  contacts: WorldContact[];
}

/** The media budget as `GET /api/sandbox/memory` shows it. */
export interface MemoryReport {
  limit: number;
  used: number;
  items: number;
  evicted: number;
}

export interface SandboxEvents {
  login: [PendingLogin];
  "login-state": [PendingLogin];
  sent: [SentRecord];
  upload: [UploadRecord];
  violation: [Violation];
  session: [{ account: string; online: boolean; code?: number }];
  /** Something worth saving changed (a session's keys or UserNames, the world, a send): persist.ts. */
  change: [];
}

export type SandboxErrorCode =
  | "NOT_FOUND"
  | "AMBIGUOUS"
  | "INVALID_ARGUMENT"
  | "CONFLICT"
  | "TIMEOUT"
  | "CLOSED"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "TOO_LARGE";

export class SandboxError extends Error {
  readonly code: SandboxErrorCode;
  constructor(code: SandboxErrorCode, message: string) {
    super(message);
    this.name = "SandboxError";
    this.code = code;
  }
}
