/**
 * A small typed HTTP client of the sandbox control API (lib/sandbox/README.md), for any test in the project,
 * also against a sandbox running in another process. Waiting uses the API's long polls (`?wait=`), not sleeps.
 */
import type {
  BulkRequest,
  ContactOp,
  DeviceIdRecord,
  FaultSpec,
  InjectRequest,
  MemoryReport,
  PendingLogin,
  SentFilter,
  SentRecord,
  Settings,
  UploadRecord,
  Violation,
  WorldContact,
  WorldSummary,
} from "../../lib/sandbox/types";
import { startSandbox, type Sandbox } from "../../lib/sandbox";
import type { SandboxOptions } from "../../lib/sandbox/types";

export class SandboxApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "SandboxApiError";
  }
}

type Query = Record<string, string | number | undefined>;

/** Where a sandbox answers and the control token it printed (undefined: started with the token off). */
export interface SandboxTarget {
  readonly url: string;
  readonly token?: string | undefined;
}

export class SandboxClient {
  readonly baseUrl: string;
  readonly token: string | undefined;

  /** `new SandboxClient(sb)` for an in-process sandbox, `new SandboxClient(url, token)` for one in another process. */
  constructor(target: SandboxTarget | string, token?: string) {
    this.baseUrl = typeof target === "string" ? target : target.url;
    this.token = typeof target === "string" ? token : target.token;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.token === undefined ? extra : { ...extra, "X-Sandbox-Token": this.token };
  }

  private async call<T>(method: string, path: string, body?: unknown, query: Query = {}): Promise<T> {
    const url = new URL(`/api/sandbox/${path}`, this.baseUrl);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const res = await fetch(url, {
      method,
      headers: this.headers(method === "GET" ? {} : { "Content-Type": "application/json" }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const value: unknown = text ? JSON.parse(text) : {};
    if (!res.ok) {
      const err = (value as { error?: { code?: string; message?: string } }).error ?? {};
      throw new SandboxApiError(res.status, err.code ?? "HTTP", err.message ?? `HTTP ${res.status}`);
    }
    return value as T;
  }

  async logins(options: { waitMs?: number } = {}): Promise<PendingLogin[]> {
    return (await this.call<{ logins: PendingLogin[] }>("GET", "logins", undefined, { wait: options.waitMs })).logins;
  }

  /** The newest login in state waiting, holding up to timeoutMs for one to appear. */
  async waitForLogin(timeoutMs = 10_000): Promise<PendingLogin> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 100; i++) {
      const left = deadline - Date.now();
      const found = (await this.logins({ waitMs: Math.max(0, Math.min(left, 10_000)) })).find((l) => l.state === "waiting");
      if (found) return found;
      if (Date.now() >= deadline) break;
    }
    throw new Error(`no pending login within ${timeoutMs} ms`);
  }

  scan(req: { uuid?: string; account?: string | number } = {}): Promise<{ uuid: string; state: string }> {
    return this.call("POST", "scan", req);
  }
  scanOnly(req: { uuid?: string; account?: string | number } = {}): Promise<{ uuid: string; state: string }> {
    return this.call("POST", "scan/only", req);
  }
  confirm(req: { uuid?: string } = {}): Promise<{ uuid: string; state: string }> {
    return this.call("POST", "confirm", req);
  }
  cancel(req: { uuid?: string } = {}): Promise<{ uuid: string; state: string }> {
    return this.call("POST", "cancel", req);
  }
  expireQr(req: { uuid?: string } = {}): Promise<{ uuid: string; state: string }> {
    return this.call("POST", "qr/expire", req);
  }
  inject(req: InjectRequest): Promise<{ msgId: string }> {
    return this.call("POST", "messages", req);
  }
  injectBulk(req: BulkRequest): Promise<{ msgIds: string[] }> {
    return this.call("POST", "messages/bulk", req);
  }
  contacts(op: ContactOp): Promise<{ ok: true; userName?: string }> {
    return this.call("POST", "contacts", op);
  }

  async sent(filter: SentFilter = {}, options: { waitMs?: number } = {}): Promise<SentRecord[]> {
    const q: Query = { account: filter.account, to: filter.to, type: filter.type, after: filter.after, wait: options.waitMs };
    return (await this.call<{ sent: SentRecord[] }>("GET", "sent", undefined, q)).sent;
  }

  /** The first sent record (after `after`) matching pred, holding up to timeoutMs. */
  async waitForSent(pred: (r: SentRecord) => boolean = () => true, options: { timeoutMs?: number; after?: number } = {}): Promise<SentRecord> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    let after = options.after ?? 0;
    for (let i = 0; i < 1000; i++) {
      const left = deadline - Date.now();
      const records = await this.sent({ after }, { waitMs: Math.max(0, Math.min(left, 10_000)) });
      const found = records.find(pred);
      if (found) return found;
      const last = records[records.length - 1];
      if (last) after = last.seq;
      if (Date.now() >= deadline) break;
    }
    throw new Error("no matching sent record in time");
  }

