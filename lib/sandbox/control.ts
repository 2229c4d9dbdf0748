import { isRecord } from "./http";
import { inject, resolveSender } from "./inject";
import type { SandboxState } from "./state";
import {
  SandboxError,
  type BulkRequest,
  type ContactOp,
  type DeviceIdRecord,
  type FaultSpec,
  type InjectRequest,
  type MemoryReport,
  type NameWire,
  type PendingLogin,
  type SentFilter,
  type SentRecord,
  type Settings,
  type UploadRecord,
  type Violation,
  type WorldContact,
  type WorldSummary,
} from "./types";
import { plainName } from "./world";

/** The phone and the test bench: typed control operations (their HTTP face is control-http.ts). */

const FAULT_KINDS = ["500", "reset", "hang", "ret", "malformed", "truncated", "notice", "lost-500", "lost-reset", "lost-hang", "bad-cookies", "slow"];

export interface ControlHost {
  readonly state: SandboxState;
  /** Resolves when fn() returns a value, re-checking on the given events; rejects after timeoutMs. */
  until<T>(events: string[], fn: () => T | undefined, timeoutMs: number): Promise<T>;
}

function rawWire(wire: NameWire | undefined): { rawWire?: true } {
  if (wire !== undefined && wire !== "raw" && wire !== "escaped") throw new SandboxError("INVALID_ARGUMENT", 'wire must be "raw" or "escaped"');
  return wire === "raw" ? { rawWire: true } : {};
}

export class SandboxControl {
  constructor(private readonly host: ControlHost) {}

  private get state(): SandboxState {
    return this.host.state;
  }

  logins(): PendingLogin[] {
    return [...this.state.logins.values()].reverse().map((l) => this.state.publicLogin(l));
  }

  scan(req: { uuid?: string; account?: string | number } = {}): PendingLogin {
    const login = this.state.findLogin(req.uuid, ["waiting", "scanned"]);
    if (login.state === "waiting") this.scanOnly({ ...req, uuid: login.uuid });
    return this.confirm({ uuid: login.uuid });
  }

  scanOnly(req: { uuid?: string; account?: string | number } = {}): PendingLogin {
    const login = this.state.findLogin(req.uuid, ["waiting"]);
    const account = this.state.account(req.account ?? login.accountIndex);
    if (login.push) {
      if (login.accountIndex !== account.index) throw new SandboxError("CONFLICT", "a push login belongs to its account");
    }
    login.accountIndex = account.index;
    this.state.setLoginState(login, "scanned");
    return this.state.publicLogin(login);
  }

  confirm(req: { uuid?: string } = {}): PendingLogin {
    const login = this.state.findLogin(req.uuid, ["scanned", "waiting"]);
    if (login.state === "waiting" && !login.push) throw new SandboxError("CONFLICT", "scan the QR before confirming");
    this.state.setLoginState(login, "confirmed");
    return this.state.publicLogin(login);
  }

  cancel(req: { uuid?: string } = {}): PendingLogin {
    const login = this.state.findLogin(req.uuid, ["waiting", "scanned"]);
    this.state.setLoginState(login, "cancelled");
    return this.state.publicLogin(login);
  }

  expireQr(req: { uuid?: string } = {}): PendingLogin {
    const login = this.state.findLogin(req.uuid, ["waiting", "scanned"]);
    this.state.setLoginState(login, "expired");
    return this.state.publicLogin(login);
  }

  inject(req: InjectRequest): { msgId: string } {
    if (!isRecord(req)) throw new SandboxError("INVALID_ARGUMENT", "a JSON object is required");
    return inject(this.state, req);
  }

