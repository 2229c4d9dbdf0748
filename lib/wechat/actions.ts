import type { SessionApi } from "./api";
import type { ContactStore } from "./contacts";
import { WeChatError, cleanServerText, isWeChatError } from "./errors";
import { serverNotice } from "./http";
import { findMember, requireGroup } from "./members";
import { StatusNotifyCode, isGroupUserName, toContact } from "./messages";
import type { SendQueue } from "./outbox";
import type { Contact, FriendRequestRef, RevokeTarget, SendResult } from "./types";
import { escapeXml } from "./util";

/** The server refuses recalls after this long (docs/protocol.md section 6). */
export const REVOKE_WINDOW_MS = 2 * 60_000;
/** From this many members on, a group takes invitemember instead of addmember (webwxinit InviteStartCount). */
export const INVITE_START_COUNT = 40;

/** Send times remembered for revoke() calls that bring no time (far more than fit in the 2-minute window). */
const SENT_TIMES_KEPT = 2_000;

/**
 * When this client sent what (server MsgID -> ms), across its sessions: a revoke() given only the ids of a send
 * still gets the 2-minute check. Owned by the client; every session's Actions reads it.
 */
export class SentMessages {
  private readonly times = new Map<string, number>();

  constructor(private readonly capacity = SENT_TIMES_KEPT) {}

  /** Remembers a send that went out (its time, else now) and hands it back. */
  record(result: SendResult): SendResult {
    this.remember(result.msgId, result.time ?? Date.now());
    return result;
  }

  private remember(msgId: string, at: number): void {
    this.times.set(msgId, at);
    if (this.times.size > this.capacity) this.times.delete(this.times.keys().next().value as string);
  }

  /** When this client sent the message with this server id, if it did (and still remembers). */
  sentAt(msgId: string): number | undefined {
    return this.times.get(msgId);
  }

  /** True when this client sent the message with this server id (its echo in sync is one of our own sends). */
  has(msgId: string): boolean {
    return this.times.has(msgId);
  }

  /** The newest `count` sends, oldest first, for the saved session. */
  newest(count: number): Array<[string, number]> {
    return [...this.times].slice(-count);
  }

  /** Sends of a saved session, known again after a restart. */
  restore(entries: ReadonlyArray<readonly [string, number]>): void {
    for (const [msgId, at] of entries) this.remember(msgId, at);
  }
}

export interface ActionsOptions {
  /** What this client sent and when (SendResult.time), for revokes given without a time. */
  sent: SentMessages;
  /** A contact the client learnt of by an answer (a new group), before sync brings it. */
  learnt(before: Contact | undefined, after: Contact): void;
  now?(): number;
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string") throw new WeChatError("INVALID_ARGUMENT", `${what} must be a string`);
  return value;
}

/** Codes that are about the session or the pace, not about this particular request. */
const PASS_THROUGH = new Set([1100, 1101, 1102, 1205]);

/**
 * The operations beyond sending (docs/protocol.md sections 6-7): recall, friend requests, remark, pin, groups,
 * mark as read, avatars. Friend and group operations go through the account's send queue as actions (the
 * stricter pacing); recall as an ordinary send. Contacts are resolved by the caller.
 */
export class Actions {
  private readonly now: () => number;

