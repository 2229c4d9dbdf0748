import { WeChatError } from "./errors";
import { HttpClient, buildUrl, raw, decodeBody, parseJsonBody, checkBaseResponse, type HttpResponse, type PreparedJson, type QueryValue, type RequestSpec } from "./http";
import type { Session } from "./session";
import { lazyAnswer, objectList } from "./lazy-answer";
import { syncPage, type SyncAnswer } from "./sync-page";
import { parseScriptVars } from "./util";

/** Timeouts of the session's calls. */
export interface ApiTimeouts {
  /** Ordinary calls (default 15 s). */
  requestMs: number;
  /** synccheck (default 38 s; the server holds it about 25 s). */
  syncCheckMs: number;
  /** Contact pages and member batches (default 60 s: a large address book's page takes long to build). */
  contactsMs: number;
}

export const DEFAULT_TIMEOUTS: ApiTimeouts = { requestMs: 15_000, syncCheckMs: 38_000, contactsMs: 60_000 };

export type Json = Record<string, unknown>;

export interface SyncCheckAnswer {
  retcode: number;
  selector: string;
}

/** A synccheck's answer, and the webwxsync it already sent (SessionApi.syncCheck with a prepared call). */
export interface SyncCheckResult extends SyncCheckAnswer {
  sync?: Promise<SyncAnswer>;
}

export type { SyncAnswer } from "./sync-page";

/** One webwxgetcontact page: the next page's Seq (0 after the last) and the contacts of this one. */
export interface ContactPage {
  seq: number;
  readonly members: Json[];
}

export const lang = "zh_CN";

/** How one POST differs from the defaults: retries of a read, the largest answer, its own timeout. */
export type PostOptions = Pick<RequestSpec, "retries" | "maxBytes" | "timeoutMs">;
export const negMs = (): number => ~Date.now();
/** PostOptions, and whether the call may be repeated (sends may not). */
type PostSpecOptions = PostOptions & Pick<RequestSpec, "idempotent">;

/** The answer as the server lays it out: `window.synccheck={retcode:"0",selector:"2"}`. */
const SYNCCHECK_AS_SENT = /^\s*window\.synccheck\s*=\s*\{\s*retcode\s*:\s*"(\d+)"\s*,\s*selector\s*:\s*"(\d+)"\s*\}\s*;?\s*$/;

/**
 * A synccheck answer read: the layout the server sends by one small regular expression, any other (quotes, order,
 * more members) by the general reader of script answers. Both read the same values; the general one costs ~60 us
 * more on a process woken by the answer (cold code: issue #19), on the way of every message that wakes it.
 */
export function readSyncCheck(text: string): SyncCheckAnswer {
  const sent = SYNCCHECK_AS_SENT.exec(text);
  if (sent) return { retcode: Number(sent[1]), selector: sent[2] as string };
  const vars = parseScriptVars(text);
  const retcode = Number(vars["synccheck.retcode"]);
  const selector = vars["synccheck.selector"];
  if (!Number.isFinite(retcode) || selector === undefined) {
    throw new WeChatError("PROTOCOL", "synccheck: unexpected answer");
  }
  return { retcode, selector };
}

/** A webwxsync made ready before it is sent (SessionApi.prepareSync). */
export interface PreparedSync {
  readonly session: Session;
  /** What it was made with: it is sent only while the session still has these (the SyncKey by identity). */
  readonly skey: string;
  readonly syncKey: Session["syncKey"];
  readonly call: PreparedJson;
  /** The body up to the value of `rr`. */
  readonly head: string;
  /** Told its page the moment the answer is read (SessionApi.sync's `onPage`). */
  readonly onPage?: OnPage | undefined;
}

/**
 * Told a webwxsync's page in the answer's own event, the moment it is whole and read, before the call's promise
 * settles with the same page (the sync loop handles a page that ends its chain there: SyncLoop). Not told an answer
 * that is not HTTP 200 or cannot be read: the call's promise says what is wrong with it.
 */
export type OnPage = (page: SyncAnswer) => void;

