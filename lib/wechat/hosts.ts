/** Hosts of a session: every host follows from the page host named in redirect_uri (protocol.md section 1). */
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

const KNOWN_PAGE_HOSTS = new Set(["wx.qq.com", "wx2.qq.com", "wx8.qq.com", "web.wechat.com", "web2.wechat.com"]);

export const DEFAULT_LOGIN_URL = "https://login.wx.qq.com";

/** The hosts for a page host URL (redirect_uri or an origin). Unknown hosts use their own origin for everything. */
export function hostsFor(pageUrl: string): Hosts {
  const url = new URL(pageUrl);
  const host = url.hostname.toLowerCase();
  if (url.protocol === "https:" && url.port === "" && KNOWN_PAGE_HOSTS.has(host)) {
    return {
      page: `https://${host}`,
      login: `https://login.${host}`,
      push: `https://webpush.${host}`,
      file: `https://file.${host}`,
    };
  }
  return { page: url.origin, login: url.origin, push: url.origin, file: url.origin };
}

/** The WeChat domains (protocol.md section 1): qq.com and wechat.com and every host under them. */
export function isWeChatHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  return ["qq.com", "wechat.com"].some((domain) => host === domain || host.endsWith(`.${domain}`));
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
