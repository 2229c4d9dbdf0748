import { EventEmitter } from "node:events";
import { randomInt } from "node:crypto";
import { Session, type SyncEvent } from "./session";
import { plainName, World, type Account } from "./world";
import { RandomPool } from "./rng";
import { BudgetedMap, MediaBudget } from "./budget";
import type { ForwardRef } from "./forward";
import {
  SandboxError,
  type DeviceIdRecord,
  type LoginState,
  type PendingLogin,
  type SandboxEvents,
  type SentRecord,
  type Settings,
  type UploadRecord,
  type Violation,
  type FaultSpec,
} from "./types";

/** Ended sessions remembered (their sid, uin and end code), newest first: forgetEndedSessions. */
export const ENDED_SESSIONS_KEPT = 1_000;

const UUID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Everything one sandbox instance knows: world, logins, sessions, records. No HTTP here. */

export interface Login {
  uuid: string;
  state: LoginState;
  push: boolean;
  accountIndex?: number;
  createdAt: number;
  expiresAt: number;
  ticket?: string;
  desktop: boolean;
  waiters: Set<() => void>;
  /** The poller was already told 201 (scanned). */
  told201?: boolean;
}

export interface MediaBlob {
  data: Buffer;
  mime: string;
  /** Account indexes that received it. */
  owners: Set<number>;
}

export interface StoredUpload {
  record: UploadRecord;
  data: Buffer;
  /** The session that uploaded it: only it may send it. */
  sid: string;
}

export interface Bucket {
  tokens: number;
  at: number;
}

export interface WorldParams {
  seed: number;
  contacts: number;
  groups: number;
  accounts: number;
}

export class SandboxState {
  world: World;
  readonly settings: Settings;
  readonly events = new EventEmitter<SandboxEvents>();
  readonly logins = new Map<string, Login>();
  readonly sessions = new Map<string, Session>(); // by sid
  private readonly random = new RandomPool();
  readonly inbox = new Map<number, SyncEvent[]>();
  readonly sent: SentRecord[] = [];
  /** Every media byte below counts against it (see budget.ts). */
  readonly mediaBudget: MediaBudget;
  readonly uploads: BudgetedMap<StoredUpload>;
  readonly media: BudgetedMap<MediaBlob>; // incoming media by MsgId
  readonly files: BudgetedMap<{ data: Buffer; fileName: string; owners: Set<number> }>; // incoming files by MediaId
  /** Chunks of uploads in progress: set() again after each chunk so the budget counts them. */
  readonly partialUploads: BudgetedMap<{ request: string; parts: Buffer[]; at: number }>;
  readonly checkUploads = new Map<string, { aesKey: string; signature: string }>(); // by md5
  /** Messages each account sent through the web client, for recall: msgId -> when and where. */
  readonly sentIndex = new Map<string, { account: number; to: string; time: number }>();
  /** Sends by "<account>:<ClientMsgId>": a resend is told from a ClientMsgId reused for another message. */
  readonly sendIds = new Map<string, { msgId: string; digest: string }>();
  /** What the references of forwards name (forward.ts): a CDN url, a sticker md5 or a file MediaId. */
  readonly forwardRefs = new Map<string, ForwardRef>();
  /** The DeviceID of every request that carried one, oldest first (the last 10000). */
  readonly deviceIds: DeviceIdRecord[] = [];
  readonly violations: Violation[] = [];
  readonly deviations: Violation[] = [];
  readonly faults = new Map<string, { kind: FaultSpec["kind"]; ret: number; remaining: number; delayMs: number }>();
  readonly buckets = new Map<number, Bucket>();
  /** Friend requests waiting for webwxverifyuser: ticket -> person id and account. */
  readonly friendRequests = new Map<string, { personId: string; account: number }>();
  /** The last auth ticket issued per account index: push login needs it. */
  readonly authTickets = new Map<number, { ticket: string; uvid: string }>();
  private msgCounter = 0n;
  private sentSeq = 0;
  private params: WorldParams;

  constructor(params: WorldParams, settings: Settings, mediaBudgetBytes: number) {
    this.mediaBudget = new MediaBudget(mediaBudgetBytes);
    this.uploads = new BudgetedMap(this.mediaBudget, "upload", (u) => [u.data]);
    this.media = new BudgetedMap(this.mediaBudget, "media", (m) => [m.data]);
    this.files = new BudgetedMap(this.mediaBudget, "file", (f) => [f.data]);
    this.partialUploads = new BudgetedMap(this.mediaBudget, "partial", (p) => p.parts);
    this.params = params;
    this.settings = settings;
    this.world = new World(params);
    this.msgCounter = 4_000_000_000_000_000_000n + BigInt(params.seed) * 1_000_000_000n;
  }

