import { WeChatError, isWeChatError } from "../../lib/wechat/errors";
import { requireGroup } from "../../lib/wechat/members";
import type { Contact, SendResult, WeChatClientApi } from "../../lib/wechat/types";
import type { NodeMessage } from "./red";
import type { NodeTarget } from "./typed-target";

export type TargetSource = "msg.to" | "msg.target" | "node" | "reply";

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A name (trimmed) from a name or a contact / chat object (from wx-contacts or msg.wechat); undefined for anything else. */
function nameOf(value: unknown, client: Pick<WeChatClientApi, "getContact">): string | undefined {
  if (typeof value === "string") return value.trim() === "" ? undefined : value.trim();
  if (isRecord(value)) {
    const named = typeof value.userName === "string" && client.getContact(value.userName) ? value.userName : value.handle;
    if (typeof named === "string" && named !== "") return named;
  }
  return undefined;
}

function isGiven(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

/**
 * Who a send goes to, in order: msg.to, the node's configured target, else a reply to msg.wechat.chat.
 * `configured` is the node's text, or what its typedInput property holds for this msg (typed-target.ts): a property
 * that holds nothing is an error, never a silent reply to someone else.
 * Returns the target text for client.resolve (a UserName or a stable name).
 */
export function chooseTarget(
  msg: NodeMessage,
  configured: string | NodeTarget,
  client: Pick<WeChatClientApi, "getContact">,
  key: "to" | "target" = "to",
): { target: string; source: TargetSource } {
  const to = msg[key];
  if (isGiven(to)) {
    const named = nameOf(to, client);
    if (named !== undefined) return { target: named, source: `msg.${key}` };
    throw new WeChatError("INVALID_ARGUMENT", `msg.${key} must be a name or a UserName (a non-empty string)`);
  }
  const node = typeof configured === "string" ? { value: configured, from: "" } : configured;
  const named = nameOf(node.value, client);
  if (named !== undefined) return { target: named, source: "node" };
  if (node.from !== "") {
    const what = isGiven(node.value) ? "is not a name or a contact" : "is empty";
    throw new WeChatError("INVALID_ARGUMENT", `the node's target ${node.from} ${what}`);
  }
  const wechat = msg.wechat;
  const chat = isRecord(wechat) ? wechat.chat : undefined;
  if (isRecord(chat)) {
    // The UserName is valid only in the session the message came from; after a re-login use the handle.
    if (typeof chat.userName === "string" && client.getContact(chat.userName)) return { target: chat.userName, source: "reply" };
    if (typeof chat.handle === "string" && chat.handle !== "") return { target: chat.handle, source: "reply" };
  }
  throw new WeChatError("INVALID_ARGUMENT", `no target: set msg.${key}, configure a target, or reply to a received message (msg.wechat.chat)`);
}

/**
 * Resolve the target of a msg to one live contact (NOT_FOUND / AMBIGUOUS from the client). Right after login a
 * name waits for the contacts still loading (bounded), and an unknown group UserName is fetched (findContact).
 */
export function resolveTarget(msg: NodeMessage, configured: string | NodeTarget, client: WeChatClientApi): Promise<Contact> {
  const { target } = chooseTarget(msg, configured, client);
  return client.findContact(target);
}

/** Names to @mention: msg.mentions as an array of names (or one name). Only for groups. */
export function mentionsOf(msg: NodeMessage, contact: Contact): string[] | undefined {
  const raw = msg.mentions;
  if (raw === undefined || raw === null) return undefined;
  const list = typeof raw === "string" ? [raw] : raw;
  if (!Array.isArray(list) || !list.every((m): m is string => typeof m === "string" && m.trim() !== "")) {
    throw new WeChatError("INVALID_ARGUMENT", "msg.mentions must be an array of names");
  }
  if (list.length === 0) return undefined;
  requireGroup(contact, "msg.mentions only work in groups");
  return list.map((m) => m.trim());
}

/** The output msg: the input plus msg.wechat.sent (plain data only). */
export function withSent(msg: NodeMessage, result: SendResult): NodeMessage {
  const wechat = isRecord(msg.wechat) ? msg.wechat : {};
  msg.wechat = {
    ...wechat,
    // time lets a later recall (wx-action) refuse what is past the 2-minute window without asking the server.
    sent: { msgId: result.msgId, localId: result.localId, to: result.to, toHandle: result.toHandle, ...(result.time !== undefined ? { time: result.time } : {}) },
  };
  return msg;
}

/**
 * A send whose fate is unknown (SEND_UNCERTAIN): the msg that goes to Catch names its ClientMsgId in
 * msg.wechat.uncertain, so a flow can look for it in the chat rather than send again (plain data only).
 */
export function markUncertain(msg: NodeMessage, error: unknown): void {
  if (!isWeChatError(error, "SEND_UNCERTAIN") || error.clientMsgId === undefined) return;
  const wechat = isRecord(msg.wechat) ? msg.wechat : {};
  msg.wechat = { ...wechat, uncertain: { clientMsgId: error.clientMsgId } };
}
