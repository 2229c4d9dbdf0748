import type { IncomingHttpHeaders } from "node:http";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { CookieJar } from "tough-cookie";
import { WeChatError, cleanServerText, errorForRet, errorText, networkFailureKind } from "./errors";
import { CookieHeaders, warmCookieCode, watchedJar } from "./cookie-header";
import { AbortWatch } from "./abort-watch";
import { CallDeadlines } from "./call-deadlines";
import { DirectCallError, directCall, type RequestTarget } from "./direct-request";
import { MAX_JSON_DEPTH, jsonNestsDeeper, opensAtMost, quoteMessageIds, valueNestsDeeper } from "./json-scan";
import { agentsFor, type Transport } from "./transport";
import { parseXml, xmlString } from "./util/xml";
import type { Logger } from "./types";

// got is ESM-only: a real dynamic import (module=node16 keeps it one); Node caches the module after the first.
const loadGot = () => import("got");
type GotModule = Awaited<ReturnType<typeof loadGot>>;
type Got = GotModule["default"];

/**
 * Starts loading the HTTP stack (got) now and runs the cookie code once (warmCookieCode), so the first request does
 * not pay for either. Safe to call often.
 */
export function preloadHttp(): Promise<void> {
  return loadGot().then(() => warmCookieCode());
}

export const API_PATH = "/cgi-bin/mmwebwx-bin/";
export const USER_AGENT =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/** A query value that is already encoded as the server wants it back (pass_ticket): put in the URL verbatim. */
export class RawQueryValue {
  constructor(readonly value: string) {}
}
export const raw = (value: string): RawQueryValue => new RawQueryValue(value);

export type QueryValue = string | number | boolean | RawQueryValue | undefined;

/**
 * URL of an API call: `path` under /cgi-bin/mmwebwx-bin/ unless it starts with "/". Values are encoded once;
 * RawQueryValue values (pass_ticket) go in exactly as received. Undefined values are left out.
 */
export function buildUrl(origin: string, path: string, query: Record<string, QueryValue> = {}): string {
  // Built by appending, without a regular expression or arrays: the sync calls build one per message (issue #19).
  let url = (origin.endsWith("/") ? origin.replace(/\/+$/, "") : origin) + (path.startsWith("/") ? path : API_PATH + path);
  let separator = url.includes("?") ? "&" : "?";
  for (const key of Object.keys(query)) {
    const value = query[key];
    if (value === undefined) continue;
    const text = value instanceof RawQueryValue ? value.value : encodeURIComponent(String(value));
    url += `${separator}${encodeURIComponent(key)}=${text}`;
    separator = "&";
  }
  return url;
}

/**
 * A path and query that URL parsing leaves as they are: only characters it never escapes, no dot segment (".", or
 * "%2e" which parsing also takes for a dot), no fragment (a "%" is otherwise kept as it is). Any other goes to
 * node:http as a URL, to be parsed as before.
 */
const PLAIN_PATH = /^\/(?!.*\/(?:\.|%2[eE]))[A-Za-z0-9\-._~!$&()*+,;=:@/?%]*$/;