const NO_SYNC_KEY = { Count: 0, List: [] };
/** A sync answer refused for size would come back the same way every time: big ones are allowed. */
const SYNC_OPTIONS: PostOptions = { retries: 1, maxBytes: 64 * 1024 * 1024 };

/** `rr` of a webwxsync: the bitwise NOT of the time in seconds. */
const syncRr = (): number => ~Math.floor(Date.now() / 1000);

/**
 * A webwxsync answer read in its own event (for `onPage`); undefined when it is not HTTP 200 or cannot be read: the
 * call goes on as without the hook, and says why.
 */
function pageIfReadable(answer: HttpResponse): SyncAnswer | undefined {
  if (answer.status !== 200) return undefined;
  try {
    return syncPage(answer.body);
  } catch {
    return undefined;
  }
}

/**
 * Whether a prepared webwxsync still holds the session's keys: the skey, and the SyncKey object (every answer with a
 * SyncKey replaces it). Its sid and pass_ticket never change.
 */
function stillFits(ready: PreparedSync, s: Session): boolean {
  return ready.session === s && ready.syncKey === s.syncKey && ready.skey === s.skey;
}

/**
 * The page/push/file host calls of one session (docs/protocol.md sections 3-7), with BaseRequest, pass_ticket as
 * received and the session's skey. Each method is one wire call; no loops, no state beyond the session keys.
 */
export class SessionApi {
  constructor(
    readonly http: HttpClient,
    readonly session: Session,
    private readonly timeouts: ApiTimeouts = DEFAULT_TIMEOUTS,
    /** Aborted when the session or the client ends. */
    readonly signal?: AbortSignal,
  ) {}

  private url(path: string, query: Record<string, QueryValue>, origin = this.session.hosts.page): string {
    return buildUrl(origin, path, query);
  }

  private get pt() {
    return raw(this.session.passTicket);
  }

  /** A JSON POST with BaseRequest to the page host's `path` (named after it in logs and errors). */
  post(path: string, query: Record<string, QueryValue>, body: Json, options: PostOptions = {}): Promise<Json> {
    return this.postWith(path, path, query, body, options);
  }

  /** A JSON POST with BaseRequest (a new DeviceID each time) and further request options. */
  private postWith(what: string, path: string, query: Record<string, QueryValue>, body: Json, options: PostSpecOptions): Promise<Json> {
    return this.http.json(this.postSpec(what, path, query, body, options));
  }

  private postSpec(what: string, path: string, query: Record<string, QueryValue>, body: Json, options: PostSpecOptions): RequestSpec {
    return {
      timeoutMs: this.timeouts.requestMs,
      ...options,
      what,
      method: "POST",
      url: this.url(path, query),
      json: { BaseRequest: this.session.baseRequest(), ...body },
      headers: { "content-type": "application/json;charset=UTF-8" },
      signal: this.signal,
    };
  }

  init(): Promise<Json> {
    return this.post("webwxinit", { r: negMs(), pass_ticket: this.pt }, {});
  }

  statusNotify(code: number, to: string): Promise<Json> {
    const self = this.session.user.userName;
    return this.post("webwxstatusnotify", { lang, pass_ticket: this.pt }, {
      Code: code,
      FromUserName: self,
      ToUserName: to,
      ClientMsgId: Date.now(),
    });
  }

  /**
   * One page of the address book. `seq` (the next page's, 0 after the last) is read at once; `members` parses the
   * rest of the page on first read (lazy-answer.ts), so the next page can be asked for first. That read throws
   * PROTOCOL (afterSent) when the page is not valid JSON.
   */
  async getContactPage(seq: number): Promise<ContactPage> {
    const response = await this.http.request({
      what: "webwxgetcontact",
      url: this.url("webwxgetcontact", { pass_ticket: this.pt, r: Date.now(), seq, skey: this.session.skey, lang }),
      timeoutMs: this.timeouts.contactsMs,
      maxBytes: 64 * 1024 * 1024,
      signal: this.signal,
    });
    const answer = lazyAnswer(response.body, "webwxgetcontact", ["Seq"]);
    let members: Json[] | undefined;
    return {
      seq: Number(answer.head.Seq) || 0,
      get members() {
        members ??= objectList(answer.whole().MemberList);
        return members;
      },
    };
  }

