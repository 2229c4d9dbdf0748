import type { IncomingMessage, ServerResponse } from "node:http";

/** Small HTTP helpers of the sandbox: bodies, cookies, raw query values, answers shaped like the real server's. */

export class BodyTooLarge extends Error {}

/**
 * The body, up to `limit` bytes. A larger body is refused with BodyTooLarge only once it has been read to its end
 * (drained, not kept), so the answer reaches the client and its keep-alive socket stays usable, as a real server
 * behaves; a body past four times the limit is cut off by closing the connection.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve(Buffer.concat(chunks));
    };
    const tooLarge = (): BodyTooLarge => new BodyTooLarge(`body over ${limit} bytes`);
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (size > limit * 4) {
        settle(tooLarge());
        req.destroy();
      }
    });
    req.on("end", () => settle(size > limit ? tooLarge() : undefined));
    req.on("error", (error) => settle(error));
    req.on("close", () => settle(size > limit ? tooLarge() : new Error("the request was aborted")));
  });
}

/**
 * Stop keeping a refused request's body: what still arrives is dropped, and past `limit` bytes the connection is
 * cut once the answer has been handed to the socket (a small body drains, so keep-alive clients read the answer).
 */
export function discardBody(req: IncomingMessage, res: ServerResponse, limit: number): void {
  let size = 0;
  const cut = (): void => {
    if (res.writableFinished) req.socket.destroy();
    else res.once("finish", () => req.socket.destroy());
  };
  req.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      req.removeAllListeners("data");
      req.pause();
      cut();
    }
  });
  req.resume();
}

export function parseCookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  const header = req.headers.cookie;
  if (!header) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name && !out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/** Query values exactly as they appear on the wire (not decoded), keyed case-sensitively. */
export function rawQuery(url: string): Map<string, string> {
  const out = new Map<string, string>();
  const q = url.indexOf("?");
  if (q < 0) return out;
  for (const part of url.slice(q + 1).split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!out.has(key)) out.set(key, eq < 0 ? "" : part.slice(eq + 1));
  }
  return out;
}

export function decodeQueryValue(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    return raw;
  }
}

/** Look a query parameter up ignoring case (MsgID / msgid), decoded. */
export function queryParam(raw: Map<string, string>, name: string): string | undefined {
  const exact = raw.get(name);
  if (exact !== undefined) return decodeQueryValue(exact);
  const lower = name.toLowerCase();
  for (const [k, v] of raw) if (k.toLowerCase() === lower) return decodeQueryValue(v);
  return undefined;
}

/**
 * Sees the answer a handler is about to write: may add headers to it, or take it over ("taken": the hook answered
 * or dropped the connection itself). How a fault changes an answer after the call was handled.
 */
export type AnswerHook = (status: number, headers: Record<string, string | string[] | number>) => "send" | "taken";

const ANSWER_HOOK = Symbol("wxflow.sandbox.answerHook");
type HookedResponse = ServerResponse & { [ANSWER_HOOK]?: AnswerHook };

/** Installs the hook for this one response (every handler answers through sendText). */
export function hookAnswer(res: ServerResponse, hook: AnswerHook): void {
  (res as HookedResponse)[ANSWER_HOOK] = hook;
}

export function sendText(res: ServerResponse, status: number, body: string | Buffer, contentType: string, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const head: Record<string, string | string[] | number> = { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body), ...headers };
  const hook = (res as HookedResponse)[ANSWER_HOOK];
  if (hook && hook(status, head) === "taken") return;
  res.writeHead(status, head);
  res.end(body);
}

function isComposite(value: unknown): boolean {
  return value !== null && typeof value === "object" && (!Array.isArray(value) || value.length > 0);
}

/** What JSON.stringify would escape in a string; without any of it a string is written between quotes as it is. */
// eslint-disable-next-line no-control-regex
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;
const keyCache = new Map<string, string>();

function quoteKey(key: string): string {
  let quoted = keyCache.get(key);
  if (quoted === undefined) {
    quoted = `${JSON.stringify(key)}: `;
    if (keyCache.size < 1_000) keyCache.set(key, quoted);
  }
  return quoted;
}

function writeWire(value: unknown): string {
  if (typeof value === "string") return JSON_ESCAPED.test(value) ? JSON.stringify(value) : `"${value}"`;
  // A bigint is a JSON number with every digit (NewMsgId beyond 2^53, as the real server writes it).
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += isComposite(value[i - 1]) ? "\n," : ",";
      out += writeWire(value[i] === undefined ? null : value[i]);
    }
    return out + (isComposite(value[value.length - 1]) ? "\n]" : "]");
  }
  let out = "{\n";
  let previous: unknown;
  let first = true;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (!Object.prototype.hasOwnProperty.call(record, key)) continue;
    const item = record[key];
    if (item === undefined || typeof item === "function") continue;
    if (!first) out += isComposite(previous) ? "\n,\n" : ",\n";
    out += quoteKey(key) + writeWire(item);
    previous = item;
    first = false;
  }
  return first ? "{}" : out + "\n}";
}

/**
 * JSON laid out the way the real server writes it (docs/protocol.md section 9): one member a line, a closing "}" on its
 * own line and the "," after it on the next, bigint values as bare numbers of any length.
 */
export function wireJson(value: unknown): string {
  return writeWire(value) + "\n";
}

/** JSON the way the real server sends it: text/plain without a charset, laid out as wireJson does. */
export function sendWireJson(res: ServerResponse, value: unknown): void {
  sendText(res, 200, wireJson(value), "text/plain");
}

export function sendScript(res: ServerResponse, body: string): void {
  sendText(res, 200, body, "text/javascript; charset=utf-8");
}

export function sendApiJson(res: ServerResponse, status: number, value: unknown): void {
  sendText(res, status, JSON.stringify(value), "application/json; charset=utf-8");
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
