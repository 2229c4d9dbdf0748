/** Public shapes of the sandbox: options, control API requests and answers (see README.md). */

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
}

export interface SandboxOptions extends Partial<Settings> {
  host?: string;
  port?: number;
  seed?: number;
  contacts?: number;
  groups?: number;
  accounts?: number;
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
  | "system";

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
}

export interface BulkRequest {
  from: string;
  room?: string;
  count: number;
  prefix?: string;
  account?: string | number;
}

export type ContactOp =
  | { op: "add"; kind?: "friend" | "official"; nickName: string; remarkName?: string; alias?: string; account?: string | number }
  | { op: "add-group"; nickName: string; members: string[]; account?: string | number }
  | { op: "modify"; name: string; nickName?: string; remarkName?: string; alias?: string; account?: string | number }
  | { op: "remove"; name: string; account?: string | number }
  | { op: "add-members" | "remove-members"; room: string; members: string[]; account?: string | number };

export type SentType = "text" | "image" | "video" | "sticker" | "file" | "revoke";

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

export type FaultKind = "500" | "reset" | "hang" | "ret" | "malformed" | "truncated" | "slow";

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

export interface SandboxEvents {
  login: [PendingLogin];
  "login-state": [PendingLogin];
  sent: [SentRecord];
  upload: [UploadRecord];
  violation: [Violation];
  session: [{ account: string; online: boolean; code?: number }];
}

export type SandboxErrorCode = "NOT_FOUND" | "AMBIGUOUS" | "INVALID_ARGUMENT" | "CONFLICT" | "TIMEOUT" | "CLOSED";

export class SandboxError extends Error {
  readonly code: SandboxErrorCode;
  constructor(code: SandboxErrorCode, message: string) {
    super(message);
    this.name = "SandboxError";
    this.code = code;
  }
}