  async batchGetContact(entries: { UserName: string; EncryChatRoomId: string }[]): Promise<Json[]> {
    if (entries.length > 50) throw new WeChatError("INVALID_ARGUMENT", "webwxbatchgetcontact: at most 50 entries a call");
    const answer = await this.post(
      "webwxbatchgetcontact",
      { type: "ex", r: Date.now(), lang, pass_ticket: this.pt },
      { Count: entries.length, List: entries },
      { maxBytes: 32 * 1024 * 1024, timeoutMs: this.timeouts.contactsMs },
    );
    return objectList(answer.ContactList);
  }

  /**
   * One synccheck. With `ready` (the webwxsync prepareSync made), an answer that says something came (retcode 0, a
   * selector other than "0") sends that webwxsync the moment the answer is whole, before this call returns: the
   * answer's `sync` (issue #19: the layers between the two calls were ~35 us of every message's way).
   */
  async syncCheck(counter: number, ready?: PreparedSync): Promise<SyncCheckResult> {
    const s = this.session;
    // Read where the answer ends when there is a webwxsync to send, else below: each answer is decoded once.
    let read: SyncCheckResult | undefined;
    const onAnswer = ready ? (answer: HttpResponse): void => void (read = this.syncCheckAnswered(answer, ready)) : undefined;
    const response = await this.http.request({
      what: "synccheck",
      url: this.url(
        "synccheck",
        {
          r: Date.now(),
          skey: s.skey,
          sid: s.sid,
          uin: s.uin,
          deviceid: s.deviceIdForRequest(),
          synckey: s.syncCheckParam(),
          _: counter,
        },
        s.hosts.push,
      ),
      timeoutMs: this.timeouts.syncCheckMs,
      retries: 0,
      signal: this.signal,
      onAnswer,
    });
    return (read as SyncCheckResult | undefined) ?? readSyncCheck(decodeBody(response.body, response.headers["content-type"]));
  }

  /**
   * A synccheck's answer read the moment it is whole; when it says something came (retcode 0, a selector other than
   * "0"), the prepared webwxsync goes out with it (`sync`). Undefined when it cannot be read: syncCheck reads it
   * again and says why.
   */
  private syncCheckAnswered(answer: HttpResponse, ready: PreparedSync): SyncCheckResult | undefined {
    if (answer.status !== 200) return undefined;
    let check: SyncCheckAnswer;
    try {
      check = readSyncCheck(decodeBody(answer.body, answer.headers["content-type"]));
    } catch {
      return undefined;
    }
    if (check.retcode !== 0 || check.selector === "0") return check;
    const sync = new Promise<SyncAnswer>((resolve, reject) => {
      // Once this turn's callbacks and promise reactions have run (setImmediate): the synccheck's own chain (its
      // layers, the loop up to where it awaits this call) runs before the webwxsync is written, not after. Written
      // sooner, it woke the server on this process's core, which then ran only once the server had answered: its
      // leftover work, with caches gone cold, came before the answer was read (30-50 us of every message's way,
      // issue #19; bench/README.md, "Fourteenth pass"). By then Node has also put the answer's connection back in the
      // pool: where synccheck and webwxsync share an origin (an emulator on one port) the webwxsync goes over it,
      // known to be open. On the WeChat hosts the synccheck goes to the push host and the webwxsync to the page
      // host's connections. Its outcome is passed on as it comes (resolve() given the promise itself would take two
      // more turns).
      setImmediate(() => void this.sync(ready).then(resolve, reject));
    });
    // Its failure is seen where the loop awaits it, not as an unhandled rejection meanwhile.
    sync.catch(() => undefined);
    return { retcode: check.retcode, selector: check.selector, sync };
  }

