/**
 * The public shapes of the WeChat client: what the Node-RED nodes (and any other caller) see.
 * Everything here is plain data (JSON-cloneable), so it can go into a Node-RED msg as is.
 * Wire shapes (BaseRequest, AddMsgList entries, ...) live in wire.ts, not here.
 */

import type { WeChatError } from "./errors";
import type { SessionStorage } from "./store/storage";
import type { Transport } from "./transport";
import type { ForwardSource } from "./outbox/forward";

export type { ForwardSource };

/** Login / session states, in the order a login walks through them. */
export type SessionState =
  | "offline" // not started, or stopped
  | "resuming" // trying a saved session
  | "push-login" // a confirm prompt was sent to the phone
  | "waiting-scan" // a QR is shown
  | "scanned" // scanned, waiting for the tap on the phone
  | "logging-in" // tickets, init, contacts
  | "online"
  | "logged-out" // the server ended the session (code says why); the client goes on to push login / QR itself
  | "refused"; // the server refused the login (e.g. ret 1203); needs a user action

export interface SelfInfo {
  userName: string;
  nickName: string;
  uin: number;
  /** data: URL of the avatar when known (the 201 answer carries one). */
  avatar?: string;
}

export interface StateInfo {
  state: SessionState;
  /** QR as a PNG data URL, while state is waiting-scan. */
  qr?: string;
  /** The text the QR encodes: https://login.weixin.qq.com/l/<uuid>. */
  qrUrl?: string;
  /** Avatar data URL of the person who scanned (state scanned). */
  avatar?: string;
  user?: SelfInfo | undefined;
  /** For logged-out / refused: the server's code (1100, 1101, 1102, 1203, ...) and message. */
  code?: number;
  message?: string;
  /**
   * Online: the address book. "loading" right after login (sends by name wait for it, bounded), "loaded", or
   * "incomplete" (some groups came without members, or a page could not be had: refreshContacts() tries again).
   */
  contacts?: "loading" | "loaded" | "incomplete";
  /** Online: set while the sync loop keeps failing (nothing is received meanwhile). */
  sync?: { failures: number; since: number; message: string };
  /** Not online: why the last login attempt failed and when the next starts (#16.2). */
  problem?: LoginProblem;
}

/** The `sync` event: the sync loop started failing over and over (failing), or works again. */
export interface SyncTroubleEvent {
  failing: boolean;
  /** Failures in a row so far. */
  failures: number;
  /** When the first of them happened (unix ms). */
  since: number;
  message: string;
}

export type ContactKind = "friend" | "group" | "official" | "special" | "self" | "stranger";

export interface GroupMember {
  userName: string;
  nickName: string;
  /** The member's name in this group (may be empty). */
  displayName: string;
}

export interface Contact {
  userName: string; // changes at every login: never store it
  nickName: string;
  remarkName: string;
  alias: string;
  kind: ContactKind;
  /** remarkName, else nickName (for groups: the topic, else the member names). */
  displayName: string;
  /** The stable handle a user can store: remark, else alias, else nickName. */
  handle: string;
  sex?: number;
  signature?: string;
  province?: string;
  city?: string;
  verifyFlag?: number;
  starred?: boolean;
  memberCount?: number;
  members?: GroupMember[] | undefined;
  /** Group only: EncryChatRoomId, needed for member avatars. */
  encryChatRoomId?: string;
}

export type MessageType =
  | "text"
  | "image"
  | "voice"
  | "video"
  | "sticker"
  | "file"
  | "link"
  | "location"
  | "card"
  | "friend-request"
  | "recall"
  | "system"
  | "transfer"
  | "red-packet"
  | "mini-program"
  | "status"
  | "unknown";

export interface ChatRef {
  userName: string;
  handle: string;
  displayName: string;
  kind: ContactKind;
}

export interface MediaInfo {
  /** What download() needs. */
  kind: "image" | "voice" | "video" | "file" | "sticker";
  fileName?: string;
  size?: number;
  mediaId?: string;
  durationMs?: number;
  width?: number;
  height?: number;
}

