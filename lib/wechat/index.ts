export { WeChatClient } from "./client";
export type { ClientTuning, WeChatClientOptions } from "./client";
export { WeChatError, isWeChatError, errorForRet, cleanServerText } from "./errors";
export { hostsFor, isWeChatHost, isWeChatPageUrl, loginOrigin, DEFAULT_LOGIN_URL } from "./hosts";
export type { Hosts } from "./hosts";
export { SessionStore } from "./session-store";
export { REVOKE_WINDOW_MS, INVITE_START_COUNT } from "./actions";
export { DEFAULT_ACTION_PACING } from "./send";
export type * from "./types";
