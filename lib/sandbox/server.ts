import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ctx, type Host, type WaitResult } from "./context";
import { DEFAULT_MEDIA_BUDGET } from "./budget";
import { SandboxControl, type ControlHost } from "./control";
import { handleControl, sendControlError } from "./control-http";
import { ControlGuard, newToken } from "./guard";
import { hookAnswer, sendText, wireJson } from "./http";
import * as login from "./login";
import { closeServer, listenOn } from "./listener";
import * as media from "./media";
import { applySnapshot, takeSnapshot, type SandboxSnapshot } from "./persist";
import { roleOfEndpoint, TlsFront, type FrontRequest, type RealHostsInfo, type RealHostsOptions } from "./real-hosts";
import { SandboxState } from "./state";
import { SandboxError, type FaultSpec, type SandboxOptions, type Settings } from "./types";
import * as webwx from "./webwx";

/** The HTTP face: one origin for login, page, push and file hosts, the control API and the phone page. */

type Handler = (ctx: Ctx) => void | Promise<void>;

const API: Record<string, Handler> = {
  login: login.loginPoll,
  webwxnewloginpage: login.newLoginPage,
  webwxpushloginurl: login.pushLoginUrl,
  webwxinit: webwx.webwxinit,
  webwxstatusnotify: webwx.statusNotify,
  webwxgetcontact: webwx.getContact,
  webwxbatchgetcontact: webwx.batchGetContact,
  synccheck: webwx.syncCheck,
  webwxsync: webwx.webwxSync,
  webwxsendmsg: webwx.sendMsg,
  webwxrevokemsg: webwx.revokeMsg,
  webwxoplog: webwx.opLog,
  webwxverifyuser: webwx.verifyUser,
  webwxcreatechatroom: webwx.createChatroom,
  webwxupdatechatroom: webwx.updateChatroom,
  webwxlogout: webwx.logout,
  webwxgeticon: webwx.icon,
  webwxgetheadimg: webwx.icon,
  webwxuploadmedia: media.uploadMedia,
  webwxcheckupload: media.checkUpload,
  webwxsendmsgimg: media.sendImage,
  webwxsendvideomsg: media.sendVideo,
  webwxsendemoticon: media.sendEmoticon,
  webwxsendappmsg: media.sendAppMsg,
  webwxgetmsgimg: media.getMsgImg,
  webwxgetvoice: media.getVoice,
  webwxgetvideo: media.getVideo,
  webwxgetmedia: media.getMedia,
};

/** Endpoints that never change what a snapshot holds (polls, QR, media and icon downloads). */
const UNCHANGING = new Set(["jslogin", "qrcode", "login", "synccheck", "webwxgeticon", "webwxgetheadimg", "webwxgetmsgimg", "webwxgetvoice", "webwxgetvideo", "webwxgetmedia", "webwxcheckupload"]);

/** Script-style endpoints answer faults of kind "ret" in their own syntax. */
function retBody(endpoint: string, ret: number): { body: string; type: string } {
  if (endpoint === "synccheck") return { body: `window.synccheck={retcode:"${ret}",selector:"0"}`, type: "text/javascript" };
  if (endpoint === "login") return { body: `window.code=${ret};`, type: "text/javascript" };
  if (endpoint === "jslogin") return { body: `window.QRLogin.code = ${ret}; window.QRLogin.uuid = "";`, type: "text/javascript" };
  if (endpoint === "webwxnewloginpage") return { body: `<error><ret>${ret}</ret><message>fault</message></error>`, type: "text/plain" };
  if (endpoint === "webwxpushloginurl") return { body: JSON.stringify({ ret: String(ret), msg: "fault", uuid: "" }), type: "text/plain" };
  return { body: JSON.stringify({ BaseResponse: { Ret: ret, ErrMsg: "" } }), type: "text/plain" };
}

/** The `<e>` error XML the server puts in ErrMsg with Ret 0 (seen on webwxcreatechatroom: a failure). */
export const NOTICE_XML =
  "<e>\n<ShowType>1</ShowType>\n<Content><![CDATA[创建群聊失败]]></Content>\n<Url><![CDATA[]]></Url>\n<DispSec>30</DispSec>\n<Title><![CDATA[]]></Title>\n<Action>4</Action>\n<DelayConnSec>0</DelayConnSec>\n<Countdown>0</Countdown>\n<Ok><![CDATA[]]></Ok>\n<Cancel><![CDATA[]]></Cancel>\n</e>\n";

function noticeBody(endpoint: string): Record<string, unknown> {
  const base = { BaseResponse: { Ret: 0, ErrMsg: NOTICE_XML } };
  if (endpoint !== "webwxcreatechatroom") return base;
  return { ...base, Topic: "", PYInitial: "", QuanPin: "", MemberCount: 0, MemberList: [], ChatRoomName: "", BlackList: "" };
}

