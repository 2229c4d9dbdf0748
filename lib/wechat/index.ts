export { WeChatClient } from "./client";
export type { ClientTuning, WeChatClientOptions } from "./client";
export { WeChatError, isWeChatError, errorForRet } from "./errors";
export { hostsFor, loginOrigin, DEFAULT_LOGIN_URL } from "./hosts";
export type { Hosts } from "./hosts";
export { SessionStore } from "./session-store";
export type * from "./types";
