import { authGet, authJson, checkBaseRequest, checkPassTicket, type Ctx } from "./context";
import { isRecord, readBody, sendScript, sendText, sendWireJson } from "./http";
import { TINY_PNG } from "./login";
import { formatSyncKey, type Session, type StoredMsg, type SyncEvent, type SyncKeyWire } from "./session";
import type { SandboxState } from "./state";
import type { SentType } from "./types";
import { plainName, type Account, type Group } from "./world";
import { escapeWire, locationFields, textContent, WireView } from "./wire";
import { forwardText, isForward } from "./forward";

/** Page and push host: init, contacts, sync, sends and the other JSON operations. */

const ok = { Ret: 0, ErrMsg: "" };

export function view(ctx: Ctx, session: Session): WireView {
  return new WireView(ctx.state.world, session);
}

export async function webwxinit(ctx: Ctx): Promise<void> {
  const auth = await authJson(ctx, { passTicket: true });
  if (!auth) return;
  const { session } = auth;
  const v = view(ctx, session);
  const account = session.account;
  const world = ctx.state.world;
  const special = [...account.friends.keys()].filter((id) => world.person(id)?.kind === "special");
  const people = [...account.friends.keys()].filter((id) => world.person(id)?.kind === "person").slice(0, 6);
  // Unsaved groups are known to a client only from here (ChatSet, the status notify) or from a message.
  const unsaved = ctx.state.unsavedGroups(account);
  const groups = [...account.groups].filter((id) => !unsaved.includes(id)).slice(0, 3);
  const top = [...special.filter((id) => world.person(id)?.fixedUserName === "filehelper"), ...groups, ...people];
  // ContactList carries the top chats in full; ChatSet and the status notify name more (the unsaved groups too).
  const contactList = top.map((id) => v.contact(id, true));
  const recent = [...top, ...unsaved.slice(0, -1)];
  if (!session.initDone) {
    session.initDone = true;
    // the real server follows init with a status notify (code 4) listing the recent chats
    const names = recent.map((id) => v.userName(id));
    const wxids = recent.map((id) => world.person(id)?.fixedUserName ?? `wxid_${id}`);
    const msg: StoredMsg = {
      msgId: ctx.state.newMsgId(),
      msgType: 51,
      from: account.personId,
      to: account.personId,
      time: Math.floor(Date.now() / 1000),
      build: () => ({
        Content: escapeWire(`<msg><op id='4'><username>${wxids.join(",")}</username><unreadchatlist><chat></chat></unreadchatlist><unreadfunctionlist></unreadfunctionlist></op></msg>`),
        StatusNotifyCode: 4,
        StatusNotifyUserName: names.join(","),
      }),
    };
    session.push({ kind: "msg", msg });
  }
  sendWireJson(ctx.res, {
    BaseResponse: ok,
    Count: contactList.length,
    ContactList: contactList,
    SyncKey: session.latestSyncKey,
    User: v.self(),
    ChatSet: recent.map((id) => v.userName(id)).join(","),
    SKey: session.skey,
    ClientVersion: 1_661_337_120,
    SystemTime: Math.floor(Date.now() / 1000),
    GrayScale: 1,
    InviteStartCount: 40,
    MPSubscribeMsgCount: 0,
    MPSubscribeMsgList: [],
    ClickReportInterval: 600_000,
  });
}

/** The entity a UserName stands for in this session, when the account may write to it. */
function target(ctx: Ctx, session: Session, userName: unknown): string | undefined {
  if (typeof userName !== "string" || !userName) {
    ctx.violation("field-missing", "ToUserName is required");
    ctx.fail(1);
    return undefined;
  }
  const id = session.entityOf(userName);
  const account = session.account;
  if (!id || !(account.friends.has(id) || account.groups.has(id) || id === account.personId)) {
    ctx.violation("not-a-contact", "ToUserName is not a contact or group of this account in this session");
    ctx.fail(1204);
    return undefined;
  }
  return id;
}

