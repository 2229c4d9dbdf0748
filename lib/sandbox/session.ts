import { randomBytes, randomInt } from "node:crypto";
import { RandomPool } from "./rng";
import type { Account } from "./world";

/** One logged-in web session of one account: secrets, per-login UserNames, the sync event log and keys. */

export interface StoredMsg {
  msgId: string;
  msgType: number;
  /** Sender entity (person id); for a group message the member. */
  from: string;
  /** Receiver entity: the account's person id, or the chat when the account itself sent it from the phone. */
  to: string;
  /** Group id for group messages. */
  room?: string;
  time: number; // unix s
  /** Wire fields for one session (UserNames differ per session); Content without the group prefix. */
  build: (userName: (id: string) => string) => Record<string, unknown>;
}

export type SyncEvent =
  | { kind: "msg"; msg: StoredMsg; /** The user acting on the phone (a status notify): selector 7. */ phone?: boolean }
  | { kind: "mod"; id: string; /** A contact new to the account (selector 6), not a change (4). */ added?: boolean } // ModContactList: person or group id
  | { kind: "del"; id: string } // DelContactList
  | { kind: "members"; id: string }; // ModChatRoomMemberList: group id

/**
 * The synccheck selector an event raises (docs/protocol.md section 4): 2 new messages, 4 a contact or group changed,
 * 6 a contact added or deleted, 7 the user active on the phone.
 */
export function selectorOf(event: SyncEvent): number {
  switch (event.kind) {
    case "msg":
      return event.phone ? 7 : 2;
    case "mod":
      return event.added ? 6 : 4;
    case "del":
      return 6;
    default:
      return 4;
  }
}

export interface SyncKeyWire {
  Count: number;
  List: { Key: number; Val: number }[];
}

const LOG_LIMIT = 50_000;
/** Dropped log entries are removed from the array in batches of this size. */
const LOG_COMPACT = 4_096;

export function formatSyncKey(key: SyncKeyWire): string {
  return key.List.map((k) => `${k.Key}_${k.Val}`).join("|");
}

/** A live session as plain JSON (persist.ts): its secrets, UserNames and keys; events still queued are not kept. */
export interface SessionSnapshot {
  account: number;
  desktop: boolean;
  sid: string;
  skey: string;
  prevSkey?: string;
  prevSkeyUntil: number;
  passTicket: string;
  dataTicket: string;
  authTicket: string;
  uvid: string;
  startedAt: number;
  userNames: [string, string][];
  entities: [string, string][];
  nextSeq: number;
  base1: number;
  base2: number;
  cursor: number;
  latestSyncKey: SyncKeyWire;
  latestCheckKey: string;
  syncCount: number;
  lastStaleKey?: string;
  syncedSinceStale: boolean;
  initDone: boolean;
  lastDeviceId?: string;
}

/**
 * Seqs a restored session skips: a client may have synced a little past the last save, and its SyncKey must still
 * be one this session issued (the events in between were not kept).
 */
const RESTORE_SEQ_GAP = 1_000;

function secret(bytes: number): string {
  return randomBytes(bytes).toString("base64");
}

export class Session {
  readonly account: Account;
  readonly sid = secret(12).replace(/[/+=]/g, "x").slice(0, 16);
  skey = `@crypt_${randomBytes(4).toString("hex")}_${randomBytes(16).toString("hex")}`;
  prevSkey?: string;
  prevSkeyUntil = 0;
  /** As issued in the XML: already %-encoded. */
  readonly passTicket = encodeURIComponent(secret(33).slice(0, 43) + "=");
  readonly dataTicket = secret(30);
  readonly authTicket = secret(30);
  readonly uvid = randomBytes(16).toString("hex");
  readonly startedAt = Date.now();
  ended?: { code: number };
  loggedOut = false;
  /** UserNames of this login: entity id <-> @hex. */
  private readonly userNames = new Map<string, string>();
  private readonly entities = new Map<string, string>();
  private readonly random = new RandomPool();
  /**
   * Sync events in seq order with no gaps: the live entries are log[head..], and the entry of seq s sits at
   * index head + (s - firstSeq). Trimmed entries are dropped from the array in batches (head) so a push stays O(1).
   */
  private readonly log: { seq: number; event: SyncEvent }[] = [];
  private head = 0;
  private nextSeq = 1;
  /** Seq of the newest event of each selector: pendingSelector in O(1). */
  private readonly lastSeqBySelector = new Map<number, number>();
  private readonly base1 = 640_000_000 + randomInt(1_000_000);
  private readonly base2 = 640_000_000 + randomInt(1_000_000);
  /** Cursor of the newest SyncKey issued (events with seq <= cursor were delivered). */
  cursor = 0;
  latestSyncKey: SyncKeyWire;
  latestCheckKey: string;
  syncCount = 0;
  lastStaleKey?: string;
  syncedSinceStale = false;
  initDone = false;
  /** Wakes held synccheck polls. */
  readonly waiters = new Set<() => void>();