  constructor(
    private readonly api: SessionApi,
    private readonly contacts: ContactStore,
    private readonly queue: SendQueue,
    private readonly options: ActionsOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async revoke(sent: RevokeTarget): Promise<void> {
    if (sent === null || typeof sent !== "object") throw new WeChatError("INVALID_ARGUMENT", "revoke: a SendResult is required");
    const msgId = text(sent.msgId, "revoke: msgId");
    const localId = text(sent.localId, "revoke: localId");
    if (!/^\d+$/.test(msgId)) throw new WeChatError("INVALID_ARGUMENT", "revoke: msgId must be the server's message id");
    const to = this.revokeTarget(sent);
    const time = typeof sent.time === "number" ? sent.time : this.options.sent.sentAt(msgId);
    const checkAge = (): void => {
      if (time !== undefined && this.now() - time > REVOKE_WINDOW_MS) {
        throw new WeChatError("INVALID_ARGUMENT", `revoke: the message was sent ${Math.round((this.now() - time) / 1000)} s ago; only messages of the last 2 minutes can be recalled`);
      }
    };
    checkAge();
    await this.queue.run(
      async () => {
        checkAge(); // it may have waited in the queue
        try {
          await this.api.revokeMsg(msgId, to, localId);
        } catch (error) {
          if (isWeChatError(error) && error.ret !== undefined && !PASS_THROUGH.has(error.ret)) {
            throw new WeChatError("INVALID_ARGUMENT", `revoke: the server refused to recall the message (too late, or not a message of this account) (${error.ret})`, {
              ret: error.ret,
              cause: error,
            });
          }
          throw error;
        }
      },
      "revoke",
    );
  }

  async acceptFriend(request: FriendRequestRef | undefined): Promise<void> {
    if (request === null || request === undefined || typeof request !== "object") throw new WeChatError("INVALID_ARGUMENT", "acceptFriend: a friend request is required");
    const userName = text(request.userName, "acceptFriend: userName");
    const ticket = text(request.ticket, "acceptFriend: ticket");
    if (!userName.startsWith("@") || ticket === "") {
      throw new WeChatError("INVALID_ARGUMENT", "acceptFriend: the request's userName and ticket are required (pass message.friendRequest)");
    }
    await this.action("acceptFriend", () => this.api.verifyUser(3, userName, ticket, ""));
  }

  async addFriend(userName: string, greeting: string): Promise<void> {
    const content = text(greeting ?? "", "addFriend: greeting");
    if (content.length > 500) throw new WeChatError("INVALID_ARGUMENT", "addFriend: the greeting is too long");
    await this.action("addFriend", () => this.api.verifyUser(2, userName, "", content));
  }

  async setRemark(contact: Contact, remark: string): Promise<void> {
    const value = text(remark, "setRemark: remark");
    if (contact.kind !== "friend") throw new WeChatError("INVALID_ARGUMENT", `setRemark: only friends have a remark (${cleanServerText(contact.displayName)} is ${contact.kind})`);
    await this.action("setRemark", () => this.api.opLog({ CmdId: 2, UserName: contact.userName, RemarkName: value }));
  }

  async pin(contact: Contact, on: boolean): Promise<void> {
    if (typeof on !== "boolean") throw new WeChatError("INVALID_ARGUMENT", "pin: on must be true or false");
    if (contact.kind !== "friend" && contact.kind !== "group") throw new WeChatError("INVALID_ARGUMENT", `pin: only friends and groups can be pinned (${cleanServerText(contact.displayName)} is ${contact.kind})`);
    await this.action("pin", () => this.api.opLog({ CmdId: 3, UserName: contact.userName, OP: on ? 1 : 0 }));
  }

  async createGroup(topic: string, members: Contact[]): Promise<Contact> {
    const name = text(topic, "createGroup: topic");
    const userNames = [...new Set(members.map((m) => m.userName))];
    if (userNames.length < 2) throw new WeChatError("INVALID_ARGUMENT", "createGroup: a group needs at least two other members");
    for (const m of members) {
      if (m.kind !== "friend") throw new WeChatError("INVALID_ARGUMENT", `createGroup: only friends can be members (${cleanServerText(m.displayName)} is ${m.kind})`);
    }
    const answer = await this.action("createGroup", () => this.api.createChatroom(name, userNames));
    // Ret 0 with an <e> error in ErrMsg is a refusal (docs/protocol.md section 9).
    const notice = serverNotice(answer);
    if (notice !== undefined) throw new WeChatError("SERVER", `webwxcreatechatroom: the server refused to create the group: ${notice}`);
    const room = typeof answer.ChatRoomName === "string" ? answer.ChatRoomName : "";
    if (!isGroupUserName(room)) throw new WeChatError("PROTOCOL", "webwxcreatechatroom: no ChatRoomName in the answer");
    const memberList = Array.isArray(answer.MemberList) ? answer.MemberList : [];
    const before = this.contacts.get(room);
    const group = toContact({ ContactFlag: 3, UserName: room, NickName: escapeXml(name), MemberList: memberList, MemberCount: memberList.length }, this.api.session.user.userName);
    this.contacts.upsert([group]);
    const stored = this.contacts.get(room) ?? group;
    this.options.learnt(before, stored);
    return stored;
  }

  async addMembers(group: Contact, members: Contact[]): Promise<void> {
    requireGroup(group, "addMembers");
    for (const m of members) {
      if (m.kind !== "friend") throw new WeChatError("INVALID_ARGUMENT", `addMembers: only friends can be added (${cleanServerText(m.displayName)} is ${m.kind})`);
    }
    const known = new Set((group.members ?? []).map((m) => m.userName));
    const adding = [...new Set(members.map((m) => m.userName))].filter((u) => !known.has(u));
    if (adding.length === 0) return;
    const count = Math.max(group.memberCount ?? 0, group.members?.length ?? 0);
    const fun = count >= INVITE_START_COUNT ? "invitemember" : "addmember";
    await this.action("addMembers", () => this.api.updateChatroom(group.userName, { fun, members: adding }));
  }

  async removeMembers(group: Contact, targets: string[]): Promise<void> {
    requireGroup(group, "removeMembers");
    const self = this.api.session.user.userName;
    const userNames = [...new Set(targets.map((t) => findMember(group, t, this.contacts).userName))];
    if (userNames.includes(self)) throw new WeChatError("INVALID_ARGUMENT", "removeMembers: this account cannot remove itself");
    if (userNames.length === 0) return;
    await this.action("removeMembers", () => this.api.updateChatroom(group.userName, { fun: "delmember", members: userNames }));
  }

  async renameGroup(group: Contact, topic: string): Promise<void> {
    requireGroup(group, "renameGroup");
    const name = text(topic, "renameGroup: topic").trim();
    if (name === "") throw new WeChatError("INVALID_ARGUMENT", "renameGroup: the topic must not be empty");
    await this.action("renameGroup", () => this.api.updateChatroom(group.userName, { fun: "modtopic", topic: name }));
  }

  async markRead(contact: Contact): Promise<void> {
    await this.api.statusNotify(StatusNotifyCode.READ, contact.userName);
  }

  /** A contact's or group's avatar; with `group`, the avatar of that group's member. */
  async avatar(target: Contact | { member: string; group: Contact }): Promise<Buffer> {
    try {
      if ("member" in target) {
        requireGroup(target.group, "avatar");
        const member = findMember(target.group, target.member, this.contacts);
        return await this.api.avatar(member.userName, { chatRoomId: target.group.encryChatRoomId });
      }
      return await this.api.avatar(target.userName, { group: target.kind === "group" });
    } catch (error) {
      if (isWeChatError(error, "SERVER") && /HTTP 404/.test(error.message)) throw new WeChatError("NOT_FOUND", "avatar: the server has no avatar for this contact");
      throw error;
    }
  }

  private revokeTarget(sent: RevokeTarget): string {
    const to = text(sent.to, "revoke: to");
    if (this.contacts.has(to) || !sent.toHandle) return to;
    // A SendResult of an earlier session: its UserName is gone, its handle is not.
    return this.contacts.resolve(sent.toHandle).userName;
  }

  private action<T>(label: string, task: () => Promise<T>): Promise<T> {
    return this.queue.run(task, label, { action: true });
  }
}