/** One request; an option left out and one given as undefined mean the same (the default). */
export interface RequestSpec {
  /** Endpoint name for errors and logs (never the URL: it holds secrets). */
  what: string;
  url: string;
  method?: "GET" | "POST" | undefined;
  headers?: Record<string, string> | undefined;
  /** JSON body (POST). */
  json?: unknown | undefined;
  /** URL-encoded form body (POST). */
  form?: Record<string, string> | undefined;
  /** multipart body (POST). */
  formData?: FormData | undefined;
  /** A body already serialised (e.g. a multipart chunk built as one Buffer), sent as is with its Content-Type. */
  body?: { data: Buffer; contentType: string } | undefined;
  /** Whole-request timeout (default 15 s). */
  timeoutMs?: number | undefined;
  /** Further attempts after a network error or a 5xx (default 2). */
  retries?: number | undefined;
  /**
   * false for a call that must not reach the server twice (a send, the one-use login ticket): it is retried only
   * when the connection failed before the request was written; a failure after that (a reset, a timeout, a 5xx)
   * is thrown at once with `afterSent` (docs/protocol.md section 2). Default true.
   */
  idempotent?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** Refuse bodies larger than this (default: the client's cap). */
  maxBytes?: number | undefined;
  /**
   * Called with each attempt's answer as soon as it is whole, before the layers above (retries, decoding) see it: a
   * call that must follow at once can go out from here (the webwxsync after a synccheck that says "new messages",
   * issue #19). On the direct path that is from the socket's end, through got once got hands the answer back. A
   * hook that throws is ignored; what it starts is the caller's to await.
   */
  onAnswer?: ((answer: HttpResponse) => void) | undefined;
  /** Referer header; default `<page origin>/` when the client knows it. */
  referer?: string | undefined;
  /**
   * false: sent through got. By default a call goes over node:http directly (direct-request.ts): got's cost per
   * call, cold more than warm, was most of the client's share of a login and of a burst (#19). A call with `form` or
   * `formData` always goes through got.
   */
  direct?: boolean | undefined;
}

/** What one attempt sends and its limits (HttpClient.parts). */
interface CallParts {
  headers: Record<string, string>;
  body: Buffer | string | FormData | undefined;
  maxBytes: number;
  timeoutMs: number;
  /** This call's own hook, in place of its spec's (sendPrepared). */
  onAnswer?: RequestSpec["onAnswer"];
}

/**
 * A JSON POST made ready (HttpClient.prepareJson) and not sent yet: its headers (Content-Length is set when its body
 * is given) and limits. One use: sendPrepared() completes its headers in place.
 */
export interface PreparedJson {
  readonly spec: RequestSpec;
  readonly headers: Record<string, string>;
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpClientOptions {
  logger?: Logger | undefined;
  jar?: CookieJar | undefined;
  /** Default body cap (8 MiB). */
  maxBodyBytes?: number | undefined;
  /** Default timeout (15 s). */
  timeoutMs?: number | undefined;
  /** First retry delay before jitter (default 500 ms). */
  retryDelayMs?: number | undefined;
  /** Called with the endpoint name before every attempt (observability, tests counting calls). */
  onRequest?: ((what: string) => void) | undefined;
  /** Where connections really go (a server playing the real hosts); default: where the URL says. */
  transport?: Transport | undefined;
}

/** Failures of the connection itself: the request cannot have been written (nothing reached the server). */
const CONNECT_FAILURES = new Set(["ETRANSPORT", "ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "ENETUNREACH", "EHOSTUNREACH", "ENETDOWN", "EHOSTDOWN"]);

/** What got's errors say of the connection (`error.timings`, set by @szmarczak/http-timer on every request). */
interface GotTimings {
  connect?: number;
  secureConnect?: number;
}

/**
 * Whether a failed request may have reached the server. got exposes the phase through `error.timings`: request
 * bytes go out only once the socket is connected (and, for https, its TLS handshake done), so a failure without
 * that timing (a refused connection, a DNS error, a connect timeout) sent nothing. A reused keep-alive socket
 * counts as connected: a reset on it may come after the server read the request.
 */
export function mayHaveBeenSent(error: unknown, url: string): boolean {
  if (CONNECT_FAILURES.has(errorCode(error))) return false;
  const timings = error !== null && typeof error === "object" ? (error as { timings?: GotTimings }).timings : undefined;
  if (timings === undefined) return false;
  return url.startsWith("https:") ? timings.secureConnect !== undefined : timings.connect !== undefined;
}

function errorCode(error: unknown): string {
  if (error !== null && typeof error === "object") {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string") return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === "string") return name;
  }
  return "unknown";
}

/** Waits `ms`, or rejects with CLOSED at once when the signal aborts. The timer never outlives the wait. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new WeChatError("CLOSED", "stopped"));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new WeChatError("CLOSED", "stopped"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Resolves once the calls started so far are on the wire. got writes a request some microtasks and ticks after it
 * is called, so synchronous work done right after starting a call holds the call back; the event loop's check
 * phase comes after all of those. Used between starting the next call and handling the previous answer.
 */
export function afterCallsStarted(): Promise<void> {
  return nextTurn();
}

/** base * 2^attempt, capped, spread by +-50 %. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  const plain = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(plain * (0.5 + Math.random()));
}

/**
 * Bodies up to this size are parsed before their nesting is checked (on the parsed value, valueNestsDeeper); a text
 * that opens at most MAX_JSON_DEPTH objects and arrays is not checked at all. Checking the parsed value of a sync
 * page costs ~5 us, walking its bytes ~35 us (issue #19).
 */
const PARSE_FIRST_MAX_BYTES = 64 * 1024;

/**
 * A larger body is parsed first too when it opens at most one object or array per this many characters; a denser
 * one is walked first (jsonNestsDeeper). JSON.parse spends ~0.6 us on every "[" or "{" (a million nested: ~0.6 s),
 * so the walk refuses a body of millions of "[" in milliseconds instead (issue #14); at one per 64 characters the
 * brackets of a parse cost at most ~10 ms per MB. Real answers open one per 260-370 (a contact page of 500: ~1,000
 * in 370 KB): for them the count (native indexOf) and the check of the parsed value cost ~11 ms of a 5,000-contact
 * login, where the walk over every byte cost 17-40 ms (issue #19).
 */
const CHARS_PER_OPEN = 64;

/**
 * The body as JSON whatever the Content-Type (the server says text/plain) and however it is laid out; message
 * ids (MsgId, NewMsgId, MsgID, SvrMsgId) come out as strings with every digit, numbers on the wire or not. Nesting
 * deeper than MAX_JSON_DEPTH is refused (PROTOCOL). `depthChecked`: the nesting was guarded already (a
 * topLevelMembers walk over every byte), so it is not checked twice.
 */
export function parseJsonBody(body: Buffer | string, what: string, options: { depthChecked?: boolean } = {}): unknown {
  const check = options.depthChecked !== true;
  const text = typeof body === "string" ? body : body.toString("utf8");
  const walkFirst =
    check &&
    (typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.length) > PARSE_FIRST_MAX_BYTES &&
    !opensAtMost(text, Math.floor(text.length / CHARS_PER_OPEN));
  if (walkFirst && jsonNestsDeeper(typeof body === "string" ? Buffer.from(body, "utf8") : body, MAX_JSON_DEPTH)) throw tooDeepError(what);
  let value: unknown;
  try {
    value = JSON.parse(quoteMessageIds(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text));
  } catch {
    throw new WeChatError("PROTOCOL", `${what}: the answer is not valid JSON`);
  }
  // A text that opens few objects and arrays cannot nest too deep: its value is not walked.
  if (check && !walkFirst && !opensAtMost(text, MAX_JSON_DEPTH) && valueNestsDeeper(value, MAX_JSON_DEPTH)) throw tooDeepError(what);
  return value;
}

function tooDeepError(what: string): WeChatError {
  return new WeChatError("PROTOCOL", `${what}: the answer nests deeper than ${MAX_JSON_DEPTH} levels; refused`);
}

/**
 * An answer with a BaseResponse, read: parsed (parseJsonBody) and checked (Ret != 0 -> its typed error). An
 * unreadable one is PROTOCOL with `afterSent`: the server answered, so it may have acted on the call, and an
 * unreadable answer is not a refusal.
 */
export function jsonAnswer(body: Buffer, what: string, options: { depthChecked?: boolean } = {}): Record<string, unknown> {
  let value: unknown;
  try {
    value = parseJsonBody(body, what, options);
  } catch (error) {
    throw new WeChatError("PROTOCOL", errorText(error, `${what}: unreadable answer`), { afterSent: true });
  }
  checkBaseResponse(value, what);
  return value as Record<string, unknown>;
}

const SHORT_ASCII_MAX_BYTES = 1024;

/** Whether every byte is ASCII (a short body: a plain loop costs less than a call into the runtime). */
function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] as number) > 0x7f) return false;
  return true;
}

