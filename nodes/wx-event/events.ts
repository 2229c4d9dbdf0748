import type { ContactEvent, Message, RecallEvent, StateInfo, SyncTroubleEvent } from "../../lib/wechat/types";
import type { AccountEvent } from "../shared/account";
import { contactOut } from "../shared/contacts";
import type { NodeMessage } from "../shared/red";

/** The event types a wx-event node offers as checkboxes; each is the msg.topic of what it sends. */
export const EVENT_TYPES = [
  "qr",
  "scanned",
  "online",
  "logged-out",
  "refused",
  "contact-added",
  "contact-removed",
  "contact-renamed",
  "group-members",
  "friend-request",
  "recall",
  "sync-failing",
  "sync-recovered",
  "owner-changed",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const CONTACT_TOPICS: Record<ContactEvent["change"], EventType> = {
  added: "contact-added",
  removed: "contact-removed",
  renamed: "contact-renamed",
  members: "group-members",
};

export function eventTypesOf(value: unknown): Set<EventType> {
  // No list (an older or hand-written config) means every type.
  if (!Array.isArray(value)) return new Set(EVENT_TYPES);
  return new Set(EVENT_TYPES.filter((t) => value.includes(t)));
}

function stateMsg(info: StateInfo): NodeMessage | undefined {
  switch (info.state) {
    case "waiting-scan":
      return info.qrUrl ? { topic: "qr", payload: { qr: info.qr ?? "", qrUrl: info.qrUrl } } : undefined;
    case "scanned":
      return { topic: "scanned", payload: info.avatar ? { avatar: info.avatar } : {} };
    case "online": {
      const user = info.user;
      return { topic: "online", payload: user ? { userName: user.userName, nickName: user.nickName, uin: user.uin } : {} };
    }
    case "logged-out":
    case "refused": {
      const payload: Record<string, unknown> = {};
      if (info.code !== undefined) payload.code = info.code;
      if (info.message) payload.message = info.message;
      return { topic: info.state, payload };
    }
    default:
      return undefined;
  }
}

function contactMsg(event: ContactEvent): NodeMessage {
  const payload: Record<string, unknown> = { change: event.change, contact: contactOut(event.contact, event.change === "members") };
  if (event.previous) payload.previous = contactOut(event.previous);
  if (event.members) payload.members = { added: event.members.added.map((m) => ({ ...m })), removed: event.members.removed.map((m) => ({ ...m })) };
  return { topic: CONTACT_TOPICS[event.change], payload };
}

/** A friend request: msg.wechat is the message (as from wx-receive), so wx-action accept-friend takes the msg as is. */
function friendRequestMsg(message: Message): NodeMessage {
  const wechat = structuredClone(message);
  return { topic: "friend-request", payload: { ...wechat.friendRequest }, wechat };
}

function recallMsg(event: RecallEvent): NodeMessage {
  const wechat = structuredClone(event.message);
  const payload: Record<string, unknown> = {
    msgId: wechat.recall?.msgId ?? "",
    text: wechat.recall?.replaceText ?? wechat.text,
    chat: wechat.chat,
    sender: wechat.sender,
  };
  if (event.original) payload.original = structuredClone(event.original);
  return { topic: "recall", payload, wechat };
}

/** The sync loop keeps failing (nothing is received), or receives again. */
function syncMsg(event: SyncTroubleEvent): NodeMessage {
  return { topic: event.failing ? "sync-failing" : "sync-recovered", payload: { failures: event.failures, since: event.since, message: event.message } };
}

/** The msg for an account event, or undefined when it is not one a wx-event node sends (e.g. "logging-in"). */
export function eventMsg(event: AccountEvent): NodeMessage | undefined {
  switch (event.kind) {
    case "state":
      return stateMsg(event.state);
    case "contact":
      return contactMsg(event.event);
    case "friend-request":
      return friendRequestMsg(event.message);
    case "recall":
      return recallMsg(event.event);
    case "sync":
      return syncMsg(event.event);
    case "owner":
      // Redis (#17): which instance runs the account now; `self` when it is this one
      return { topic: "owner-changed", payload: { owner: event.owner, previous: event.previous ?? null, self: event.self } };
  }
}