function selfCheck(ctx: Ctx, session: Session, from: unknown): boolean {
  const self = session.knownUserName(session.account.personId);
  if (from !== self) {
    ctx.violation("from-not-self", "FromUserName must be the logged-in user's UserName");
    ctx.fail(1);
    return false;
  }
  return true;
}

export async function statusNotify(ctx: Ctx): Promise<void> {
  const auth = await authJson(ctx, { passTicket: true });
  if (!auth) return;
  const { body, session } = auth;
  if (typeof body.Code !== "number" || ![1, 2, 3, 4, 5].includes(body.Code)) {
    ctx.violation("field-invalid", "Code must be 1..5");
    ctx.fail(1);
    return;
  }
  if (!selfCheck(ctx, session, body.FromUserName)) return;
  if (body.ToUserName !== body.FromUserName && !target(ctx, session, body.ToUserName)) return;
  sendWireJson(ctx.res, { BaseResponse: ok, MsgID: ctx.state.newMsgId() });
}

export function getContact(ctx: Ctx): void {
  const session = authGet(ctx, { skey: true, dataTicket: false });
  if (!session) return;
  const v = view(ctx, session);
  const account = session.account;
  const unsaved = new Set(ctx.state.unsavedGroups(account));
  const all = [...account.friends.keys(), ...[...account.groups].filter((id) => !unsaved.has(id))];
  const seq = Number(ctx.q("seq") ?? "0");
  const pageSize = ctx.state.settings.contactPageSize;
  if (!Number.isInteger(seq) || seq < 0 || seq % pageSize !== 0 || (seq > 0 && seq >= all.length)) {
    ctx.violation("seq-invalid", "seq must be 0 or a Seq this server returned");
    ctx.fail(1);
    return;
  }
  const page = all.slice(seq, seq + pageSize);
  const next = seq + pageSize < all.length ? seq + pageSize : 0;
  sendWireJson(ctx.res, { BaseResponse: ok, MemberCount: page.length, MemberList: page.map((id) => v.contact(id, false)), Seq: next });
}

export async function batchGetContact(ctx: Ctx): Promise<void> {
  const auth = await authJson(ctx, { passTicket: true });
  if (!auth) return;
  const { body, session } = auth;
  const list = body.List;
  if (!Array.isArray(list) || typeof body.Count !== "number") {
    ctx.violation("field-missing", "Count and List are required");
    ctx.fail(1);
    return;
  }
  if (list.length > 50) {
    ctx.violation("batch-too-large", `at most 50 entries a call (got ${list.length})`);
    ctx.fail(1);
    return;
  }
  if (body.Count !== list.length) {
    ctx.violation("count-mismatch", "Count must equal List.length");
    ctx.fail(1);
    return;
  }
  const v = view(ctx, session);
  const out: Record<string, unknown>[] = [];
  for (const entry of list) {
    if (!isRecord(entry) || typeof entry.UserName !== "string") {
      ctx.violation("field-invalid", "each List entry needs a UserName");
      ctx.fail(1);
      return;
    }
    const id = session.entityOf(entry.UserName);
    if (!id) continue;
    if (ctx.state.world.groups.has(id)) out.push(v.contact(id, true));
    else if (ctx.state.world.person(id)) out.push(v.contact(id, false));
  }
  sendWireJson(ctx.res, { BaseResponse: ok, Count: out.length, ContactList: out });
}

// ---- sync ---------------------------------------------------------------------------------------------------------

function syncCheckAnswer(ctx: Ctx, retcode: number, selector: number): void {
  sendScript(ctx.res, `window.synccheck={retcode:"${retcode}",selector:"${selector}"}`);
}