/** One strict UTF-8 decoder for every body: decode() without `stream` keeps no state between calls. */
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });
const CHARSET = /charset\s*=\s*"?([\w-]+)/i;

/**
 * A body as text: UTF-8 when the bytes are valid UTF-8 (ASCII included), else the charset the answer declared, else
 * GB18030 (a superset of GBK and GB2312): non-UTF-8 login answers have been reported (docs/protocol.md section 9).
 * TextDecoder knows these charsets with Node's full ICU; nothing is decoded twice.
 */
export function decodeBody(body: Buffer, contentType?: string | string[]): string {
  // A short answer in ASCII (a synccheck's, on the way of every message: issue #19) is the same text in any of these
  // charsets: read without the decoder, which costs ~6 us more in a process just woken.
  if (body.length <= SHORT_ASCII_MAX_BYTES && isAscii(body)) return body.toString("latin1");
  try {
    return STRICT_UTF8.decode(body);
  } catch {
    const declared = [contentType ?? []].flat().map((type) => CHARSET.exec(type)?.[1]?.toLowerCase()).find((c) => c && c !== "utf-8" && c !== "utf8");
    for (const charset of [declared, "gb18030"]) {
      if (!charset) continue;
      try {
        return new TextDecoder(charset).decode(body);
      } catch {
        // an unknown label: try the next
      }
    }
    return body.toString("utf8");
  }
}

