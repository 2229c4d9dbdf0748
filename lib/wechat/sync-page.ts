import type { Json } from "./api";
import { type LazyAnswer, lazyAnswer, objectList } from "./lazy-answer";
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

/** A webwxsync answer with its keys read and its lists parsed on first use (lazy-answer.ts). */
class SyncPage implements SyncAnswer {
  private lists: Lists | undefined;
  readonly continueFlag: number;
  readonly syncKey: SyncKey | undefined;
  readonly syncCheckKey: SyncKey | undefined;
  readonly skey: string | undefined;

  constructor(private readonly answer: LazyAnswer) {
    const head = answer.head;
    this.continueFlag = Number(head.ContinueFlag) || 0;
    this.syncKey = readSyncKey(head.SyncKey);
    this.syncCheckKey = readSyncKey(head.SyncCheckKey);
    this.skey = typeof head.SKey === "string" && head.SKey !== "" ? head.SKey : undefined;
  }

  private read(): Lists {
    if (!this.lists) {
      const whole = this.answer.whole();
      this.lists = {
        addMsgList: objectList(whole.AddMsgList),
        modContactList: objectList(whole.ModContactList),
        delContactList: objectList(whole.DelContactList),
        modChatRoomMemberList: objectList(whole.ModChatRoomMemberList),
      };
    }
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
 * A webwxsync answer from its body: BaseResponse checked (Ret != 0 -> the typed error), the keys read at once, the
 * lists when first used. PROTOCOL (afterSent) for a body that is not JSON or nests too deep.
 */
export function syncPage(body: Buffer): SyncAnswer {
  return new SyncPage(lazyAnswer(body, "webwxsync", ["ContinueFlag", "SyncKey", "SyncCheckKey", "SKey"]));
}
