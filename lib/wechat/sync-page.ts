import type { Json } from "./api";
import { type LazyAnswer, objectList, scannedAnswer, wholeIfSmall } from "./lazy-answer";
import { readSyncKey, type SyncKey } from "./session";

/**
 * One webwxsync answer. The keys (SyncKey, SyncCheckKey, SKey, ContinueFlag) are what the next call needs; the
 * lists are what the client handles once that call is on its way. Reading a list of an answer from
 * `SessionApi.sync` parses the rest of its body: that read throws PROTOCOL when the body is not valid JSON.
 */
export interface SyncAnswer {
  readonly addMsgList: Json[];
  readonly modContactList: Json[];
  readonly delContactList: Json[];
  readonly modChatRoomMemberList: Json[];
  continueFlag: number;
  syncKey?: SyncKey | undefined;
  syncCheckKey?: SyncKey | undefined;
  skey?: string | undefined;
}

interface Lists {
  addMsgList: Json[];
  modContactList: Json[];
  delContactList: Json[];
  modChatRoomMemberList: Json[];
}

/** The lists of a parsed answer. */
function listsOf(whole: Json): Lists {
  return {
    addMsgList: objectList(whole.AddMsgList),
    modContactList: objectList(whole.ModContactList),
    delContactList: objectList(whole.DelContactList),
    modChatRoomMemberList: objectList(whole.ModChatRoomMemberList),
  };
}

/** The keys of an answer: what the next call needs. */
function keysOf(head: Json): Pick<SyncAnswer, "continueFlag" | "syncKey" | "syncCheckKey" | "skey"> {
  return {
    continueFlag: Number(head.ContinueFlag) || 0,
    syncKey: readSyncKey(head.SyncKey),
    syncCheckKey: readSyncKey(head.SyncCheckKey),
    skey: typeof head.SKey === "string" && head.SKey !== "" ? head.SKey : undefined,
  };
}

/** A webwxsync answer with its keys read and its lists parsed on first use (lazy-answer.ts). */
class SyncPage implements SyncAnswer {
  private lists: Lists | undefined;
  readonly continueFlag: number;
  readonly syncKey: SyncKey | undefined;
  readonly syncCheckKey: SyncKey | undefined;
  readonly skey: string | undefined;

  constructor(private readonly answer: LazyAnswer) {
    const keys = keysOf(answer.head);
    this.continueFlag = keys.continueFlag;
    this.syncKey = keys.syncKey;
    this.syncCheckKey = keys.syncCheckKey;
    this.skey = keys.skey;
  }

  private read(): Lists {
    this.lists ??= listsOf(this.answer.whole());
    return this.lists;
  }

  get addMsgList(): Json[] {
    return this.read().addMsgList;
  }

  get modContactList(): Json[] {
    return this.read().modContactList;
  }

  get delContactList(): Json[] {
    return this.read().delContactList;
  }

  get modChatRoomMemberList(): Json[] {
    return this.read().modChatRoomMemberList;
  }
}

/**
 * A webwxsync answer from its body: BaseResponse checked (Ret != 0 -> the typed error), the keys read at once; the
 * lists at once too when the body was parsed whole (a small page), else when first used. PROTOCOL (afterSent) for a
 * body that is not JSON or nests too deep.
 */
export function syncPage(body: Buffer): SyncAnswer {
  // A page with a message or two, parsed whole (wholeIfSmall, not through lazyAnswer's layer: issue #19): its lists are
  // read at once and handed on as plain fields (no getter and no check on each of the ~8 reads the loop and the
  // inbound step make of them).
  const whole = wholeIfSmall(body, "webwxsync");
  if (!whole) return new SyncPage(scannedAnswer(body, "webwxsync", ["ContinueFlag", "SyncKey", "SyncCheckKey", "SKey"]));
  // Named one by one: an object spread here cost more than the getters it saves, in a process just woken.
  const lists = listsOf(whole);
  const keys = keysOf(whole);
  return {
    addMsgList: lists.addMsgList,
    modContactList: lists.modContactList,
    delContactList: lists.delContactList,
    modChatRoomMemberList: lists.modChatRoomMemberList,
    continueFlag: keys.continueFlag,
    syncKey: keys.syncKey,
    syncCheckKey: keys.syncCheckKey,
    skey: keys.skey,
  };
}