  injectBulk(req: BulkRequest): { msgIds: string[] } {
    const count = Number(req.count);
    if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new SandboxError("INVALID_ARGUMENT", "count must be 1..100000");
    const msgIds: string[] = [];
    const first: InjectRequest = { from: req.from, ...(req.room !== undefined ? { room: req.room } : {}), ...(req.account !== undefined ? { account: req.account } : {}) };
    const resolved = resolveSender(this.state, this.state.account(req.account), first);
    for (let i = 1; i <= count; i++) msgIds.push(inject(this.state, { ...first, text: `${req.prefix ?? "msg"} ${i}` }, resolved).msgId);
    return { msgIds };
  }

  contacts(op: ContactOp): { ok: true; userName?: string } {
    const state = this.state;
    const world = state.world;
    const account = state.account(op.account);
    const userNameOf = (id: string): { userName?: string } => {
      const session = state.liveSession(account);
      const name = session?.knownUserName(id);
      return name ? { userName: name } : {};
    };
    switch (op.op) {
      case "add": {
        const p = world.addPerson({ nickName: op.nickName, alias: op.alias ?? "", verifyFlag: op.kind === "official" ? 8 : 0, ...rawWire(op.wire) }, op.kind === "official" ? "official" : "person");
        account.friends.set(p.id, { remarkName: op.remarkName ?? "", starred: false });
        state.deliver(account, { kind: "mod", id: p.id, added: true });
        return { ok: true, ...userNameOf(p.id) };
      }
      case "add-group": {
        const members = [account.personId, ...op.members.map((m) => state.resolveContact(account, m))];
        const id = world.newId("g");
        world.groups.set(id, { id, topic: op.nickName, members, displayNames: new Map(), ownerId: account.personId, ...rawWire(op.wire) });
        for (const acc of world.accounts) if (members.includes(acc.personId)) {
          acc.groups.add(id);
          state.deliver(acc, { kind: "mod", id, added: true });
        }
        return { ok: true, ...userNameOf(id) };
      }
      case "modify": {
        const id = state.resolveContact(account, op.name, true);
        const group = world.groups.get(id);
        if (group) {
          if (op.nickName !== undefined) group.topic = op.nickName;
          if (op.wire !== undefined) group.rawWire = rawWire(op.wire).rawWire === true;
        } else {
          const p = world.person(id);
          if (!p) throw new SandboxError("NOT_FOUND", op.name);
          if (op.nickName !== undefined) p.nickName = op.nickName;
          if (op.alias !== undefined) p.alias = op.alias;
          if (op.wire !== undefined) p.rawWire = rawWire(op.wire).rawWire === true;
          const meta = account.friends.get(id);
          if (meta && op.remarkName !== undefined) meta.remarkName = op.remarkName;
        }
        state.deliver(account, { kind: "mod", id });
        return { ok: true, ...userNameOf(id) };
      }
      case "remove": {
        const id = state.resolveContact(account, op.name, true);
        account.friends.delete(id);
        account.groups.delete(id);
        state.deliver(account, { kind: "del", id });
        return { ok: true, ...userNameOf(id) };
      }
      case "add-members":
      case "remove-members": {
        const gid = state.resolveGroup(account, op.room);
        const group = world.groups.get(gid);
        if (!group) throw new SandboxError("NOT_FOUND", op.room);
        for (const m of op.members) {
          if (op.op === "add-members") {
            let id: string;
            try {
              id = state.resolveContact(account, m);
            } catch {
              id = world.addPerson({ nickName: m }).id;
            }
            if (!group.members.includes(id)) group.members.push(id);
          } else {
            const id = state.resolveMember(account, gid, m);
            group.members = group.members.filter((x) => x !== id);
          }
        }
        for (const acc of world.accounts) if (acc.groups.has(gid)) state.deliver(acc, { kind: "members", id: gid });
        return { ok: true, ...userNameOf(gid) };
      }
      default:
        throw new SandboxError("INVALID_ARGUMENT", "op must be add, add-group, modify, remove, add-members or remove-members");
    }
  }