/** Throws the typed error of a BaseResponse whose Ret is not 0. */
export function checkBaseResponse(value: unknown, what: string): void {
  if (value === null || typeof value !== "object") throw new WeChatError("PROTOCOL", `${what}: unexpected answer`);
  const base = (value as { BaseResponse?: unknown }).BaseResponse;
  if (base === undefined) return;
  if (base === null || typeof base !== "object") throw new WeChatError("PROTOCOL", `${what}: bad BaseResponse`);
  const ret = Number((base as { Ret?: unknown }).Ret);
  if (!Number.isFinite(ret)) throw new WeChatError("PROTOCOL", `${what}: BaseResponse without Ret`);
  if (ret !== 0) {
    const msg = (base as { ErrMsg?: unknown }).ErrMsg;
    throw errorForRet(ret, what, typeof msg === "string" ? msg : undefined);
  }
}

const MAX_NOTICE_CHARS = 200;

/**
 * The text of an `<e>` error XML in BaseResponse.ErrMsg, which the server sends with Ret 0 when it refuses
 * (webwxcreatechatroom, docs/protocol.md section 9); undefined when the answer carries none.
 */
export function serverNotice(value: unknown): string | undefined {
  const base = value !== null && typeof value === "object" ? (value as { BaseResponse?: unknown }).BaseResponse : undefined;
  const errMsg = base !== null && typeof base === "object" ? (base as { ErrMsg?: unknown }).ErrMsg : undefined;
  if (typeof errMsg !== "string" || !/^\s*<e>/.test(errMsg)) return undefined;
  let content = "";
  try {
    content = xmlString(parseXml(errMsg, { maxBytes: 64 * 1024 }), "e", "Content");
  } catch {
    // Unreadable XML: still a refusal, without its text.
  }
  // Server text: no line breaks or escapes may reach the error, the log or a Catch node.
  return cleanServerText(content, MAX_NOTICE_CHARS) || "refused";
}

/**
 * The HTTP side of one client: a cookie jar, its own keep-alive agents (closed with the client), browser-like
 * headers, timeouts, bounded retries with jitter for network errors and 5xx only, a body cap, abortable calls.
 * Redirects are never followed (the 301 of webwxnewloginpage carries the tickets and its Set-Cookie).
 */
export class HttpClient {
  /** Replaceable: a restored session brings its own jar. */
  jar: CookieJar;
  /** Origin of the page host once known: the default Referer. */
  pageOrigin?: string;
  /**
   * One got instance per client with the fixed options merged once (not on every request), made on the first call
   * that needs got (a form or multipart body, or `direct: false`). The module itself is loaded early (preloadHttp).
   */
  private gotInstance?: Promise<Got>;
  private readonly agents: ReturnType<typeof agentsFor>;
  /**
   * The direct calls' own keep-alive connections (direct-request.ts). Never shared with got: got tells whether a
   * failed call may have reached the server from the timings it keeps on each socket it opened itself
   * (`mayHaveBeenSent`); on an https socket it did not open, a send reset after the server took it looked unsent
   * and was sent again (seen once the contact pages went direct, in the real-hosts mode's lost-reset test).
   */
  private readonly directAgents: ReturnType<typeof agentsFor>;
  private readonly closer = new AbortController();
  /** The direct calls' watch on the client's and the sessions' signals. */
  private readonly abortWatch = new AbortWatch();
  /** The direct calls' timeouts, on one timer. */
  private readonly deadlines = new CallDeadlines();
  /** The direct calls' Host header and target parts by origin (targetOf). */
  private readonly origins = new Map<string, { host: string; parts: Omit<RequestTarget, "path"> | undefined }>();
  /** The direct calls' Cookie header, kept until the jar changes. */
  private readonly cookieHeaders = new CookieHeaders();
  private readonly options: { maxBodyBytes: number; timeoutMs: number; retryDelayMs: number };

