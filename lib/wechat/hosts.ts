/** Hosts of a session: every host follows from the page host named in redirect_uri (docs/protocol.md section 1). */
export interface Hosts {
  /** Origin of the page host: every API call except push and file calls. */
  page: string;
  /** Origin of the login host (login long poll). */
  login: string;
  /** Origin of the push host (synccheck). */
  push: string;
  /** Origin of the file host (upload, getmedia). */
  file: string;
}

export const DEFAULT_LOGIN_URL = "https://login.wx.qq.com";

/** Whether `host` is `domain` or one of its subdomains. */
function within(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}

/**
 * The host family of a WeChat page host, derived by suffix as the official web client does (docs/protocol.md section 1):
 * wx2 / wx8 keep their own family, any other qq.com host uses wx.qq.com's; web2.wechat.com keeps its own, any
 * other wechat.com host uses web.wechat.com's. Undefined for a host that is not a WeChat domain.
 */
export function familyOf(host: string): string | undefined {
  const name = host.toLowerCase().replace(/\.$/, "");
  if (within(name, "qq.com")) {
    if (name.endsWith("wx2.qq.com")) return "wx2.qq.com";
    if (name.endsWith("wx8.qq.com")) return "wx8.qq.com";
    return "wx.qq.com";
  }
  if (within(name, "wechat.com")) return name.endsWith("web2.wechat.com") ? "web2.wechat.com" : "web.wechat.com";
  return undefined;
}

/**
 * The hosts for a page host URL (redirect_uri or an origin). A WeChat page host keeps its own origin for page calls;
 * login, push and file calls go to its family's hosts (never to the page host itself: push calls there fail forever).
 * Any other origin (an emulator on 127.0.0.1, a WeChat name with an explicit port) is used for everything.
 */
export function hostsFor(pageUrl: string): Hosts {
  const url = new URL(pageUrl);
  const family = url.protocol === "https:" && url.port === "" ? familyOf(url.hostname) : undefined;
  if (family !== undefined) {
    return {
      page: `https://${url.hostname.toLowerCase()}`,
      login: `https://login.${family}`,
      push: `https://webpush.${family}`,
      file: `https://file.${family}`,
    };
  }
  return { page: url.origin, login: url.origin, push: url.origin, file: url.origin };
}

/** The WeChat domains (docs/protocol.md section 1): qq.com and wechat.com and every host under them. */
export function isWeChatHost(hostname: string): boolean {
  return familyOf(hostname) !== undefined;
}

/**
 * Whether a page URL from `redirect_uri` may be trusted in wechat mode (logins that start at a WeChat login host):
 * https on the default port, on a WeChat domain. Anything else would send the tickets and cookies elsewhere.
 */
export function isWeChatPageUrl(pageUrl: string): boolean {
  let url: URL;
  try {
    url = new URL(pageUrl);
  } catch {
    return false;
  }
  return url.protocol === "https:" && url.port === "" && url.username === "" && url.password === "" && isWeChatHost(url.hostname);
}

/** The origin logins start at: a login URL as configured (path and query ignored). */
export function loginOrigin(loginUrl: string | undefined): string {
  return new URL(loginUrl ?? DEFAULT_LOGIN_URL).origin;
}