export interface Message {
  id: string; // MsgId
  newId?: string;
  type: MessageType;
  msgType: number; // raw MsgType
  appMsgType?: number;
  time: number; // unix ms
  /** The conversation: the group for group messages, else the other person (or filehelper / self). */
  chat: ChatRef;
  /** Who wrote it (a group member for group messages). */
  sender: ChatRef;
  /** Set for group messages. */
  room?: ChatRef;
  /** Sent by this account (from the phone or by us). */
  fromSelf: boolean;
  /**
   * Sent by this client itself (a send or a forward, in this session or an earlier one) and synced back: its MsgId
   * is one the client keeps of its own sends. A relay drops these instead of forwarding them again.
   */
  fromClient?: boolean;
  /** This account was @mentioned (groups). */
  mentioned: boolean;
  /** Decoded text: entities decoded, emoji converted, group prefix removed. For non-text, a short description. */
  text: string;
  media?: MediaInfo;
  url?: string;
  title?: string;
  location?: { label: string; lat?: number; lng?: number; url?: string };
  card?: { userName: string; nickName: string; alias?: string };
  friendRequest?: { userName: string; nickName: string; greeting: string; ticket: string; scene?: number };
  recall?: { msgId: string; replaceText: string };
  /**
   * The AddMsgList entry as the server sent it (ids as strings). The client keeps it for a later recall of this
   * message: read it, copy it to change it.
   */
  raw: Record<string, unknown>;
}

export interface SendResult {
  msgId: string;
  localId: string;
  to: string; // the UserName it went to
  toHandle: string;
  /** When the server took it (unix ms): revoke() refuses what is older than 2 minutes. */
  time?: number;
}

/** What revoke() needs: a SendResult, or its ids (time, when known, lets the client refuse old ones itself). */
export type RevokeTarget = SendResult | { msgId: string; localId: string; to: string; toHandle?: string; time?: number };

/** What acceptFriend() needs: a friend-request Message's `friendRequest`, or just the requester and ticket. */
export type FriendRequestRef = NonNullable<Message["friendRequest"]> | { userName: string; ticket: string };

/** A `contact` event: one contact or group was added, removed, renamed, or its members changed. */
export interface ContactEvent {
  change: "added" | "removed" | "renamed" | "members";
  /** The contact as it is now (for "removed": as it was). */
  contact: Contact;
  /** "renamed" (and "removed"): the contact before the change. */
  previous?: Contact;
  /** "members": who joined and who left the group. */
  members?: { added: GroupMember[]; removed: GroupMember[] };
}

/** A `recall` event: someone recalled a message. */
export interface RecallEvent {
  /** The recall notice itself (type "recall"; `recall.msgId` names the recalled message). */
  message: Message;
  /**
   * The recalled message, when it arrived recently enough to still be remembered: read again from its wire entry
   * (names as the contacts are now), with a `raw` of its own.
   */
  original?: Message;
}

export type ErrorCode =
  | "LOGIN_REFUSED"
  | "LOGIN_CANCELLED"
  | "SESSION_EXPIRED"
  | "NOT_LOGGED_IN"
  | "THROTTLED"
  | "NOT_FOUND"
  | "AMBIGUOUS"
  | "INVALID_ARGUMENT"
  | "TOO_LARGE"
  | "NETWORK"
  | "PROTOCOL"
  | "SERVER"
  | "CLOSED"
  /** A send whose request may have reached the server failed (timeout, reset, 5xx): never resent (docs/protocol.md section 2). */
  | "SEND_UNCERTAIN"
  /** forward(): this kind of message cannot be forwarded by reference (voice, store sticker, red packet, ...). */
  | "NOT_FORWARDABLE"
  /**
   * Scale-out (lib/wechat/store/): this instance does not hold the account's lease (another one runs it, or this one
   * lost it); a write it tried was fenced out, a send was not made.
   */
  | "NOT_OWNER"
  /** The shared session storage (Redis) did not answer: nothing was recorded, the account pauses until it does. */
  | "STORE_UNAVAILABLE";

/**
 * Why a call failed, in the few kinds a person acts on differently: the reason an account shows while it is
 * offline and retrying (#16.2). Network kinds come from the socket's error code, never from its message.
 */
export type FailureKind =
  /** The name did not resolve (no network, no DNS server, a mistyped host). */
  | "dns"
  /** Nothing listens at the address (connection refused). */
  | "refused"
  /** No route to the network or host. */
  | "unreachable"
  /** Connecting or answering took longer than the timeout. */
  | "timeout"
  /** The connection was dropped mid-way (reset, broken pipe). */
  | "reset"
  /** The TLS handshake failed or the certificate was not trusted (a proxy or captive portal in between). */
  | "tls"
  /** Another network failure. */
  | "network"
  /** The server answered an HTTP error status (see `status`). */
  | "http"
  /** The server refused the login (1203: no web login for this account; other codes in `ret`). */
  | "login-refused"
  /** The server answered with an error code (Ret / retcode, see `ret`). */
  | "server"
  /** An answer that could not be read. */
  | "protocol";