  /** Logged in in desktop (UOS) mode: mod=desktop with the desktop headers. */
  readonly desktop: boolean;
  /** The DeviceID of the session's previous request (a new one is drawn for every request). */
  lastDeviceId?: string;

  constructor(account: Account, desktop = false) {
    this.account = account;
    this.desktop = desktop;
    this.latestSyncKey = this.syncKeyFor(0);
    this.latestCheckKey = formatSyncKey(this.latestSyncKey);
  }

  snapshot(): SessionSnapshot {
    return {
      account: this.account.index,
      desktop: this.desktop,
      sid: this.sid,
      skey: this.skey,
      ...(this.prevSkey !== undefined ? { prevSkey: this.prevSkey } : {}),
      prevSkeyUntil: this.prevSkeyUntil,
      passTicket: this.passTicket,
      dataTicket: this.dataTicket,
      authTicket: this.authTicket,
      uvid: this.uvid,
      startedAt: this.startedAt,
      userNames: [...this.userNames],
      entities: [...this.entities],
      nextSeq: this.nextSeq,
      base1: this.base1,
      base2: this.base2,
      cursor: this.cursor,
      latestSyncKey: this.latestSyncKey,
      latestCheckKey: this.latestCheckKey,
      syncCount: this.syncCount,
      ...(this.lastStaleKey !== undefined ? { lastStaleKey: this.lastStaleKey } : {}),
      syncedSinceStale: this.syncedSinceStale,
      initDone: this.initDone,
      ...(this.lastDeviceId !== undefined ? { lastDeviceId: this.lastDeviceId } : {}),
    };
  }

  /** The session a snapshot holds, on `account` of the restored world, with an empty event log. */
  static restore(account: Account, saved: SessionSnapshot): Session {
    const session = new Session(account, saved.desktop);
    const fields = session as unknown as Record<string, unknown>;
    for (const key of ["sid", "skey", "prevSkey", "prevSkeyUntil", "passTicket", "dataTicket", "authTicket", "uvid", "startedAt", "base1", "base2", "cursor", "latestSyncKey", "latestCheckKey", "syncCount", "lastStaleKey", "syncedSinceStale", "initDone", "lastDeviceId"] as const) {
      if (saved[key] !== undefined) fields[key] = saved[key];
    }
    for (const [id, name] of saved.userNames) session.userNames.set(id, name);
    for (const [name, id] of saved.entities) session.entities.set(name, id);
    session.nextSeq = saved.nextSeq + RESTORE_SEQ_GAP;
    return session;
  }

  get uin(): number {
    return this.account.uin;
  }

  userNameOf(id: string, fixed?: string, group = false): string {
    if (fixed) {
      this.entities.set(fixed, id);
      return fixed;
    }
    let name = this.userNames.get(id);
    if (!name) {
      name = group ? `@@${this.random.hex(32)}` : `@${this.random.hex(16)}`;
      this.userNames.set(id, name);
      this.entities.set(name, id);
    }
    return name;
  }

  /** The entity behind a UserName, if this session issued it. */
  entityOf(userName: string): string | undefined {
    return this.entities.get(userName);
  }

  knownUserName(id: string): string | undefined {
    return this.userNames.get(id);
  }

