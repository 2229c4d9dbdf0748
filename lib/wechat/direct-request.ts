import * as http from "node:http";
import * as https from "node:https";
import type { Socket } from "node:net";
import * as zlib from "node:zlib";
import type { CookieJar } from "tough-cookie";
import type { AbortWatch } from "./abort-watch";
import type { CallDeadlines } from "./call-deadlines";

/**
 * Where a call goes, as node:http takes it without parsing the URL again: the URL's scheme, hostname (no brackets),
 * port ("" for the scheme's default) and path with its query. Only for a URL that parsing would leave as it is
 * (HttpClient.targetOf); ~10 us of every call, issue #19.
 */
export interface RequestTarget {
  protocol: string;
  hostname: string;
  port: string;
  path: string;
}

/**
 * One HTTP call over node:http itself: every call without a form (issue #19). got costs ~0.4 ms of CPU and about
 * one event-loop turn more per call than node:http (bench/README.md, "Where the remaining time goes"), which the
 * sync loop paid on every page of a burst and twice per message in latency; cold, its first calls cost several ms
 * each, which a login paid step by step. Forms and multipart uploads still go through got, and `direct: false`
 * asks for it. What it keeps of got's behaviour, and `http.test.ts` checks on both
 * paths: keep-alive agents on the same transport (a server playing the real hosts; the client's second pair,
 * never shared with got: HttpClient.directAgents), the cookie jar (Cookie
 * sent, every Set-Cookie stored before the answer is handed back, an invalid one skipped), gzip/deflate/br
 * answers, a whole-call timeout (ETIMEDOUT), abort, a body cap counted on the decoded bytes, no redirects, and
 * whether a failed call may have reached the server.
 */
export interface DirectCall {
  url: string;
  /** The URL as node:http takes it, already split; without it, the URL is given to node:http to parse. */
  target?: RequestTarget | undefined;
  /** The URL's Host header as Node would make it: its host, without the scheme's default port (URL.host). */
  host: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string | Buffer | undefined;
  /** The Cookie header to send ("" for none). */
  cookie: string;
  /** Where the answer's Set-Cookie lines go. */
  jar: CookieJar;
  agents: { http: http.Agent; https: https.Agent };
  timeoutMs: number;
  maxBytes: number;
  /** The call ends (ABORT_ERR) when any of them aborts. */
  signals: AbortSignal[];
  /** Watches them (abort-watch.ts). */
  watch: AbortWatch;
  /** Keeps the call's `timeoutMs` (call-deadlines.ts). */
  deadlines: CallDeadlines;
  /** Told the answer the moment it is whole (its cookies stored), before the promise settles (RequestSpec.onAnswer). */
  onAnswer?: ((answer: DirectAnswer) => void) | undefined;
}

export interface DirectAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Why a direct call failed: the code of the socket error (ECONNRESET, ETIMEDOUT, ...), or a body over the cap. */
export class DirectCallError extends Error {
  constructor(
    readonly code: string,
    /** The connection was open when it failed, so the server may have read the request. */
    readonly afterConnect: boolean,
    readonly tooLarge = false,
  ) {
    super(code);
    this.name = "DirectCallError";
  }
}

function codeOf(error: unknown): string {
  const code = error !== null && typeof error === "object" ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "unknown";
}

function decoderFor(encoding: string | undefined): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  switch (encoding?.trim().toLowerCase()) {
    case "gzip":
    case "x-gzip":
      return zlib.createGunzip();
    case "deflate":
      return zlib.createInflate();
    case "br":
      return zlib.createBrotliDecompress();
    default:
      return undefined;
  }
}

/** Every Set-Cookie line of an answer into the jar, in order; one the jar refuses is skipped. Never rejects. */
async function storeCookies(jar: CookieJar, lines: string[], url: string): Promise<void> {
  for (const line of lines) {
    try {
      await jar.setCookie(line, url, { ignoreError: true });
    } catch {
      // A Set-Cookie the jar refuses is skipped, never the reason the answer fails (as on the got path).
    }
  }
}

/**
 * The call's answer, once its Set-Cookie lines (if any) are in the jar. Not an async function: an answer without
 * cookies (every sync call's) settles straight from the end of its body, with no further turn (issue #19).
 */
