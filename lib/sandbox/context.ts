import type { IncomingMessage, ServerResponse } from "node:http";
import { isRecord, parseCookies, rawQuery, queryParam, readBody, sendWireJson, BodyTooLarge } from "./http";
import type { FrontRequest } from "./real-hosts";
import type { Session } from "./session";
import type { SandboxState } from "./state";

/** One request as the handlers see it, and the session checks every API call goes through. */

export type WaitResult = "woken" | "timeout" | "closed";

export interface Host {
  readonly state: SandboxState;
  readonly url: string;
  /** Hold a long poll: resolves when woken, after ms, or when the sandbox / the client closes. */
  wait(res: ServerResponse, ms: number, subscribe: (wake: () => void) => () => void): Promise<WaitResult>;
  /** The page host an account's logins go to in the real-hosts mode (real-hosts.ts). */
  pageHost?(accountIndex: number): string;
}

export class Ctx {
  readonly raw: Map<string, string>;
  readonly cookies: Map<string, string>;

  constructor(
    readonly host: Host,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly path: string,
    readonly endpoint: string,
    /** Set when the call came through the real-hosts TLS front: the host name it was sent to and its role. */
    readonly front?: FrontRequest,
  ) {
    this.raw = rawQuery(req.url ?? "");
    this.cookies = parseCookies(req);
  }

  get state(): SandboxState {
    return this.host.state;
  }

  q(name: string): string | undefined {
    return queryParam(this.raw, name);
  }

  violation(rule: string, detail: string): void {
    this.state.violation(this.endpoint, rule, detail);
  }

  deviation(rule: string, detail: string): void {
    this.state.deviation(this.endpoint, rule, detail);
  }

  /** Answer a JSON API call with a BaseResponse error. */
  fail(ret: number, errMsg = ""): undefined {
    sendWireJson(this.res, { BaseResponse: { Ret: ret, ErrMsg: errMsg } });
    return undefined;
  }
}

const DEVICE_ID = /^e\d{15}$/;

/** pass_ticket in the query (or a form field) as issued; double-encoding is what wechat4u does and is accepted. */
export function checkPassTicket(ctx: Ctx, session: Session, raw: string | undefined, expected: boolean): boolean {
  if (raw === undefined) {
    if (expected) ctx.deviation("pass_ticket-missing", "the official client sends pass_ticket on this call");
    return true;
  }
  if (raw === session.passTicket) return true;
  if (raw === encodeURIComponent(session.passTicket) || raw === encodeURI(session.passTicket)) {
    ctx.deviation("pass_ticket-double-encoded", "pass_ticket was %-encoded a second time (docs/protocol.md section 2)");
    return true;
  }
  ctx.violation("pass_ticket-mismatch", "pass_ticket is not the value issued in the login XML");
  return false;
}

/** Cookies a browser would send to the page host after login. */
function sessionFromCookies(ctx: Ctx): Session | undefined {
  const wxuin = ctx.cookies.get("wxuin");
  const wxsid = ctx.cookies.get("wxsid");
  if (!wxuin || !wxsid) {
    ctx.violation("cookie-missing", `cookies wxuin and wxsid are required (got ${[wxuin ? "wxuin" : "", wxsid ? "wxsid" : ""].filter(Boolean).join(",") || "none"})`);
    return undefined;
  }
  const session = ctx.state.sessions.get(wxsid);
  if (!session || String(session.uin) !== wxuin) {
    ctx.violation("cookie-invalid", "wxuin/wxsid cookies do not name a session this server issued");
    return undefined;
  }
  return session;
}

export interface Authed {
  session: Session;
  body: Record<string, unknown>;
}