  /**
   * One webwxsync. The answer's keys are read at once and its lists on first use (sync-page.ts), so that the
   * sync loop can ask for the next page before this one is parsed. `onPage` (by default the prepared call's) is told
   * the page in the answer's own event, and the call then settles with that same page.
   */
  async sync(ready?: PreparedSync, onPage: OnPage | undefined = ready?.onPage): Promise<SyncAnswer> {
    const s = this.session;
    let read: SyncAnswer | undefined;
    const onAnswer = onPage
      ? (answer: HttpResponse): void => {
          read = pageIfReadable(answer);
          if (read) onPage(read);
        }
      : undefined;
    const response =
      ready !== undefined && stillFits(ready, s)
        ? await this.http.sendPrepared(ready.call, `${ready.head}${syncRr()}}`, onAnswer)
        : await this.http.request({
            ...this.postSpec("webwxsync", "webwxsync", this.syncQuery(), { SyncKey: s.syncKey ?? NO_SYNC_KEY, rr: syncRr() }, SYNC_OPTIONS),
            onAnswer,
          });
    return read ?? syncPage(response.body);
  }

  /**
   * The next webwxsync made ready now (its URL, headers, BaseRequest with a DeviceID of its own, SyncKey), for
   * sync(ready): the sync loop readies it while its synccheck is held, so that a process woken by a message sends it
   * without building it first (issue #19). The same bytes as sync() would send; `rr` is the time it goes out. Used
   * only while the session's keys are still those it was made with (sync() makes the call afresh otherwise).
   */
  prepareSync(onPage?: OnPage): PreparedSync {
    const s = this.session;
    const spec = this.postSpec("webwxsync", "webwxsync", this.syncQuery(), {}, SYNC_OPTIONS);
    const json = JSON.stringify({ BaseRequest: s.baseRequest(), SyncKey: s.syncKey ?? NO_SYNC_KEY });
    const call = this.http.prepareJson(spec);
    return { session: s, skey: s.skey, syncKey: s.syncKey, call, head: `${json.slice(0, -1)},"rr":`, onPage };
  }

  private syncQuery(): Record<string, QueryValue> {
    const s = this.session;
    return { sid: s.sid, skey: s.skey, lang, pass_ticket: this.pt };
  }

  /**
   * A send call: webwxsendmsg, webwxsendmsgimg, ... The body is {BaseRequest, Msg, Scene} (Scene 2: a forward,
   * docs/protocol.md section 6). Never repeated once it may have reached the server (docs/protocol.md section 2): such a
   * failure comes back with `afterSent`.
   */
  send(what: string, path: string, query: Record<string, QueryValue>, msg: Json, scene: 0 | 2 = 0): Promise<Json> {
    return this.postWith(what, path, { ...query, lang, pass_ticket: this.pt }, { Msg: msg, Scene: scene }, { idempotent: false });
  }

  /** webwxrevokemsg: recall a sent message (docs/protocol.md section 6). */
  revokeMsg(svrMsgId: string, to: string, clientMsgId: string): Promise<Json> {
    return this.post("webwxrevokemsg", { lang, pass_ticket: this.pt }, {
      SvrMsgId: svrMsgId,
      ToUserName: to,
      ClientMsgId: clientMsgId,
    }, { retries: 0 });
  }

  /** webwxoplog: CmdId 2 sets a remark, CmdId 3 pins (OP 1) or unpins (OP 0). */
  opLog(body: { CmdId: 2; UserName: string; RemarkName: string } | { CmdId: 3; UserName: string; OP: 0 | 1 }): Promise<Json> {
    return this.post("webwxoplog", { lang, pass_ticket: this.pt }, body);
  }

  /** webwxverifyuser: Opcode 2 sends a friend request, 3 accepts one (ticket from RecommendInfo). */
  verifyUser(opcode: 2 | 3, userName: string, ticket: string, content: string): Promise<Json> {
    return this.post("webwxverifyuser", { r: Date.now(), lang, pass_ticket: this.pt }, {
      Opcode: opcode,
      VerifyUserListSize: 1,
      VerifyUserList: [{ Value: userName, VerifyUserTicket: ticket }],
      VerifyContent: content,
      SceneListCount: 1,
      SceneList: [33],
      skey: this.session.skey,
    }, { retries: 0 });
  }

