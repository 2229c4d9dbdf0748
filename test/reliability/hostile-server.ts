/**
 * A tiny hostile "WeChat server" on 127.0.0.1 for what the sandbox, being correct, never sends: DOCTYPE / entity
 * bombs, endless bodies, HTML where JSON belongs, poisoned sync answers. It walks a client through login with
 * fixed tickets; each endpoint (last path segment) can be replaced by a hostile handler.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { WeChatClient } from "../../lib/wechat/client";
import type { Message } from "../../lib/wechat/types";

export type Handler = (req: IncomingMessage, res: ServerResponse, server: HostileServer) => void;

export const TICKETS = {
  skey: "@crypt_hostile_0123456789abcdef",
  wxsid: "hostileSid012345",
  uin: 123456789,
  passTicket: "hostile%2BTicket%3D",
};

export class HostileServer {
  readonly calls: string[] = [];
  private readonly handlers = new Map<string, Handler>();
  private readonly sockets = new Set<Socket>();
  private readonly open = new Set<ServerResponse>();
  private server: Server | undefined;
  private port = 0;
  /** Bytes written by streaming handlers (how much a client read before it cut). */
  streamed = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  on(endpoint: string, handler: Handler): this {
    this.handlers.set(endpoint, handler);
    return this;
  }

  count(endpoint: string): number {
    return this.calls.filter((c) => c === endpoint).length;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.route(req, res));
    server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address && typeof address === "object") this.port = address.port;
    this.server = server;
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Keep a response for close() (held polls, endless streams). */
  hold(res: ServerResponse): void {
    this.open.add(res);
    res.on("close", () => this.open.delete(res));
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const endpoint = new URL(req.url ?? "/", "http://x").pathname.split("/").pop() ?? "";
    this.calls.push(endpoint);
    req.resume();
    const handler = this.handlers.get(endpoint) ?? DEFAULTS[endpoint];
    if (!handler) {
      res.writeHead(404).end();
      return;
    }
    handler(req, res, this);
  }
}

export function text(res: ServerResponse, body: string, type = "text/plain", status = 200, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

export const json = (res: ServerResponse, value: unknown): void => text(res, JSON.stringify(value));

const OK = { Ret: 0, ErrMsg: "" };
const SYNC_KEY = { Count: 1, List: [{ Key: 1, Val: 1 }] };

export function ticketsXml(): string {
  return `<error><ret>0</ret><message></message><skey>${TICKETS.skey}</skey><wxsid>${TICKETS.wxsid}</wxsid><wxuin>${TICKETS.uin}</wxuin><pass_ticket>${TICKETS.passTicket}</pass_ticket><isgrayscale>1</isgrayscale></error>`;
}

/** The happy path: a login that succeeds at once, an empty account, sync that says nothing new. */
const DEFAULTS: Record<string, Handler> = {
  jslogin: (_req, res) => text(res, 'window.QRLogin.code = 200; window.QRLogin.uuid = "hostileUuid==";', "text/javascript"),
  login: (_req, res, s) =>
    text(res, `window.code=200;\nwindow.redirect_uri="${s.url}/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=t1&uuid=hostileUuid==&lang=zh_CN&scan=1";`, "text/javascript"),
  webwxnewloginpage: (_req, res) =>
    text(res, ticketsXml(), "text/plain", 301, {
      "set-cookie": [`wxuin=${TICKETS.uin}; Path=/`, `wxsid=${TICKETS.wxsid}; Path=/`, "webwx_data_ticket=hostileData; Path=/"],
      location: "/",
    }),
  webwxinit: (_req, res) =>
    json(res, {
      BaseResponse: OK,
      User: { UserName: "@self0000", NickName: "me", Uin: TICKETS.uin },
      ContactList: [],
      SyncKey: SYNC_KEY,
      SKey: TICKETS.skey,
    }),
  webwxstatusnotify: (_req, res) => json(res, { BaseResponse: OK, MsgID: "1" }),
  webwxgetcontact: (_req, res) => json(res, { BaseResponse: OK, MemberCount: 0, MemberList: [], Seq: 0 }),
  webwxbatchgetcontact: (_req, res) => json(res, { BaseResponse: OK, Count: 0, ContactList: [] }),
  synccheck: (_req, res, s) => {
    // hold like the real server; answered "nothing new" after a short while
    s.hold(res);
    const timer = setTimeout(() => text(res, 'window.synccheck={retcode:"0",selector:"0"}', "text/javascript"), 200);
    res.on("close", () => clearTimeout(timer));
  },
  webwxsync: (_req, res) => json(res, { BaseResponse: OK, AddMsgCount: 0, AddMsgList: [], SyncKey: SYNC_KEY, SyncCheckKey: SYNC_KEY, ContinueFlag: 0, SKey: "" }),
  webwxlogout: (_req, res) => text(res, ""),
};

/** One webwxsync answer holding `messages`, then empty ones; synccheck says selector 2 until it was fetched. */
export function poisonSync(server: HostileServer, messages: Record<string, unknown>[]): void {
  let delivered = false;
  server.on("synccheck", (_req, res, s) => {
    if (!delivered) return text(res, 'window.synccheck={retcode:"0",selector:"2"}', "text/javascript");
    return DEFAULTS.synccheck?.(_req, res, s);
  });
  server.on("webwxsync", (_req, res) => {
    const list = delivered ? [] : messages;
    delivered = true;
    json(res, { BaseResponse: OK, AddMsgCount: list.length, AddMsgList: list, SyncKey: SYNC_KEY, SyncCheckKey: SYNC_KEY, ContinueFlag: 0, SKey: "" });
  });
}

/** A raw AddMsgList entry from `from` to self. */
export function rawMessage(id: string, fields: Record<string, unknown>): Record<string, unknown> {
  return {
    MsgId: id,
    NewMsgId: Number(id),
    FromUserName: "@stranger0001",
    ToUserName: "@self0000",
    MsgType: 1,
    Content: "",
    CreateTime: Math.floor(Date.now() / 1000),
    Status: 3,
    FileName: "",
    FileSize: "",
    MediaId: "",
    Url: "",
    AppMsgType: 0,
    ...fields,
  };
}

/** What a client under test reported: warnings, messages, state names. */
export interface Watch {
  client: WeChatClient;
  warns: string[];
  messages: Message[];
  states: string[];
}

export function watch(client: WeChatClient): Watch {
  const w: Watch = { client, warns: [], messages: [], states: [] };
  client.on("warn", (m) => w.warns.push(m));
  client.on("message", (m) => w.messages.push(m));
  client.on("state", (s) => w.states.push(s.state));
  return w;
}

export function waitForWarn(w: Watch, pattern: RegExp, timeoutMs: number): Promise<string> {
  const found = w.warns.find((m) => pattern.test(m));
  if (found) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const on = (m: string): void => {
      if (!pattern.test(m)) return;
      clearTimeout(timer);
      w.client.off("warn", on);
      resolve(m);
    };
    const timer = setTimeout(() => {
      w.client.off("warn", on);
      reject(new Error(`no warning like ${pattern} in ${timeoutMs} ms; got: ${w.warns.join(" | ")}`));
    }, timeoutMs);
    w.client.on("warn", on);
  });
}