export async function syncCheck(ctx: Ctx): Promise<void> {
  const wxsid = ctx.cookies.get("wxsid");
  const wxuin = ctx.cookies.get("wxuin");
  if (!wxsid || !wxuin) {
    ctx.violation("cookie-missing", "synccheck needs the wxuin and wxsid cookies");
    syncCheckAnswer(ctx, 1102, 0);
    return;
  }
  const sid = ctx.q("sid");
  const session = sid ? ctx.state.sessions.get(sid) : undefined;
  if (!session) {
    ctx.violation("session-unknown", "sid does not name a session this server issued");
    syncCheckAnswer(ctx, 1101, 0);
    return;
  }
  if (!session.live) {
    syncCheckAnswer(ctx, session.ended?.code ?? 1101, 0);
    return;
  }
  if (wxsid !== session.sid) {
    ctx.violation("cookie-mismatch", "wxsid cookie and sid differ");
    syncCheckAnswer(ctx, 1102, 0);
    return;
  }
  if (ctx.q("uin") !== String(session.uin)) {
    ctx.violation("uin-mismatch", "uin is not the session's wxuin");
    syncCheckAnswer(ctx, 1101, 0);
    return;
  }
  if (!session.skeyOk(ctx.q("skey"))) {
    ctx.violation("skey-mismatch", "skey is not the current skey");
    syncCheckAnswer(ctx, 1101, 0);
    return;
  }
  if (!/^e\d{15}$/.test(ctx.q("deviceid") ?? "")) {
    ctx.violation("deviceid-format", `deviceid must be "e" + 15 digits`);
    syncCheckAnswer(ctx, 1, 0);
    return;
  }
  ctx.state.noteDeviceId(ctx.endpoint, session, ctx.q("deviceid") ?? "");
  const key = ctx.q("synckey") ?? "";
  if (key !== session.latestCheckKey) {
    if (key === formatSyncKey(session.latestSyncKey) || (session.lastStaleKey === key && session.syncedSinceStale)) {
      ctx.violation("synckey-stale", "synccheck synckey must be built from the latest SyncCheckKey");
    }
    session.lastStaleKey = key;
    session.syncedSinceStale = false;
    syncCheckAnswer(ctx, 0, 2);
    return;
  }
  const selectorNow = (): number => (session.hasAfter(session.cursor) ? session.pendingSelector(session.cursor) || 2 : 0);
  const now = selectorNow();
  if (now !== 0) {
    syncCheckAnswer(ctx, 0, now);
    return;
  }
  const result = await ctx.host.wait(ctx.res, ctx.state.settings.longPollMs, (wake) => {
    session.waiters.add(wake);
    return () => session.waiters.delete(wake);
  });
  if (result === "closed" && ctx.res.destroyed) return;
  if (!session.live) {
    syncCheckAnswer(ctx, session.ended?.code ?? 1101, 0);
    return;
  }
  syncCheckAnswer(ctx, 0, selectorNow());
}

function isSyncKey(value: unknown): value is SyncKeyWire {
  return (
    isRecord(value) &&
    typeof value.Count === "number" &&
    Array.isArray(value.List) &&
    value.List.length === value.Count &&
    value.List.every((k) => isRecord(k) && typeof k.Key === "number" && typeof k.Val === "number")
  );
}

export function renderEvents(v: WireView, state: SandboxState, events: SyncEvent[]): Record<string, unknown> {
  const add: Record<string, unknown>[] = [];
  const mod: Record<string, unknown>[] = [];
  const del: Record<string, unknown>[] = [];
  const members: Record<string, unknown>[] = [];
  for (const e of events) {
    if (e.kind === "msg") add.push(v.message(e.msg));
    else if (e.kind === "del") del.push({ UserName: v.userName(e.id), ContactFlag: 0 });
    else if (state.world.groups.has(e.id) || state.world.person(e.id)) {
      const entry = v.contact(e.id, true);
      mod.push(entry);
      if (e.kind === "members") members.push({ UserName: entry.UserName, MemberCount: entry.MemberCount, MemberList: entry.MemberList });
    }
  }
  return {
    AddMsgCount: add.length,
    AddMsgList: add,
    ModContactCount: mod.length,
    ModContactList: mod,
    DelContactCount: del.length,
    DelContactList: del,
    ModChatRoomMemberCount: members.length,
    ModChatRoomMemberList: members,
  };
}

