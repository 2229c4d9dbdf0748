import { EventEmitter } from "node:events";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { isSnapshot, startSandbox, type Sandbox, type SandboxOptions, type SandboxSnapshot } from "../../lib/sandbox";
import { SealedStore } from "../../lib/wechat/sealed-store";
import { sessionSecret } from "./secret";

/**
 * The built-in sandboxes of one Node-RED runtime, by port (#16.1): an account that closes on a redeploy and comes
 * back on the same port finds its sandbox still running (world, sessions, phone page and token), so the redeploy
 * needs no scan. Accounts lease a sandbox when they are created and release it when they close; a sandbox no account
 * leases any more is saved and closed at the end of the deploy ("flows:started"), when the runtime stops, or after a
 * grace period when neither comes. Its world is saved (encrypted, debounced, and on release) under the user dir, so a Node-RED
 * restart goes on from it too. A sandbox on port 0 (an ephemeral port) belongs to one account.
 */

/** How long an unused sandbox waits for an account to come back when no deploy ends (settings.js may change it). */
export const DEFAULT_SANDBOX_GRACE_MS = 5_000;
/** Changes are written at most this often. */
const SAVE_DELAY_MS = 500;
/** Events after which the world is worth saving again. */
const SAVE_ON = ["change", "session", "sent"] as const;

export interface SandboxPlace {
  /** The port asked for; 0: an ephemeral port, then the sandbox is the account's own. */
  port: number;
  accountId: string;
  /** The folder the world is saved in (the user dir's wxflow folder); none: nothing is saved. */
  dir?: string;
  /** The base secret (and earlier ones) the saved world is encrypted under (shared/secret.ts). */
  secret?: (dir: string) => { secret: string; previous: readonly string[] };
  /** Where the sandbox's own notes go (the first account's log). */
  warn: (message: string) => void;
  log: (message: string) => void;
  /** How long the sandbox waits for an account once this lease is released, read then (settings.js may set it). */
  graceMs: () => number;
}

/** What an account sees of its leased sandbox: closing it releases the lease. */
export interface LeasedSandbox {
  readonly url: string;
  readonly phoneUrl: string;
  readonly control: Sandbox["control"];
  close(): Promise<void>;
}

export interface SandboxLease {
  /** The running sandbox, started (from its saved world, if any) by the first lease that asks. */
  start(options: { host: string }): Promise<LeasedSandbox>;
  /** Once per lease; `removed`: the account was deleted, so an account's own sandbox forgets its world. */
  release(removed?: boolean): Promise<void>;
}

class Entry {
  refs = 0;
  running?: Promise<Sandbox> | undefined;
  grace?: NodeJS.Timeout | undefined;
  saveTimer?: NodeJS.Timeout | undefined;
  saving: Promise<void> = Promise.resolve();
  retired?: Promise<void>;
  forget = false;
  /** The encrypted world file, once its key is known (one key derivation per entry, not per save). */
  store?: SealedStore<SandboxSnapshot>;
  constructor(
    readonly key: string,
    readonly place: SandboxPlace,
    readonly file: string | undefined,
  ) {}
}

function keyOf(place: SandboxPlace): string {
  return place.port === 0 ? `account-${place.accountId.replace(/[^\w.-]/g, "_")}` : `port-${place.port}`;
}

function isAddressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE";
}

export class SandboxRegistry {
  /** "closed" (with the key, e.g. "port-1881") once a sandbox has closed: for tests that wait on it. */
  readonly events = new EventEmitter<{ closed: [string] }>();
  private readonly entries = new Map<string, Entry>();
  /** Sandboxes being saved and closed, by key: a new one on the same key waits for its port. */
  private readonly closing = new Map<string, Promise<void>>();

