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

export function sendText(res: ServerResponse, status: number, body: string | Buffer, contentType: string, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** JSON the way the real server sends it: text/plain. */
export function sendWireJson(res: ServerResponse, value: unknown): void {
  sendText(res, 200, JSON.stringify(value), "text/plain; charset=utf-8");
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