  reset(seed?: number): void {
    for (const session of this.sessions.values()) this.endSession(session, 1101, false);
    for (const login of this.logins.values()) this.wakeLogin(login);
    if (seed !== undefined) this.params = { ...this.params, seed };
    this.world = new World(this.params);
    this.logins.clear();
    // ended sessions stay known, so their cookies get 1101 (session gone) rather than "never issued"
    this.inbox.clear();
    this.sent.length = 0;
    this.uploads.clear();
    this.media.clear();
    this.files.clear();
    this.partialUploads.clear();
    this.checkUploads.clear();
    this.sentIndex.clear();
    this.sendIds.clear();
    this.forwardRefs.clear();
    this.violations.length = 0;
    this.deviations.length = 0;
    this.faults.clear();
    this.buckets.clear();
    this.friendRequests.clear();
    this.authTickets.clear();
  }

  /** The counters ids go on from, for a saved world (persist.ts). */
  get serials(): { msg: string; sent: number } {
    return { msg: this.msgCounter.toString(), sent: this.sentSeq };
  }

  /** Replace the world and counters by saved ones (persist.ts); nothing else may have happened yet. */
  restoreWorld(world: World, serials: { msg: string; sent: number }): void {
    this.world = world;
    this.params = { ...this.params, seed: world.seed };
    this.msgCounter = BigInt(serials.msg);
    this.sentSeq = serials.sent;
  }

  newMsgId(): string {
    this.msgCounter += 1n + BigInt(this.random.bytes(1)[0] ?? 0);
    return this.msgCounter.toString();
  }

  violation(endpoint: string, rule: string, detail: string): void {
    const v: Violation = { time: Date.now(), endpoint, rule, detail };
    this.violations.push(v);
    if (this.violations.length > 10_000) this.violations.splice(0, this.violations.length - 10_000);
    this.events.emit("violation", v);
  }

  /**
   * Records the DeviceID of a request. The official client draws a new one for every request (docs/protocol.md
   * section 2): the same one twice in a row in a session is a deviation (upload chunks aside).
   */
  noteDeviceId(endpoint: string, session: Session, deviceId: string): void {
    // The chunks of one upload carry one uploadmediarequest, built once per file (docs/protocol.md section 6).
    if (endpoint !== "webwxuploadmedia") {
      if (session.lastDeviceId === deviceId) this.deviation(endpoint, "deviceid-fixed", "the same DeviceID twice in a row: the official client draws a new one for every request");
      session.lastDeviceId = deviceId;
    }
    this.deviceIds.push({ endpoint, account: this.accountName(session.account), deviceId, time: Date.now() });
    if (this.deviceIds.length > 10_000) this.deviceIds.splice(0, this.deviceIds.length - 10_000);
  }

  deviation(endpoint: string, rule: string, detail: string): void {
    if (this.deviations.some((d) => d.endpoint === endpoint && d.rule === rule)) return; // once per kind is enough
    this.deviations.push({ time: Date.now(), endpoint, rule, detail });
  }

  // ---- accounts and names -------------------------------------------------------------------------------------

  account(ref: string | number | undefined): Account {
    if (ref === undefined || ref === "") return this.world.accounts[0] as Account;
    const asNumber = typeof ref === "number" ? ref : /^\d+$/.test(ref) ? Number(ref) : undefined;
    if (asNumber !== undefined) {
      const byIndex = asNumber < this.world.accounts.length ? this.world.accounts[asNumber] : undefined;
      const byUin = this.world.accounts.find((a) => a.uin === asNumber);
      if (byUin) return byUin;
      if (byIndex) return byIndex;
    }
    const found = this.world.accounts.find((a) => {
      const p = this.world.person(a.personId);
      return p !== undefined && (p.nickName === ref || plainName(p.nickName) === ref);
    });
    if (!found) throw new SandboxError("NOT_FOUND", `no account ${String(ref)}`);
    return found;
  }

  accountName(account: Account): string {
    return plainName(this.world.person(account.personId)?.nickName ?? "");
  }

  /**
   * The account's groups that are not saved to its address book (settings.unsavedGroups, spread evenly over the
   * groups in join order). webwxgetcontact leaves them out; the recent chats name all but the last ("quiet") one.
   */
  unsavedGroups(account: Account): string[] {
    const share = this.settings.unsavedGroups;
    if (!(share > 0)) return [];
    return [...account.groups].filter((_id, i) => Math.floor((i + 1) * share) > Math.floor(i * share));
  }