  constructor(private readonly config: HttpClientOptions = {}) {
    this.jar = config.jar ?? watchedJar();
    this.agents = agentsFor(config.transport);
    this.directAgents = agentsFor(config.transport);
    this.options = {
      maxBodyBytes: config.maxBodyBytes ?? 8 * 1024 * 1024,
      timeoutMs: config.timeoutMs ?? 15_000,
      retryDelayMs: config.retryDelayMs ?? 500,
    };
  }

  get closed(): boolean {
    return this.closer.signal.aborted;
  }

  /** Ends every call in flight (CLOSED) and closes the sockets. */
  close(): void {
    this.closer.abort();
    this.deadlines.close();
    for (const agents of [this.agents, this.directAgents]) {
      agents.http.destroy();
      agents.https.destroy();
    }
  }

  /** Value of a cookie the jar would send to `url` (e.g. webwx_data_ticket), if any. */
  async cookie(url: string, name: string): Promise<string | undefined> {
    const cookies = await this.jar.getCookies(url);
    return cookies.find((c) => c.key === name)?.value;
  }

  /** A call with its retries (network errors and 5xx). Hands attempts()' promise back as it is (see once()). */
  request(spec: RequestSpec): Promise<HttpResponse> {
    return this.attempts(spec, undefined);
  }

  /**
   * A JSON POST made ready now and sent later (sendPrepared) with the body it has then: its headers, limits and
   * URL are built while nothing waits for them. The sync loop readies the next webwxsync while its synccheck is held,
   * so that a woken process sends it without building it first (issue #19: ~60 us of cold code on every message's
   * way). Always a direct call (no form, no multipart).
   */
  prepareJson(spec: RequestSpec): PreparedJson {
    const parts = this.parts({ ...spec, json: undefined });
    parts.headers["content-type"] ??= "application/json";
    return { spec, headers: parts.headers, maxBytes: parts.maxBytes, timeoutMs: parts.timeoutMs };
  }

  /**
   * Sends a prepared call with its JSON body (already serialised), with the retries of `request`. `onAnswer`: as
   * RequestSpec.onAnswer, for this call (the spec was made before the hook was known).
   */
  sendPrepared(prepared: PreparedJson, body: string, onAnswer?: RequestSpec["onAnswer"]): Promise<HttpResponse> {
    const headers = prepared.headers;
    headers["content-length"] = String(Buffer.byteLength(body));
    return this.attempts(prepared.spec, { headers, body, maxBytes: prepared.maxBytes, timeoutMs: prepared.timeoutMs, onAnswer: onAnswer ?? prepared.spec.onAnswer });
  }

