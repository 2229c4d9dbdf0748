/**
 * An independent client proves the sandbox: wechat4u (CommonJS, untyped) logs in through the control API,
 * lists contacts, receives an injected message, sends a text and a 1.2 MB image in chunks, forwards an image and a
 * text by reference (forwardMsg), with no violation.
 * Its URLs are built from https:// hosts in lib/util/conf.js. On the sandbox's plain origin getCONF is swapped for
 * one that points every URL at the sandbox, and the test checks that no URL leaves it. In the real-hosts mode
 * (README.md "Real hosts") wechat4u runs unchanged on its real URLs: its HTTP layer is axios, which takes an
 * `httpsAgent` per request (wechat4u only sets `httpsAgent: false` in its instance defaults), so its request
 * function is wrapped to pass an agent that opens every connection to the sandbox (lib/wechat/transport.ts), and
 * the agent refuses any name the sandbox does not play.
 */
import assert from "node:assert/strict";
import { EventEmitter, once } from "node:events";
import { createRequire } from "node:module";
import type { Agent } from "node:http";
import { realHostsTransport, startSandbox, type Sandbox } from "../../lib/sandbox";
import { agentsFor } from "../../lib/wechat/transport";
import { SandboxClient } from "../support/sandbox";

/** CommonJS loader sharing the require cache, so the patched configuration is the one wechat4u reads. */
const load = createRequire(__filename);

interface ConfModule {
  getCONF: (host?: string) => Record<string, unknown>;
}

interface Bot extends EventEmitter {
  start(): Promise<void>;
  stop(): void;
  sendMsg(msg: string | { file: Buffer; filename: string }, to: string): Promise<Record<string, unknown>>;
  /** Forward a received message by reference (Scene 2). */
  forwardMsg(msg: Record<string, unknown>, to: string): Promise<Record<string, unknown>>;
  contacts: Record<string, { UserName: string; NickName: string; RemarkName?: string }>;
  user: { UserName: string };
  state: string;
  /** wechat4u's request function (axios.request of its own instance); every call goes through it. */
  request: (options: Record<string, unknown>) => Promise<unknown>;
}

function isConfModule(value: unknown): value is ConfModule {
  return typeof value === "object" && value !== null && typeof (value as ConfModule).getCONF === "function";
}