  async uploads(): Promise<UploadRecord[]> {
    return (await this.call<{ uploads: UploadRecord[] }>("GET", "uploads")).uploads;
  }
  upload(mediaId: string): Promise<Buffer> {
    return this.bytes(`uploads/${encodeURIComponent(mediaId)}`, "no such upload");
  }
  /** The media of a message by its MsgId (a received one, or a forward: `SentRecord.forwarded`). */
  media(msgId: string): Promise<Buffer> {
    return this.bytes(`media/${encodeURIComponent(msgId)}`, "no media for this MsgId");
  }
  private async bytes(route: string, missing: string): Promise<Buffer> {
    const res = await fetch(new URL(`/api/sandbox/${route}`, this.baseUrl), { headers: this.headers() });
    if (!res.ok) throw new SandboxApiError(res.status, "NOT_FOUND", missing);
    return Buffer.from(await res.arrayBuffer());
  }
  async deviceIds(): Promise<DeviceIdRecord[]> {
    return (await this.call<{ deviceIds: DeviceIdRecord[] }>("GET", "device-ids")).deviceIds;
  }
  memory(): Promise<MemoryReport> {
    return this.call("GET", "memory");
  }
  async violations(): Promise<Violation[]> {
    return (await this.call<{ violations: Violation[] }>("GET", "violations")).violations;
  }
  async deviations(): Promise<Violation[]> {
    return (await this.call<{ deviations: Violation[] }>("GET", "deviations")).deviations;
  }
  async clearViolations(): Promise<void> {
    await this.call("DELETE", "violations");
  }
  async fault(spec: FaultSpec): Promise<void> {
    await this.call("POST", "faults", spec);
  }
  async expireSession(code: 1100 | 1101 | 1102, account?: string | number): Promise<void> {
    await this.call("POST", "session/expire", { code, ...(account !== undefined ? { account } : {}) });
  }
  settings(patch?: Partial<Settings>): Promise<Settings> {
    return patch === undefined ? this.call("GET", "settings") : this.call("PUT", "settings", patch);
  }
  world(): Promise<WorldSummary> {
    return this.call("GET", "world");
  }
  async worldContacts(query: { account?: string | number; kind?: string; name?: string } = {}): Promise<WorldContact[]> {
    return (await this.call<{ contacts: WorldContact[] }>("GET", "world/contacts", undefined, query)).contacts;
  }
  async reset(seed?: number): Promise<void> {
    await this.call("POST", "reset", seed === undefined ? {} : { seed });
  }
}

/**
 * Mocha helper: a sandbox started before the suite and closed after it.
 *   const env = withSandbox({ contacts: 20 });  it("...", async () => env.client.inject(...))
 */
export function withSandbox(options: SandboxOptions = {}): { readonly sandbox: Sandbox; readonly client: SandboxClient; readonly url: string } {
  let sandbox: Sandbox | undefined;
  before(async () => {
    sandbox = await startSandbox(options);
  });
  after(async () => {
    await sandbox?.close();
  });
  return {
    get sandbox(): Sandbox {
      if (!sandbox) throw new Error("the sandbox is not started yet");
      return sandbox;
    },
    get client(): SandboxClient {
      return new SandboxClient(this.sandbox);
    },
    get url(): string {
      return this.sandbox.url;
    },
  };
}