export async function webwxSync(ctx: Ctx): Promise<void> {
  const auth = await authJson(ctx, { passTicket: true });
  if (!auth) return;
  const { body, session } = auth;
  if (!isSyncKey(body.SyncKey)) {
    ctx.violation("synckey-missing", "SyncKey {Count, List:[{Key, Val}]} is required");
    ctx.fail(1);
    return;
  }
  const cursor = session.cursorOf(body.SyncKey);
  if (cursor === undefined) {
    ctx.violation("synckey-foreign", "SyncKey was not issued by this session");
    ctx.fail(1);
    return;
  }
  if (typeof body.rr !== "number") ctx.deviation("rr-missing", "rr (~unix seconds) is missing");
  const page = session.page(cursor, ctx.state.settings.syncPageSize);
  const v = view(ctx, session);
  const lists = renderEvents(v, ctx.state, page.events);
  session.syncCount += 1;
  const every = ctx.state.settings.skeyRotateEvery;
  if (every > 0 && session.syncCount % every === 0) session.rotateSkey();
  session.cursor = page.last;
  session.latestSyncKey = session.syncKeyFor(page.last);
  const checkKey = session.checkKeyFor(page.last);
  session.latestCheckKey = formatSyncKey(checkKey);
  session.syncedSinceStale = true;
  sendWireJson(ctx.res, {
    BaseResponse: ok,
    ...lists,
    Profile: {
      BitFlag: 0,
      UserName: { Buff: "" },
      NickName: { Buff: "" },
      BindUin: 0,
      BindEmail: { Buff: "" },
      BindMobile: { Buff: "" },
      Status: 0,
      Sex: 0,
      PersonalCard: 0,
      Alias: "",
      HeadImgUpdateFlag: 0,
      HeadImgUrl: "",
      Signature: "",
    },
    ContinueFlag: page.more ? 1 : 0,
    SyncKey: session.latestSyncKey,
    SKey: session.skey,
    SyncCheckKey: checkKey,
  });
}

// ---- sends --------------------------------------------------------------------------------------------------------

export interface SendContext {
  session: Session;
  body: Record<string, unknown>;
  msg: Record<string, unknown>;
  targetId: string;
  localId: string;
  sendKey: string;
  digest: string;
}

/** Shared checks of every send: Msg shape, self, target, ids, throttle. */
export async function beginSend(ctx: Ctx, type: number | number[], forwardTypes?: number[]): Promise<SendContext | undefined> {
  const auth = await authJson(ctx, { passTicket: true });
  if (!auth) return undefined;
  const { body, session } = auth;
  const msg = body.Msg;
  if (!isRecord(msg)) {
    ctx.violation("field-missing", "Msg is required");
    return ctx.fail(1);
  }
  // A forward (Scene 2, forward.ts) carries the original's type: an app message its AppMsgType.
  const types = body.Scene === 2 && forwardTypes ? forwardTypes : Array.isArray(type) ? type : [type];
  if (typeof msg.Type !== "number" || !types.includes(msg.Type)) {
    ctx.violation("field-invalid", `Msg.Type must be ${types.join(" or ")} here`);
    return ctx.fail(1);
  }
  if (!selfCheck(ctx, session, msg.FromUserName)) return undefined;
  const targetId = target(ctx, session, msg.ToUserName);
  if (!targetId) return undefined;
  const localId = msg.LocalID ?? msg.ClientMsgId;
  if ((typeof localId !== "string" && typeof localId !== "number") || !/^\d{10,20}$/.test(String(localId))) {
    ctx.violation("field-invalid", "Msg.LocalID / ClientMsgId must be a numeric id");
    return ctx.fail(1);
  }
  if (msg.LocalID === undefined || msg.ClientMsgId === undefined) ctx.deviation("localid", "LocalID and ClientMsgId should both be sent");
  // Nothing shows that the real server drops a repeated ClientMsgId (docs/protocol.md section 2): a resend of the same
  // message is delivered again, as a second message, and recorded as a violation (a client must never resend).
  const clientMsgId = String(msg.ClientMsgId ?? localId);
  const key = `${session.account.index}:${clientMsgId}`;
  const digest = JSON.stringify([msg.Type, msg.ToUserName, msg.Content ?? "", msg.MediaId ?? "", msg.EMoticonMd5 ?? ""]);
  const earlier = ctx.state.sendIds.get(key);
  if (earlier) {
    if (earlier.digest !== digest) {
      ctx.violation("clientmsgid-reused", "a ClientMsgId was reused for a different message");
      return ctx.fail(1);
    }
    ctx.violation("send-repeated", `ClientMsgId ${clientMsgId} was sent again: the message reaches the chat twice`);
  }
  if (!ctx.state.takeToken(session.account)) return ctx.fail(1205);
  return { session, body, msg, targetId, localId: String(localId), sendKey: key, digest };
}