/** Every URL of wechat4u's configuration, rewritten to the sandbox origin. */
function sandboxConf(original: ConfModule["getCONF"], origin: string): ConfModule["getCONF"] {
  return () => {
    const conf = { ...original("wx.qq.com") };
    for (const [key, value] of Object.entries(conf)) {
      if (typeof value !== "string") continue;
      conf[key] = value.replace(/^https:\/\/(login\.|file\.|webpush\.)?(wx|weixin)\.qq\.com/, origin);
      if (/^https?:\/\//.test(String(conf[key]))) assert.ok(String(conf[key]).startsWith(origin), `${key} must point at the sandbox`);
    }
    return conf;
  };
}

for (const mode of ["origin", "real-hosts"] as const) {
describe(`sandbox: wechat4u as an independent client (${mode === "origin" ? "plain origin, URLs rewritten" : "real hosts over TLS, URLs unchanged"})`, function () {
  this.timeout(30_000);
  let sb: Sandbox;
  let api: SandboxClient;
  let confModule: ConfModule;
  let originalGetConf: ConfModule["getCONF"];
  let bot: Bot | undefined;
  const errors: unknown[] = [];

  before(async () => {
    // requireDesktop: wechat4u logs in the desktop (UOS) way, as accounts need today
    sb = await startSandbox({ longPollMs: 2_000, contacts: 30, seed: 5, requireDesktop: true, ...(mode === "real-hosts" ? { realHosts: { pageHosts: ["wx2.qq.com"] } } : {}) });
    api = new SandboxClient(sb);
    if (mode === "real-hosts") return;
    const conf: unknown = load("wechat4u/lib/util/conf");
    if (!isConfModule(conf)) throw new Error("wechat4u/lib/util/conf has no getCONF");
    confModule = conf;
    originalGetConf = conf.getCONF;
    conf.getCONF = sandboxConf(originalGetConf, sb.url);
  });

  after(async () => {
    bot?.stop();
    if (confModule) confModule.getCONF = originalGetConf;
    await sb?.close();
  });

  it("logs in, lists contacts, receives, sends a text and a chunked image, forwards by reference, with no violation", async () => {
    const handlersBefore = process.listeners("uncaughtException");
    const mod: unknown = load("wechat4u");
    // wechat4u installs a process-wide uncaughtException logger at load: take it away again
    for (const h of process.listeners("uncaughtException")) if (!handlersBefore.includes(h)) process.off("uncaughtException", h);
    const Wechat = mod as new () => Bot;
    const b = new Wechat();
    bot = b;
    const asked = new Set<string>();
    let agents: { http: Agent; https: Agent } | undefined;
    if (mode === "real-hosts") {
      const info = sb.realHosts;
      assert.ok(info);
      const inner = realHostsTransport(info);
      agents = agentsFor({ ca: inner.ca, connect: (host, port) => (asked.add(host), inner.connect(host, port)) });
      const through = agents;
      const request = b.request;
      b.request = (options) => request({ ...options, httpAgent: through.http, httpsAgent: through.https });
    }
    b.on("error", (err: unknown) => errors.push(err));
    b.on("uuid", (uuid: string) => void api.scan({ uuid }));
    const loggedIn = once(b, "login");
    const contactsLoaded = new Promise<void>((resolve) => {
      const check = (): void => {
        if (Object.keys(b.contacts).length > 30) {
          b.off("contacts-updated", check);
          resolve();
        }
      };
      b.on("contacts-updated", check);
    });
    void b.start();
    await loggedIn;
    await contactsLoaded;
    const names = Object.values(b.contacts).map((c) => c.NickName);
    assert.ok(names.includes("文件传输助手"));
    assert.ok(Object.keys(b.contacts).some((u) => u.startsWith("@@")));

    // receive an injected message
    const friend = (await api.worldContacts({ kind: "friend" }))[0];
    assert.ok(friend);
    const got = new Promise<Record<string, unknown>>((resolve) => {
      const onMessage = (msg: Record<string, unknown>): void => {
        if (msg.MsgType === 1 && String(msg.Content).startsWith("hello wechat4u")) {
          b.off("message", onMessage);
          resolve(msg);
        }
      };
      b.on("message", onMessage);
    });
    await api.inject({ from: friend.remarkName || friend.nickName, text: "hello wechat4u <3" });
    const msg = await got;
    assert.equal(msg.Content, "hello wechat4u <3");

    // send a text and a 1.2 MB image (3 chunks)
    const to = String(msg.FromUserName);
    const text = await b.sendMsg("reply from wechat4u", to);
    assert.equal((text.BaseResponse as { Ret: number }).Ret, 0);
    const image = Buffer.alloc(1_200_000);
    for (let i = 0; i < image.length; i++) image[i] = (i * 13) % 256;
    const pic = await b.sendMsg({ file: image, filename: "photo.jpg" }, to);
    assert.equal((pic.BaseResponse as { Ret: number }).Ret, 0);

    const sentText = await api.waitForSent((r) => r.type === "text" && r.text === "reply from wechat4u");
    assert.equal(sentText.to, to);
    const sentImage = await api.waitForSent((r) => r.type === "image");
    const upload = (await api.uploads()).find((u) => u.mediaId === sentImage.mediaId);
    assert.equal(upload?.chunks, 3);
    assert.deepEqual(await api.upload(String(sentImage.mediaId)), image);

    // forward by reference (forwardMsg): a received image and the received text, nothing uploaded (#18)
    const photo = Buffer.concat([Buffer.from("\x89PNG\r\n\x1a\n", "latin1"), Buffer.alloc(5000, 9)]);
    const gotPhoto = new Promise<Record<string, unknown>>((resolve) => {
      const onMessage = (m: Record<string, unknown>): void => {
        if (m.MsgType !== 3) return;
        b.off("message", onMessage);
        resolve(m);
      };
      b.on("message", onMessage);
    });
    await api.inject({ from: friend.remarkName || friend.nickName, type: "image", data: photo.toString("base64") });
    const received = await gotPhoto;
    const uploads = (await api.uploads()).length;
    assert.equal(((await b.forwardMsg(received, "filehelper")).BaseResponse as { Ret: number }).Ret, 0);
    assert.equal(((await b.forwardMsg(msg, "filehelper")).BaseResponse as { Ret: number }).Ret, 0);
    const forwardedImage = await api.waitForSent((r) => r.type === "image" && r.forwarded === true);
    assert.deepEqual(await api.media(forwardedImage.msgId), photo);
    const forwardedText = await api.waitForSent((r) => r.type === "text" && r.forwarded === true);
    assert.equal(forwardedText.text, "hello wechat4u <3");
    assert.equal((await api.uploads()).length, uploads, "a forward uploads nothing");

    assert.deepEqual(await api.violations(), []);
    // what wechat4u does differently from the official client, and the real server accepts
    const deviations = (await api.deviations()).map((d) => `${d.endpoint}:${d.rule}`);
    const known = new Set([
      "jslogin:jslogin-post",
      "webwxnewloginpage:newloginpage-params",
      "webwxinit:pass_ticket-double-encoded",
      "webwxsync:pass_ticket-double-encoded",
      "webwxstatusnotify:pass_ticket-double-encoded",
      "webwxbatchgetcontact:pass_ticket-double-encoded",
      "webwxsendmsg:pass_ticket-double-encoded",
      "webwxsendmsgimg:pass_ticket-double-encoded",
      "webwxuploadmedia:pass_ticket-double-encoded",
      "webwxuploadmedia:filemd5-missing",
    ]);
    for (const d of deviations) assert.ok(known.has(d), `unexpected deviation ${d}`);
    if (process.env.SANDBOX_PRINT_DEVIATIONS) console.log(deviations);
    assert.deepEqual(errors, []);
    if (agents) {
      // its derived hosts (conf.js getCONF from redirect_uri) are the family's: login, page, push and file host
      assert.deepEqual([...asked].sort(), ["file.wx2.qq.com", "login.wx.qq.com", "webpush.wx2.qq.com", "wx2.qq.com"]);
      agents.http.destroy();
      agents.https.destroy();
    }
  });
});
}
