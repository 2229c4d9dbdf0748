/**
 * A tiny test-side web-WeChat client that follows docs/protocol.md to the letter (test code, not the product client):
 * it drives the sandbox over real HTTP so the tests can check every endpoint.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { SandboxClient } from "../support/sandbox";

export interface Resp {
  status: number;
  text: string;
  body: Buffer;
  headers: Headers;
}

export interface SyncKey {
  Count: number;
  List: { Key: number; Val: number }[];
}

export type Json = Record<string, unknown>;

export function fmtKey(key: SyncKey): string {
  return key.List.map((k) => `${k.Key}_${k.Val}`).join("|");
}

export class WebClient {
  readonly cookies = new Map<string, string>();
  uuid = "";
  skey = "";
  sid = "";
  uin = 0;
  passTicket = "";
  /** A fixed DeviceID to send; undefined: a new one for every request, as the official client does. */
  deviceId: string | undefined = undefined;
  self: Json = {};
  syncKey: SyncKey = { Count: 0, List: [] };
  checkKey = "";
  contacts: Json[] = [];
  desktop = false;
  /** Network retries per request (the official client retries failed calls). */
  retries = 0;
  /** The last answer post() read, as it came (layout, headers). */
  lastAnswer?: Resp;

  constructor(readonly url: string) {}

  async request(method: string, pathAndQuery: string, options: { body?: string | Buffer | FormData; headers?: Record<string, string>; cookies?: boolean } = {}): Promise<Resp> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.cookies !== false && this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const init = { method, headers, redirect: "manual" as const, ...(options.body !== undefined ? { body: options.body } : {}) };
    let res: Response | undefined;
    for (let attempt = 0; !res; attempt++) {
      try {
        res = await fetch(this.url + pathAndQuery, init);
      } catch (err) {
        if (attempt >= this.retries) throw err;
      }
    }
    for (const c of res.headers.getSetCookie()) {
      const m = /^([^=]+)=([^;]*)/.exec(c);
      if (m && m[1] && m[2] !== undefined) this.cookies.set(m[1], m[2]);
    }
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, text: body.toString("utf8"), body, headers: res.headers };
  }

  baseRequest(): Json {
    return { Uin: this.uin, Sid: this.sid, Skey: this.skey, DeviceID: this.requestDeviceId() };
  }

  requestDeviceId(): string {
    return this.deviceId ?? `e${String(Math.floor(Math.random() * 1e15)).padStart(15, "0")}`;
  }

  async post(endpoint: string, query: string, body: Json): Promise<Json> {
    const sep = query ? "&" : "";
    const res = await this.request("POST", `/cgi-bin/mmwebwx-bin/${endpoint}?${query}${sep}pass_ticket=${this.passTicket}`, {
      body: JSON.stringify({ BaseRequest: this.baseRequest(), ...body }),
      headers: { "Content-Type": "application/json;charset=UTF-8" },
    });
    this.lastAnswer = res;
    return JSON.parse(res.text) as Json;
  }

  async jslogin(): Promise<string> {
    const desktop = this.desktop ? "&redirect_uri=https%3A%2F%2Fwx.qq.com%2Fcgi-bin%2Fmmwebwx-bin%2Fwebwxnewloginpage%3Fmod%3Ddesktop" : "";
    const res = await this.request("GET", `/jslogin?appid=wx782c26e4c19acffb&fun=new&lang=zh_CN&_=${Date.now()}${desktop}`);
    const m = /window\.QRLogin\.uuid = "([^"]+)"/.exec(res.text);
    if (!m?.[1]) throw new Error(`no uuid in ${res.text}`);
    this.uuid = m[1];
    return this.uuid;
  }

  /** One login long poll; returns code and the raw text. */
  async poll(tip = 0): Promise<{ code: number; text: string }> {
    const res = await this.request("GET", `/cgi-bin/mmwebwx-bin/login?loginicon=true&uuid=${this.uuid}&tip=${tip}&r=${~Date.now()}&_=${Date.now()}`);
    const m = /window\.code=(\d+);/.exec(res.text);
    return { code: Number(m?.[1] ?? 0), text: res.text };
  }

  /** Redeem the redirect_uri: cookies and the XML. */
  async tickets(text: string): Promise<{ status: number; ret: number; message: string; xml: string }> {
    const m = /window\.redirect_uri="([^"]+)"/.exec(text);
    if (!m?.[1]) throw new Error("no redirect_uri");
    const u = new URL(m[1]);
    const extra = this.desktop ? "&mod=desktop" : "";
    const headers: Record<string, string> = this.desktop ? { "client-version": "2.0.0", extspam: "Go8FCIkFEokFCggwMDAwMDAwMRAGGvAE" } : {};
    const res = await this.request("GET", `${u.pathname}${u.search}&fun=new&version=v2${extra}`, { headers });
    const get = (tag: string): string => new RegExp(`<${tag}>(.*?)</${tag}>`).exec(res.text)?.[1] ?? "";
    const ret = Number(get("ret"));
    if (ret === 0) {
      this.skey = get("skey");
      this.sid = get("wxsid");
      this.uin = Number(get("wxuin"));
      this.passTicket = get("pass_ticket");
    }
    return { status: res.status, ret, message: get("message"), xml: res.text };
  }

  async init(): Promise<Json> {
    const data = await this.post("webwxinit", `r=${~Date.now()}`, {});
    if ((data.BaseResponse as Json).Ret === 0) {
      this.self = data.User as Json;
      this.syncKey = data.SyncKey as SyncKey;
      this.checkKey = fmtKey(this.syncKey);
      if (typeof data.SKey === "string" && data.SKey) this.skey = data.SKey;
    }
    return data;
  }

  /** Full login through a control-API scan: jslogin, poll, scan, tickets, init, notify, contacts. */
  async login(scan: (uuid: string) => Promise<unknown>): Promise<void> {
    await this.jslogin();
    await scan(this.uuid);
    let text = "";
    for (let i = 0; i < 5; i++) {
      const r = await this.poll(i === 0 ? 1 : 0);
      if (r.code === 200) {
        text = r.text;
        break;
      }
    }
    const t = await this.tickets(text);
    if (t.ret !== 0) throw new Error(`login refused ${t.ret}`);
    const init = await this.init();
    if ((init.BaseResponse as Json).Ret !== 0) throw new Error("init failed");
    await this.post("webwxstatusnotify", "lang=zh_CN", { Code: 3, FromUserName: this.self.UserName, ToUserName: this.self.UserName, ClientMsgId: Date.now() });
    await this.loadContacts();
  }

  async loadContacts(): Promise<void> {
    this.contacts = [];
    let seq = 0;
    for (let i = 0; i < 100; i++) {
      const res = await this.request("GET", `/cgi-bin/mmwebwx-bin/webwxgetcontact?pass_ticket=${this.passTicket}&r=${Date.now()}&seq=${seq}&skey=${this.skey}`);
      const data = JSON.parse(res.text) as Json;
      this.contacts.push(...((data.MemberList as Json[]) ?? []));
      seq = Number(data.Seq);
      if (!seq) break;
    }
  }

  contact(pred: (c: Json) => boolean): Json {
    const c = this.contacts.find(pred);
    if (!c) throw new Error("no such contact");
    return c;
  }

  byName(name: string): string {
    return String(this.contact((c) => c.NickName === name || c.RemarkName === name).UserName);
  }

  async syncCheck(key = this.checkKey): Promise<{ retcode: string; selector: string; text: string }> {
    const res = await this.request("GET", `/cgi-bin/mmwebwx-bin/synccheck?r=${Date.now()}&skey=${encodeURIComponent(this.skey)}&sid=${encodeURIComponent(this.sid)}&uin=${this.uin}&deviceid=${this.requestDeviceId()}&synckey=${encodeURIComponent(key)}&_=${Date.now()}`);
    const m = /retcode:"(\d+)",selector:"(\d+)"/.exec(res.text);
    return { retcode: m?.[1] ?? "", selector: m?.[2] ?? "", text: res.text };
  }

  async sync(key = this.syncKey): Promise<Json> {
    const data = await this.post("webwxsync", `sid=${encodeURIComponent(this.sid)}&skey=${encodeURIComponent(this.skey)}&lang=zh_CN`, { SyncKey: key, rr: ~Math.floor(Date.now() / 1000) });
    if ((data.BaseResponse as Json).Ret === 0) {
      this.syncKey = data.SyncKey as SyncKey;
      this.checkKey = fmtKey((data.SyncCheckKey as SyncKey | undefined) ?? this.syncKey);
      if (typeof data.SKey === "string" && data.SKey) this.skey = data.SKey;
    }
    return data;
  }

  /** synccheck until a selector fires, then webwxsync until ContinueFlag is 0; returns all AddMsgList entries. */
  async receive(maxRounds = 20): Promise<Json[]> {
    const out: Json[] = [];
    for (let i = 0; i < maxRounds; i++) {
      const c = await this.syncCheck();
      if (c.retcode !== "0") throw new Error(`synccheck retcode ${c.retcode}`);
      if (c.selector === "0") continue;
      for (let j = 0; j < 1000; j++) {
        const data = await this.sync();
        out.push(...((data.AddMsgList as Json[]) ?? []));
        if (!data.ContinueFlag) break;
      }
      return out;
    }
    return out;
  }

  localId(): string {
    return `${Date.now()}${String(Math.floor(Math.random() * 10_000)).padStart(4, "0")}`;
  }

  async sendText(to: string, text: string, extra: Json = {}): Promise<Json> {
    const id = this.localId();
    return this.post("webwxsendmsg", "", { Msg: { Type: 1, Content: text, FromUserName: this.self.UserName, ToUserName: to, LocalID: id, ClientMsgId: id, ...extra }, Scene: 0 });
  }

  /** Chunked upload per docs/protocol.md section 6; returns the last answer. */
  async upload(data: Buffer, fileName: string, mime: string, to: string, options: { chunk?: number; request?: Json; md5?: string } = {}): Promise<Json> {
    const chunkSize = options.chunk ?? 524_288;
    const ext = (/\.([^.]+)$/.exec(fileName)?.[1] ?? "").toLowerCase();
    const mediatype = ["bmp", "png", "jpeg", "jpg"].includes(ext) ? "pic" : ext === "mp4" ? "video" : "doc";
    const md5 = options.md5 ?? createHash("md5").update(data).digest("hex");
    const request = JSON.stringify({ UploadType: 2, BaseRequest: this.baseRequest(), ClientMediaId: Date.now(), TotalLen: data.length, StartPos: 0, DataLen: data.length, MediaType: 4, FromUserName: this.self.UserName, ToUserName: to, FileMd5: md5, ...(options.request ?? {}) });
    const chunks = Math.max(1, Math.ceil(data.length / chunkSize));
    let last: Json = {};
    for (let i = 0; i < chunks; i++) {
      const form = new FormData();
      form.set("id", "WU_FILE_0");
      form.set("name", fileName);
      form.set("type", mime);
      form.set("lastModifiedDate", new Date().toString());
      form.set("size", String(data.length));
      if (chunks > 1) {
        form.set("chunks", String(chunks));
        form.set("chunk", String(i));
      }
      form.set("mediatype", mediatype);
      form.set("uploadmediarequest", request);
      form.set("webwx_data_ticket", this.cookies.get("webwx_data_ticket") ?? "");
      form.set("pass_ticket", this.passTicket);
      form.set("filename", new Blob([data.subarray(i * chunkSize, (i + 1) * chunkSize)], { type: "application/octet-stream" }), fileName);
      const res = await this.request("POST", "/cgi-bin/mmwebwx-bin/webwxuploadmedia?f=json", { body: form });
      last = JSON.parse(res.text) as Json;
      if ((last.BaseResponse as Json).Ret !== 0) return last;
    }
    return last;
  }

  async sendMedia(endpoint: string, query: string, msg: Json): Promise<Json> {
    const id = this.localId();
    return this.post(endpoint, query, { Msg: { FromUserName: this.self.UserName, LocalID: id, ClientMsgId: id, ...msg }, Scene: 0 });
  }
}

/** A client logged in through the control API with its first sync read, and a friend's name to inject as. */
export async function loggedInWithFriend(url: string, api: SandboxClient): Promise<{ c: WebClient; friend: string }> {
  const c = new WebClient(url);
  await c.login((uuid) => api.scan({ uuid }));
  await c.receive();
  const f = (await api.worldContacts({ kind: "friend" }))[0];
  assert.ok(f);
  return { c, friend: f.remarkName || f.nickName };
}
