import type { Json, SessionApi, SyncAnswer } from "./api";
import { batchGet } from "./contact-loader";
import type { ContactStore } from "./contacts";
import { WeChatError, isWeChatError } from "./errors";
// Straight from their modules, not the ./messages index: a name read through an index is a getter call each time,
// and these are read on every message's way (issue #19).
import { MsgType, StatusNotifyCode } from "./messages/constants";
import { isGroupUserName, isSpecialUserName, rawMemberToMember, toContacts } from "./messages/contact";
import { messageNormalizer, normalizeMessage, referencedUserNames } from "./messages/normalize";
import type { NormalizeContext, RawMember, RawMessage } from "./messages";
import type { BoundedSet, RecentMessages } from "./util";
import { contactEvents } from "./contact-events";
import type { SessionStorage } from "./store/storage";
import type { ClientEmit, Contact, Message } from "./types";

export interface InboundOptions {
  /**
   * The client's own emit: every event is raised under its ClientEvents name ("contacts", then one "contact" per
   * change, "message" and the "friend-request" / "recall" it stands for, "warn"), nothing is renamed on the way.
   */
  emit: ClientEmit;
  /** MsgIds already handled (shared across the sessions of one client). */
  seen: BoundedSet<string>;
  /**
   * The session storage's de-dup set: the new MsgIds of each answer are claimed there once, before any is emitted,
   * and only those it grants are (docs/architecture.md, "Session storage"). A failed claim emits nothing.
   */
  claims?: Pick<SessionStorage, "claim" | "claimNow" | "release"> | undefined;
  /** The last messages by MsgId (shared across sessions): a "recall" event carries the recalled original. */
  recent: RecentMessages;
  /** This client's own sends: a message of ours that syncs back is marked `fromClient`. */
  sent?: { has(msgId: string): boolean };
  /** True for a UserName the contact load in progress is fetching already (no second fetch needed). */
  loading?(userName: string): boolean;
  /**
   * Aborted when receiving ends (stop, drain): an answer whose messages were not emitted yet is then dropped unread
   * (CLOSED) and its keys are never saved, so its messages come again at the next start instead of being emitted
   * to a flow that is closing.
   */
  receiving?: AbortSignal;
}

/**
 * The inbound step of one session (docs/architecture.md): what one webwxsync answer does to the client. Contact
 * changes first (Mod, Del, members), then unknown senders fetched, then each new message (de-duplicated by MsgId,
 * order kept) normalised and emitted as "message", with "friend-request" or "recall" when it is one.
 */
export class Inbound {
  private readonly emit: ClientEmit;
  /** The MsgIds the last answer marked handled, and those of them claimed in the storage (takeBackLast). */
  private last: { ids: string[]; claimed: string[]; emitted: number } = { ids: [], claimed: [], emitted: 0 };
  /** The contact store's lookups as the normaliser takes them, made once (not for every answer). */
  private readonly lookup: NormalizeContext["lookup"] = (userName) => this.contacts.get(userName);
  private readonly memberLookup: NormalizeContext["memberLookup"] = (room, member) => this.contacts.member(room, member);
  /** The last normaliser made (normalizer()). */
  private made: { ctx: NormalizeContext; normalize: (raw: RawMessage) => Message } | undefined;

  constructor(
    private readonly api: SessionApi,
    private readonly contacts: ContactStore,
    private readonly options: InboundOptions,
  ) {
    this.emit = options.emit;
  }

  /** Whether the last answer emitted any message. */
  get emittedLast(): boolean {
    return this.last.emitted > 0;
  }

  /**
   * Takes the last answer back after its messages were emitted but before the flow took them (a stop in between):
   * its MsgIds are forgotten and its claims given back, so that the next start, here or on another instance, emits
   * them again. Its keys must not be saved.
   */
  async takeBackLast(): Promise<void> {
    const { ids, claimed } = this.last;
    this.last = { ids: [], claimed: [], emitted: 0 };
    this.forget(ids);
    if (claimed.length > 0) {
      await this.options.claims?.release?.(claimed).catch(() => this.emit("warn", `${claimed.length} claimed message(s) could not be given back`));
    }
  }

