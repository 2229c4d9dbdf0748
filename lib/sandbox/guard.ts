import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { SandboxError } from "./types";

/**
 * Who may drive the control API and load the phone page (docs: SECURITY.md, "Sandbox control API"):
 * - Host must name the listening address (or a loopback name), so a DNS-rebound name is refused;
 * - a foreign Origin is refused (a page on another site, or another port, is not the phone page);
 * - writes must say `Content-Type: application/json`, which no form or no-cors fetch can send without a pre-flight;
 * - every call carries the token printed at start (`X-Sandbox-Token` or `Authorization: Bearer`).
 * The WeChat-facing endpoints are not guarded: a client only knows the login URL.
 */

export const TOKEN_HEADER = "x-sandbox-token";

/** A fresh token for one sandbox start. */
export function newToken(): string {
  return randomBytes(24).toString("base64url");
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);

/** True for an address only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return LOOPBACK_NAMES.has(h) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "::ffff:127.0.0.1";
}

/** What wx-sandbox prints when it listens beyond this machine (undefined on loopback). */
export function networkWarning(host: string, token: boolean): string | undefined {
  if (isLoopbackHost(host)) return undefined;
  return token
    ? `warning: listening on ${host}: anyone on the network who learns the token can drive this sandbox, and every WeChat-facing endpoint is open to them`
    : `warning: listening on ${host} with --no-token: anyone on the network can drive this sandbox`;
}

/** Host header value split into name (brackets removed, lower case) and port ("" when absent). */
function splitHost(value: string): { name: string; port: string } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d+))?$/.exec(value.trim());
  if (!m?.[1]) return undefined;
  return { name: m[1].replace(/^\[|\]$/g, "").toLowerCase(), port: m[2] ?? "" };
}

export class ControlGuard {
  constructor(
    /** undefined: the token check is off (wx-sandbox --no-token, scripts). */
    readonly token: string | undefined,
    private readonly listening: () => { host: string; port: number },
  ) {}

  /** The Host header names this sandbox: its own address, or a loopback name when it listens on one. */
  hostAllowed(header: string | undefined): boolean {
    if (!header) return false;
    const parsed = splitHost(header);
    if (!parsed) return false;
    const { host, port } = this.listening();
    if (parsed.port !== String(port) && !(parsed.port === "" && port === 80)) return false;
    const bound = host.replace(/^\[|\]$/g, "").toLowerCase();
    if (parsed.name === bound) return true;
    if (isLoopbackHost(parsed.name)) return true;
    // bound to every interface: any address literal of this machine, never a name (a rebound name is one)
    return (bound === "0.0.0.0" || bound === "::") && isIP(parsed.name) !== 0;
  }

  /** A browser's Origin is this sandbox's own (the scheme and Host it was reached by); no Origin is fine. */
  originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    return origin === `http://${req.headers.host ?? ""}`;
  }

  tokenOk(req: IncomingMessage): boolean {
    if (this.token === undefined) return true;
    const header = req.headers[TOKEN_HEADER];
    const auth = req.headers.authorization;
    const given = typeof header === "string" ? header : typeof auth === "string" && /^Bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
    if (given === undefined) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Throws the refusal of a request that may not reach the phone page (no token: the page carries it). */
  checkPage(req: IncomingMessage): void {
    if (!this.hostAllowed(req.headers.host)) throw new SandboxError("FORBIDDEN", "the Host header does not name this sandbox");
  }

  /** Throws the refusal of a control API call, or returns when it may proceed. */
  checkControl(req: IncomingMessage): void {
    this.checkPage(req);
    if (!this.originAllowed(req)) throw new SandboxError("FORBIDDEN", "cross-origin calls to the control API are refused");
    if (!this.tokenOk(req)) throw new SandboxError("UNAUTHORIZED", `the control API needs the sandbox token (header ${TOKEN_HEADER} or Authorization: Bearer)`);
    const method = req.method ?? "GET";
    if (method !== "GET" && method !== "HEAD") {
      const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
      if (type !== "application/json") throw new SandboxError("UNSUPPORTED_MEDIA_TYPE", "control API writes need Content-Type: application/json");
    }
  }
}