function pagePath(): string | undefined {
  // compiled: <out>/lib/sandbox/server.js; the page sits beside it (dist) or in the source tree (.out builds)
  const candidates = [join(__dirname, "public", "phone.html"), join(__dirname, "..", "..", "..", "lib", "sandbox", "public", "phone.html"), join(__dirname, "..", "..", "..", "..", "lib", "sandbox", "public", "phone.html")];
  return candidates.find((p) => existsSync(p));
}

/** Answer a refused request without reading its body (the connection closes after the answer). */
function refuse(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  res.shouldKeepAlive = false;
  sendControlError(res, err);
  req.resume();
}

export const DEFAULT_SETTINGS: Settings = {
  requireDesktop: false,
  pushLogin: true,
  throttle: { burst: 60, refillPerSecond: 1 },
  qrTtlMs: 300_000,
  longPollMs: 25_000,
  syncPageSize: 50,
  contactPageSize: 500,
  skeyRotateEvery: 20,
  unsavedGroups: 0,
  echoSends: false,
};

export class Sandbox implements Host, ControlHost {
  readonly state: SandboxState;
  readonly control: SandboxControl;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pending = new Set<(r: WaitResult) => void>();
  private readonly hung = new Set<ServerResponse>();
  private host: string;
  private port: number;
  private closed = false;
  /** The real-hosts mode (real-hosts.ts): a TLS listener beside the plain origin, when asked for. */
  private readonly front?: TlsFront;
  private readonly realHostOptions?: RealHostsOptions;
  private readonly guard: ControlGuard;

  constructor(options: SandboxOptions = {}) {
    const settings: Settings = { ...DEFAULT_SETTINGS };
    for (const key of Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[]) {
      const v = options[key];
      if (v !== undefined) (settings as unknown as Record<string, unknown>)[key] = v;
    }
    const world = { seed: options.seed ?? 1, contacts: options.contacts ?? 40, groups: options.groups ?? 6, accounts: options.accounts ?? 2 };
    this.state = new SandboxState(world, settings, options.mediaBudgetBytes ?? DEFAULT_MEDIA_BUDGET);
    if (options.restore) applySnapshot(this.state, options.restore);
    this.control = new SandboxControl(this);
    this.host = options.host ?? "127.0.0.1";
    this.port = options.port ?? 0;
    if (typeof options.token === "string" && options.token.length < 16) throw new SandboxError("INVALID_ARGUMENT", "a chosen token needs at least 16 characters");
    const token = options.token === false ? undefined : (options.token ?? options.restore?.token ?? newToken());
    this.guard = new ControlGuard(token, () => ({ host: this.host, port: this.port }));
    if (options.realHosts) {
      this.realHostOptions = options.realHosts === true ? {} : options.realHosts;
      this.front = new TlsFront((req, res, front) => void this.handle(req, res, front), this.realHostOptions.port ?? 0);
    }
  }

  /** The token control API calls carry (header X-Sandbox-Token), or undefined when the check is off. */
  get token(): string | undefined {
    return this.guard.token;
  }

  /** Port and CA of the real-hosts mode, when it runs (README.md, "Real hosts"). */
  get realHosts(): RealHostsInfo | undefined {
    return this.front?.info;
  }

  /** The page host the world sends an account's logins to in the real-hosts mode (cycling over the options). */
  pageHost(accountIndex: number): string {
    const hosts = this.realHostOptions?.pageHosts ?? [];
    return hosts.length === 0 ? "wx.qq.com" : (hosts[accountIndex % hosts.length] as string);
  }

  get url(): string {
    const h = this.host.includes(":") ? `[${this.host}]` : this.host;
    return `http://${h}:${this.port}`;
  }

  /** The phone page, with the token in the fragment (never sent to a server, so never in a log or a Referer). */
  get phoneUrl(): string {
    return this.token === undefined ? `${this.url}/phone` : `${this.url}/phone#token=${this.token}`;
  }

  /** Everything a later sandbox goes on from (`startSandbox({restore})`, persist.ts): plain JSON holding secrets. */
  snapshot(): SandboxSnapshot {
    return takeSnapshot(this.state, this.port, this.token);
  }

  get events(): SandboxState["events"] {
    return this.state.events;
  }

  async listen(): Promise<void> {
    if (this.closed) throw new SandboxError("CLOSED", "the sandbox is closed");
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    this.port = await listenOn(server, this.port, this.host);
    this.server = server;
    await this.front?.listen(this.host);
  }

  /** Close the listener and every connection (held polls are answered first), keep all state. */
  private async stopListening(): Promise<void> {
    for (const settle of [...this.pending]) settle("closed");
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    await this.front?.close();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    // answers to released polls flush first, then what is left is cut
    await closeServer(server, this.sockets);
  }

