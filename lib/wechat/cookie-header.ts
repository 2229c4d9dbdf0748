import { type Cookie, CookieJar, type ErrorCallback, MemoryCookieStore, cookieCompare } from "tough-cookie";

/**
 * tough-cookie's memory store, counting its changes: every put, update and removal (through the jar or on the store
 * itself) bumps `version`. What lets CookieHeaders keep a Cookie header until something changed.
 */
export class WatchedCookieStore extends MemoryCookieStore {
  version = 0;

  override putCookie(cookie: Cookie): Promise<void>;
  override putCookie(cookie: Cookie, callback: ErrorCallback): void;
  override putCookie(cookie: Cookie, callback?: ErrorCallback): Promise<void> | void {
    this.version++;
    return callback ? super.putCookie(cookie, callback) : super.putCookie(cookie);
  }

  override updateCookie(oldCookie: Cookie, newCookie: Cookie): Promise<void>;
  override updateCookie(oldCookie: Cookie, newCookie: Cookie, callback: ErrorCallback): void;
  override updateCookie(oldCookie: Cookie, newCookie: Cookie, callback?: ErrorCallback): Promise<void> | void {
    this.version++;
    return callback ? super.updateCookie(oldCookie, newCookie, callback) : super.updateCookie(oldCookie, newCookie);
  }

  override removeCookie(domain: string, path: string, key: string): Promise<void>;
  override removeCookie(domain: string, path: string, key: string, callback: ErrorCallback): void;
  override removeCookie(domain: string, path: string, key: string, callback?: ErrorCallback): Promise<void> | void {
    this.version++;
    return callback ? super.removeCookie(domain, path, key, callback) : super.removeCookie(domain, path, key);
  }

  override removeCookies(domain: string, path: string): Promise<void>;
  override removeCookies(domain: string, path: string, callback: ErrorCallback): void;
  override removeCookies(domain: string, path: string, callback?: ErrorCallback): Promise<void> | void {
    this.version++;
    return callback ? super.removeCookies(domain, path, callback) : super.removeCookies(domain, path);
  }

  override removeAllCookies(): Promise<void>;
  override removeAllCookies(callback: ErrorCallback): void;
  override removeAllCookies(callback?: ErrorCallback): Promise<void> | void {
    this.version++;
    return callback ? super.removeAllCookies(callback) : super.removeAllCookies();
  }
}

/**
 * Runs the jar's code once on a throwaway jar: storing a cookie and building a Cookie header. tough-cookie tests every
 * host against a large IPv6 regular expression, which V8 compiles on its first use (~8 ms of a login's first request
 * otherwise, #19); the date and attribute parsing compile the same way. Nothing is kept.
 */
export function warmCookieCode(): void {
  const jar = new CookieJar(new MemoryCookieStore());
  const url = "https://www.example.com/cgi-bin/";
  jar.setCookieSync("warm=1; Domain=example.com; Path=/; Expires=Wed, 01 Jan 2031 00:00:00 GMT; Secure; HttpOnly", url, { ignoreError: true });
  jar.getCookieStringSync(url);
}

/** A new, empty jar on a WatchedCookieStore (the jar every client uses). */
export function watchedJar(): CookieJar {
  return new CookieJar(new WatchedCookieStore());
}

/** A saved jar restored onto a WatchedCookieStore. */
export function restoreWatchedJar(serialized: Parameters<typeof CookieJar.deserialize>[0]): Promise<CookieJar> {
  return CookieJar.deserialize(serialized, new WatchedCookieStore());
}

interface Entry {
  jar: CookieJar;
  version: number;
  header: string;
  /** When the first of its cookies expires (ms since the epoch); Infinity for session cookies only. */
  until: number;
}

/**
 * The Cookie header of the direct calls (issue #19): the same string `jar.getCookieString(url)` gives, kept
 * per origin and path until the jar is another one, its store changed, or one of the cookies in it expires. Building
 * it costs ~0.1-0.2 ms a call (domain and path matching, sorting); synccheck and webwxsync ask for it on every call
 * while it changes only at login. A jar on another store is asked every time.
 */
export class CookieHeaders {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** At once for a jar on a WatchedCookieStore (every client's); a jar on another store answers asynchronously. */
  header(jar: CookieJar, url: string): string | Promise<string> {
    const store = jar.store;
    if (!(store instanceof WatchedCookieStore)) return jar.getCookieString(url);
    const key = keyOf(url);
    const now = this.now();
    const entry = this.entries.get(key);
    if (entry && entry.jar === jar && entry.version === store.version && now < entry.until) return entry.header;
    const cookies = jar.getCookiesSync(url);
    let until = Infinity;
    for (const cookie of cookies) {
      // tough-cookie counts a Max-Age from the cookie's last use, which each lookup renews: such a header is not kept.
      const expiry = cookie.maxAge !== null && cookie.maxAge !== undefined ? -Infinity : cookie.expiryTime();
      if (expiry !== undefined && expiry < until) until = expiry;
    }
    const header = cookies.sort(cookieCompare).map((c) => c.cookieString()).join("; ");
    // Read after getCookiesSync: it removes the expired cookies it meets (a change of its own).
    this.entries.set(key, { jar, version: store.version, header, until });
    return header;
  }
}

/** Origin and path: what decides which cookies a URL gets (the query never does). */
function keyOf(url: string): string {
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}