export function finishSend(ctx: Ctx, s: SendContext, type: SentType, extra: { text?: string; mediaId?: string; fileName?: string; msgSource?: string; appId?: string; forwarded?: boolean }): string {
  const msgId = ctx.state.newMsgId();
  const account = s.session.account;
  ctx.state.recordSent({
    account: ctx.state.accountName(account),
    type,
    to: String(s.msg.ToUserName),
    toName: plainName(ctx.state.world.nameFor(account, s.targetId)),
    localId: s.localId,
    msgId,
    time: Date.now(),
    ...extra,
  });
  ctx.state.sentIndex.set(msgId, { account: account.index, to: s.targetId, time: Date.now() });
  ctx.state.sendIds.set(s.sendKey, { msgId, digest: s.digest });
  if (ctx.state.sendIds.size > 20_000) ctx.state.sendIds.delete(ctx.state.sendIds.keys().next().value as string);
  sendWireJson(ctx.res, { BaseResponse: ok, MsgID: msgId, LocalID: s.localId });
  return msgId;
}

/**
 * A message one sandbox account sends reaches the other accounts it is addressed to. One message has one
 * MsgId for the sender and every receiver (a recall names it), so the id of the send is passed in.
 */
export function relay(
  state: SandboxState,
  from: Account,
  targetId: string,
  msgType: number,
  build: StoredMsg["build"],
  media?: { data: Buffer; mime: string },
  msgId: string = state.newMsgId(),
): void {
  const group: Group | undefined = state.world.groups.get(targetId);
  const receivers = group
    ? state.world.accounts.filter((a) => a !== from && group.members.includes(a.personId))
    : state.world.accounts.filter((a) => a !== from && a.personId === targetId);
  if (media && receivers.length > 0) {
    // Kept for the receivers (and whoever already holds it: the sender of a forward).
    const owners = new Set([...(state.media.get(msgId)?.owners ?? []), ...receivers.map((a) => a.index)]);
    state.media.set(msgId, { ...media, owners });
  }
  for (const acc of receivers) {
    const msg: StoredMsg = {
      msgId,
      msgType,
      from: from.personId,
      to: acc.personId,
      time: Math.floor(Date.now() / 1000),
      build,
      ...(group ? { room: group.id } : {}),
    };
    state.deliver(acc, { kind: "msg", msg });
  }
  if (state.settings.echoSends) {
    // Back to the sender too, as written by itself: From = self, To = the chat (a group: its own, unprefixed).
    if (media) state.media.set(msgId, { ...media, owners: new Set([...(state.media.get(msgId)?.owners ?? []), from.index]) });
    const time = Math.floor(Date.now() / 1000);
    const echo: StoredMsg = group ? { msgId, msgType, from: from.personId, to: from.personId, room: group.id, time, build } : { msgId, msgType, from: from.personId, to: targetId, time, build };
    state.deliver(from, { kind: "msg", msg: echo });
  }
}