  liveSession(account: Account): Session | undefined {
    for (const s of this.sessions.values()) if (s.account === account && s.live) return s;
    return undefined;
  }

  /** Resolve a contact name as an account sees it (friends, officials, specials, other accounts). */
  resolveContact(account: Account, name: string, includeGroups = false): string {
    const session = this.liveSession(account);
    if (session) {
      const id = session.entityOf(name);
      if (id) return id;
    }
    // One pass over the friends for the four names (remark, nickname, alias, fixed name); the first name kind
    // with matches decides. plainName() only works on names holding emoji spans.
    const found: string[][] = [[], [], [], []];
    const same = (v: string): boolean => v !== "" && (v === name || plainName(v) === name);
    for (const [id, meta] of account.friends) {
      const person = this.world.person(id);
      if (same(meta.remarkName ?? "")) found[0]!.push(id);
      if (person) {
        if (same(person.nickName ?? "")) found[1]!.push(id);
        if (same(person.alias ?? "")) found[2]!.push(id);
        if (same(person.fixedUserName ?? "")) found[3]!.push(id);
      }
    }
    for (const hits of found) {
      if (hits.length === 1) return hits[0] as string;
      if (hits.length > 1) throw new SandboxError("AMBIGUOUS", `"${name}" matches ${hits.length} contacts`);
    }
    if (includeGroups) return this.resolveGroup(account, name);
    throw new SandboxError("NOT_FOUND", `no contact "${name}"`);
  }

  resolveGroup(account: Account, name: string): string {
    const session = this.liveSession(account);
    if (session) {
      const id = session.entityOf(name);
      if (id && this.world.groups.has(id)) return id;
    }
    const found = [...account.groups].filter((gid) => {
      const g = this.world.groups.get(gid);
      return g !== undefined && (g.topic === name || plainName(g.topic) === name);
    });
    if (found.length === 1) return found[0] as string;
    if (found.length > 1) throw new SandboxError("AMBIGUOUS", `"${name}" matches ${found.length} groups`);
    throw new SandboxError("NOT_FOUND", `no group "${name}"`);
  }

  /** A member of a group by session UserName, nickName, group display name or remark. */
  resolveMember(account: Account, groupId: string, name: string): string {
    const group = this.world.groups.get(groupId);
    if (!group) throw new SandboxError("NOT_FOUND", "no such group");
    const session = this.liveSession(account);
    const byUserName = session?.entityOf(name);
    if (byUserName && group.members.includes(byUserName)) return byUserName;
    const found = group.members.filter((id) => {
      const p = this.world.person(id);
      const names = [p?.nickName ?? "", group.displayNames.get(id) ?? "", account.friends.get(id)?.remarkName ?? "", p?.alias ?? ""];
      return names.some((n) => n !== "" && (n === name || plainName(n) === name));
    });
    if (found.length === 1) return found[0] as string;
    if (found.length > 1) throw new SandboxError("AMBIGUOUS", `"${name}" matches ${found.length} members`);
    throw new SandboxError("NOT_FOUND", `no member "${name}" in the group`);
  }

  // ---- delivery -----------------------------------------------------------------------------------------------

  /** Queue an event for an account: into its live session, else its inbox for the next login. */
  deliver(account: Account, event: SyncEvent): void {
    const session = this.liveSession(account);
    if (session) {
      session.push(event);
      return;
    }
    const box = this.inbox.get(account.index) ?? [];
    box.push(event);
    if (box.length > 50_000) box.splice(0, box.length - 50_000);
    this.inbox.set(account.index, box);
  }

  startSession(account: Account, desktop = false): Session {
    for (const s of this.sessions.values()) if (s.account === account && s.live) this.endSession(s, 1101, true);
    const session = new Session(account, desktop);
    this.sessions.set(session.sid, session);
    // special accounts keep fixed UserNames: register them so they can be addressed at once
    for (const id of account.friends.keys()) {
      const fixed = this.world.person(id)?.fixedUserName;
      if (fixed) session.userNameOf(id, fixed);
    }
    for (const event of this.inbox.get(account.index) ?? []) session.push(event);
    this.inbox.delete(account.index);
    this.events.emit("session", { account: this.accountName(account), online: true });
    return session;
  }

