import * as http from "node:http";
import { APP_ID, DESKTOP_EXTSPAM, DESKTOP_REDIRECT_URI } from "../../lib/wechat/login";
import { type BenchSide, PhaseLog, contactCounts, errorText } from "./side";

/**
 * The ceiling of the bench: the requests a correct desktop-mode client must make (docs/protocol.md sections 2-4),
 * in plain node:http with JSON.parse and nothing else. No decoding of names or texts, no events, no contact store,
 * no session saving, no retries, no pacing; each call goes out as soon as the protocol allows it. What it keeps
 * is what the server checks: cookies, BaseRequest with a fresh DeviceID, pass_ticket, the current skey, SyncKey
 * and SyncCheckKey, at most 50 entries per member batch, and messages de-duplicated by MsgId.
 */

const PATH = "/cgi-bin/mmwebwx-bin/";
/** docs/protocol.md section 7: at most 50 entries per webwxbatchgetcontact. */
const BATCH = 50;

interface Answer {
  status: number;
  text: string;
  setCookie: string[];
}

interface SyncKey {
  Count: number;
  List: { Key: number; Val: number }[];
}

interface WireContact {
  UserName: string;
  MemberCount?: number;
  MemberList?: unknown[];
}

interface SyncAnswer {
  BaseResponse?: { Ret?: number };
  AddMsgList?: { MsgId: string; MsgType: number; Content: string }[];
  ContinueFlag?: number;
  SyncKey?: SyncKey;
  SyncCheckKey?: SyncKey;
  SKey?: string;
}

function tag(xml: string, name: string): string {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  if (!m?.[1]) throw new Error(`limit: the ticket answer has no <${name}>`);
  return m[1];
}

/** docs/protocol.md section 2: "e" and 15 random digits, new for every request. */
function deviceId(): string {
  return `e${String(Math.floor(Math.random() * 1e15)).padStart(15, "0")}`;
}

function formatKey(key: SyncKey): string {
  return key.List.map((k) => `${k.Key}_${k.Val}`).join("|");
}

function retOf(answer: { BaseResponse?: { Ret?: number } }, what: string): void {
  const ret = answer.BaseResponse?.Ret;
  if (ret !== 0) throw new Error(`limit: ${what} answered Ret ${String(ret)}`);
}

/** One session of the bare loop: the cookie jar, the keys, and the sync loop. */
class BareSession {
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly cookies = new Map<string, string>();
  private readonly requests = new Set<http.ClientRequest>();
  private readonly seen = new Set<string>();
  private stopped = false;
  private uin = "";
  private sid = "";
  private skey = "";
  private passTicket = "";
  private self = "";
  private syncKey: SyncKey = { Count: 0, List: [] };
  private checkKey = "";
  private counter = Date.now();
  /** UserName -> member count (0: not a group, or a group whose members have not arrived). */
  readonly contacts = new Map<string, number>();
  readonly errors: string[] = [];
  readonly phases = new PhaseLog();
  listener: ((text: string) => void) | undefined;

  constructor(private readonly origin: string) {}