export async function sendMsg(ctx: Ctx): Promise<void> {
  const s = await beginSend(ctx, 1, [1, 48]);
  if (!s) return;
  if (isForward(s)) return forwardText(ctx, s, locationFields);
  if (typeof s.msg.Content !== "string" || s.msg.Content === "") {
    ctx.violation("field-invalid", "Msg.Content must be a non-empty string");
    ctx.fail(1);
    return;
  }
  const text = s.msg.Content;
  const msgSource = typeof s.msg.MsgSource === "string" ? s.msg.MsgSource : undefined;
  const msgId = finishSend(ctx, s, "text", { text, ...(msgSource ? { msgSource } : {}) });
  relay(ctx.state, s.session.account, s.targetId, 1, () => ({ Content: textContent(text) }), undefined, msgId);
}

export async function revokeMsg(ctx: Ctx): Promise<void> {
  const auth = await authJson(ctx, { passTicket: true });
  if (!auth) return;
  const { body, session } = auth;
  const svr = body.SvrMsgId;
  const entry = typeof svr === "string" || typeof svr === "number" ? ctx.state.sentIndex.get(String(svr)) : undefined;
  if (!entry || entry.account !== session.account.index) {
    ctx.violation("revoke-unknown", "SvrMsgId is not a message this account sent");
    ctx.fail(1);
    return;
  }
  const to = typeof body.ToUserName === "string" ? session.entityOf(body.ToUserName) : undefined;
  if (to !== entry.to) {
    ctx.violation("revoke-target", "ToUserName is not the chat the message went to");
    ctx.fail(1);
    return;
  }
  if (Date.now() - entry.time > 120_000) {
    ctx.fail(-1, "revoke window (2 minutes) is over");
    return;
  }
  if (body.ClientMsgId === undefined) ctx.deviation("clientmsgid", "ClientMsgId missing");
  ctx.state.sentIndex.delete(String(svr));
  ctx.state.recordSent({
    account: ctx.state.accountName(session.account),
    type: "revoke",
    to: String(body.ToUserName),
    toName: plainName(ctx.state.world.nameFor(session.account, entry.to)),
    localId: String(body.ClientMsgId ?? ""),
    msgId: String(svr),
    time: Date.now(),
  });
  const selfName = plainName(ctx.state.world.person(session.account.personId)?.nickName ?? "");
  relay(ctx.state, session.account, entry.to, 10002, (userName) => ({
    Content: escapeWire(
      `<sysmsg type="revokemsg"><revokemsg><session>${userName(session.account.personId)}</session><oldmsgid>0</oldmsgid><msgid>${String(svr)}</msgid><replacemsg><![CDATA["${selfName}" 撤回了一条消息]]></replacemsg></revokemsg></sysmsg>`,
    ),
  }));
  sendWireJson(ctx.res, { BaseResponse: ok, Introduction: "", SysWording: "" });
}

export async function opLog(ctx: Ctx): Promise<void> {
  const auth = await authJson(ctx, { passTicket: true });
  if (!auth) return;
  const { body, session } = auth;
  const id = target(ctx, session, body.UserName);
  if (!id) return;
  const meta = session.account.friends.get(id);
  if (body.CmdId === 2) {
    if (typeof body.RemarkName !== "string") {
      ctx.violation("field-missing", "RemarkName is required with CmdId 2");
      ctx.fail(1);
      return;
    }
    if (meta) meta.remarkName = body.RemarkName;
  } else if (body.CmdId === 3) {
    if (body.OP !== 0 && body.OP !== 1) {
      ctx.violation("field-invalid", "OP must be 0 or 1 with CmdId 3");
      ctx.fail(1);
      return;
    }
    if (meta) meta.starred = body.OP === 1;
    else if (ctx.state.world.groups.has(id)) {
      if (body.OP === 1) session.account.pinnedGroups.add(id);
      else session.account.pinnedGroups.delete(id);
    }
  } else {
    ctx.violation("field-invalid", "CmdId must be 2 (remark) or 3 (pin)");
    ctx.fail(1);
    return;
  }
  ctx.state.deliver(session.account, { kind: "mod", id });
  sendWireJson(ctx.res, { BaseResponse: ok });
}

