import { randomBytes } from "node:crypto";
import QRCode from "qrcode";
import type { Ctx } from "./context";
import { readBody, sendScript, sendText, sendWireJson } from "./http";
import { cookieDomainOf } from "./real-hosts";
import type { Login } from "./state";
import type { Account } from "./world";

/** Login host: jslogin, qrcode, the login long poll, tickets (webwxnewloginpage), push login. */

const APPID = "wx782c26e4c19acffb";
/** A tiny avatar for the 201 answer (1x1 PNG). */
export const TINY_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
/** The start of the desktop extspam blob in use since July 2022 (docs/protocol.md section 3). */
const EXTSPAM_PREFIX = "Go8FCIkFEokFCggwMDAwMDAwMRAGGvAE";
const REFUSED_1203 = "为了你的帐号安全，此微信号不能登录网页微信。你可以使用Windows微信或Mac微信在电脑端登录。";

export async function jslogin(ctx: Ctx): Promise<void> {
  if (ctx.req.method === "POST") {
    ctx.deviation("jslogin-post", "jslogin was POSTed (the official client uses GET)");
    await readBody(ctx.req, 64 * 1024).catch(() => Buffer.alloc(0));
  }
  if (ctx.q("appid") !== APPID || ctx.q("fun") !== "new") {
    ctx.violation("jslogin-params", `jslogin needs appid=${APPID} and fun=new`);
    sendScript(ctx.res, "window.QRLogin.code = 400; window.QRLogin.uuid = \"\";");
    return;
  }
  const desktop = /mod=desktop/.test(ctx.q("redirect_uri") ?? "");
  const login = ctx.state.newLogin(false, desktop);
  sendScript(ctx.res, `window.QRLogin.code = 200; window.QRLogin.uuid = "${login.uuid}";`);
}

export async function qrcode(ctx: Ctx, uuid: string): Promise<void> {
  const login = ctx.state.logins.get(uuid);
  if (!login) {
    sendText(ctx.res, 404, "not found", "text/plain");
    return;
  }
  const png = await QRCode.toBuffer(`https://login.weixin.qq.com/l/${uuid}`, { type: "png", margin: 1, width: 240 });
  sendText(ctx.res, 200, png, "image/png");
}

interface PollView {
  told201?: boolean;
}

/** The page host origin a login is sent to: the world's choice in the real-hosts mode, else the plain origin. */
function pageOrigin(ctx: Ctx, login: Login): string {
  if (!ctx.front || !ctx.host.pageHost) return ctx.host.url;
  return `https://${ctx.host.pageHost(login.accountIndex ?? 0)}`;
}

function redirectUri(ctx: Ctx, login: Login): string {
  if (!login.ticket) login.ticket = randomBytes(18).toString("base64").replace(/[+/=]/g, "A");
  return `${pageOrigin(ctx, login)}/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=${login.ticket}&uuid=${login.uuid}&lang=zh_CN&scan=${Math.floor(login.createdAt / 1000)}`;
}

function answerFor(ctx: Ctx, login: Login, view: PollView): string | undefined {
  ctx.state.expireIfDue(login);
  switch (login.state) {
    case "waiting":
      return undefined;
    case "scanned":
      if (view.told201) return undefined;
      view.told201 = true;
      return `window.code=201;window.userAvatar = 'data:img/jpg;base64,${TINY_PNG.toString("base64")}';`;
    case "confirmed":
    case "done":
      return `window.code=200;\nwindow.redirect_uri="${redirectUri(ctx, login)}";`;
    case "cancelled":
      return "window.code=202;";
    case "expired":
      return "window.code=400;";
  }
}

export async function loginPoll(ctx: Ctx): Promise<void> {
  const uuid = ctx.q("uuid") ?? "";
  const login = ctx.state.logins.get(uuid);
  if (!login) {
    sendScript(ctx.res, "window.code=400;");
    return;
  }
  const view: PollView = login;
  const now = answerFor(ctx, login, view);
  if (now) {
    sendScript(ctx.res, now);
    return;
  }
  const ms = Math.max(0, Math.min(ctx.state.settings.longPollMs, login.expiresAt - Date.now()));
  const result = await ctx.host.wait(ctx.res, ms, (wake) => {
    login.waiters.add(wake);
    return () => login.waiters.delete(wake);
  });
  if (result === "closed" && ctx.res.destroyed) return;
  sendScript(ctx.res, answerFor(ctx, login, view) ?? "window.code=408;");
}

function cookieHeader(name: string, value: string, ttlMs: number, domain?: string): string {
  return `${name}=${value}; ${domain ? `Domain=${domain}; ` : ""}Path=/; Expires=${new Date(Date.now() + ttlMs).toUTCString()}`;
}

/**
 * Domains of the login cookies (docs/protocol.md section 1). On the real hosts the tickets shared by every host are set
 * for the whole domain (.qq.com / .wechat.com) and the session cookies for the page host and its subdomains (its
 * push and file hosts); every other session gets an already expired wxloadtime, as real answers sometimes carry.
 * On the plain origin all are host cookies.
 */