/** Check a BaseRequest against its session. Answers the error itself and returns false on failure. */
export function checkBaseRequest(ctx: Ctx, base: unknown, answer = true): Session | undefined {
  const fail = (ret: number): undefined => (answer ? ctx.fail(ret) : undefined);
  if (!isRecord(base)) {
    ctx.violation("baserequest-missing", "BaseRequest is missing or not an object");
    return fail(1);
  }
  const sid = base.Sid;
  const session = typeof sid === "string" ? ctx.state.sessions.get(sid) : undefined;
  if (!session) {
    ctx.violation("session-unknown", "BaseRequest.Sid does not name a session this server issued");
    return fail(1101);
  }
  if (!session.live) return fail(session.ended?.code ?? 1101);
  // A number, as the official client sends it; some clients send the same digits as a string and are answered
  // (docs/protocol.md section 9).
  const uin = typeof base.Uin === "string" && /^\d{1,12}$/.test(base.Uin) ? Number(base.Uin) : base.Uin;
  if (typeof uin !== "number") {
    ctx.violation("uin-format", `BaseRequest.Uin must be the wxuin as a number or a string of digits (got ${typeof base.Uin})`);
    return fail(1);
  }
  if (uin !== session.uin) {
    ctx.violation("uin-mismatch", "BaseRequest.Uin is not the session's wxuin");
    return fail(1101);
  }
  if (typeof base.Skey !== "string" || !session.skeyOk(base.Skey)) {
    ctx.violation("skey-mismatch", "BaseRequest.Skey is not the current skey (webwxinit/webwxsync SKey replaces it)");
    return fail(1101);
  }
  if (typeof base.DeviceID !== "string" || !DEVICE_ID.test(base.DeviceID)) {
    ctx.violation("deviceid-format", `BaseRequest.DeviceID must be "e" + 15 digits`);
    return fail(1);
  }
  ctx.state.noteDeviceId(ctx.endpoint, session, base.DeviceID);
  return session;
}

/** A JSON POST to the page host: cookies, body, BaseRequest, pass_ticket. */
export async function authJson(ctx: Ctx, opts: { passTicket: boolean; limit?: number }): Promise<Authed | undefined> {
  if (ctx.req.method !== "POST") {
    ctx.violation("method", `${ctx.endpoint} must be a POST`);
    return ctx.fail(1);
  }
  const cookieSession = sessionFromCookies(ctx);
  let text: string;
  try {
    text = (await readBody(ctx.req, opts.limit ?? 2 * 1024 * 1024)).toString("utf8");
  } catch (err) {
    if (err instanceof BodyTooLarge) ctx.violation("body-too-large", err.message);
    return ctx.fail(1);
  }
  if (!cookieSession) return ctx.fail(1102);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    ctx.violation("json-malformed", "the body is not well-formed JSON");
    return ctx.fail(1);
  }
  if (!isRecord(body)) {
    ctx.violation("json-malformed", "the body is not a JSON object");
    return ctx.fail(1);
  }
  const session = checkBaseRequest(ctx, body.BaseRequest);
  if (!session) return undefined;
  if (session !== cookieSession) {
    ctx.violation("cookie-mismatch", "the wxsid cookie and BaseRequest.Sid name different sessions");
    return ctx.fail(1102);
  }
  if (!checkPassTicket(ctx, session, ctx.raw.get("pass_ticket"), opts.passTicket)) return ctx.fail(1);
  return { session, body };
}

/** A GET to the page or file host: cookies + skey in the query. */
export function authGet(ctx: Ctx, opts: { skey: boolean; dataTicket: boolean }): Session | undefined {
  const session = sessionFromCookies(ctx);
  if (!session) {
    ctx.fail(1102);
    return undefined;
  }
  if (!session.live) {
    ctx.fail(session.ended?.code ?? 1101);
    return undefined;
  }
  if (opts.dataTicket && ctx.cookies.get("webwx_data_ticket") !== session.dataTicket) {
    ctx.violation("cookie-missing", "webwx_data_ticket cookie is required for media");
    ctx.fail(1102);
    return undefined;
  }
  if (opts.skey && !session.skeyOk(ctx.q("skey"))) {
    ctx.violation("skey-mismatch", "skey in the query is not the current skey");
    ctx.fail(1101);
    return undefined;
  }
  const pt = ctx.raw.get("pass_ticket");
  if (pt !== undefined && !checkPassTicket(ctx, session, pt, false)) {
    ctx.fail(1);
    return undefined;
  }
  return session;
}