  private send(method: "GET" | "POST", url: string, body?: string, extra: Record<string, string> = {}): Promise<Answer> {
    const headers: Record<string, string> = { Referer: `${this.origin}/`, ...extra };
    if (this.cookies.size > 0) headers.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    if (body !== undefined) {
      headers["Content-Type"] = "application/json;charset=UTF-8";
      headers["Content-Length"] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      if (this.stopped) return reject(new Error("limit: stopped"));
      const req = http.request(`${this.origin}${url}`, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          this.requests.delete(req);
          // A body in one chunk is decoded as it is, without a copy (what ours does too).
          const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, text: bytes.toString("utf8"), setCookie: res.headers["set-cookie"] ?? [] });
        });
        res.on("error", reject);
      });
      this.requests.add(req);
      req.on("error", (error) => {
        this.requests.delete(req);
        reject(error);
      });
      req.end(body);
    });
  }

  /** Minimal cookie handling: name=value kept, an already expired one dropped (docs/protocol.md section 1). */
  private keepCookies(setCookie: string[]): void {
    for (const line of setCookie) {
      const [pair, ...attributes] = line.split(";");
      const eq = pair?.indexOf("=") ?? -1;
      if (!pair || eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const expires = attributes.find((a) => a.trim().toLowerCase().startsWith("expires="));
      if (expires && Date.parse(expires.slice(expires.indexOf("=") + 1)) <= Date.now()) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1).trim());
    }
  }

  private baseRequest(): Record<string, unknown> {
    return { Uin: Number(this.uin), Sid: this.sid, Skey: this.skey, DeviceID: deviceId() };
  }

  private async post<T>(endpoint: string, query: string, body: Record<string, unknown>): Promise<T> {
    const answer = await this.send("POST", `${PATH}${endpoint}?${query}`, JSON.stringify({ BaseRequest: this.baseRequest(), ...body }));
    if (answer.setCookie.length > 0) this.keepCookies(answer.setCookie);
    return JSON.parse(answer.text) as T;
  }

  /** docs/protocol.md section 3, steps 1-4: uuid, scan poll until the redirect, tickets. */
  private async login(): Promise<void> {
    const js = await this.send("GET", `/jslogin?appid=${APP_ID}&fun=new&lang=zh_CN&redirect_uri=${encodeURIComponent(DESKTOP_REDIRECT_URI)}&_=${Date.now()}`);
    const uuid = /window\.QRLogin\.uuid\s*=\s*"([^"]*)"/.exec(js.text)?.[1];
    if (!uuid) throw new Error("limit: jslogin gave no uuid");
    this.phases.mark("uuid");
    let redirect: string | undefined;
    for (let tip = 1; redirect === undefined; tip = 0) {
      const now = Date.now();
      const poll = await this.send("GET", `${PATH}login?loginicon=true&uuid=${encodeURIComponent(uuid)}&tip=${tip}&r=${~now}&_=${now}`);
      const code = /window\.code\s*=\s*(\d+)/.exec(poll.text)?.[1];
      if (code === "200") redirect = /window\.redirect_uri\s*=\s*"([^"]*)"/.exec(poll.text)?.[1] ?? "";
      else if (code === "201") this.phases.mark("scanned");
      else if (code !== "408") throw new Error(`limit: scan poll answered ${String(code)}`);
    }
    const url = new URL(redirect);
    const tickets = await this.send("GET", `${url.pathname}${url.search}&fun=new&version=v2&mod=desktop`, undefined, {
      "client-version": "2.0.0",
      extspam: DESKTOP_EXTSPAM,
      Referer: "https://wx.qq.com/?&lang=zh_CN&target=t",
    });
    this.keepCookies(tickets.setCookie);
    if (tag(tickets.text, "ret") !== "0") throw new Error(`limit: tickets refused (ret ${tag(tickets.text, "ret")})`);
    this.skey = tag(tickets.text, "skey");
    this.sid = tag(tickets.text, "wxsid");
    this.uin = tag(tickets.text, "wxuin");
    this.passTicket = tag(tickets.text, "pass_ticket");
    this.phases.mark("tickets");
  }

  private note(list: WireContact[] | undefined, groups: string[]): void {
    for (const c of list ?? []) {
      if (!c.UserName || this.contacts.has(c.UserName)) continue;
      this.contacts.set(c.UserName, 0);
      if (c.UserName.startsWith("@@")) groups.push(c.UserName);
    }
  }

  /** Steps 5-8, then the sync loop in the background; resolves once every page and member batch answered. */
  async start(): Promise<void> {
    await this.login();
    const init = await this.post<{ BaseResponse?: { Ret?: number }; User?: { UserName?: string }; ContactList?: WireContact[]; ChatSet?: string; SyncKey?: SyncKey; SKey?: string }>(
      "webwxinit", `r=${~Date.now()}&pass_ticket=${this.passTicket}`, {});
    retOf(init, "webwxinit");
    this.self = init.User?.UserName ?? "";
    // Counted as the other sides count it: the account itself is in their contact lists.
    this.contacts.set(this.self, 0);
    if (init.SKey) this.skey = init.SKey;
    if (!init.SyncKey) throw new Error("limit: webwxinit gave no SyncKey");
    this.syncKey = init.SyncKey;
    this.checkKey = formatKey(init.SyncKey);
    this.phases.mark("init");
    const notified = this.post<{ BaseResponse?: { Ret?: number } }>("webwxstatusnotify", `lang=zh_CN&pass_ticket=${this.passTicket}`, {
      Code: 3, FromUserName: this.self, ToUserName: this.self, ClientMsgId: Date.now(),
    });
    // Nothing waits on the status notify's answer: the pages and the sync loop start beside it.
    notified.catch(() => undefined);
    void this.syncLoop();
    // Groups to fetch with members: the ChatSet's (unsaved groups, docs/protocol.md section 7), the recent chats',
    // the listed ones.
    const groups: string[] = [];
    this.note((init.ChatSet ?? "").split(",").filter((name) => name.startsWith("@@")).map((UserName) => ({ UserName })), groups);
    this.note(init.ContactList, groups);
    const batches: Promise<void>[] = [];
    let asked = 0;
    const ask = (last: boolean): void => {
      while (groups.length - asked >= BATCH || (last && groups.length > asked)) {
        const chunk = groups.slice(asked, asked + BATCH);
        asked += chunk.length;
        const batch = this.batch(chunk);
        // Awaited after the last page; a failure before then is not unhandled.
        batch.catch(() => undefined);
        batches.push(batch);
      }
    };
    ask(false);
    for (let seq = 0, pages = 0; ; pages++) {
      const answer = await this.send("GET", `${PATH}webwxgetcontact?pass_ticket=${this.passTicket}&r=${Date.now()}&seq=${seq}&skey=${encodeURIComponent(this.skey)}`);
      const page = JSON.parse(answer.text) as { BaseResponse?: { Ret?: number }; MemberList?: WireContact[]; Seq?: number };
      retOf(page, "webwxgetcontact");
      this.note(page.MemberList, groups);
      ask(false);
      if (!page.Seq || page.Seq === seq || pages > 1000) break;
      seq = page.Seq;
    }
    ask(true);
    this.phases.mark("contacts");
    await Promise.all(batches);
    retOf(await notified, "webwxstatusnotify");
    this.phases.mark("members");
  }

  private async batch(names: string[]): Promise<void> {
    const answer = await this.post<{ BaseResponse?: { Ret?: number }; ContactList?: WireContact[] }>(
      "webwxbatchgetcontact", `type=ex&r=${Date.now()}&pass_ticket=${this.passTicket}`,
      { Count: names.length, List: names.map((UserName) => ({ UserName, EncryChatRoomId: "" })) });
    retOf(answer, "webwxbatchgetcontact");
    for (const c of answer.ContactList ?? []) this.contacts.set(c.UserName, c.MemberList?.length ?? 0);
  }

  /** docs/protocol.md section 4: synccheck, then webwxsync back to back while ContinueFlag is set. */
  private async syncLoop(): Promise<void> {
    try {
      while (!this.stopped) {
        const now = Date.now();
        const check = await this.send("GET", `${PATH}synccheck?r=${now}&skey=${encodeURIComponent(this.skey)}&sid=${encodeURIComponent(this.sid)}` +
          `&uin=${this.uin}&deviceid=${deviceId()}&synckey=${encodeURIComponent(this.checkKey)}&_=${this.counter++}`);
        const m = /retcode\s*:\s*"(\d+)"\s*,\s*selector\s*:\s*"(\d+)"/.exec(check.text);
        if (!m || m[1] !== "0") throw new Error(`limit: synccheck answered ${check.text.slice(0, 80)}`);
        if (m[2] === "0") continue;
        for (let more = true; more && !this.stopped; ) {
          const answer = await this.post<SyncAnswer>("webwxsync", `sid=${encodeURIComponent(this.sid)}&skey=${encodeURIComponent(this.skey)}&pass_ticket=${this.passTicket}&lang=zh_CN`,
            { SyncKey: this.syncKey, rr: ~Math.floor(Date.now() / 1000) });
          retOf(answer, "webwxsync");
          if (answer.SyncKey) this.syncKey = answer.SyncKey;
          const checkKey = answer.SyncCheckKey ?? answer.SyncKey;
          if (checkKey) this.checkKey = formatKey(checkKey);
          if (answer.SKey) this.skey = answer.SKey;
          more = (answer.ContinueFlag ?? 0) !== 0;
          for (const msg of answer.AddMsgList ?? []) {
            if (this.seen.has(msg.MsgId)) continue;
            this.seen.add(msg.MsgId);
            if (msg.MsgType === 1) this.listener?.(msg.Content);
          }
        }
      }
    } catch (error) {
      if (!this.stopped && this.errors.length < 20) this.errors.push(errorText(error));
    }
  }

  stop(): void {
    this.stopped = true;
    for (const req of this.requests) req.destroy();
    this.requests.clear();
    this.agent.destroy();
  }
}

export function createLimit(sandboxUrl: string): BenchSide {
  const session = new BareSession(new URL(sandboxUrl).origin);
  return {
    async start() {
      await session.start();
    },
    onText(listener) {
      session.listener = listener;
    },
    sendFile() {
      return Promise.reject(new Error("not measured by the limit side"));
    },
    counts: () =>
      contactCounts(
        [...session.contacts],
        ([userName]) => userName.startsWith("@@"),
        ([, members]) => members,
      ),
    errors: () => session.errors,
    phases: (t0) => session.phases.relative(t0),
    async stop() {
      session.stop();
    },
  };
}