function cookieScopes(ctx: Ctx, sessionCount: number): { shared?: string; session?: string; loadtimeTtl: number } {
  const day = 24 * 3600 * 1000;
  if (!ctx.front) return { loadtimeTtl: day / 2 };
  return { shared: cookieDomainOf(ctx.front.family), session: ctx.front.hostname, loadtimeTtl: sessionCount % 2 === 0 ? -day : day / 2 };
}

function xml(ret: number, message: string, fields = ""): string {
  return `<error><ret>${ret}</ret><message>${message}</message>${fields}</error>`;
}

export function newLoginPage(ctx: Ctx): void {
  const uuid = ctx.q("uuid") ?? "";
  const ticket = ctx.q("ticket") ?? "";
  const login = ctx.state.logins.get(uuid);
  const answer = (body: string, cookies: string[] = []): void =>
    sendText(ctx.res, 301, body, "text/plain; charset=utf-8", cookies.length ? { "Set-Cookie": cookies } : {});
  if (!login || !login.ticket || login.ticket !== ticket || login.state !== "confirmed" || login.accountIndex === undefined) {
    ctx.violation("ticket-invalid", login?.state === "done" ? "the ticket was already used (single-use)" : "unknown uuid/ticket, or the login is not confirmed");
    answer(xml(-14, "ticket error"));
    return;
  }
  if (ctx.q("fun") !== "new" || ctx.q("version") !== "v2") ctx.deviation("newloginpage-params", "fun=new&version=v2 not added to redirect_uri");
  // desktop (UOS) mode: mod=desktop (on this request, or in jslogin's redirect_uri as wechat4u does) + both headers
  const extspam = String(ctx.req.headers["extspam"] ?? "");
  const desktop = (ctx.q("mod") === "desktop" || login.desktop) && !!ctx.req.headers["client-version"] && extspam.startsWith(EXTSPAM_PREFIX);
  login.state = "done";
  ctx.state.events.emit("login-state", ctx.state.publicLogin(login));
  if (ctx.state.settings.requireDesktop && !desktop) {
    answer(xml(1203, REFUSED_1203));
    return;
  }
  const account = ctx.state.world.accounts[login.accountIndex] as Account;
  if (ctx.front && ctx.host.pageHost && ctx.front.hostname !== ctx.host.pageHost(account.index)) {
    ctx.violation("wrong-host", `the ticket was redeemed on ${ctx.front.hostname}, not on the page host redirect_uri named`);
  }
  const session = ctx.state.startSession(account, desktop);
  ctx.state.authTickets.set(account.index, { ticket: session.authTicket, uvid: session.uvid });
  const day = 24 * 3600 * 1000;
  const scope = cookieScopes(ctx, ctx.state.sessions.size);
  const cookies = [
    cookieHeader("wxuin", String(account.uin), day / 2, scope.session),
    cookieHeader("wxsid", session.sid, day / 2, scope.session),
    cookieHeader("webwx_data_ticket", session.dataTicket, day / 2, scope.shared),
    cookieHeader("webwx_auth_ticket", session.authTicket, 180 * day, scope.shared),
    cookieHeader("webwxuvid", session.uvid, 3650 * day, scope.shared),
    cookieHeader("wxloadtime", `${Math.floor(Date.now() / 1000)}_expired`, scope.loadtimeTtl, scope.session),
    cookieHeader("mm_lang", "zh_CN", day / 2, scope.session),
    cookieHeader("last_wxuin", String(account.uin), 180 * day, scope.session),
    cookieHeader("login_frequency", "1", day / 2, scope.session),
  ];
  const fields =
    `<skey>${session.skey}</skey><wxsid>${session.sid}</wxsid><wxuin>${account.uin}</wxuin>` +
    `<pass_ticket>${session.passTicket}</pass_ticket><isgrayscale>1</isgrayscale>`;
  answer(xml(0, "", fields), cookies);
}


export function pushLoginUrl(ctx: Ctx): void {
  const uin = Number(ctx.q("uin"));
  const account = ctx.state.world.accounts.find((a) => a.uin === uin);
  const known = account ? ctx.state.authTickets.get(account.index) : undefined;
  if (!ctx.state.settings.pushLogin) {
    sendWireJson(ctx.res, { ret: "1", msg: "push login disabled", uuid: "" });
    return;
  }
  if (!account || !known) {
    ctx.violation("pushlogin-unknown", "uin does not name an account that logged in before");
    sendWireJson(ctx.res, { ret: "1", msg: "unknown uin", uuid: "" });
    return;
  }
  if (ctx.cookies.get("webwx_auth_ticket") !== known.ticket || ctx.cookies.get("wxuin") !== String(account.uin)) {
    ctx.violation("cookie-missing", "push login needs the old wxuin and webwx_auth_ticket cookies");
    sendWireJson(ctx.res, { ret: "1", msg: "cookie invalid", uuid: "" });
    return;
  }
  if (ctx.cookies.get("webwxuvid") !== known.uvid) ctx.deviation("pushlogin-uvid", "webwxuvid cookie not sent");
  const login = ctx.state.newLogin(true, ctx.q("mod") === "desktop", account.index);
  sendWireJson(ctx.res, { ret: "0", msg: "all ok", uuid: login.uuid });
}