  async handle(answer: SyncAnswer): Promise<void> {
    this.last = { ids: [], claimed: [], emitted: 0 };
    this.stillReceiving();
    this.applyContactChanges(answer);
    // The new MsgIds are marked handled at once (one lookup each, which also drops a MsgId twice in one answer: the
    // first one counts), and forgotten again if the answer fails or is dropped by a stop before its messages go out:
    // they come again at the next start.
    // Indexed loops on a message's way: in a process just woken this code runs unoptimised, where for-of steps
    // through an iterator object (issue #19).
    const seen = this.options.seen;
    const ids: string[] = [];
    let fresh: RawMessage[] = [];
    const list = answer.addMsgList as unknown as RawMessage[];
    for (let i = 0; i < list.length; i++) {
      const raw = list[i] as RawMessage;
      const id = msgIdOf(raw);
      if (id === "" || !seen.add(id)) continue;
      ids.push(id);
      fresh.push(raw);
    }
    if (fresh.length === 0) return;
    const claims = this.options.claims;
    let claimed: string[] = [];
    try {
      // Awaited only when something is fetched or the claim waits for its storage: most answers go on at once.
      const fetching = this.fetchUnknown(fresh);
      if (fetching) await fetching;
      this.stillReceiving();
      if (claims) {
        const granted = claims.claimNow ? claims.claimNow(ids) : await this.claimed(claims, ids);
        ({ messages: fresh, granted: claimed } = grantedOnly(fresh, ids, granted));
      }
    } catch (error) {
      this.forget(ids);
      throw error;
    }
    this.last = { ids, claimed, emitted: 0 };
    const { ctx, normalize } = this.normalizer();
    for (let i = 0; i < fresh.length; i++) {
      const raw = fresh[i] as RawMessage;
      let message: Message;
      try {
        message = normalize(raw);
      } catch (error) {
        this.emit("warn", `a message could not be read (MsgType ${String(raw.MsgType)}): ${error instanceof Error ? error.message : "error"}`);
        continue;
      }
      this.emitMessage(message, raw, ctx);
      this.last.emitted++;
    }
  }

  /** Throws CLOSED once receiving has ended: nothing more of this answer is taken (see `receiving`). */
  private stillReceiving(): void {
    if (this.options.receiving?.aborted) throw new WeChatError("CLOSED", "stopped receiving");
  }

  /**
   * What a storage that answers later (Redis) grants: the MsgIds claimed by no one before. As late as possible
   * before the messages are emitted, after the contacts they need are fetched; one call per answer. A storage in
   * this process answers at once (claimNow) and never comes here.
   */
  private async claimed(claims: NonNullable<InboundOptions["claims"]>, ids: string[]): Promise<string[]> {
    const granted = await claims.claim(ids);
    if (this.options.receiving?.aborted) {
      // Receiving ended while the claim was in flight: nothing is emitted to a closing flow, and what we claimed is
      // given back so that the next start (here or elsewhere) emits it. A failed give-back loses these messages.
      await claims.release?.(granted).catch(() => this.emit("warn", `${granted.length} claimed message(s) could not be given back`));
      this.stillReceiving();
    }
    return granted;
  }

  /** Forgets MsgIds marked handled by the last answer, newest first (the set forgets its newest at once). */
  private forget(ids: readonly string[]): void {
    for (let i = ids.length - 1; i >= 0; i--) this.options.seen.delete(ids[i] as string);
  }

  /**
   * A new message to the listeners, and the events it stands for. Its wire entry is kept for a later recall (status
   * notices are not): the recall's original is read again from it then, so no listener's change to the emitted
   * message can reach it.
   */
  private emitMessage(message: Message, raw: RawMessage, ctx: NormalizeContext): void {
    this.markOurs(message);
    const recall = message.type === "recall" && message.recall !== undefined;
    this.emit("message", message);
    if (message.type === "friend-request" && message.friendRequest) this.emit("friend-request", message);
    if (recall && message.recall) {
      const original = message.recall.msgId ? this.original(message.recall.msgId, ctx) : undefined;
      this.emit("recall", { message, ...(original ? { original } : {}) });
    } else if (message.type !== "status") {
      // Kept once it is out: only a later answer's recall reads it, so keeping it is off the message's way.
      this.options.recent.add(message.id, raw);
    }
  }

