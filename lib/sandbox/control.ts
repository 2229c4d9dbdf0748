import type { IncomingMessage, ServerResponse } from "node:http";
import { isRecord, readBody, sendApiJson, sendText } from "./http";
import { inject, resolveSender } from "./inject";
import type { SandboxState } from "./state";
import {
  SandboxError,
  type BulkRequest,
  type ContactOp,
  type FaultSpec,
  type InjectRequest,
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

/** The phone and the test bench: typed control operations, and their HTTP face under /api/sandbox/. */

const FAULT_KINDS = ["500", "reset", "hang", "ret", "malformed", "truncated", "slow"];

export interface ControlHost {
  readonly state: SandboxState;
  /** Resolves when fn() returns a value, re-checking on the given events; rejects after timeoutMs. */
  until<T>(events: string[], fn: () => T | undefined, timeoutMs: number): Promise<T>;
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
        const p = world.addPerson({ nickName: op.nickName, alias: op.alias ?? "", verifyFlag: op.kind === "official" ? 8 : 0 }, op.kind === "official" ? "official" : "person");
        account.friends.set(p.id, { remarkName: op.remarkName ?? "", starred: false });
        state.deliver(account, { kind: "mod", id: p.id });
        return { ok: true, ...userNameOf(p.id) };
      }
      case "add-group": {
        const members = [account.personId, ...op.members.map((m) => state.resolveContact(account, m))];
        const id = world.newId("g");
        world.groups.set(id, { id, topic: op.nickName, members, displayNames: new Map(), ownerId: account.personId });
        for (const acc of world.accounts) if (members.includes(acc.personId)) {
          acc.groups.add(id);
          state.deliver(acc, { kind: "mod", id });
        }
        return { ok: true, ...userNameOf(id) };
      }
      case "modify": {
        const id = state.resolveContact(account, op.name, true);
        const group = world.groups.get(id);
        if (group) {
          if (op.nickName !== undefined) group.topic = op.nickName;
        } else {
          const p = world.person(id);
          if (!p) throw new SandboxError("NOT_FOUND", op.name);
          if (op.nickName !== undefined) p.nickName = op.nickName;
          if (op.alias !== undefined) p.alias = op.alias;
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
    for (const key of ["requireDesktop", "pushLogin"] as const) {
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

// ---- HTTP ---------------------------------------------------------------------------------------------------------

function statusOf(err: SandboxError): number {
  return err.code === "NOT_FOUND" ? 404 : err.code === "AMBIGUOUS" || err.code === "CONFLICT" ? 409 : err.code === "TIMEOUT" ? 408 : 400;
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readBody(req, 64 * 1024 * 1024)).toString("utf8");
  if (!text.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SandboxError("INVALID_ARGUMENT", "the body is not JSON");
  }
  if (!isRecord(value)) throw new SandboxError("INVALID_ARGUMENT", "the body must be a JSON object");
  return value;
}

function opt(value: string | null): string | undefined {
  return value === null || value === "" ? undefined : value;
}

export async function handleControl(control: SandboxControl, host: ControlHost, req: IncomingMessage, res: ServerResponse, sub: string, query: URLSearchParams): Promise<void> {
  const method = req.method ?? "GET";
  const route = `${method} ${sub}`;
  try {
    const wait = Math.min(Number(query.get("wait") ?? "0") || 0, 60_000);
    switch (route) {
      case "GET logins": {
        if (wait > 0) await host.until(["login", "login-state"], () => control.logins().find((l) => l.state === "waiting"), wait).catch(() => undefined);
        return sendApiJson(res, 200, { logins: control.logins() });
      }
      case "POST scan":
      case "POST scan/only":
      case "POST confirm":
      case "POST cancel":
      case "POST qr/expire": {
        const body = await jsonBody(req);
        const uuid = typeof body.uuid === "string" ? body.uuid : undefined;
        const account = typeof body.account === "string" || typeof body.account === "number" ? body.account : undefined;
        const r = { ...(uuid ? { uuid } : {}), ...(account !== undefined ? { account } : {}) };
        const login = sub === "scan" ? control.scan(r) : sub === "scan/only" ? control.scanOnly(r) : sub === "confirm" ? control.confirm(r) : sub === "cancel" ? control.cancel(r) : control.expireQr(r);
        return sendApiJson(res, 200, { uuid: login.uuid, state: login.state });
      }
      case "POST messages":
        return sendApiJson(res, 200, control.inject((await jsonBody(req)) as unknown as InjectRequest));
      case "POST messages/bulk":
        return sendApiJson(res, 200, control.injectBulk((await jsonBody(req)) as unknown as BulkRequest));
      case "POST contacts":
        return sendApiJson(res, 200, control.contacts((await jsonBody(req)) as unknown as ContactOp));
      case "GET sent": {
        const after = opt(query.get("after"));
        const filter: SentFilter = {
          ...(opt(query.get("account")) !== undefined ? { account: opt(query.get("account")) as string } : {}),
          ...(opt(query.get("to")) !== undefined ? { to: opt(query.get("to")) as string } : {}),
          ...(opt(query.get("type")) !== undefined ? { type: opt(query.get("type")) as SentFilter["type"] & string } : {}),
          ...(after !== undefined ? { after: Number(after) } : {}),
        };
        if (wait > 0) await host.until(["sent"], () => (control.sent(filter).length > 0 ? true : undefined), wait).catch(() => undefined);
        return sendApiJson(res, 200, { sent: control.sent(filter) });
      }
      case "GET uploads":
        return sendApiJson(res, 200, { uploads: control.uploads() });
      case "GET violations":
        return sendApiJson(res, 200, { violations: control.violations() });
      case "GET deviations":
        return sendApiJson(res, 200, { deviations: control.deviations() });
      case "DELETE violations":
        control.clearViolations();
        return sendApiJson(res, 200, { ok: true });
      case "POST faults":
        control.fault((await jsonBody(req)) as unknown as FaultSpec);
        return sendApiJson(res, 200, { ok: true });
      case "POST session/expire": {
        const body = await jsonBody(req);
        control.expireSession({ code: Number(body.code), ...(typeof body.account === "string" || typeof body.account === "number" ? { account: body.account } : {}) });
        return sendApiJson(res, 200, { ok: true });
      }
      case "GET settings":
        return sendApiJson(res, 200, control.settings());
      case "PUT settings":
        return sendApiJson(res, 200, control.settings((await jsonBody(req)) as Partial<Settings>));
      case "GET world":
        return sendApiJson(res, 200, control.world());
      case "GET world/contacts": {
        const account = opt(query.get("account"));
        const kind = opt(query.get("kind"));
        const name = opt(query.get("name"));
        return sendApiJson(res, 200, { contacts: control.worldContacts({ ...(account ? { account } : {}), ...(kind ? { kind } : {}), ...(name ? { name } : {}) }) });
      }
      case "GET world/members": {
        const room = opt(query.get("room"));
        if (!room) throw new SandboxError("INVALID_ARGUMENT", "room is required");
        return sendApiJson(res, 200, { members: control.groupMembers(room, opt(query.get("account"))) });
      }
      case "POST reset": {
        const body = await jsonBody(req);
        control.reset(typeof body.seed === "number" ? { seed: body.seed } : {});
        return sendApiJson(res, 200, { ok: true });
      }
    }
    if (method === "GET" && sub.startsWith("uploads/")) {
      const data = control.upload(decodeURIComponent(sub.slice("uploads/".length)));
      if (!data) throw new SandboxError("NOT_FOUND", "no such upload");
      const record = control.uploads().find((u) => u.mediaId === decodeURIComponent(sub.slice("uploads/".length)));
      return sendText(res, 200, data, record?.mediaType === "pic" ? record.mime || "application/octet-stream" : "application/octet-stream");
    }
    throw new SandboxError("NOT_FOUND", `no control operation ${route}`);
  } catch (err) {
    if (err instanceof SandboxError) return sendApiJson(res, statusOf(err), { error: { code: err.code, message: err.message } });
    return sendApiJson(res, 500, { error: { code: "INTERNAL", message: err instanceof Error ? err.message : String(err) } });
  }
}