export function directCall(call: DirectCall): Promise<DirectAnswer> {
  const secure = call.url.startsWith("https:");
  // As a flat list: Node writes it as it is (each name and value still checked), without setHeader() for each one
  // first, ~35 us of a call made by a process just woken (issue #19). Host is then ours to give, as Node gives it.
  const headers: string[] = ["host", call.host];
  if (call.headers["accept-encoding"] === undefined) headers.push("accept-encoding", "gzip, deflate, br");
  for (const name of Object.keys(call.headers)) headers.push(name, call.headers[name] as string);
  if (call.cookie !== "") headers.push("cookie", call.cookie);
  return new Promise<DirectAnswer>((resolve, reject) => {
    let connected = false;
    let settled = false;
    let unwatch: (() => void) | undefined;
    const agent = secure ? call.agents.https : call.agents.http;
    const target = call.target;
    // A port left undefined is the scheme's default, as for a URL without one.
    const request = target
      ? (secure ? https : http).request({ method: call.method, headers, agent, protocol: target.protocol, hostname: target.hostname, port: target.port || undefined, path: target.path })
      : (secure ? https : http).request(call.url, { method: call.method, headers, agent });
    const finish = (error: DirectCallError | undefined, value?: DirectAnswer): void => {
      if (settled) return;
      settled = true;
      if (error) {
        endWatching();
        request.destroy();
        reject(error);
      } else if (value) {
        const answered = (): void => {
          try {
            call.onAnswer?.(value);
          } catch {
            // A hook that throws must not take the call (nor, thrown from a socket's event, the process) down with it.
          }
          // The hook first: what it does with the answer (the sync loop handles a page there) comes before this
          // call's own ending (issue #19). Nothing can time out or abort the call meanwhile: it is settled.
          endWatching();
          resolve(value);
        };
        const setCookies = value.headers["set-cookie"];
        if (setCookies) void storeCookies(call.jar, setCookies, call.url).then(answered);
        else answered();
      }
    };
    const fail = (error: unknown): void => finish(new DirectCallError(codeOf(error), connected));
    const onAbort = (): void => finish(new DirectCallError("ABORT_ERR", connected));
    const endDeadline = call.deadlines.watch(call.timeoutMs, () => finish(new DirectCallError("ETIMEDOUT", connected)));
    const endWatching = (): void => {
      endDeadline();
      unwatch?.();
    };
    // A reused keep-alive socket (the agent says so as the request is made) is already connected: a failure on it may
    // come after the server read the call. Only a new one is watched until it connects (no listener on every call).
    if (request.reusedSocket) {
      connected = true;
    } else {
      request.on("socket", (socket: Socket) => {
        if (!socket.connecting) connected = true;
        else socket.once(secure ? "secureConnect" : "connect", () => (connected = true));
      });
    }
    request.on("error", fail);
    request.on("response", (response: http.IncomingMessage) => {
      const length = Number(response.headers["content-length"]);
      const decoder = decoderFor(response.headers["content-encoding"] as string | undefined);
      if (decoder === undefined && Number.isFinite(length) && length > call.maxBytes) {
        finish(new DirectCallError("TOO_LARGE", true, true));
        return;
      }
      const source = decoder ? response.pipe(decoder) : response;
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("error", fail);
      // The connection closed before the whole body came: a reset, whatever Node's version reports for it.
      response.on("close", () => {
        if (!response.complete) fail({ code: "ECONNRESET" });
      });
      if (decoder) decoder.on("error", fail);
      source.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > call.maxBytes) finish(new DirectCallError("TOO_LARGE", true, true));
        else chunks.push(chunk);
      });
      source.on("end", () => {
        // One chunk (a sync page usually is): taken as it is. Copying ~40 KB into a fresh buffer cost ~0.15 ms here,
        // on the way from an answer to the next call (issue #19).
        const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
        finish(undefined, { status: response.statusCode ?? 0, headers: response.headers, body });
      });
    });
    if (call.signals.some((signal) => signal.aborted)) {
      onAbort();
    } else {
      unwatch = call.watch.watch(call.signals, onAbort);
      request.end(call.body);
    }
  });
}
