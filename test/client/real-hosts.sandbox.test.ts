import { strict as assert } from "node:assert";
import * as https from "node:https";
import * as tls from "node:tls";
import { CookieJar } from "tough-cookie";
import { FAMILIES, realHostNames, realHostsTransport, type Family } from "../../lib/sandbox";
import { hostsFor } from "../../lib/wechat/hosts";
import { DEFAULT_LOGIN_URL } from "../../lib/wechat/hosts";
import { HttpClient } from "../../lib/wechat/http";
import { LoginApi } from "../../lib/wechat/login";
import { DEFAULT_TIMEOUTS, SessionApi } from "../../lib/wechat/api";
import { isWeChatError } from "../../lib/wechat/errors";
import type { Session } from "../../lib/wechat/session";
import type { Transport } from "../../lib/wechat/types";
import { envPerTest, loginByQr, startEnv, waitForMessages, type Env } from "./env";

/**
 * The sandbox's real-hosts mode (issue #13): the real WeChat names over TLS, reached through the client's
 * transport option with the login URL left at https://login.wx.qq.com. No name is ever resolved through DNS: every
 * transport here refuses a name the sandbox does not play.
 */

/** The sandbox's transport, recording each name a connection was opened for. */
function recording(env: Env): { transport: Transport; names: Set<string> } {
  const info = env.sb.realHosts;
  assert.ok(info, "the real-hosts mode runs");
  const inner = realHostsTransport(info);
  const names = new Set<string>();
  return {
    names,
    transport: {
      ca: inner.ca,
      connect: (host, port) => {
        names.add(`${host}:${port}`);
        return inner.connect(host, port);
      },
    },
  };
}

