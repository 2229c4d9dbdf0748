import type { ErrorCode } from "./types";

export interface WeChatErrorOptions {
  /** The server's Ret / retcode, when the server said it. */
  ret?: number;
  /** For AMBIGUOUS: the names that matched. */
  candidates?: string[];
  /** The request may have reached the server: it failed after it was written (a reset, a timeout, a 5xx). */
  afterSent?: boolean;
  /** For SEND_UNCERTAIN: the ClientMsgId (= LocalID) of the send, to look it up in the chat. */
  clientMsgId?: string;
  cause?: unknown;
}

/**
 * The one error type of the client. `code` is for programs, `message` for people; neither ever holds a
 * session secret (skey, sid, pass_ticket, cookies).
 */
export class WeChatError extends Error {
  readonly code: ErrorCode;
  readonly ret?: number;
  readonly candidates?: string[];
  readonly afterSent?: boolean;
  readonly clientMsgId?: string;

  constructor(code: ErrorCode, message: string, options: WeChatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WeChatError";
    this.code = code;
    if (options.ret !== undefined) this.ret = options.ret;
    if (options.candidates !== undefined) this.candidates = options.candidates;
    if (options.afterSent) this.afterSent = true;
    if (options.clientMsgId !== undefined) this.clientMsgId = options.clientMsgId;
  }
}

export function isWeChatError(value: unknown, code?: ErrorCode): value is WeChatError {
  return value instanceof WeChatError && (code === undefined || value.code === code);
}

/** The error a server Ret / retcode stands for (protocol.md section 8). */
export function errorForRet(ret: number, what: string, serverMessage?: string): WeChatError {
  const said = serverMessage ? `: ${serverMessage}` : "";
  switch (ret) {
    case 1100:
      return new WeChatError("SESSION_EXPIRED", `${what}: logged out from the phone (1100)${said}`, { ret });
    case 1101:
      return new WeChatError("SESSION_EXPIRED", `${what}: session expired or logged in elsewhere (1101)${said}`, { ret });
    case 1102:
      return new WeChatError("SESSION_EXPIRED", `${what}: session cookie invalid (1102)${said}`, { ret });
    case 1203:
      return new WeChatError("LOGIN_REFUSED", `${what}: this account may not use web WeChat (1203)${said}`, { ret });
    case 1204:
      return new WeChatError("NOT_FOUND", `${what}: not a friend or no permission for this chat (1204)${said}`, { ret });
    case 1205:
      return new WeChatError("THROTTLED", `${what}: too frequent, the account is being throttled (1205)${said}`, { ret });
    case 1:
      return new WeChatError("PROTOCOL", `${what}: the server refused the parameters (1)${said}`, { ret });
    default:
      return new WeChatError("SERVER", `${what}: the server answered ${ret}${said}`, { ret });
  }
}