  /** A call and its retries (network errors and 5xx, with back-off); `ready`: its parts, made beforehand. */
  private async attempts(spec: RequestSpec, ready: CallParts | undefined): Promise<HttpResponse> {
    const retries = spec.retries ?? 2;
    const idempotent = spec.idempotent ?? true;
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await (ready ? this.attemptDirect(spec, this.signalsOf(spec), ready) : this.once(spec));
        if (response.status >= 500 && attempt < retries && idempotent) {
          this.config.logger?.debug(`${spec.what}: HTTP ${response.status}, retrying`);
        } else if (response.status >= 400) {
          // A 5xx may come after the server acted on the call; a 4xx is a refusal.
          throw new WeChatError("SERVER", `${spec.what}: HTTP ${response.status}`, { afterSent: response.status >= 500, kind: "http", status: response.status });
        } else {
          return response;
        }
      } catch (error) {
        if (!(error instanceof WeChatError) || error.code !== "NETWORK" || attempt >= retries) throw error;
        if (!idempotent && error.afterSent) throw error;
        this.config.logger?.debug(`${spec.what}: ${error.message}, retrying`);
      }
      const linked = this.link(spec.signal);
      try {
        await sleep(backoffDelay(attempt, this.options.retryDelayMs, 5_000), linked.signal);
      } finally {
        linked.release();
      }
    }
  }

  /** POST/GET answering JSON with a BaseResponse: parsed and checked (Ret != 0 -> typed error). */
  async json(spec: RequestSpec): Promise<Record<string, unknown>> {
    const response = await this.request(spec);
    return jsonAnswer(response.body, spec.what);
  }

  /** The body as text (script answers, XML). */
  async text(spec: RequestSpec): Promise<string> {
    const response = await this.request(spec);
    return decodeBody(response.body, response.headers["content-type"]);
  }

  /**
   * A signal that aborts with the call's signal or with the client; `release()` detaches it once the call is over.
   * Not AbortSignal.any(): in Node 20 every such signal leaves an entry behind in its long-lived sources (the
   * client's and the session's signals), so a long session's heap grew with every request.
   */
  private link(signal?: AbortSignal): { signal: AbortSignal; release: () => void } {
    if (!signal) return { signal: this.closer.signal, release: () => undefined };
    const controller = new AbortController();
    const sources = [signal, this.closer.signal];
    if (sources.some((s) => s.aborted)) {
      controller.abort();
      return { signal: controller.signal, release: () => undefined };
    }
    const abort = (): void => controller.abort();
    for (const source of sources) source.addEventListener("abort", abort, { once: true });
    return {
      signal: controller.signal,
      release: () => {
        for (const source of sources) source.removeEventListener("abort", abort);
      },
    };
  }

  private instance(): Promise<Got> {
    this.gotInstance ??= loadGot().then(({ default: got }) =>
      got.extend({
        agent: { http: this.agents.http, https: this.agents.https },
        followRedirect: false,
        throwHttpErrors: false,
        retry: { limit: 0 },
        // A Set-Cookie the jar refuses (a foreign Domain, `Domain=wx.qq.com:443`, a bad date) is skipped, never the
        // reason the answer it came with fails (docs/protocol.md section 1): that answer may be the one-use ticket's.
        ignoreInvalidCookies: true,
        responseType: "buffer",
        decompress: true,
      }),
    );
    return this.gotInstance;
  }

  /** The signals a direct call watches: the call's and the client's. */
  private signalsOf(spec: RequestSpec): AbortSignal[] {
    return spec.signal ? [spec.signal, this.closer.signal] : [this.closer.signal];
  }

  /**
   * One attempt, direct or through got. Not an async function: the direct call's own promise is handed back as it
   * is, not wrapped in another one that takes two more turns to follow it (issue #19: every synccheck and
   * webwxsync comes this way). Called inside attempts()' try, where a throw is a rejection.
   */
  private once(spec: RequestSpec): Promise<HttpResponse> {
    if (spec.direct !== false && spec.form === undefined && spec.formData === undefined) {
      // The direct call watches both signals itself: no linked controller (and its four listeners) per call.
      return this.attemptDirect(spec, this.signalsOf(spec), this.parts(spec));
    }
    return this.onceWithGot(spec);
  }

  private async onceWithGot(spec: RequestSpec): Promise<HttpResponse> {
    const linked = this.link(spec.signal);
    let response: HttpResponse;
    try {
      response = await this.attempt(spec, linked.signal);
    } finally {
      linked.release();
    }
    try {
      spec.onAnswer?.(response);
    } catch {
      // As on the direct path: a hook that throws does not fail the call.
    }
    return response;
  }

  /** What both paths send: the browser-like headers, the body serialised, the limits. */
  private parts(spec: RequestSpec): CallParts {
    const referer = spec.referer ?? (this.pageOrigin ? `${this.pageOrigin}/` : undefined);
    const headers: Record<string, string> = {
      "user-agent": USER_AGENT,
      accept: "application/json, text/plain, */*",
      "accept-language": "zh-CN,zh;q=0.9,en;q=0.8",
      ...(referer ? { referer } : {}),
      ...spec.headers,
    };
    let body: Buffer | string | FormData | undefined = spec.formData;
    if (spec.json !== undefined) {
      // Serialised here (what got's `json` option does). A string body goes out in the same socket write as the
      // request head (Node joins them); a Buffer would be a second chunk.
      body = JSON.stringify(spec.json);
      headers["content-type"] ??= "application/json";
      headers["content-length"] = String(Buffer.byteLength(body));
    } else if (spec.body !== undefined) {
      body = spec.body.data;
      headers["content-type"] = spec.body.contentType;
      headers["content-length"] = String(body.length);
    }
    return { headers, body, maxBytes: spec.maxBytes ?? this.options.maxBodyBytes, timeoutMs: spec.timeoutMs ?? this.options.timeoutMs, onAnswer: spec.onAnswer };
  }

  /** One attempt through got. */
  private async attempt(spec: RequestSpec, signal: AbortSignal): Promise<HttpResponse> {
    if (signal.aborted) throw new WeChatError("CLOSED", `${spec.what}: stopped`);
    const got = await this.instance();
    const { headers, body, maxBytes, timeoutMs } = this.parts(spec);
    this.config.onRequest?.(spec.what);
    let tooLarge = false;
    const promise = got(spec.url, {
      method: spec.method ?? "GET",
      headers,
      ...(body !== undefined ? { body } : {}),
      ...(spec.form !== undefined ? { form: spec.form } : {}),
      cookieJar: this.jar,
      timeout: { request: timeoutMs },
      responseType: "buffer",
      signal,
    });
    promise.on("response", (response: { headers: IncomingHttpHeaders }) => {
      const length = Number(response.headers["content-length"]);
      if (Number.isFinite(length) && length > maxBytes) {
        tooLarge = true;
        promise.cancel();
      }
    });
    promise.on("downloadProgress", (progress: { transferred: number }) => {
      if (progress.transferred > maxBytes && !tooLarge) {
        tooLarge = true;
        promise.cancel();
      }
    });
    try {
      const response = await promise;
      return { status: response.statusCode, headers: response.headers, body: response.body };
    } catch (error) {
      if (tooLarge) throw tooLargeError(spec.what, maxBytes);
      if (signal.aborted) throw new WeChatError("CLOSED", `${spec.what}: stopped`);
      throw networkError(spec.what, errorCode(error), mayHaveBeenSent(error, spec.url));
    }
  }

  /**
   * A URL's Host header (URL.host) and, when parsing it would leave it as it is, its target as node:http takes it
   * (direct-request.ts): the origin's parts are kept per origin (a client talks to a handful of hosts), the path is
   * what follows the origin.
   */
  private targetOf(url: string): { host: string; target: RequestTarget | undefined } {
    const slash = url.indexOf("/", url.indexOf("//") + 2);
    const originText = slash < 0 ? url : url.slice(0, slash);
    let origin = this.origins.get(originText);
    if (origin === undefined) {
      const parsed = new URL(originText);
      const hostname = parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname;
      // Only an origin written as URL would write it (lower case, no default port, no user) is taken as it is.
      const plain = parsed.origin === originText && parsed.username === "" && parsed.password === "";
      origin = { host: parsed.host, parts: plain ? { protocol: parsed.protocol, hostname, port: parsed.port } : undefined };
      if (this.origins.size >= 64) this.origins.clear();
      this.origins.set(originText, origin);
    }
    const path = slash < 0 ? "/" : url.slice(slash);
    const parts = origin.parts;
    return { host: origin.host, target: parts && PLAIN_PATH.test(path) ? { ...parts, path } : undefined };
  }

  /** One attempt over node:http (direct-request.ts), watching the call's and the client's signals. */
  private async attemptDirect(spec: RequestSpec, signals: AbortSignal[], parts: CallParts): Promise<HttpResponse> {
    if (signals.some((s) => s.aborted)) throw new WeChatError("CLOSED", `${spec.what}: stopped`);
    const { headers, body, maxBytes, timeoutMs, onAnswer } = parts;
    this.config.onRequest?.(spec.what);
    try {
      const header = this.cookieHeaders.header(this.jar, spec.url);
      const cookie = typeof header === "string" ? header : await header;
      // No FormData here: once() sends a call with form data through got.
      const data = body as string | Buffer | undefined;
      const { host, target } = this.targetOf(spec.url);
      return await directCall({ url: spec.url, target, host, method: spec.method ?? "GET", headers, body: data, cookie, jar: this.jar, agents: this.directAgents, timeoutMs, maxBytes, signals, watch: this.abortWatch, deadlines: this.deadlines, onAnswer });
    } catch (error) {
      if (error instanceof DirectCallError && error.tooLarge) throw tooLargeError(spec.what, maxBytes);
      if (signals.some((s) => s.aborted)) throw new WeChatError("CLOSED", `${spec.what}: stopped`);
      const code = errorCode(error);
      throw networkError(spec.what, code, error instanceof DirectCallError && error.afterConnect && !CONNECT_FAILURES.has(code));
    }
  }
}

function tooLargeError(what: string, maxBytes: number): WeChatError {
  return new WeChatError("TOO_LARGE", `${what}: the answer is larger than ${maxBytes} bytes`);
}

/**
 * A failed call: retried, unless it may have reached the server and must not be repeated. Only the code: got's
 * messages and options can carry the URL, and the URL carries secrets.
 */
function networkError(what: string, code: string, afterSent: boolean): WeChatError {
  return new WeChatError("NETWORK", `${what}: network error (${code}${afterSent ? ", after the request was sent" : ""})`, {
    afterSent,
    kind: networkFailureKind(code),
  });
}