/**
 * What keeps the client from logging in, while it retries (or, for login-refused, waits for a new QR): shown in the
 * state as `problem` until a login step succeeds again. `message` never holds a secret (server text is cleaned).
 */
export interface LoginProblem {
  kind: FailureKind;
  message: string;
  /** HTTP status (kind http). */
  status?: number;
  /** The server's Ret / retcode. */
  ret?: number;
  /** Failed login attempts in a row. */
  failures: number;
  /** When the first of them failed (unix ms). */
  since: number;
  /** When the next attempt starts (unix ms); unset while an attempt runs, and for login-refused (no retry). */
  retryAt?: number;
}

export interface ClientEvents {
  state: [StateInfo];
  message: [Message];
  /** Contacts were loaded or changed (the store is up to date). */
  contacts: [{ added: string[]; removed: string[]; changed: string[] }];
  /** Something worth a log line that does not end the session. Never carries secrets. */
  warn: [string];
  /** One contact or group changed (from ModContactList / DelContactList / ModChatRoomMemberList). */
  contact: [ContactEvent];
  /** A friend request arrived (also emitted as a "message"); pass `message.friendRequest` to acceptFriend(). */
  "friend-request": [Message];
  /** A message was recalled (the recall notice is also emitted as a "message"). */
  recall: [RecallEvent];
  /** The sync loop keeps failing (failing true), or receives again (false). Also in the state (`sync`). */
  sync: [SyncTroubleEvent];
}

/** Raises one client event: the one signature every step that reports events is given (one name per event). */
export type ClientEmit = <K extends keyof ClientEvents>(event: K, ...args: ClientEvents[K]) => void;

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface PacingOptions {
  /** Messages per minute across all chats (default 60). */
  perMinute: number;
  /** Messages that may go back to back before pacing applies (default 5). */
  burst?: number;
  /** Random spread added to each wait, as a fraction of the interval (default 0.3). */
  jitter?: number;
}

export type { Transport };

export interface ClientOptions {
  /** Origin of the login host: https://login.wx.qq.com (default), or a sandbox / test server origin. */
  loginUrl?: string;
  /**
   * Where connections really go, for a server that plays the real hosts (the sandbox's real-hosts mode): a connect
   * override and the CA to trust. URLs and TLS names stay the real ones. Default: where the URL says.
   */
  transport?: Transport;
  /** desktop (UOS headers + mod=desktop, the default) or web. */
  mode?: "desktop" | "web";
  /** Where the session is saved (encrypted, 0600). No file: nothing is saved. */
  sessionFile?: string;
  /** Secret the session file is encrypted with (required with sessionFile). */
  sessionSecret?: string;
  /** Secrets the file may still be under (an earlier key): read once, then re-written under sessionSecret. */
  previousSessionSecrets?: string[];
  /**
   * Where the session is kept, instead of sessionFile + sessionSecret: a FileSessionStorage or a RedisSessionStorage
   * (lib/wechat/store/). The client loads, saves, clears and claims incoming MsgIds through it.
   */
  sessionStorage?: SessionStorage;
  /**
   * Resolves once the messages emitted so far have reached their consumers' side (a Node-RED flow delivers a
   * node's output a turn later). The sync position past an answer's messages is saved only after it, and only if
   * receiving has not stopped meanwhile: a stop in between takes the answer back (its MsgIds forgotten, its claims
   * given back), so the next start receives those messages again instead of losing them to a closing flow.
   */
  delivered?: () => Promise<void>;
  /** false disables pacing (benchmarks only). */
  pacing?: PacingOptions | false;
  /**
   * Pacing of friend and group operations (accept/add friend, remark, pin, create/update groups), on top of the
   * message pacing: they are what gets accounts restricted. Default one per 5 s, no burst. false: none (tests).
   */
  actionPacing?: PacingOptions | false;
  /**
   * false: the waiting-scan state carries only `qrUrl` and the application draws the QR itself (a terminal, its
   * own widget); the client then spends no time rendering a PNG. Default true: `qr` holds a PNG data URL.
   */
  qrImage?: boolean;
  logger?: Logger;
}

export interface StopOptions {
  /** false: the queued sends do not go out first, they fail at once (the account's lease was lost). Default true. */
  drain?: boolean;
  /** With drain false: the error the queued sends fail with (NOT_OWNER when the lease was lost; default CLOSED). */
  reason?: WeChatError;
}

export interface ContactQuery {
  kind?: ContactKind | "all";
  /** Case-insensitive substring of remark, nickname, alias or display name. */
  name?: string;
}

export interface SendFileOptions {
  fileName: string;
  mime?: string | undefined;
  /** Default: by mime / extension (image, video, gif as sticker, else file). */
  as?: "image" | "video" | "sticker" | "file";
}

