import type { StateInfo } from "../../lib/wechat/types";
import type { NodeStatus } from "./red";

type Translate = (key: string) => string;

/**
 * The node status every wx node shows for a session state. Labels come from the wx-account catalog;
 * details (nickname, server message) are appended after a colon so they survive any translation.
 */
export function statusFor(state: StateInfo, t: Translate): NodeStatus {
  const label = (key: string, detail?: string): string => {
    const text = t(`wx-account.status.${key}`);
    return detail ? `${text}: ${detail}` : text;
  };
  switch (state.state) {
    case "offline":
      return { fill: "grey", shape: "ring", text: label("offline", state.message) };
    case "resuming":
      return { fill: "yellow", shape: "ring", text: label("resuming") };
    case "push-login":
      return { fill: "yellow", shape: "dot", text: label("confirm") };
    case "waiting-scan":
      return { fill: "yellow", shape: "ring", text: label("scan") };
    case "scanned":
      return { fill: "yellow", shape: "dot", text: label("confirm") };
    case "logging-in":
      return { fill: "yellow", shape: "dot", text: label("loggingIn") };
    case "online":
      // Online but receiving nothing (the sync loop keeps failing), or still loading the address book.
      if (state.sync) return { fill: "yellow", shape: "ring", text: label("syncFailing", String(state.sync.failures)) };
      if (state.contacts === "loading") return { fill: "green", shape: "ring", text: label("loadingContacts") };
      return { fill: "green", shape: "dot", text: label("online", state.user?.nickName) };
    case "logged-out":
      return { fill: "red", shape: "ring", text: label("loggedOut", state.code === undefined ? undefined : String(state.code)) };
    case "refused":
      return { fill: "red", shape: "ring", text: label("refused", state.message ?? (state.code === undefined ? undefined : String(state.code))) };
  }
}
