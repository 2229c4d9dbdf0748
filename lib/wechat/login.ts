import * as QRCode from "qrcode";
import { WeChatError, cleanServerText } from "./errors";
import { isWeChatPageUrl } from "./hosts";
import { HttpClient, buildUrl, decodeBody, parseJsonBody } from "./http";
import { Session } from "./session";
import { deviceId, parseScriptVars, readXmlTags } from "./util";

export const APP_ID = "wx782c26e4c19acffb";
export const DESKTOP_REDIRECT_URI = "https://wx.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?mod=desktop";
export const QR_TEXT_PREFIX = "https://login.weixin.qq.com/l/";
/** The extspam blob desktop (UOS) clients send with the ticket request; a protocol constant since July 2022. */
export const DESKTOP_EXTSPAM =
  "Go8FCIkFEokFCggwMDAwMDAwMRAGGvAESySibk50w5Wb3uTl2c2h64jVVrV7gNs06GFlWplHQbY/5FfiO++1yH4ykCyNPWKXmco+wfQzK5R98D3so7rJ5LmGFvBLjGceleySrc3SOf2Pc1gVehzJgODeS0lDL3/I/0S2SSE98YgKleq6Uqx6ndTy9yaL9qFxJL7eiA/R3SEfTaW1SBoSITIu+EEkXff+Pv8NHOk7N57rcGk1w0ZzRrQDkXTOXFN2iHYIzAAZPIOY45Lsh+A4slpgnDiaOvRtlQYCt97nmPLuTipOJ8Qc5pM7ZsOsAPPrCQL7nK0I7aPrFDF0q4ziUUKettzW8MrAaiVfmbD1/VkmLNVqqZVvBCtRblXb5FHmtS8FxnqCzYP4WFvz3T0TcrOqwLX1M/DQvcHaGGw0B0y4bZMs7lVScGBFxMj3vbFi2SRKbKhaitxHfYHAOAa0X7/MSS0RNAjdwoyGHeOepXOKY+h3iHeqCvgOH6LOifdHf/1aaZNwSkGotYnYScW8Yx63LnSwba7+hESrtPa/huRmB9KWvMCKbDThL/nne14hnL277EDCSocPu3rOSYjuB9gKSOdVmWsj9Dxb/iZIe+S6AiG29Esm+/eUacSba0k8wn5HhHg9d4tIcixrxveflc8vi2/wNQGVFNsGO6tB5WF0xf/plngOvQ1/ivGV/C1Qpdhzznh0ExAVJ6dwzNg7qIEBaw+BzTJTUuRcPk92Sn6QDn2Pu3mpONaEumacjW4w6ipPnPw+g2TfywJjeEcpSZaP4Q3YV5HG8D6UjWA4GSkBKculWpdCMadx0usMomsSS/74QgpYqcPkmamB4nVv1JxczYITIqItIKjD35IGKAUwAA==";

export type LoginMode = "desktop" | "web";

/**
 * The shape of a login uuid (docs/protocol.md section 3). Every captured one is 10 base64 characters and "==" (7 bytes:
 * "wb7R2kx9dA==", "4ZrEq8JiYQ==", "ob4xFTZAJA=="); in case the server changes, both base64 alphabets ("+" "/" and
 * "-" "_") and 8 to 64 characters are accepted, then at most two "=". Anything else (line breaks, escapes, quotes, a
 * URL) is not a uuid: it would end up in the QR, the log and every poll URL.
 */
export const UUID_PATTERN = /^[A-Za-z0-9+/_-]{8,64}={0,2}$/;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** Ticket answers are tiny: anything larger is refused unread. */
const LOGIN_PAGE_MAX_BYTES = 64 * 1024;
const LOGIN_PAGE_TAGS = ["ret", "message", "skey", "wxsid", "wxuin", "pass_ticket"] as const;

/** The `window.code` of a scan poll answer (docs/protocol.md section 3, step 3). */
export const ScanCode = {
  /** Nobody scanned yet: poll again at once. */
  Waiting: 408,
  /** Scanned, waiting for the tap on the phone (the answer carries the avatar). */
  Scanned: 201,
  /** Confirmed: the answer names the redirect_uri. */
  Confirmed: 200,
  /** The uuid expired: a new uuid and QR. */
  Expired: 400,
  /** Cancelled on the phone: a new uuid and QR. */
  Cancelled: 202,
} as const;