/**
 * What the Node-RED config node drives. WeChatClient (client.ts) implements it.
 * Targets (`to`) are a UserName (starts with @), a special account (filehelper), or a stable handle
 * (remark, nickname, alias, group name) resolved against the live contact list: unknown -> NOT_FOUND,
 * several matches -> AMBIGUOUS listing the candidates.
 */
export interface WeChatClientApi {
  readonly state: StateInfo;
  /** Begin: resume a saved session, else push login, else QR. Idempotent. */
  start(): void;
  /**
   * Ends receiving at once (synchronously): no message is emitted after this call, and what was not emitted yet
   * stays on the server for the next start. stop() begins with it; a caller whose listeners go away now and who
   * stops the client a moment later (a Node-RED close) calls it first. Sends still work until stop().
   */
  stopReceiving(): void;
  /**
   * Stop every loop, timer and socket; the saved session is kept. Receiving ends first; the sends already queued go
   * out for up to tuning.stopDrainMs (10 s), unless `drain: false` (the account's lease was lost: another instance
   * may run it already): then they fail at once, with `reason` when given (else CLOSED).
   */
  stop(options?: StopOptions): Promise<void>;
  /** Log out on the server, forget the saved session, then offer a new QR (unless stopped). */
  logout(): Promise<void>;
  /** Drop the current QR / wait and start a fresh login. */
  newQr(): void;
  listContacts(query?: ContactQuery): Contact[];
  getContact(userName: string): Contact | undefined;
  /** Resolve a target as described above; throws WeChatError NOT_FOUND / AMBIGUOUS. */
  resolve(target: string): Contact;
  /**
   * resolve() for sends and actions: a name waits for the contacts still loading after login (bounded, then it is
   * looked up among those loaded), and a group UserName (@@) not known yet is fetched from the server.
   */
  findContact(target: string): Promise<Contact>;
  /** Reload the contact list from the server. */
  refreshContacts(): Promise<void>;
  /**
   * Resolves true once the contacts of the login are loaded (at once when they are, or when offline), false
   * when they still load after timeoutMs (default: the client's bound, 60 s).
   */
  contactsReady(timeoutMs?: number): Promise<boolean>;
  sendText(to: string, text: string, options?: { mentions?: string[] }): Promise<SendResult>;
  sendImage(to: string, data: Buffer, options?: { fileName?: string; mime?: string }): Promise<SendResult>;
  sendFile(to: string, data: Buffer, options: SendFileOptions): Promise<SendResult>;
  /**
   * Forward a received message (a Message, e.g. msg.wechat) to `to` by reference, as the web client does: text,
   * image, video, file and other app messages, stickers with an md5, locations; nothing is downloaded or uploaded.
   * Paced and never resent like every send; NOT_FORWARDABLE for voice, store stickers, red packets, transfers, ...
   */
  forward(message: ForwardSource, to: string): Promise<SendResult>;
  /** Download a received message's media. thumbnail: image preview. maxBytes: refuse larger (TOO_LARGE). */
  download(message: Message, options?: { thumbnail?: boolean; maxBytes?: number }): Promise<Buffer>;
  /** Recall a message this client sent (only within 2 minutes: older -> INVALID_ARGUMENT). */
  revoke(sent: RevokeTarget): Promise<void>;
  /** Accept a friend request (webwxverifyuser Opcode 3). */
  acceptFriend(request: FriendRequestRef | undefined): Promise<void>;
  /** Send a friend request (Opcode 2) to a UserName (e.g. a group member) or a known contact. */
  addFriend(userName: string, greeting: string): Promise<void>;
  /** Set a friend's remark name ("" clears it). */
  setRemark(target: string, remark: string): Promise<void>;
  /** Pin (star) a chat to the top, or unpin it. */
  pin(target: string, on: boolean): Promise<void>;
  /** Create a group with these members (two or more, besides this account); the new group. */
  createGroup(topic: string, memberTargets: string[]): Promise<Contact>;
  /** Add members (invites them once the group has 40 or more members). */
  addMembers(group: string, targets: string[]): Promise<void>;
  removeMembers(group: string, targets: string[]): Promise<void>;
  renameGroup(group: string, topic: string): Promise<void>;
  /** Mark a chat as read on every device (webwxstatusnotify Code 1). */
  markRead(target: string): Promise<void>;
  /** A contact's or group's avatar image; options.group: a member's avatar in that group. */
  avatar(target: string, options?: { group?: string }): Promise<Buffer>;
  on<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): this;
  off<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): this;
}
