import type { ErrorCode, FailureKind } from "./types";

export interface WeChatErrorOptions {
  /** The server's Ret / retcode, when the server said it. */
  ret?: number;
  /** For AMBIGUOUS: the names that matched. */
  candidates?: string[];
  /** The request may have reached the server: it failed after it was written (a reset, a timeout, a 5xx). */
  afterSent?: boolean;
  /** For SEND_UNCERTAIN: the ClientMsgId (= LocalID) of the send, to look it up in the chat. */
  clientMsgId?: string;
  /** Why it failed, when not what the code implies (a network error's kind, "http" for an HTTP status). */
  kind?: FailureKind;
  /** For kind "http": the HTTP status. */
  status?: number;
  cause?: unknown;
}

/** The failure kind a code stands for when nothing more precise is known; undefined for a caller's mistake. */
const KIND_OF_CODE: Partial<Record<ErrorCode, FailureKind>> = {
  NETWORK: "network",
  SEND_UNCERTAIN: "network",
  SERVER: "server",
  SESSION_EXPIRED: "server",
  THROTTLED: "server",
  LOGIN_REFUSED: "login-refused",
  PROTOCOL: "protocol",
  TOO_LARGE: "protocol",
};

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
  /** Why it failed, in the few kinds a person acts on differently (#16.2); unset for a caller's mistake. */
  readonly kind?: FailureKind;
  /** For kind "http": the HTTP status. */
  readonly status?: number;

  constructor(code: ErrorCode, message: string, options: WeChatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WeChatError";
    this.code = code;
    if (options.ret !== undefined) this.ret = options.ret;
    if (options.candidates !== undefined) this.candidates = options.candidates;
    if (options.afterSent) this.afterSent = true;
    if (options.clientMsgId !== undefined) this.clientMsgId = options.clientMsgId;
    const kind = options.kind ?? KIND_OF_CODE[code];
    if (kind !== undefined) this.kind = kind;
    if (options.status !== undefined) this.status = options.status;
  }
}

/**
 * An error as text for the client's own warnings: a WeChatError's message (written to hold no secrets), else only
 * the error's name. Unlike errorText, a foreign error's message (which may quote a URL with the session's keys) is
 * never repeated.
 */
export function describeError(error: unknown): string {
  if (error instanceof WeChatError) return error.message;
  if (error instanceof Error) return error.name;
  return "unknown error";
}

/**
 * The server did not answer the call (no network, a refused or dropped connection, a timeout, an HTTP 5xx): says
 * nothing of a saved session or a push login, which stay for the next attempt.
 */
export function noAnswer(error: unknown): boolean {
  return isWeChatError(error) && (error.code === "NETWORK" || (error.kind === "http" && (error.status ?? 0) >= 500));
}

export function isWeChatError(value: unknown, code?: ErrorCode): value is WeChatError {
  return value instanceof WeChatError && (code === undefined || value.code === code);
}

/**
 * The text of something thrown: an Error's message, else `fallback` (when given) or the value as a string.
 * The one place that says how a caught value becomes words for a log line, a status or an error.
 */
export function errorText(error: unknown, fallback?: string): string {
  if (error instanceof Error) return error.message;
  return fallback ?? String(error);
}

/** getaddrinfo's failures: the name did not resolve. */
const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NODATA", "EAI_NONAME", "EAI_NODNS"]);
const UNREACHABLE_CODES = new Set(["ENETUNREACH", "EHOSTUNREACH", "ENETDOWN", "EHOSTDOWN", "EADDRNOTAVAIL"]);
const TIMEOUT_CODES = new Set(["ETIMEDOUT", "ESOCKETTIMEDOUT"]);
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ERR_STREAM_PREMATURE_CLOSE"]);
/** OpenSSL's certificate verdicts (DEPTH_ZERO_SELF_SIGNED_CERT, CERT_HAS_EXPIRED, ...) and Node's TLS errors. */
const TLS_CODE = /^(?:ERR_TLS_|ERR_SSL_|EPROTO$)|CERT|SELF_SIGNED|UNABLE_TO_(?:GET|VERIFY|DECRYPT|DECODE)/;

/** The kind of a failed connection or request, from its error code (a socket's `code`, got's `code`). */
export function networkFailureKind(code: string): FailureKind {
  if (DNS_CODES.has(code)) return "dns";
  if (code === "ECONNREFUSED") return "refused";
  if (UNREACHABLE_CODES.has(code)) return "unreachable";
  if (TIMEOUT_CODES.has(code)) return "timeout";
  if (RESET_CODES.has(code)) return "reset";
  if (TLS_CODE.test(code)) return "tls";
  return "network";
}

// Line breaks (CR, LF, tab, U+2028/2029) become one space; every other control character (C0, DEL, C1 with the
// 8-bit CSI) and the bidi overrides that reorder a terminal line are dropped.
const LINE_BREAKS = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** Longest server text kept in a log line, status or error. */
export const SERVER_TEXT_MAX = 200;

/**
 * A server-chosen string (a refusal `<message>`, an `ErrMsg`, ...) made safe for a log line, a node status or an
 * error message: no line breaks, no terminal escapes, at most `max` characters. Every path where server text
 * reaches a person goes through here, so a hostile server cannot forge log lines or repaint a terminal.
 */
export function cleanServerText(text: string, max = SERVER_TEXT_MAX): string {
  const clean = text.replace(LINE_BREAKS, " ").replace(CONTROLS, "").trim();
  const chars = Array.from(clean);
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : clean;
}

/** The error a server Ret / retcode stands for (docs/protocol.md section 8); `serverMessage` is cleaned here. */
export function errorForRet(ret: number, what: string, serverMessage?: string): WeChatError {
  const cleaned = serverMessage === undefined ? "" : cleanServerText(serverMessage);
  const said = cleaned ? `: ${cleaned}` : "";
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
      return new WeChatError("PROTOCOL", `${what}: the server refused the parameters (1)${said}`, { ret, kind: "server" });
    default:
      return new WeChatError("SERVER", `${what}: the server answered ${ret}${said}`, { ret });
  }
}