export async function verifyUser(ctx: Ctx): Promise<void> {
  const auth = await authJson(ctx, { passTicket: true });
  if (!auth) return;
  const { body, session } = auth;
  const list = body.VerifyUserList;
  const first = Array.isArray(list) ? list[0] : undefined;
  if (!isRecord(first) || typeof first.Value !== "string" || body.VerifyUserListSize !== 1 || ![2, 3].includes(Number(body.Opcode))) {
    ctx.violation("field-invalid", "Opcode 2|3, VerifyUserListSize 1 and VerifyUserList [{Value, VerifyUserTicket}] are required");
    ctx.fail(1);
    return;
  }
  if (body.Opcode === 3) {
    const ticket = typeof first.VerifyUserTicket === "string" ? first.VerifyUserTicket : "";
    const req = ctx.state.friendRequests.get(ticket);
    const id = session.entityOf(first.Value);
    if (!req || req.account !== session.account.index || req.personId !== id) {
      ctx.violation("verify-ticket", "VerifyUserTicket does not match a pending friend request from that user");
      ctx.fail(1);
      return;
    }
    ctx.state.friendRequests.delete(ticket);
    session.account.friends.set(req.personId, { remarkName: "", starred: false });
    ctx.state.deliver(session.account, { kind: "mod", id: req.personId, added: true });
  } else if (!session.entityOf(first.Value)) {
    ctx.violation("not-a-contact", "Value is not a UserName of this session");
    ctx.fail(1204);
    return;
  }
  sendWireJson(ctx.res, { BaseResponse: ok });
}

function memberIds(ctx: Ctx, session: Session, names: string[]): string[] | undefined {
  const ids: string[] = [];
  for (const n of names) {
    const id = session.entityOf(n);
    if (!id || !ctx.state.world.person(id)) {
      ctx.violation("not-a-contact", "a member UserName is unknown in this session");
      ctx.fail(1204);
      return undefined;
    }
    ids.push(id);
  }
  return ids;
}

export async function createChatroom(ctx: Ctx): Promise<void> {
  const auth = await authJson(ctx, { passTicket: true });
  if (!auth) return;
  const { body, session } = auth;
  const list = body.MemberList;
  if (!Array.isArray(list) || list.length < 2 || body.MemberCount !== list.length || !list.every((m) => isRecord(m) && typeof m.UserName === "string")) {
    ctx.violation("field-invalid", "MemberCount and MemberList [{UserName}] (2 or more) are required");
    ctx.fail(1);
    return;
  }
  const ids = memberIds(ctx, session, list.map((m) => String((m as Record<string, unknown>).UserName)));
  if (!ids) return;
  const world = ctx.state.world;
  const group: Group = { id: world.newId("g"), topic: typeof body.Topic === "string" ? body.Topic : "", members: [session.account.personId, ...ids], displayNames: new Map(), ownerId: session.account.personId };
  world.groups.set(group.id, group);
  for (const acc of world.accounts) if (group.members.includes(acc.personId)) {
    acc.groups.add(group.id);
    ctx.state.deliver(acc, { kind: "mod", id: group.id, added: true });
  }
  const v = view(ctx, session);
  sendWireJson(ctx.res, { BaseResponse: ok, Topic: body.Topic ?? "", PYInitial: "", QuanPin: "", MemberCount: group.members.length, MemberList: group.members.map((m) => ({ ...v.member(group, m), MemberStatus: 0 })), ChatRoomName: v.userName(group.id), BlackList: "" });
}