  endSession(session: Session, code: number, notify = true): void {
    if (!session.ended) session.ended = { code };
    for (const wake of [...session.waiters]) wake();
    // What a held poll needs (the end code) is set; the events and names go (a long-running sandbox kept 50,000
    // events of every session that ever ended), and only the newest ended sessions are remembered at all.
    session.retire();
    this.forgetEndedSessions();
    if (notify) this.events.emit("session", { account: this.accountName(session.account), online: false, code });
  }

  /**
   * Keeps at most ENDED_SESSIONS_KEPT ended sessions, the newest: a client still naming an older one is told its
   * session is unknown (1101), as for a sid this server never issued.
   */
  private forgetEndedSessions(): void {
    // Fewer sessions of any kind than that: nothing to count (every end, and reset() ends them all).
    if (this.sessions.size <= ENDED_SESSIONS_KEPT) return;
    let ended = 0;
    for (const s of this.sessions.values()) if (!s.live) ended++;
    for (const [sid, s] of this.sessions) {
      if (ended <= ENDED_SESSIONS_KEPT) break;
      if (s.live) continue;
      this.sessions.delete(sid);
      ended--;
    }
  }

  // ---- logins -------------------------------------------------------------------------------------------------

  newLogin(push: boolean, desktop: boolean, accountIndex?: number): Login {
    // Ten alphanumerics and "==", the shape of the real server's uuids.
    const uuid = Array.from({ length: 10 }, () => UUID_ALPHABET[randomInt(UUID_ALPHABET.length)]).join("") + "==";
    const login: Login = {
      uuid,
      state: "waiting",
      push,
      createdAt: Date.now(),
      expiresAt: Date.now() + this.settings.qrTtlMs,
      desktop,
      waiters: new Set(),
      ...(accountIndex !== undefined ? { accountIndex } : {}),
    };
    this.logins.set(uuid, login);
    // keep the table bounded: drop finished logins beyond 200
    if (this.logins.size > 200)
      for (const [k, l] of this.logins) {
        if (this.logins.size <= 200) break;
        if (l.state !== "waiting" && l.state !== "scanned") this.logins.delete(k);
      }
    this.events.emit("login", this.publicLogin(login));
    return login;
  }

  publicLogin(login: Login): PendingLogin {
    this.expireIfDue(login);
    const account = login.accountIndex !== undefined ? this.world.accounts[login.accountIndex] : undefined;
    return {
      uuid: login.uuid,
      state: login.state,
      push: login.push,
      createdAt: login.createdAt,
      desktop: login.desktop,
      ...(account ? { account: this.accountName(account) } : {}),
    };
  }

  expireIfDue(login: Login): void {
    if ((login.state === "waiting" || login.state === "scanned") && Date.now() >= login.expiresAt) this.setLoginState(login, "expired");
  }

  setLoginState(login: Login, state: LoginState): void {
    if (login.state === state) return;
    login.state = state;
    this.wakeLogin(login);
    this.events.emit("login-state", this.publicLogin(login));
  }

  wakeLogin(login: Login): void {
    for (const wake of [...login.waiters]) wake();
  }

  findLogin(uuid: string | undefined, states: LoginState[]): Login {
    if (uuid) {
      const login = this.logins.get(uuid);
      if (!login) throw new SandboxError("NOT_FOUND", `no login ${uuid}`);
      this.expireIfDue(login);
      if (!states.includes(login.state)) throw new SandboxError("CONFLICT", `login ${uuid} is ${login.state}`);
      return login;
    }
    const all = [...this.logins.values()].reverse();
    for (const l of all) this.expireIfDue(l);
    const found = all.find((l) => states.includes(l.state));
    if (!found) throw new SandboxError("NOT_FOUND", `no login in state ${states.join("/")}`);
    return found;
  }

  // ---- sends --------------------------------------------------------------------------------------------------

  /** Token bucket per account; false when throttled. */
  takeToken(account: Account): boolean {
    const t = this.settings.throttle;
    if (t === false) return true;
    const now = Date.now();
    const bucket = this.buckets.get(account.index) ?? { tokens: t.burst, at: now };
    bucket.tokens = Math.min(t.burst, bucket.tokens + ((now - bucket.at) / 1000) * t.refillPerSecond);
    bucket.at = now;
    this.buckets.set(account.index, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  recordSent(record: Omit<SentRecord, "seq">): SentRecord {
    const full: SentRecord = { seq: ++this.sentSeq, ...record };
    this.sent.push(full);
    if (this.sent.length > 100_000) this.sent.splice(0, this.sent.length - 100_000);
    this.events.emit("sent", full);
    return full;
  }
}
