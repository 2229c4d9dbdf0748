import { WxAccount } from "./account";
import type { NodeAPI } from "./red";

/** The account runtime a wx-account node carries, found by the config node's id. */
export function findAccount(RED: NodeAPI, id: unknown): WxAccount | undefined {
  if (typeof id !== "string" || id === "") return undefined;
  const node = RED.nodes.getNode(id);
  if (node === null || typeof node !== "object") return undefined;
  const wx = (node as { wx?: unknown }).wx;
  return wx instanceof WxAccount ? wx : undefined;
}