  sent(filter: SentFilter = {}): SentRecord[] {
    const account = filter.account !== undefined ? this.state.accountName(this.state.account(filter.account)) : undefined;
    return this.state.sent.filter(
      (r) =>
        (account === undefined || r.account === account) &&
        (filter.to === undefined || r.to === filter.to || r.toName === filter.to) &&
        (filter.type === undefined || r.type === filter.type) &&
        (filter.after === undefined || r.seq > filter.after),
    );
  }

  waitForSent(pred: (r: SentRecord) => boolean = () => true, options: { timeoutMs?: number; after?: number } = {}): Promise<SentRecord> {
    return this.host.until(["sent"], () => this.state.sent.find((r) => (options.after === undefined || r.seq > options.after) && pred(r)), options.timeoutMs ?? 10_000);
  }

  waitForLogin(options: { timeoutMs?: number } = {}): Promise<PendingLogin> {
    return this.host.until(["login", "login-state"], () => this.logins().find((l) => l.state === "waiting"), options.timeoutMs ?? 10_000);
  }

  uploads(): UploadRecord[] {
    return [...this.state.uploads.values()].map((u) => u.record);
  }

  upload(mediaId: string): Buffer | undefined {
    return this.state.uploads.get(mediaId)?.data;
  }

  /** The media a message carries (received, or forwarded by an account: `SentRecord.forwarded`), by its MsgId. */
  media(msgId: string): { data: Buffer; mime: string } | undefined {
    const blob = this.state.media.get(msgId);
    return blob ? { data: blob.data, mime: blob.mime } : undefined;
  }

  /** The DeviceID of every request that carried one, oldest first. */
  deviceIds(): DeviceIdRecord[] {
    return [...this.state.deviceIds];
  }

  /** The media budget: its limit, the bytes kept, items kept and items evicted so far. */
  memory(): MemoryReport {
    return this.state.mediaBudget.report();
  }

  violations(): Violation[] {
    return [...this.state.violations];
  }

  deviations(): Violation[] {
    return [...this.state.deviations];
  }

  clearViolations(): void {
    this.state.violations.length = 0;
    this.state.deviations.length = 0;
  }