  /** A message of ours that syncs back (sent by this client) is marked fromClient. */
  private markOurs(message: Message): void {
    if (message.fromSelf && this.options.sent?.has(message.id)) message.fromClient = true;
  }

  /** The recalled message, read again from its kept entry (undefined when it was not kept or is too old). */
  private original(msgId: string, ctx: NormalizeContext): Message | undefined {
    const raw = this.options.recent.get(msgId);
    if (!raw) return undefined;
    try {
      const original = normalizeMessage(raw, { ...ctx, entriesHandedOver: false });
      this.markOurs(original);
      return original;
    } catch {
      return undefined;
    }
  }

  /**
   * The normaliser and its context, made again only when the account's own names change: not for every answer (its
   * lookups read the contact store as it is at each message).
   */
  private normalizer(): { ctx: NormalizeContext; normalize: (raw: RawMessage) => Message } {
    const self = this.api.session.user;
    const made = this.made;
    if (made && made.ctx.self.userName === self.userName && made.ctx.self.nickName === self.nickName) return made;
    const ctx: NormalizeContext = {
      self: { userName: self.userName, nickName: self.nickName },
      lookup: this.lookup,
      memberLookup: this.memberLookup,
      // Each answer is parsed for this step alone (SessionApi.sync), and each entry becomes one message.
      entriesHandedOver: true,
    };
    this.made = { ctx, normalize: messageNormalizer(ctx) };
    return this.made;
  }

  private applyContactChanges(answer: SyncAnswer): void {
    // Most answers change no contact: nothing is built for them (a message's way stays short, issue #19).
    if (answer.modContactList.length + answer.delContactList.length + answer.modChatRoomMemberList.length === 0) return;
    const self = this.api.session.user.userName;
    const added: string[] = [];
    const changed: string[] = [];
    const removed: string[] = [];
    // Each touched contact as it was before this answer: diffed against the end result (a group's Mod entry
    // and its ModChatRoomMemberList entry are one change).
    const before = new Map<string, Contact | undefined>();
    const touch = (raw: Record<string, unknown>): void => {
      const userName = typeof raw.UserName === "string" ? raw.UserName : "";
      if (userName && !before.has(userName)) before.set(userName, this.contacts.get(userName));
    };
    for (const raw of [...answer.modContactList, ...answer.delContactList, ...answer.modChatRoomMemberList]) touch(raw);
    if (answer.modContactList.length > 0) {
      const result = this.contacts.upsert(toContacts(answer.modContactList, self));
      added.push(...result.added);
      changed.push(...result.changed);
    }
    if (answer.delContactList.length > 0) {
      removed.push(...this.contacts.remove(answer.delContactList.map((raw) => String(raw.UserName ?? "")).filter(Boolean)));
    }
    for (const entry of answer.modChatRoomMemberList) {
      const room = String(entry.UserName ?? "");
      const list = Array.isArray(entry.MemberList) ? (entry.MemberList as RawMember[]) : undefined;
      if (!room || !list) continue;
      if (this.contacts.setMembers(room, list.filter((m) => m !== null && typeof m === "object").map(rawMemberToMember))) {
        changed.push(room);
      }
    }
    if (added.length + changed.length + removed.length > 0) this.emit("contacts", { added, removed, changed });
    for (const [userName, old] of before) {
      for (const event of contactEvents(old, this.contacts.get(userName))) this.emit("contact", event);
    }
  }