export async function updateChatroom(ctx: Ctx): Promise<void> {
  const auth = await authJson(ctx, { passTicket: false });
  if (!auth) return;
  const { body, session } = auth;
  const fun = ctx.q("fun");
  const groupId = typeof body.ChatRoomName === "string" ? session.entityOf(body.ChatRoomName) : undefined;
  const group = groupId ? ctx.state.world.groups.get(groupId) : undefined;
  if (!group || !session.account.groups.has(group.id)) {
    ctx.violation("not-a-contact", "ChatRoomName is not a group of this account");
    ctx.fail(1204);
    return;
  }
  const field = fun === "addmember" ? "AddMemberList" : fun === "delmember" ? "DelMemberList" : fun === "invitemember" ? "InviteMemberList" : fun === "modtopic" ? "NewTopic" : undefined;
  if (!field || typeof body[field] !== "string") {
    ctx.violation("field-invalid", "fun must be addmember|delmember|invitemember|modtopic with the matching field");
    ctx.fail(1);
    return;
  }
  const value = String(body[field]);
  if (fun === "modtopic") {
    group.topic = value;
  } else {
    const ids = memberIds(ctx, session, value.split(",").filter(Boolean));
    if (!ids) return;
    if (fun === "addmember" && group.members.length >= 40) {
      ctx.violation("addmember-40", "a group of 40 or more members needs invitemember");
      ctx.fail(1);
      return;
    }
    if (fun === "delmember") group.members = group.members.filter((m) => !ids.includes(m));
    else for (const id of ids) if (!group.members.includes(id)) group.members.push(id);
  }
  for (const acc of ctx.state.world.accounts) if (acc.groups.has(group.id)) ctx.state.deliver(acc, { kind: fun === "modtopic" ? "mod" : "members", id: group.id });
  sendWireJson(ctx.res, { BaseResponse: ok, MemberCount: group.members.length, MemberList: [] });
}

export async function logout(ctx: Ctx): Promise<void> {
  const text = (await readBody(ctx.req, 64 * 1024).catch(() => Buffer.alloc(0))).toString("utf8");
  const form = new URLSearchParams(text);
  const sid = ctx.cookies.get("wxsid");
  const session = sid ? ctx.state.sessions.get(sid) : undefined;
  if (!session) {
    ctx.violation("cookie-missing", "logout needs the wxsid cookie of a session");
    sendText(ctx.res, 200, "", "text/html");
    return;
  }
  if (!form.get("sid") || !form.get("uin")) ctx.deviation("logout-form", "logout without the sid/uin form fields");
  else if (form.get("sid") !== session.sid || form.get("uin") !== String(session.uin)) ctx.violation("logout-form", "sid/uin form fields do not match the session");
  if (session.live) {
    session.loggedOut = true;
    ctx.state.endSession(session, 1101);
  }
  sendText(ctx.res, 200, "", "text/html");
}

export function icon(ctx: Ctx): void {
  const session = authGet(ctx, { skey: false, dataTicket: false });
  if (!session) return;
  const name = ctx.q("username") ?? "";
  const entity = session.entityOf(name);
  if (!entity || !memberIconAllowed(ctx, session, entity)) {
    sendText(ctx.res, 404, "", "text/plain");
    return;
  }
  sendText(ctx.res, 200, TINY_PNG, "image/jpeg");
}

/**
 * A person who is neither the account nor one of its contacts is only known as a member of a group: their icon is
 * asked for with `chatroomid` = that group's EncryChatRoomId (docs/protocol.md section 7). Without it, or with the id of
 * a group they are not in, there is no icon.
 */
function memberIconAllowed(ctx: Ctx, session: Session, entity: string): boolean {
  const { world } = ctx.state;
  const account = session.account;
  const chatRoomId = ctx.q("chatroomid");
  const room = chatRoomId ? session.entityOf(chatRoomId) : undefined;
  if (chatRoomId && !room?.startsWith("enc:")) {
    ctx.violation("icon-chatroomid", "chatroomid is not the EncryChatRoomId of a group of this session");
    return false;
  }
  if (world.groups.has(entity) || entity === account.personId || account.friends.has(entity)) return true;
  const group = room ? world.groups.get(room.slice("enc:".length)) : undefined;
  if (!group) {
    ctx.violation("icon-chatroomid", "a group member's icon needs chatroomid (the group's EncryChatRoomId)");
    return false;
  }
  if (!group.members.includes(entity)) {
    ctx.violation("icon-chatroomid", "the member is not in the group chatroomid names");
    return false;
  }
  return true;
}

export { checkBaseRequest, checkPassTicket };
