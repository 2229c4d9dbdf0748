import { WeChatError } from "../../lib/wechat/errors";
import type { Contact, WeChatClientApi } from "../../lib/wechat/types";
import type { Node, NodeAPI, NodeMessage } from "./red";
import { resolveTarget } from "./target";

/**
 * Where a node's configured target comes from, as the editor's typedInput offers it: the text itself (a stable
 * name), or a msg / flow / global / env property read for each msg.
 */
export const TARGET_TYPES = ["str", "msg", "flow", "global", "env"] as const;
export type TargetType = (typeof TARGET_TYPES)[number];

export interface ConfiguredTarget {
  value: string;
  type: TargetType;
}

/** The node's target for one msg: a name or a contact object, and the property it was read from ("" for text). */
export interface NodeTarget {
  value: unknown;
  from: string;
}

/** A node's target setting. A flow saved before the typedInput has no targetType: its target is the text itself. */
export function configuredTarget(config: { target?: unknown; targetType?: unknown }): ConfiguredTarget {
  const value = typeof config.target === "string" ? config.target.trim() : "";
  return { value, type: TARGET_TYPES.find((t) => t === config.targetType) ?? "str" };
}

/** Read the configured target for `msg`: the text as it is, or the property's value through Node-RED's own evaluation. */
export function evaluateTarget(RED: NodeAPI, node: Node, target: ConfiguredTarget, msg: NodeMessage): Promise<NodeTarget> {
  if (target.type === "str" || target.value === "") return Promise.resolve({ value: target.value, from: "" });
  const from = `${target.type}.${target.value}`;
  return new Promise((resolve, reject) => {
    RED.util.evaluateNodeProperty(target.value, target.type, node, msg, (error, value) => {
      if (error) reject(new WeChatError("INVALID_ARGUMENT", `the node's target ${from} cannot be read: ${error.message}`));
      else resolve({ value, from });
    });
  });
}

/** For a send node: the contact one msg goes to, with the node's target setting read for that msg (see chooseTarget). */
export function targetResolver(
  RED: NodeAPI,
  node: Node,
  config: { target?: unknown; targetType?: unknown },
): (msg: NodeMessage, client: WeChatClientApi) => Promise<Contact> {
  const target = configuredTarget(config);
  return async (msg, client) => resolveTarget(msg, await evaluateTarget(RED, node, target, msg), client);
}