  fault(spec: FaultSpec): void {
    if (!spec || typeof spec.endpoint !== "string" || !FAULT_KINDS.includes(spec.kind)) throw new SandboxError("INVALID_ARGUMENT", `endpoint and kind (${FAULT_KINDS.join("|")}) are required`);
    const count = spec.count ?? 1;
    if (!Number.isInteger(count) || count < 0) throw new SandboxError("INVALID_ARGUMENT", "count must be a whole number");
    if (count === 0) this.state.faults.delete(spec.endpoint);
    const delayMs = spec.delayMs ?? 1_000;
    if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > 600_000) throw new SandboxError("INVALID_ARGUMENT", "delayMs must be a whole number of ms (0..600000)");
    if (count === 0) return;
    this.state.faults.set(spec.endpoint, { kind: spec.kind, ret: spec.ret ?? 1, remaining: count, delayMs });
  }

  expireSession(req: { code: number; account?: string | number }): void {
    if (![1100, 1101, 1102].includes(req.code)) throw new SandboxError("INVALID_ARGUMENT", "code must be 1100, 1101 or 1102");
    const account = this.state.account(req.account);
    const session = this.state.liveSession(account);
    if (!session) throw new SandboxError("NOT_FOUND", "the account has no live session");
    this.state.endSession(session, req.code);
  }

  settings(patch: Partial<Settings> = {}): Settings {
    const s = this.state.settings;
    if (!isRecord(patch)) throw new SandboxError("INVALID_ARGUMENT", "settings must be an object");
    for (const key of ["requireDesktop", "pushLogin", "echoSends"] as const) {
      const v = patch[key];
      if (v !== undefined) {
        if (typeof v !== "boolean") throw new SandboxError("INVALID_ARGUMENT", `${key} must be a boolean`);
        s[key] = v;
      }
    }
    for (const key of ["qrTtlMs", "longPollMs", "syncPageSize", "contactPageSize", "skeyRotateEvery"] as const) {
      const v = patch[key];
      if (v !== undefined) {
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || ((key === "syncPageSize" || key === "contactPageSize") && v < 1)) throw new SandboxError("INVALID_ARGUMENT", `${key} must be a whole number`);
        s[key] = v;
      }
    }
    if (patch.unsavedGroups !== undefined) {
      const v = patch.unsavedGroups;
      if (typeof v !== "number" || !(v >= 0 && v <= 1)) throw new SandboxError("INVALID_ARGUMENT", "unsavedGroups must be a share from 0 to 1");
      s.unsavedGroups = v;
    }
    if (patch.throttle !== undefined) {
      const t = patch.throttle;
      if (t !== false && !(isRecord(t) && typeof t.burst === "number" && typeof t.refillPerSecond === "number")) throw new SandboxError("INVALID_ARGUMENT", "throttle is false or {burst, refillPerSecond}");
      s.throttle = t === false ? false : { burst: t.burst, refillPerSecond: t.refillPerSecond };
      this.state.buckets.clear();
    }
    return { ...s, throttle: s.throttle === false ? false : { ...s.throttle } };
  }

  world(): WorldSummary {
    const state = this.state;
    const world = state.world;
    const main = state.account(0);
    const kinds = [...main.friends.keys()].map((id) => world.person(id)?.kind);
    return {
      seed: world.seed,
      accounts: world.accounts.map((a) => {
        const session = state.liveSession(a);
        const userName = session?.knownUserName(a.personId);
        return { nickName: state.accountName(a), uin: a.uin, online: !!session, ...(userName ? { userName } : {}) };
      }),
      counts: {
        friends: kinds.filter((k) => k === "person").length,
        groups: main.groups.size,
        official: kinds.filter((k) => k === "official").length,
        special: kinds.filter((k) => k === "special").length,
      },
      contacts: this.worldContacts({}).slice(0, 200),
    };
  }

  worldContacts(query: { account?: string | number; kind?: string; name?: string } = {}): WorldContact[] {
    const state = this.state;
    const world = state.world;
    const account = state.account(query.account);
    const session = state.liveSession(account);
    const out: WorldContact[] = [];
    for (const [id, meta] of account.friends) {
      const p = world.person(id);
      if (!p) continue;
      const kind = world.accountOfPerson(id) ? "account" : p.kind === "person" ? "friend" : p.kind;
      const userName = session?.knownUserName(id) ?? p.fixedUserName;
      out.push({ nickName: plainName(p.nickName), remarkName: plainName(meta.remarkName), alias: p.alias, kind, ...(userName ? { userName } : {}) });
    }
    for (const gid of account.groups) {
      const g = world.groups.get(gid);
      if (!g) continue;
      const userName = session?.knownUserName(gid);
      out.push({ nickName: plainName(g.topic), remarkName: "", alias: "", kind: "group", memberCount: g.members.length, ...(userName ? { userName } : {}) });
    }
    const name = query.name?.toLowerCase();
    return out.filter((c) => (!query.kind || c.kind === query.kind) && (!name || [c.nickName, c.remarkName, c.alias].some((n) => n.toLowerCase().includes(name))));
  }

  /** Members of a group as the phone page shows them. */
  groupMembers(room: string, accountRef?: string | number): { nickName: string; displayName: string }[] {
    const account = this.state.account(accountRef);
    const gid = this.state.resolveGroup(account, room);
    const g = this.state.world.groups.get(gid);
    return (g?.members ?? []).map((id) => ({ nickName: plainName(this.state.world.person(id)?.nickName ?? ""), displayName: plainName(g?.displayNames.get(id) ?? "") }));
  }

  reset(req: { seed?: number } = {}): void {
    this.state.reset(req.seed);
  }
}