  lease(place: SandboxPlace): SandboxLease {
    const key = keyOf(place);
    const file = place.dir ? path.join(place.dir, `sandbox-${key}.world`) : undefined;
    let entry = this.entries.get(key);
    // Another user dir (a runtime re-initialised, e.g. between tests): that sandbox is someone else's world.
    if (entry && entry.file !== file && entry.refs === 0) {
      void this.retire(entry);
      entry = undefined;
    }
    if (!entry) {
      entry = new Entry(key, place, file);
      this.entries.set(key, entry);
    }
    const leased = entry;
    leased.refs += 1;
    clearTimeout(leased.grace);
    leased.grace = undefined;
    let released = false;
    return {
      start: (options) => this.start(leased, options.host),
      release: (removed = false) => {
        if (released) return Promise.resolve();
        released = true;
        return this.release(leased, removed, place);
      },
    };
  }

  /** Close every sandbox no account leases (the deploy has ended: whoever comes back has leased again). */
  closeUnused(): Promise<void> {
    return Promise.all([...this.entries.values()].filter((e) => e.refs === 0).map((e) => this.retire(e))).then(() => undefined);
  }

  /** Resolves once every sandbox being closed now has closed (its port is free). */
  async whenClosed(): Promise<void> {
    await Promise.all([...this.closing.values()]);
  }

  /** Save and close every sandbox (leases or not) and wait for all of them: runtime stop, tests. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => this.retire(e)));
    await Promise.all([...this.closing.values()]);
  }

  private async start(entry: Entry, host: string): Promise<LeasedSandbox> {
    if (entry.retired) throw new Error("the sandbox was closed");
    entry.running ??= this.open(entry, host).catch((error: unknown) => {
      entry.running = undefined;
      throw error;
    });
    const sandbox = await entry.running;
    return {
      get url() {
        return sandbox.url;
      },
      get phoneUrl() {
        return sandbox.phoneUrl;
      },
      control: sandbox.control,
      close: () => Promise.resolve(),
    };
  }

  private async open(entry: Entry, host: string): Promise<Sandbox> {
    await this.closing.get(entry.key);
    const saved = await this.load(entry);
    const port = entry.place.port || saved?.port || 0;
    const begin = async (options: SandboxOptions): Promise<Sandbox> => {
      try {
        return await startSandbox(options);
      } catch (error) {
        // an account's own sandbox goes back to its earlier port when it can, else takes any
        if (isAddressInUse(error) && entry.place.port === 0 && options.port !== 0) return startSandbox({ ...options, port: 0 });
        throw error;
      }
    };
    let sandbox: Sandbox;
    if (saved) {
      try {
        sandbox = await begin({ host, port, restore: saved });
        entry.place.log(`sandbox world restored (${saved.sessions.length} session(s))`);
      } catch (error) {
        if (isAddressInUse(error)) throw error;
        entry.place.warn(`saved sandbox world not usable (${error instanceof Error ? error.message : String(error)}); a new world starts`);
        sandbox = await begin({ host, port });
      }
    } else {
      sandbox = await begin({ host, port });
    }
    for (const event of SAVE_ON) sandbox.events.on(event, () => this.schedule(entry));
    // the first save keeps the token, so the phone page's link survives a restart even before any change
    this.schedule(entry);
    return sandbox;
  }

  /** The world's encrypted file (lib/wechat/sealed-store.ts), under a key of its own derived from the session key. */
  private storeOf(entry: Entry): SealedStore<SandboxSnapshot> | undefined {
    if (entry.store) return entry.store;
    const dir = entry.place.dir;
    if (!entry.file || !dir || !entry.place.secret) return undefined;
    const key = entry.place.secret(dir);
    const derive = (base: string): string => sessionSecret(base, `sandbox:${entry.key}`);
    const warn = (m: string): void => entry.place.warn(`${m}; a new world starts`);
    entry.store = new SealedStore(entry.file, derive(key.secret), {
      format: "wxflow-sandbox-world",
      what: "saved sandbox world",
      accepts: isSnapshot,
      previous: key.previous.map(derive),
      warn,
      info: (m) => entry.place.log(m),
    });
    return entry.store;
  }

