import type { Contact, Message, MessageType } from "../../lib/wechat/types";
import type { NodeDef } from "../shared/red";

/** The message types a wx-receive node offers as checkboxes ("status" is protocol noise, never passed). */
export const RECEIVE_TYPES: readonly MessageType[] = [
  "text",
  "image",
  "voice",
  "video",
  "sticker",
  "file",
  "link",
  "location",
  "card",
  "friend-request",
  "recall",
  "system",
  "transfer",
  "red-packet",
  "mini-program",
  "unknown",
];

export interface ReceiveFilter {
  /** undefined: every type; empty: none. */
  types: readonly MessageType[] | undefined;
  /** Stable names of chats (contact or group names, remark, alias); empty: every chat. */
  chats: readonly string[];
  mentionedOnly: boolean;
  includeOwn: boolean;
}

function norm(value: string): string {
  return value.trim().toLowerCase();
}

/** Does a message pass the filter? `contactOf` looks the chat up for its other names (remark, alias). */
export function passes(message: Message, filter: ReceiveFilter, contactOf: (userName: string) => Contact | undefined): boolean {
  if (message.type === "status") return false;
  if (message.fromSelf && !filter.includeOwn) return false;
  if (filter.types && !filter.types.includes(message.type)) return false;
  if (filter.mentionedOnly && message.room && !message.mentioned) return false;
  if (filter.chats.length > 0) {
    const wanted = new Set(filter.chats.map(norm).filter((c) => c !== ""));
    const contact = contactOf(message.chat.userName);
    const names = [message.chat.handle, message.chat.displayName];
    if (contact) names.push(contact.handle, contact.displayName, contact.nickName, contact.remarkName, contact.alias);
    if (!names.some((n) => typeof n === "string" && n !== "" && wanted.has(norm(n)))) return false;
  }
  return true;
}

export interface ReceiveDef extends NodeDef {
  account?: string;
  types?: unknown;
  chats?: unknown;
  mentionedOnly?: boolean;
  includeOwn?: boolean;
  download?: boolean;
  /** Largest media to download, in MB. */
  maxSize?: number | string;
  /** Folder to save downloaded attachments in (empty: not saved). */
  saveDir?: string;
  /** Most the save folder may hold in all, in MB. */
  quota?: number | string;
}

export function stringList(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is string => typeof v === "string" && v.trim() !== "").map((v) => v.trim());
}

export function filterOf(config: ReceiveDef): ReceiveFilter {
  const types = stringList(config.types).filter((t): t is MessageType => (RECEIVE_TYPES as readonly string[]).includes(t));
  return {
    // No list (an older or hand-written config) means every type.
    types: Array.isArray(config.types) ? types : undefined,
    chats: stringList(config.chats),
    mentionedOnly: config.mentionedOnly === true,
    includeOwn: config.includeOwn === true,
  };
}