  async restart(): Promise<void> {
    await this.stopListening();
    await this.listen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopListening();
    for (const session of this.state.sessions.values()) for (const wake of [...session.waiters]) wake();
    this.state.events.removeAllListeners();
  }

  wait(res: ServerResponse, ms: number, subscribe: (wake: () => void) => () => void): Promise<WaitResult> {
    if (this.closed) return Promise.resolve("closed");
    return new Promise((resolve) => {
      let done = false;
      const settle = (r: WaitResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        this.pending.delete(settle);
        res.off("close", onClose);
        resolve(r);
      };
      const onClose = (): void => settle("closed");
      const timer = setTimeout(() => settle("timeout"), ms);
      const unsubscribe = subscribe(() => settle("woken"));
      this.pending.add(settle);
      res.on("close", onClose);
    });
  }

  until<T>(events: string[], fn: () => T | undefined, timeoutMs: number): Promise<T> {
    const first = fn();
    if (first !== undefined) return Promise.resolve(first);
    const emitter = this.state.events as unknown as NodeJS.EventEmitter;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const v = fn();
        if (v !== undefined) finish(() => resolve(v));
      };
      const finish = (then: () => void): void => {
        clearTimeout(timer);
        for (const e of events) emitter.off(e, check);
        this.pending.delete(onClose);
        then();
      };
      const onClose = (): void => finish(() => reject(new SandboxError("CLOSED", "the sandbox closed")));
      const timer = setTimeout(() => finish(() => reject(new SandboxError("TIMEOUT", `nothing after ${timeoutMs} ms`))), timeoutMs);
      for (const e of events) emitter.on(e, check);
      this.pending.add(onClose);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse, front?: FrontRequest): Promise<void> {
    try {
      await this.route(req, res, front);
    } catch (err) {
      if (!res.headersSent && !res.destroyed) sendText(res, 500, err instanceof Error ? err.message : "error", "text/plain");
      else res.destroy();
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, front?: FrontRequest): Promise<void> {
    const url = new URL(req.url ?? "/", "http://sandbox");
    const path = url.pathname;
    // The real hosts serve the protocol only: the control API and the phone page stay on the plain origin.
    if (front && !path.startsWith("/cgi-bin/") && path !== "/jslogin" && !path.startsWith("/qrcode/")) return sendText(res, 404, "not found", "text/plain");
    if (path.startsWith("/api/sandbox/")) {
      res.setHeader("Cache-Control", "no-store");
      try {
        this.guard.checkControl(req);
      } catch (err) {
        return refuse(req, res, err);
      }
      await handleControl(this.control, this, req, res, path.slice("/api/sandbox/".length), url.searchParams);
      if (req.method !== "GET") this.state.events.emit("change");
      return;
    }
    if (path === "/phone" || path === "/phone/") {
      try {
        this.guard.checkPage(req);
      } catch (err) {
        return refuse(req, res, err);
      }
      const file = pagePath();
      if (!file) return sendText(res, 404, "phone page missing", "text/plain");
      // no other page may frame it (its buttons drive the control API) or learn where it was opened from
      return sendText(res, 200, readFileSync(file), "text/html; charset=utf-8", { "Cache-Control": "no-store", "Content-Security-Policy": "frame-ancestors 'none'", "Referrer-Policy": "no-referrer" });
    }
    // never the token here: this page is not guarded, and a DNS-rebound page could read it
    if (path === "/") return sendText(res, 200, `wxflow sandbox. Phone: ${this.url}/phone (open the phone URL wx-sandbox printed: it carries the token)\n`, "text/plain; charset=utf-8");

    let endpoint: string | undefined;
    let handler: Handler | undefined;
    if (path === "/jslogin" || path === "/cgi-bin/mmwebwx-bin/jslogin") {
      endpoint = "jslogin";
      handler = login.jslogin;
    } else if (path.startsWith("/qrcode/")) {
      endpoint = "qrcode";
      const uuid = decodeURIComponent(path.slice("/qrcode/".length));
      handler = (ctx) => login.qrcode(ctx, uuid);
    } else if (path.startsWith("/cgi-bin/mmwebwx-bin/")) {
      endpoint = path.slice("/cgi-bin/mmwebwx-bin/".length);
      handler = API[endpoint];
    }
    if (!endpoint || !handler) return sendText(res, 404, "not found", "text/plain");
    if (front && this.wrongHost(front, endpoint, req, res)) return;
    const fault = this.takeFault(endpoint);
    if (fault?.kind === "slow") {
      // Held, then answered as usual (a slow page); the hold ends early when the sandbox or the client closes.
      if ((await this.wait(res, fault.delayMs, () => () => undefined)) !== "timeout") return;
    } else if (fault && this.applyFault(fault, endpoint, req, res)) {
      return;
    }
    await handler(new Ctx(this, req, res, path, endpoint, front));
    if (!UNCHANGING.has(endpoint)) this.state.events.emit("change");
  }

  /**
   * A call sent to a host that does not serve it (synccheck or an upload to the page host, a page call to the push
   * host): a violation, answered as the real hosts answer a session they do not know (1102), the QR with a 404.
   */
  private wrongHost(front: FrontRequest, endpoint: string, req: IncomingMessage, res: ServerResponse): boolean {
    const role = roleOfEndpoint(endpoint);
    if (role === front.role) return false;
    this.state.violation(endpoint, "wrong-host", `${endpoint} belongs on the ${role} host, not on ${front.hostname} (a ${front.role} host; docs/protocol.md section 1)`);
    req.resume();
    if (endpoint === "qrcode") sendText(res, 404, "not found", "text/plain");
    else {
      const { body, type } = retBody(endpoint, 1102);
      sendText(res, 200, body, type);
    }
    return true;
  }

  private takeFault(endpoint: string): { kind: FaultSpec["kind"]; ret: number; delayMs: number } | undefined {
    const fault = this.state.faults.get(endpoint);
    if (!fault || fault.remaining <= 0) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.state.faults.delete(endpoint);
    return fault;
  }

  /** Answers in the fault's place (true), or, for the faults that act after handling, arms them (false). */
  private applyFault(fault: { kind: FaultSpec["kind"]; ret: number }, endpoint: string, req: IncomingMessage, res: ServerResponse): boolean {
    switch (fault.kind) {
      case "bad-cookies":
      case "lost-500":
      case "lost-reset":
      case "lost-hang":
        this.afterHandling(fault.kind, req, res);
        return false;
    }
    req.resume();
    switch (fault.kind) {
      case "500":
        sendText(res, 500, "Internal Server Error", "text/html");
        break;
      case "reset":
        req.socket.destroy();
        break;
      case "hang":
        this.hung.add(res);
        res.on("close", () => this.hung.delete(res));
        break;
      case "ret": {
        const { body, type } = retBody(endpoint, fault.ret);
        sendText(res, 200, body, type);
        break;
      }
      case "notice":
        sendText(res, 200, wireJson(noticeBody(endpoint)), "text/plain");
        break;
      case "malformed":
        sendText(res, 200, endpoint === "synccheck" || endpoint === "login" ? "window.synccheck={retcode:" : '{"BaseResponse": {"Ret": 0,', "text/plain");
        break;
      case "truncated": {
        const body = '{"BaseResponse":{"Ret":0,"ErrMsg":""},"AddMsgCount":1,"AddMsgList":[{"MsgId":"1"';
        res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": body.length * 2 });
        res.write(body, () => res.destroy());
        break;
      }
    }
    return true;
  }

  /**
   * Faults that let the handler run (a send is delivered, a ticket used) and then change its answer: "bad-cookies"
   * adds Set-Cookie headers a cookie jar must refuse (a foreign Domain, a Domain with a port, a bad date, no name),
   * "lost-*" replaces the answer by a 500, a reset connection or silence.
   */
  private afterHandling(kind: "bad-cookies" | "lost-500" | "lost-reset" | "lost-hang", req: IncomingMessage, res: ServerResponse): void {
    hookAnswer(res, (_status, headers) => {
      switch (kind) {
        case "bad-cookies": {
          const host = (req.headers.host ?? "127.0.0.1").replace(/:\d+$/, "");
          const bad = [
            `wxflow_port=1; Domain=${host}:443; Path=/`,
            "wxflow_foreign=1; Domain=foreign.example; Path=/",
            "wxflow_date=1; Path=/; Expires=Thu, 99 Foo 20xx 99:99:99 GMT",
            "=nameless; Path=/",
          ];
          const key = Object.keys(headers).find((k) => k.toLowerCase() === "set-cookie");
          const own = key === undefined ? [] : ([] as (string | number)[]).concat(headers[key] ?? []).map(String);
          if (key !== undefined) delete headers[key];
          // The refused ones first: a client that stops at the first bad cookie loses the good ones.
          headers["Set-Cookie"] = [...bad, ...own];
          return "send";
        }
        case "lost-500":
          res.writeHead(500, { "Content-Type": "text/html", "Content-Length": 21 });
          res.end("Internal Server Error");
          return "taken";
        case "lost-reset":
          req.socket.destroy();
          return "taken";
        case "lost-hang":
          this.hung.add(res);
          res.on("close", () => this.hung.delete(res));
          return "taken";
      }
    });
  }
}