  private async load(entry: Entry): Promise<SandboxSnapshot | undefined> {
    try {
      return await this.storeOf(entry)?.load();
    } catch (error) {
      entry.place.warn(`saved sandbox world not readable (${error instanceof Error ? error.message : String(error)}); a new world starts`);
      return undefined;
    }
  }

  private schedule(entry: Entry): void {
    if (!entry.file || entry.saveTimer || entry.retired) return;
    entry.saveTimer = setTimeout(() => {
      entry.saveTimer = undefined;
      void this.save(entry);
    }, SAVE_DELAY_MS);
  }

  /** Writes the world now (after any write in progress); never rejects. */
  private save(entry: Entry): Promise<void> {
    clearTimeout(entry.saveTimer);
    entry.saveTimer = undefined;
    if (!entry.file) return entry.saving;
    entry.saving = entry.saving.then(async () => {
      const sandbox = await entry.running?.catch(() => undefined);
      if (!sandbox || entry.forget) return;
      try {
        await this.storeOf(entry)?.save(sandbox.snapshot());
      } catch (error) {
        entry.place.warn(`sandbox world not saved: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
    return entry.saving;
  }

  private async release(entry: Entry, removed: boolean, place: SandboxPlace): Promise<void> {
    entry.refs -= 1;
    if (removed && entry.place.port === 0) entry.forget = true;
    if (entry.refs > 0 || entry.retired) return;
    await this.save(entry);
    // the account may have come back while the world was written
    if (entry.refs > 0 || entry.retired) return;
    const grace = place.graceMs();
    if (grace <= 0 || entry.forget) {
      await this.retire(entry);
      return;
    }
    entry.grace = setTimeout(() => void this.retire(entry), grace);
  }

  /** Save (or forget) and close one sandbox; the key is free again once it has closed. */
  private retire(entry: Entry): Promise<void> {
    if (entry.retired) return entry.retired;
    clearTimeout(entry.grace);
    entry.grace = undefined;
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    const done = (async () => {
      await this.save(entry);
      clearTimeout(entry.saveTimer);
      const sandbox = await entry.running?.catch(() => undefined);
      await sandbox?.close();
      if (entry.forget && entry.file) await fs.rm(entry.file, { force: true });
      this.events.emit("closed", entry.key);
    })();
    entry.retired = done;
    const closing = done.finally(() => {
      if (this.closing.get(entry.key) === closing) this.closing.delete(entry.key);
    });
    this.closing.set(entry.key, closing);
    return done;
  }
}

/** One registry per Node-RED runtime (keyed by its event bus), never shared between runtimes. */
const registries = new WeakMap<object, SandboxRegistry>();

export interface RegistryHost {
  events?: { on(event: string, listener: (payload: unknown) => void): unknown };
}

/** Node-RED's "runtime-event" when the flows stop for good (the runtime stops), not for a deploy. */
function isRuntimeStop(payload: unknown): boolean {
  if (payload === null || typeof payload !== "object") return false;
  const event = payload as { id?: unknown; payload?: { state?: unknown; deploy?: unknown } | null };
  return event.id === "runtime-state" && event.payload?.state === "stop" && !event.payload.deploy;
}

/**
 * The registry of the runtime `RED` belongs to, made on first use; it closes unused sandboxes after every deploy.
 * `owner` stands for the runtime where it has no event bus (then only the grace period closes them).
 */
export function sandboxRegistry(red: RegistryHost, owner: object): SandboxRegistry {
  const key = red.events ?? owner;
  let registry = registries.get(key);
  if (!registry) {
    const made = new SandboxRegistry();
    registries.set(key, made);
    red.events?.on("flows:started", () => void made.closeUnused());
    // the runtime stops (its flows closed, every world saved on release): nothing waits for a grace period
    red.events?.on("runtime-event", (payload) => {
      if (isRuntimeStop(payload)) void made.closeAll();
    });
    registry = made;
  }
  return registry;
}

/** The registry of a runtime, if one was made (tests close everything with it). */
export function existingSandboxRegistry(red: RegistryHost): SandboxRegistry | undefined {
  return red.events ? registries.get(red.events) : undefined;
}
