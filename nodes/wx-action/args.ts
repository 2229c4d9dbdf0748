import { WeChatError } from "../../lib/wechat/errors";
import type { ForwardSource, FriendRequestRef, RevokeTarget, WeChatClientApi } from "../../lib/wechat/types";
import type { NodeMessage } from "../shared/red";
import { chooseTarget, isRecord } from "../shared/target";
import type { NodeTarget } from "../shared/typed-target";

export const ACTIONS = [
  "recall",
  "accept-friend",
  "set-remark",
  "pin",
  "unpin",
  "create-group",
  "add-members",
  "remove-members",
  "rename-group",
  "mark-read",
  "avatar",
  "forward",
  "logout",
] as const;
export type Action = (typeof ACTIONS)[number];

/** Which of the node's settings each action uses (the editor shows only those rows). */
export const ACTION_SETTINGS: Readonly<Record<"target" | "topic" | "members" | "remark", readonly Action[]>> = {
  target: ["set-remark", "pin", "unpin", "add-members", "remove-members", "rename-group", "mark-read", "avatar", "forward"],
  topic: ["create-group", "rename-group"],
  members: ["create-group", "add-members", "remove-members"],
  remark: ["set-remark"],
};

export function actionOf(value: unknown, fallback: Action): Action {
  if (value === undefined || value === null || value === "") return fallback;
  const found = ACTIONS.find((a) => a === value);
  if (!found) throw new WeChatError("INVALID_ARGUMENT", `unknown msg.action "${String(value)}" (${ACTIONS.join(", ")})`);
  return found;
}

/** Names from an array or a comma / newline separated string; empty entries dropped. */
export function nameList(value: unknown, what: string): string[] | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const list = typeof value === "string" ? value.split(/[,\n，]/) : value;
  if (!Array.isArray(list)) throw new WeChatError("INVALID_ARGUMENT", `${what} must be a list of names`);
  const names: string[] = [];
  for (const entry of list) {
    // A contact object (from wx-contacts) counts by its stable handle.
    const name = typeof entry === "string" ? entry : isRecord(entry) && typeof entry.handle === "string" ? entry.handle : undefined;
    if (name === undefined) throw new WeChatError("INVALID_ARGUMENT", `${what} must be a list of names`);
    if (name.trim() !== "") names.push(name.trim());
  }
  return names.length > 0 ? names : undefined;
}

/** The first non-empty string among the msg properties `keys`, else `fallback`. */
export function textArg(msg: NodeMessage, keys: string[], fallback: string): string {
  for (const key of keys) {
    const value = msg[key];
    if (typeof value === "string" && value.trim() !== "") return value.trim();
  }
  return fallback;
}

/** recall: what wx-send-* put into msg.wechat.sent. */
export function sentOf(msg: NodeMessage): RevokeTarget {
  const wechat = msg.wechat;
  const sent = isRecord(wechat) ? wechat.sent : undefined;
  if (!isRecord(sent) || typeof sent.msgId !== "string" || typeof sent.localId !== "string" || typeof sent.to !== "string") {
    throw new WeChatError("INVALID_ARGUMENT", "recall needs msg.wechat.sent (the output of a wx send node)");
  }
  const target: RevokeTarget = { msgId: sent.msgId, localId: sent.localId, to: sent.to };
  if (typeof sent.toHandle === "string") target.toHandle = sent.toHandle;
  if (typeof sent.time === "number") target.time = sent.time;
  return target;
}

/** accept-friend: msg.wechat.friendRequest (wx-event or wx-receive), else msg.payload {userName, ticket}. */
export function friendRequestOf(msg: NodeMessage): FriendRequestRef {
  const wechat = msg.wechat;
  const candidates = [isRecord(wechat) ? wechat.friendRequest : undefined, msg.payload];
  for (const c of candidates) {
    if (isRecord(c) && typeof c.userName === "string" && typeof c.ticket === "string" && c.ticket !== "") {
      return { userName: c.userName, ticket: c.ticket };
    }
  }
  throw new WeChatError("INVALID_ARGUMENT", "accept-friend needs a friend request: msg.wechat.friendRequest (from wx event or wx receive) or msg.payload {userName, ticket}");
}

/** forward: the received message, msg.wechat as wx receive sends it (its `raw` entry names what is forwarded). */
export function forwardSourceOf(msg: NodeMessage): ForwardSource {
  const wechat = msg.wechat;
  if (!isRecord(wechat) || !isRecord(wechat.raw)) {
    throw new WeChatError("INVALID_ARGUMENT", "forward needs msg.wechat: a received message, as wx receive sends it");
  }
  return { raw: wechat.raw };
}

/** Each entry in the send nodes' forms (chooseTarget); an empty entry is an error, not a reply to the chat. */
function targetList(to: unknown, client: Pick<WeChatClientApi, "getContact">): string[] {
  const list: unknown[] = Array.isArray(to) ? to : to === undefined || to === null || to === "" ? [] : [to];
  return list.map((entry) => chooseTarget({ to: entry === "" ? null : entry, wechat: {} } as NodeMessage, "", client).target);
}

/**
 * forward: where to, in order: msg.to (a name, a contact or chat object, or an array of them), else the node's
 * Contact / group (several names, comma separated). Never back to the message's own chat by default.
 */
export function forwardTargets(msg: NodeMessage, configured: string | NodeTarget, client: Pick<WeChatClientApi, "getContact">): string[] {
  const names = targetList(msg.to, client);
  if (names.length > 0) return names;
  // The node's target: names, comma separated, or (read from msg / flow / global / env) a contact or a list of them.
  const node = typeof configured === "string" ? { value: configured, from: "" } : configured;
  const fromNode = typeof node.value === "string" ? nameList(node.value, "the node's Contact / group") : targetList(node.value, client);
  if (fromNode && fromNode.length > 0) return fromNode;
  throw new WeChatError("INVALID_ARGUMENT", "forward needs a target: msg.to (a name, a contact, or an array of them) or the node's Contact / group");
}
