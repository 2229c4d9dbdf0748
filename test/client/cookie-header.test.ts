import { strict as assert } from "node:assert";
import { CookieJar, MemoryCookieStore } from "tough-cookie";
import { CookieHeaders, WatchedCookieStore, restoreWatchedJar, watchedJar } from "../../lib/wechat/cookie-header";

const SYNC = "https://webpush.wx.qq.com/cgi-bin/mmwebwx-bin/synccheck?r=1&skey=x";
const PAGE = "https://wx.qq.com/cgi-bin/mmwebwx-bin/webwxsync?sid=a&skey=b";

/** Counts the jar's lookups: a kept header asks nothing of the jar. */
function countLookups(jar: CookieJar): { count: number } {
  const calls = { count: 0 };
  const original = jar.getCookiesSync.bind(jar);
  jar.getCookiesSync = ((...args: Parameters<CookieJar["getCookiesSync"]>) => {
    calls.count++;
    return original(...args);
  }) as CookieJar["getCookiesSync"];
  return calls;
}

async function loggedInJar(): Promise<CookieJar> {
  const jar = watchedJar();
  const future = new Date(Date.now() + 3_600_000).toUTCString();
  await jar.setCookie(`wxuin=1234567; Domain=wx.qq.com; Path=/; Expires=${future}`, "https://wx.qq.com/");
  await jar.setCookie(`wxsid=AbCdEf; Domain=wx.qq.com; Path=/; Expires=${future}`, "https://wx.qq.com/");
  await jar.setCookie("webwx_data_ticket=gSsecret; Domain=qq.com; Path=/", "https://wx.qq.com/");
  await jar.setCookie("mm_lang=zh_CN; Domain=wx.qq.com; Path=/cgi-bin/mmwebwx-bin/webwxsync", "https://wx.qq.com/cgi-bin/mmwebwx-bin/webwxsync");
  return jar;
}

describe("the sync calls' Cookie header (#19: kept until the jar changes)", () => {
  it("is what the jar itself would send, per host and path", async () => {
    const jar = await loggedInJar();
    const headers = new CookieHeaders();
    for (const url of [SYNC, PAGE, "https://wx.qq.com/cgi-bin/mmwebwx-bin/webwxinit", "https://file.wx.qq.com/cgi-bin/mmwebwx-bin/webwxuploadmedia"]) {
      assert.equal(await headers.header(jar, url), await jar.getCookieString(url), url);
    }
    assert.match(await headers.header(jar, PAGE), /mm_lang=zh_CN/);
    assert.doesNotMatch(await headers.header(jar, SYNC), /mm_lang/, "a cookie of another path stays out");
  });

  it("is kept while nothing changes: the jar is not asked again", async () => {
    const jar = await loggedInJar();
    const headers = new CookieHeaders();
    const lookups = countLookups(jar);
    const first = await headers.header(jar, SYNC);
    for (let i = 0; i < 5; i++) assert.equal(await headers.header(jar, `${SYNC}&_=${i}`), first, "the query never matters");
    assert.equal(lookups.count, 1);
    await headers.header(jar, PAGE);
    assert.equal(lookups.count, 2, "another path is looked up on its own");
  });

  it("follows every change of the jar: a Set-Cookie, and a cookie removed from the store directly", async () => {
    const jar = await loggedInJar();
    const headers = new CookieHeaders();
    assert.match(await headers.header(jar, SYNC), /wxsid=AbCdEf/);
    await jar.setCookie("wxsid=NewSid; Domain=wx.qq.com; Path=/", "https://wx.qq.com/");
    assert.match(await headers.header(jar, SYNC), /wxsid=NewSid/);
    assert.doesNotMatch(await headers.header(jar, SYNC), /AbCdEf/);
    // What test/client/real-hosts.sandbox.test.ts does to end a session: the store, not the jar.
    await jar.store.removeCookie("wx.qq.com", "/", "wxsid");
    assert.doesNotMatch(await headers.header(jar, SYNC), /wxsid=/);
    await jar.store.removeCookies("qq.com", null as unknown as string);
    assert.doesNotMatch(await headers.header(jar, SYNC), /webwx_data_ticket/);
    await jar.removeAllCookies();
    assert.equal(await headers.header(jar, SYNC), "");
  });

  it("is looked up again once its first cookie expires, and at once for a Max-Age cookie", async () => {
    let now = Date.now();
    const jar = watchedJar();
    const expires = now + 60_000;
    await jar.setCookie(`wxuin=1; Domain=wx.qq.com; Path=/; Expires=${new Date(expires).toUTCString()}`, "https://wx.qq.com/");
    const headers = new CookieHeaders(() => now);
    const lookups = countLookups(jar);
    await headers.header(jar, SYNC);
    await headers.header(jar, SYNC);
    assert.equal(lookups.count, 1);
    now = expires + 1_000;
    await headers.header(jar, SYNC);
    assert.equal(lookups.count, 2, "past the expiry the jar decides again");

    const aged = watchedJar();
    await aged.setCookie("wxloadtime=1; Domain=wx.qq.com; Path=/; Max-Age=600", "https://wx.qq.com/");
    const agedLookups = countLookups(aged);
    assert.equal(await headers.header(aged, SYNC), "wxloadtime=1");
    assert.equal(await headers.header(aged, SYNC), "wxloadtime=1");
    assert.equal(agedLookups.count, 2, "tough-cookie renews a Max-Age at each use: never kept");
  });

  it("starts over for another jar, and asks a jar on another store every time", async () => {
    const headers = new CookieHeaders();
    const a = await loggedInJar();
    const b = watchedJar();
    assert.notEqual(await headers.header(a, SYNC), "");
    assert.equal(await headers.header(b, SYNC), "", "a new jar (a new login) has none of the old cookies");

    const plain = new CookieJar(new MemoryCookieStore());
    await plain.setCookie("wxuin=9; Domain=wx.qq.com; Path=/", "https://wx.qq.com/");
    assert.equal(await headers.header(plain, SYNC), "wxuin=9");
    await plain.store.removeCookie("wx.qq.com", "/", "wxuin");
    assert.equal(await headers.header(plain, SYNC), "", "no cache without a WatchedCookieStore");
  });

  it("a saved jar comes back on a WatchedCookieStore", async () => {
    const jar = await loggedInJar();
    const restored = await restoreWatchedJar(await jar.serialize());
    assert.ok(restored.store instanceof WatchedCookieStore);
    assert.equal(await new CookieHeaders().header(restored, SYNC), await jar.getCookieString(SYNC));
  });
});