/** One HTTPS GET through the TLS front with a chosen SNI and Host header (no client code involved). */
function rawGet(env: Env, sni: string, hostHeader: string, path: string, ca?: string): Promise<{ status: number; body: string }> {
  const info = env.sb.realHosts;
  assert.ok(info);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port: info.port,
        path,
        headers: { host: hostHeader },
        servername: sni,
        ca: ca ?? info.ca,
        agent: false,
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(sni, cert),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const TIMEOUTS = { ...DEFAULT_TIMEOUTS, requestMs: 3_000, syncCheckMs: 3_000 };

describe("sandbox real-hosts mode: TLS, real names, a transport (issue #13)", function () {
  this.timeout(30_000);

  describe("the TLS front", () => {
    const start = envPerTest();

    it("answers every real name over TLS with a certificate of its own CA; refuses other names, a Host unlike the SNI, and clients without the CA", async () => {
      const env = await start({ realHosts: true });
      const names = realHostNames();
      for (const family of FAMILIES) for (const prefix of ["", "login.", "webpush.", "file."]) assert.ok(names.includes(`${prefix}${family}`), `${prefix}${family}`);
      assert.ok(names.includes("login.weixin.qq.com"));
      for (const name of ["login.wx.qq.com", "login.weixin.qq.com", "login.web2.wechat.com"]) {
        const res = await rawGet(env, name, name, "/jslogin?appid=wx782c26e4c19acffb&fun=new&lang=zh_CN");
        assert.equal(res.status, 200, name);
        assert.match(res.body, /window\.QRLogin\.code = 200/, name);
      }
      assert.equal((await rawGet(env, "wx.qq.com", "example.com", "/cgi-bin/mmwebwx-bin/webwxinit")).status, 421, "a name the sandbox does not play");
      assert.equal((await rawGet(env, "wx.qq.com", "wx2.qq.com", "/cgi-bin/mmwebwx-bin/webwxinit")).status, 421, "Host unlike the SNI");
      assert.equal((await rawGet(env, "wx.qq.com", "wx.qq.com", "/api/sandbox/world")).status, 404, "no control API on the real hosts");
      // A certificate of another CA: the handshake fails, so the names are really checked against the CA.
      const other = await startEnv({ realHosts: true });
      try {
        await assert.rejects(rawGet(env, "wx.qq.com", "wx.qq.com", "/", other.sb.realHosts?.ca), /certificate|self.signed|unable to verify/i);
      } finally {
        await other.close();
      }
    });

    it("is off unless asked for: a plain sandbox has no TLS listener and generates no certificate", async () => {
      const env = await start({ realHosts: false });
      assert.equal(env.sb.realHosts, undefined);
    });

    it("a transport that does not map a name fails closed: nothing resolved, nothing sent, a NETWORK error", async () => {
      const env = await start({ realHosts: true });
      const info = env.sb.realHosts;
      assert.ok(info);
      const asked: string[] = [];
      const inner = realHostsTransport(info);
      const http = new HttpClient({ transport: { ca: info.ca, connect: (host, port) => (asked.push(host), host === "wx.qq.com" ? undefined : inner.connect(host, port)) }, retryDelayMs: 1 });
      try {
        await assert.rejects(http.request({ what: "webwxinit", url: "https://wx.qq.com/cgi-bin/mmwebwx-bin/webwxinit", retries: 0 }), (error: unknown) => {
          assert.ok(isWeChatError(error, "NETWORK"));
          assert.match(error.message, /ETRANSPORT/);
          assert.ok(!error.afterSent, "nothing can have reached a server");
          return true;
        });
        await assert.rejects(http.request({ what: "jslogin", url: "https://example.com/jslogin", retries: 0 }), /ETRANSPORT/);
        await assert.rejects(http.request({ what: "jslogin", url: "https://login.wx.qq.com:8443/jslogin", retries: 0 }), /ETRANSPORT/, "a real name on another port");
        assert.deepEqual(asked, ["wx.qq.com", "example.com", "login.wx.qq.com"]);
      } finally {
        http.close();
      }
    });
  });

  describe("the world sends each login to a page host family", () => {
    const start = envPerTest();

    for (const family of FAMILIES) {
      it(`${family}: login at ${DEFAULT_LOGIN_URL}, page calls on ${family}, synccheck on webpush.${family}, uploads on file.${family}`, async () => {
        const env = await start({ realHosts: { pageHosts: [family] } });
        const { transport, names } = recording(env);
        const { client, rec } = env.newClient({ transport, loginUrl: DEFAULT_LOGIN_URL });
        await loginByQr(env, client);
        const friend = client.listContacts().find((c) => c.kind === "friend");
        assert.ok(friend);
        await env.api.inject({ from: friend.userName, text: "over TLS" });
        await waitForMessages(client, rec, (m) => m.text === "over TLS", 1);
        const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
        await client.sendFile(friend.userName, png, { fileName: "dot.png" });
        assert.equal((await env.api.uploads()).length, 1);
        assert.deepEqual(
          [...names].sort(),
          ["login.wx.qq.com:443", `${family}:443`, `webpush.${family}:443`, `file.${family}:443`].sort(),
          "every connection went to a real name of the family, on 443",
        );
      });
    }
  });

  describe("a deliberately broken client is caught (cookies and hosts as the real servers have them)", () => {
    let env: Env;
    let http: HttpClient;
    let jar: CookieJar;
    const family: Family = "wx2.qq.com";

    beforeEach(async () => {
      env = await startEnv({ realHosts: { pageHosts: [family] } });
      const info = env.sb.realHosts;
      assert.ok(info);
      jar = new CookieJar();
      http = new HttpClient({ transport: realHostsTransport(info), jar, retryDelayMs: 1, timeoutMs: 5_000 });
    });

    afterEach(async () => {
      http.close();
      await env.close();
    });

    /** QR login with the client's own login steps: the session and its hosts. */
    async function login(): Promise<SessionApi> {
      const loginApi = new LoginApi(http, "desktop", { requestMs: 3_000, longPollMs: 2_000 });
      const uuid = await loginApi.newUuid(DEFAULT_LOGIN_URL);
      env.sb.control.scan({ uuid });
      let redirect: string | undefined;
      for (let i = 0; i < 10 && redirect === undefined; i++) {
        const answer = await loginApi.poll(DEFAULT_LOGIN_URL, uuid, 0);
        if (answer.code === 200) redirect = answer.redirectUri;
      }
      assert.ok(redirect, "confirmed");
      assert.equal(new URL(redirect).origin, `https://${family}`, "redirect_uri names the world's page host");
      const session = await loginApi.redeem(redirect);
      http.pageOrigin = session.hosts.page;
      const api = new SessionApi(http, session, TIMEOUTS);
      await api.init();
      return api;
    }

    async function violations(): Promise<string[]> {
      return (await env.api.violations()).map((v) => `${v.endpoint}: ${v.rule}`);
    }

    it("sets the shared tickets for .qq.com and the session cookies for the page host; every other login's wxloadtime is already expired", async () => {
      await login();
      const at = async (url: string): Promise<string[]> => (await jar.getCookies(url)).map((c) => c.key).sort();
      const all = await jar.getCookies(`https://${family}/`);
      const domainOf = (key: string): string | null | undefined => all.find((c) => c.key === key)?.domain;
      for (const key of ["webwx_data_ticket", "webwxuvid", "webwx_auth_ticket"]) assert.equal(domainOf(key), "qq.com", key);
      for (const key of ["wxuin", "wxsid"]) assert.equal(domainOf(key), family, key);
      assert.ok(all.every((c) => c.hostOnly === false), "no cookie is for the page host alone: its push and file hosts need them");
      assert.ok((await at(`https://webpush.${family}/`)).includes("wxsid"), "the push host gets the session cookies");
      assert.deepEqual(await at("https://wx.qq.com/"), ["webwx_auth_ticket", "webwx_data_ticket", "webwxuvid"], "another family gets only the .qq.com tickets");
      assert.ok((await at(`https://${family}/`)).includes("wxloadtime"), "first login: wxloadtime is valid");
      await login();
      assert.ok(!(await at(`https://${family}/`)).includes("wxloadtime"), "second login: wxloadtime came already expired");
      assert.deepEqual(await violations(), []);
    });

    it("push host = page host (or another family's): synccheck there gets 1102 and a violation, as the real hosts fail it", async () => {
      const api = await login();
      assert.equal((await api.syncCheck(1)).retcode, 0, "on its push host synccheck works");
      const session: Session = api.session;
      const broken = Object.assign(Object.create(Object.getPrototypeOf(session) as object) as Session, session, { hosts: { ...hostsFor(session.hosts.page), push: session.hosts.page } });
      const brokenApi = new SessionApi(http, broken, TIMEOUTS);
      assert.equal((await brokenApi.syncCheck(2)).retcode, 1102);
      const file = Object.assign(Object.create(Object.getPrototypeOf(session) as object) as Session, session, { hosts: { ...session.hosts, page: session.hosts.push } });
      await assert.rejects(new SessionApi(http, file, TIMEOUTS).init(), (e: unknown) => isWeChatError(e, "SESSION_EXPIRED"), "a page call on the push host");
      // Another family's push host: the session cookies are the page host's, so they do not go there.
      const otherFamily = Object.assign(Object.create(Object.getPrototypeOf(session) as object) as Session, session, { hosts: { ...session.hosts, push: "https://webpush.wx.qq.com" } });
      assert.equal((await new SessionApi(http, otherFamily, TIMEOUTS).syncCheck(3)).retcode, 1102);
      assert.deepEqual(await violations(), ["synccheck: wrong-host", "webwxinit: wrong-host", "synccheck: cookie-missing"]);
    });

    it("cookies for .qq.com dropped: uploads and downloads on the file host are refused (1102)", async () => {
      const api = await login();
      await jar.store.removeCookies("qq.com", null);
      assert.equal(await http.cookie(`https://file.${family}/`, "webwx_data_ticket"), undefined);
      const form = new FormData();
      form.set("uploadmediarequest", JSON.stringify({ BaseRequest: { Uin: api.session.uin, Sid: api.session.sid, Skey: api.session.skey, DeviceID: "e123456789012345" } }));
      await assert.rejects(api.uploadChunk(form), (e: unknown) => isWeChatError(e, "SESSION_EXPIRED") && /1102/.test(e.message));
      const download = api.mediaUrl("webwxgetmedia", { mediaid: "@crypt_x", sender: "@x", webwx_data_ticket: "", fromuser: api.session.uin }, api.session.hosts.file);
      await assert.rejects(api.media("webwxgetmedia", download, 1_000_000), (e: unknown) => isWeChatError(e, "SESSION_EXPIRED"), "a download on the file host too");
      assert.deepEqual(await violations(), ["webwxuploadmedia: cookie-missing", "webwxgetmedia: cookie-missing"]);
    });

    it("session cookies missing: synccheck on the push host and page calls get 1102", async () => {
      const api = await login();
      await jar.store.removeCookie(family, "/", "wxsid");
      await jar.store.removeCookie(family, "/", "wxuin");
      assert.equal((await api.syncCheck(1)).retcode, 1102);
      await assert.rejects(api.init(), (e: unknown) => isWeChatError(e, "SESSION_EXPIRED"));
      assert.deepEqual(await violations(), ["synccheck: cookie-missing", "webwxinit: cookie-missing"]);
    });
  });
});