  /**
   * Fetches senders, groups and group members we do not know yet, in batches, before the messages go out. Undefined
   * when every one is known (nothing to wait for).
   */
  private fetchUnknown(messages: RawMessage[]): Promise<void> | undefined {
    const self = this.api.session.user.userName;
    // Most answers (a burst's, a text at a time: issue #19) need nothing fetched: decided before anything is built.
    let plain = true;
    for (let i = 0; i < messages.length && plain; i++) plain = this.plainAndKnown(messages[i] as RawMessage, self);
    if (plain) return undefined;
    const wanted = new Map<string, { UserName: string; EncryChatRoomId: string }>();
    for (const raw of messages) {
      if (this.plainAndKnown(raw, self)) continue;
      const from = typeof raw.FromUserName === "string" ? raw.FromUserName : "";
      const to = typeof raw.ToUserName === "string" ? raw.ToUserName : "";
      const room = isGroupUserName(from) ? from : isGroupUserName(to) ? to : "";
      for (const userName of referencedUserNames(raw)) {
        if (this.known(userName, self)) continue;
        if (room && !isGroupUserName(userName)) {
          if (this.contacts.member(room, userName)) continue;
          // A member we do not know: the group's fresh member list brings them.
          wanted.set(room, { UserName: room, EncryChatRoomId: "" });
          continue;
        }
        wanted.set(userName, { UserName: userName, EncryChatRoomId: "" });
      }
      if (room && !this.contacts.has(room)) wanted.set(room, { UserName: room, EncryChatRoomId: "" });
      // The login status notify (MsgType 51, code 4) names the recent chats: unsaved groups are known only so.
      for (const group of statusNotifyGroups(raw)) {
        if (!this.contacts.has(group) && !this.options.loading?.(group)) wanted.set(group, { UserName: group, EncryChatRoomId: "" });
      }
    }
    return wanted.size === 0 ? undefined : this.fetchContacts([...wanted.values()]);
  }

  /** Between two known contacts, no group, not the login's status notify: nothing to fetch for it. */
  private plainAndKnown(raw: RawMessage, self: string): boolean {
    const from = typeof raw.FromUserName === "string" ? raw.FromUserName : "";
    const to = typeof raw.ToUserName === "string" ? raw.ToUserName : "";
    if (isGroupUserName(from) || isGroupUserName(to) || Number(raw.MsgType) === MsgType.STATUS_NOTIFY) return false;
    return this.known(from, self) && this.known(to, self);
  }

  /** Nobody (""), this account, a built-in account or a stored contact. */
  private known(userName: string, self: string): boolean {
    return userName === "" || userName === self || this.contacts.has(userName) || isSpecialUserName(userName);
  }

  /** The contacts named, fetched and stored; a failure other than the end of the session is a warning. */
  private async fetchContacts(entries: { UserName: string; EncryChatRoomId: string }[]): Promise<void> {
    const self = this.api.session.user.userName;
    let fetched: Json[];
    try {
      fetched = await batchGet(this.api, entries);
    } catch (error) {
      if (isWeChatError(error, "CLOSED") || isWeChatError(error, "SESSION_EXPIRED")) throw error;
      this.emit("warn", `unknown senders could not be fetched: ${error instanceof Error ? error.message : "error"}`);
      return;
    }
    const result = this.contacts.upsert(toContacts(fetched, self));
    if (result.added.length + result.changed.length > 0) {
      this.emit("contacts", { added: result.added, removed: [], changed: result.changed });
    }
  }
}

/**
 * The messages whose MsgIds the storage granted (those claimed by another instance before stay marked handled here:
 * never asked for again). Most often every one is granted (the same ids, in order): then nothing is looked up.
 */
function grantedOnly(candidates: RawMessage[], ids: string[], granted: string[]): { messages: RawMessage[]; granted: string[] } {
  if (granted.length === ids.length) return { messages: candidates, granted };
  const ok = new Set(granted);
  return { messages: candidates.filter((raw) => ok.has(msgIdOf(raw))), granted };
}

function msgIdOf(raw: { MsgId?: unknown }): string {
  return typeof raw.MsgId === "string" || typeof raw.MsgId === "number" ? String(raw.MsgId) : "";
}

/** The groups a "sync conversations" status notify (MsgType 51, StatusNotifyCode 4) names, docs/protocol.md section 7. */
function statusNotifyGroups(raw: RawMessage): string[] {
  if (Number(raw.MsgType) !== MsgType.STATUS_NOTIFY || Number(raw.StatusNotifyCode) !== StatusNotifyCode.SYNC_CONVERSATIONS || typeof raw.StatusNotifyUserName !== "string") return [];
  return raw.StatusNotifyUserName.split(",")
    .map((name) => name.trim())
    .filter(isGroupUserName);
}