export type ScanAnswer =
  | { code: typeof ScanCode.Waiting }
  | { code: typeof ScanCode.Scanned; avatar?: string }
  | { code: typeof ScanCode.Confirmed; redirectUri: string }
  | { code: typeof ScanCode.Expired }
  | { code: typeof ScanCode.Cancelled };

export interface LoginTimeouts {
  requestMs: number;
  /** The login long poll (server holds it ~25 s). */
  longPollMs: number;
}

export interface LoginPolicy {
  /**
   * wechat mode (logins that start at a WeChat login host): redirect_uri must name an https page host on a WeChat
   * domain, or the tickets and cookies would go wherever the answer points.
   */
  wechatHostsOnly?: boolean;
}

/** The steps of a login before a session exists (docs/protocol.md section 3, steps 1-4, and push login). */
export class LoginApi {
  constructor(
    private readonly http: HttpClient,
    private readonly mode: LoginMode,
    private readonly timeouts: LoginTimeouts,
    private readonly policy: LoginPolicy = {},
  ) {}

  /** Step 1: a new uuid from jslogin. */
  async newUuid(loginOrigin: string, signal?: AbortSignal): Promise<string> {
    const text = await this.http.text({
      what: "jslogin",
      url: buildUrl(loginOrigin, "/jslogin", {
        appid: APP_ID,
        fun: "new",
        lang: "zh_CN",
        _: Date.now(),
        ...(this.mode === "desktop" ? { redirect_uri: DESKTOP_REDIRECT_URI } : {}),
      }),
      timeoutMs: this.timeouts.requestMs,
      signal,
    });
    const vars = parseScriptVars(text);
    const uuid = vars["QRLogin.uuid"];
    const code = vars["QRLogin.code"];
    if (code !== "200" || !uuid) {
      const shown = code !== undefined && /^-?\d{1,6}$/.test(code) ? code : "none";
      throw new WeChatError("PROTOCOL", `jslogin: unexpected answer (code ${shown})`);
    }
    // Never quoted: a hostile uuid is exactly what must not reach a log line.
    if (!isUuid(uuid)) throw new WeChatError("PROTOCOL", "jslogin: the uuid does not have the shape of one; refused");
    return uuid;
  }