  push(event: SyncEvent): void {
    const seq = this.nextSeq++;
    this.log.push({ seq, event });
    this.lastSeqBySelector.set(selectorOf(event), seq);
    // Keep exactly the newest LOG_LIMIT events; drop the dead prefix from the array in batches (amortised O(1)).
    if (this.log.length - this.head > LOG_LIMIT) this.head = this.log.length - LOG_LIMIT;
    if (this.head >= LOG_COMPACT) {
      this.log.splice(0, this.head);
      this.head = 0;
    }
    for (const wake of [...this.waiters]) wake();
  }

  /** The sync events kept for this session's next answers. */
  get eventsKept(): number {
    return this.log.length - this.head;
  }

  /**
   * Once the session has ended: its events and UserNames are let go. Every request naming an ended session is
   * answered with its end code before either is read (context.ts, webwx.ts); only the sid, uin and that code stay.
   */
  retire(): void {
    this.log.length = 0;
    this.head = 0;
    this.lastSeqBySelector.clear();
    this.userNames.clear();
    this.entities.clear();
  }

  hasAfter(cursor: number): boolean {
    return this.nextSeq - 1 > cursor;
  }

  /** Seq of the oldest event still kept (nextSeq when the log is empty). */
  private get firstSeq(): number {
    return this.log[this.head]?.seq ?? this.nextSeq;
  }

  /**
   * The selector synccheck answers for the events after a cursor: 2 while a message waits, else the selector of the
   * newest waiting event (0 when none waits). The newest event of a selector is kept whenever any event of it is
   * kept (the log drops the oldest first).
   */
  pendingSelector(cursor: number): number {
    const first = this.firstSeq;
    let selector = 0;
    let newest = 0;
    for (const [value, seq] of this.lastSeqBySelector) {
      if (seq <= cursor || seq < first) continue;
      if (value === 2) return 2;
      if (seq > newest) {
        newest = seq;
        selector = value;
      }
    }
    return selector;
  }

  /** Events after a cursor, at most `limit`; also tells whether more wait. */
  page(cursor: number, limit: number): { events: SyncEvent[]; last: number; more: boolean } {
    const events: SyncEvent[] = [];
    let last = cursor;
    // First kept entry with seq > cursor (seqs are consecutive, so this is arithmetic, not a scan).
    const first = this.firstSeq;
    const start = this.head + (cursor >= first ? Math.floor(cursor) + 1 - first : 0);
    const end = Math.min(this.log.length, start + Math.max(0, limit));
    for (let i = start; i < end; i++) {
      const entry = this.log[i];
      if (!entry) break;
      events.push(entry.event);
      last = entry.seq;
    }
    const more = start + events.length < this.log.length && events.length >= limit;
    if (events.length === 0) last = Math.max(cursor, this.nextSeq - 1);
    return { events, last, more };
  }

  syncKeyFor(cursor: number): SyncKeyWire {
    const list = [
      { Key: 1, Val: this.base1 + cursor },
      { Key: 2, Val: this.base2 + cursor },
      { Key: 3, Val: this.base2 + 7 },
      { Key: 1000, Val: Math.floor(this.startedAt / 1000) },
    ];
    return { Count: list.length, List: list };
  }

  checkKeyFor(cursor: number): SyncKeyWire {
    const key = this.syncKeyFor(cursor);
    const list = [...key.List, { Key: 11, Val: this.base1 + cursor + 3 }, { Key: 201, Val: Math.floor(Date.now() / 1000) }];
    return { Count: list.length, List: list };
  }

  /** The cursor a SyncKey stands for, or undefined when it is not one of ours. */
  cursorOf(key: SyncKeyWire): number | undefined {
    const k1 = key.List.find((k) => k.Key === 1);
    if (!k1) return undefined;
    const cursor = k1.Val - this.base1;
    if (!Number.isInteger(cursor) || cursor < 0 || cursor > this.nextSeq - 1) return undefined;
    return cursor;
  }

  rotateSkey(): void {
    this.prevSkey = this.skey;
    this.prevSkeyUntil = Date.now() + 60_000;
    this.skey = `@crypt_${randomBytes(4).toString("hex")}_${randomBytes(16).toString("hex")}`;
  }

  skeyOk(skey: string | undefined): boolean {
    if (skey === this.skey) return true;
    return skey !== undefined && skey === this.prevSkey && Date.now() < this.prevSkeyUntil;
  }

  get live(): boolean {
    return !this.ended && !this.loggedOut;
  }
}