  createChatroom(topic: string, members: string[]): Promise<Json> {
    return this.post("webwxcreatechatroom", { r: Date.now(), lang, pass_ticket: this.pt }, {
      MemberCount: members.length,
      MemberList: members.map((UserName) => ({ UserName })),
      Topic: topic,
    }, { retries: 0 });
  }

  /** webwxupdatechatroom: fun addmember | invitemember | delmember (a comma list of UserNames) or modtopic. */
  updateChatroom(room: string, change: { fun: "addmember" | "invitemember" | "delmember"; members: string[] } | { fun: "modtopic"; topic: string }): Promise<Json> {
    const field =
      change.fun === "modtopic"
        ? { NewTopic: change.topic }
        : { [change.fun === "addmember" ? "AddMemberList" : change.fun === "invitemember" ? "InviteMemberList" : "DelMemberList"]: change.members.join(",") };
    return this.post("webwxupdatechatroom", { fun: change.fun, lang, pass_ticket: this.pt }, { ChatRoomName: room, ...field }, { retries: 0 });
  }

  /** An avatar: webwxgeticon (people), webwxgetheadimg (groups); a member's with the group's EncryChatRoomId. */
  avatar(userName: string, options: { group?: boolean; chatRoomId?: string | undefined; maxBytes?: number }): Promise<Buffer> {
    const path = options.group ? "webwxgetheadimg" : "webwxgeticon";
    const url = this.url(path, {
      seq: 0,
      username: userName,
      skey: this.session.skey,
      chatroomid: options.chatRoomId || undefined,
    });
    return this.media(path, url, options.maxBytes ?? 4 * 1024 * 1024);
  }

  checkUpload(body: Json): Promise<Json> {
    return this.post("webwxcheckupload", { lang, pass_ticket: this.pt }, body);
  }

  /** One chunk of file/webwxuploadmedia (file host, multipart). */
  uploadChunk(form: FormData | { data: Buffer; contentType: string }): Promise<Json> {
    return this.http.json({
      what: "webwxuploadmedia",
      method: "POST",
      url: this.url("webwxuploadmedia", { f: "json" }, this.session.hosts.file),
      // Told apart without touching the FormData global: in Node 20 that loads undici (~20 ms) on first use.
      ...("contentType" in form && Buffer.isBuffer(form.data) ? { body: form } : { formData: form as FormData }),
      timeoutMs: Math.max(this.timeouts.requestMs, 60_000),
      retries: 2,
      signal: this.signal,
    });
  }

  logout(): Promise<unknown> {
    const s = this.session;
    return this.http.request({
      what: "webwxlogout",
      method: "POST",
      url: this.url("webwxlogout", { redirect: 1, type: 0, skey: s.skey }),
      form: { sid: s.sid, uin: String(s.uin) },
      timeoutMs: this.timeouts.requestMs,
      retries: 0,
      signal: this.signal,
    });
  }

  /** Media GET (image, voice, video, file): the raw bytes, capped. */
  async media(what: string, url: string, maxBytes: number, headers?: Record<string, string>): Promise<Buffer> {
    const response = await this.http.request({
      what,
      url,
      maxBytes,
      headers,
      timeoutMs: Math.max(this.timeouts.requestMs, 60_000),
      signal: this.signal,
    });
    const type = String(response.headers["content-type"] ?? "");
    // A refusal comes back as a small JSON / text document instead of the bytes.
    if (/json|text\/plain/i.test(type) && response.body.length < 4096 && response.body.toString("utf8").includes("Ret")) {
      checkBaseResponse(parseJsonBody(response.body, what), what);
    }
    return response.body;
  }

  mediaUrl(path: string, query: Record<string, QueryValue>, origin?: string): string {
    return this.url(path, query, origin ?? this.session.hosts.page);
  }
}
