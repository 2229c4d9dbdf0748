/**
 * The public entry of the protocol client: `require("@wxflow/node-red-wechat")` (package.json `exports` ".").
 * The emulator is `@wxflow/node-red-wechat/sandbox`. Everything else under dist/ is internal; the Node-RED nodes
 * are loaded by Node-RED from the files package.json `node-red.nodes` names. docs/architecture.md shows the parts.
 */
export { WeChatClient } from "./client";
export type { ClientTuning, WeChatClientOptions } from "./client";
export { WeChatError, isWeChatError, errorForRet, cleanServerText } from "./errors";
export { hostsFor, isWeChatHost, isWeChatPageUrl, loginOrigin, DEFAULT_LOGIN_URL } from "./hosts";
export type { Hosts } from "./hosts";
export { SessionStore } from "./session-store";
export type { SavedSession } from "./session-store";
export { AccountLease, FileSessionStorage, RedisSessionStorage, accountKeys, openRedis } from "./store";
export type {
  AccountLeaseEvents,
  AccountLeaseOptions,
  FileSessionStorageOptions,
  LeaseFence,
  LeaseLostReason,
  OpenRedisOptions,
  RedisSessionStorageOptions,
  SessionStorage,
} from "./store";
export { REVOKE_WINDOW_MS, INVITE_START_COUNT } from "./actions";
export { MsgType, AppMsgType, StatusNotifyCode } from "./messages/constants";
export type { MsgTypeValue, AppMsgTypeValue } from "./messages/constants";
export { ScanCode } from "./login";
export type { LoginMode } from "./login";
export { DEFAULT_ACTION_PACING } from "./send";
export type * from "./types";