  /** Step 3: one long poll of the scan state. */
  async poll(loginOrigin: string, uuid: string, tip: 0 | 1, signal?: AbortSignal): Promise<ScanAnswer> {
    const now = Date.now();
    const text = await this.http.text({
      what: "login",
      url: buildUrl(loginOrigin, "login", { loginicon: "true", uuid, tip, r: ~now, _: now }),
      timeoutMs: this.timeouts.longPollMs,
      retries: 0,
      signal,
    });
    const vars = parseScriptVars(text);
    const code = Number(vars.code);
    switch (code) {
      case ScanCode.Waiting:
      case ScanCode.Expired:
      case ScanCode.Cancelled:
        return { code };
      case ScanCode.Scanned:
        return vars.userAvatar ? { code, avatar: vars.userAvatar } : { code };
      case ScanCode.Confirmed: {
        const redirectUri = vars.redirect_uri;
        if (!redirectUri || !/^https?:\/\//.test(redirectUri)) throw new WeChatError("PROTOCOL", "login: 200 without redirect_uri");
        if (this.policy.wechatHostsOnly && !isWeChatPageUrl(redirectUri)) {
          throw new WeChatError("PROTOCOL", "login: redirect_uri names a page host that is not https on a WeChat domain; refused");
        }
        return { code, redirectUri };
      }
      default:
        throw new WeChatError("PROTOCOL", `login: unexpected code ${Number.isFinite(code) ? code : "none"}`);
    }
  }

  /** Step 4: redeem the ticket (never following the 301) into a session. */
  async redeem(redirectUri: string, signal?: AbortSignal): Promise<Session> {
    let url = `${redirectUri}${redirectUri.includes("?") ? "&" : "?"}fun=new&version=v2`;
    const headers: Record<string, string> = {};
    if (this.mode === "desktop") {
      if (!/[?&]mod=desktop(&|$)/.test(url)) url += "&mod=desktop";
      headers["client-version"] = "2.0.0";
      headers.extspam = DESKTOP_EXTSPAM;
    }
    const response = await this.http.request({
      what: "webwxnewloginpage",
      url,
      // The ticket is good once: never asked again after the server may have seen it (docs/protocol.md section 2).
      idempotent: false,
      headers,
      referer: this.mode === "desktop" ? "https://wx.qq.com/?&lang=zh_CN&target=t" : `${new URL(redirectUri).origin}/`,
      timeoutMs: this.timeouts.requestMs,
      signal,
    });
    // Read robustly (docs/protocol.md section 9): refusals have come as XML that is not well-formed and as GBK text.
    const page = readXmlTags(decodeBody(response.body, response.headers["content-type"]), "error", LOGIN_PAGE_TAGS, {
      maxBytes: LOGIN_PAGE_MAX_BYTES,
    });
    if (page.ret === undefined) throw new WeChatError("PROTOCOL", "webwxnewloginpage: no <ret> in the answer");
    // Full-width digits fold to ASCII; a <ret> that is still no number is a refusal without a code (-1).
    const retText = page.ret.normalize("NFKC").trim();
    const ret = /^-?\d{1,9}$/.test(retText) ? Number(retText) : Number.NaN;
    const message = cleanServerText(page.message ?? "");
    if (ret !== 0) {
      const code = Number.isFinite(ret) ? ret : -1;
      const said = message ? `: ${message}` : "";
      // A dead ticket or cookie (-14, 1100-1102) is not a refusal of the account: the login loop starts over with a
      // fresh QR by itself, so an unattended bot does not wait forever for someone to press "New QR".
      if (code === -14 || code === 1100 || code === 1101 || code === 1102) {
        throw new WeChatError("SESSION_EXPIRED", `login tickets not accepted (${code})${said}: starting a new login`, { ret: code });
      }
      const text =
        code === 1203
          ? `login refused: this account may not use web WeChat (1203)${said}`
          : `login refused by the server (${code})${said}`;
      throw new WeChatError("LOGIN_REFUSED", text, { ret: code });
    }
    const skey = page.skey ?? "";
    const sid = page.wxsid ?? "";
    const uin = Number(page.wxuin);
    const passTicket = page.pass_ticket ?? "";
    if (!skey || !sid || !Number.isFinite(uin) || uin <= 0 || !passTicket) {
      throw new WeChatError("PROTOCOL", "webwxnewloginpage: tickets missing from the answer");
    }
    return new Session(redirectUri, uin, sid, skey, passTicket, deviceId());
  }

  /** Push login: ask the phone to confirm; the uuid to poll, or undefined when refused. */
  async pushLogin(pageOrigin: string, uin: number, signal?: AbortSignal): Promise<string | undefined> {
    const response = await this.http.request({
      what: "webwxpushloginurl",
      url: buildUrl(pageOrigin, "webwxpushloginurl", { uin, ...(this.mode === "desktop" ? { mod: "desktop" } : {}) }),
      timeoutMs: this.timeouts.requestMs,
      retries: 1,
      signal,
    });
    const value = parseJsonBody(response.body, "webwxpushloginurl");
    if (value === null || typeof value !== "object") return undefined;
    const { ret, uuid } = value as { ret?: unknown; uuid?: unknown };
    return String(ret) === "0" && typeof uuid === "string" && isUuid(uuid) ? uuid : undefined;
  }
}

export function qrText(uuid: string): string {
  return QR_TEXT_PREFIX + uuid;
}

/** The QR as a PNG data URL, made locally. */
export function qrDataUrl(text: string): Promise<string> {
  // Fast deflate with one fixed PNG filter (pngjs options, passed through by qrcode): a few ms instead of
  // trying every filter at level 9; same pixels, about the same size.
  const options: QRCode.QRCodeToDataURLOptionsOther & { rendererOpts: { deflateLevel: number; filterType: number } } = {
    type: "image/png",
    errorCorrectionLevel: "M",
    margin: 2,
    width: 256,
    rendererOpts: { deflateLevel: 1, filterType: 4 },
  };
  return QRCode.toDataURL(text, options);
}
