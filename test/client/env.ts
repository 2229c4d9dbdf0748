import { strict as assert } from "node:assert";
import { EventEmitter } from "node:events";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FAMILIES, realHostsTransport, startSandbox, type Family } from "../../lib/sandbox";
import type { SandboxOptions } from "../../lib/sandbox/types";
import { WeChatClient, type ClientTuning, type WeChatClientOptions } from "../../lib/wechat/client";
import { SandboxClient } from "../support/sandbox";
import type { ClientEvents, Message, StateInfo } from "../../lib/wechat/types";

export type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

/** Short polls and quick back-offs so that the suite runs in seconds. */
export const SANDBOX_DEFAULTS: SandboxOptions = { longPollMs: 400, contacts: 30, groups: 4 };

export function fastTuning(extra: ClientTuning = {}): ClientTuning {
  return {
    timeouts: { requestMs: 3_000, syncCheckMs: 2_500, loginPollMs: 2_500 },
    retryDelayMs: 20,
    loginBackoffMs: 50,
    sync: { backoffMs: 50, maxBackoffMs: 400, throttledMs: 200 },
    sendQueue: { cooldownMs: 150, maxCooldownMs: 600 },
    ...extra,
  };
}

/** Everything a client said: for assertions on order, duplicates and secrets. */
export interface Recorder {
  states: StateInfo[];
  messages: Message[];
  warns: string[];
  contacts: ClientEvents["contacts"][0][];
  calls: string[];
  /** The same calls with the time each attempt started (ms). */
  timedCalls: { what: string; at: number }[];
  /** Emits "call" with the endpoint name as each attempt starts. */
  callEvents: EventEmitter;
}

export interface Env {
  sb: Sandbox;
  /** The control API over HTTP (test/support/sandbox.ts). */
  api: SandboxClient;
  dir: string;
  clients: WeChatClient[];
  newClient(options?: WeChatClientOptions): { client: WeChatClient; rec: Recorder };
  close(): Promise<void>;
}

/**
 * The page host family the client suites run against in the sandbox's real-hosts mode (TLS, the real names, the
 * login URL left at https://login.wx.qq.com), from WXFLOW_REAL_HOSTS; unset: the sandbox's plain origin.
 */
export function realHostsFamily(): Family | undefined {
  const value = process.env.WXFLOW_REAL_HOSTS;
  if (value === undefined || value === "") return undefined;
  const family = FAMILIES.find((f) => f === value);
  if (!family) throw new Error(`WXFLOW_REAL_HOSTS must be one of ${FAMILIES.join(", ")}`);
  return family;
}

/** Client options that reach `sb`: its real hosts through a transport when that mode runs, else its origin. */
export function reach(sb: Sandbox): WeChatClientOptions {
  const real = sb.realHosts;
  return real ? { transport: realHostsTransport(real) } : { loginUrl: sb.url };
}

export async function startEnv(options: SandboxOptions = {}): Promise<Env> {
  const family = realHostsFamily();
  const mode: SandboxOptions = family && options.realHosts === undefined ? { realHosts: { pageHosts: [family] } } : {};
  const sb = await startSandbox({ ...SANDBOX_DEFAULTS, ...mode, ...options });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wxflow-client-"));
  const clients: WeChatClient[] = [];
  return {
    sb,
    api: new SandboxClient(sb),
    dir,
    clients,
    newClient(opts: WeChatClientOptions = {}) {
      const rec: Recorder = { states: [], messages: [], warns: [], contacts: [], calls: [], timedCalls: [], callEvents: new EventEmitter() };
      const tuning = fastTuning(opts.tuning);
      // A test that names its own login URL (a proxy in front of the origin) keeps it, without the transport.
      const client = new WeChatClient({
        ...(opts.loginUrl === undefined ? reach(sb) : {}),
        ...opts,
        tuning: {
          ...tuning,
          onRequest: (what) => {
            rec.calls.push(what);
            rec.timedCalls.push({ what, at: Date.now() });
            rec.callEvents.emit("call", what);
          },
        },
      });
      client.on("state", (s) => rec.states.push(s));
      client.on("message", (m) => rec.messages.push(m));
      client.on("warn", (w) => rec.warns.push(w));
      client.on("contacts", (c) => rec.contacts.push(c));
      clients.push(client);
      return { client, rec };
    },
    async close() {
      for (const client of clients) await client.stop();
      await sb.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves with the first state (current or coming) that matches; rejects after timeoutMs. */
export function waitForState(client: WeChatClient, match: (s: StateInfo) => boolean, timeoutMs = 10_000, what = "state"): Promise<StateInfo> {
  if (match(client.state)) return Promise.resolve(client.state);
  return waitForEvent(client, "state", match, timeoutMs, what);
}

export function waitForEvent<K extends keyof ClientEvents>(
  client: WeChatClient,
  event: K,
  match: (value: ClientEvents[K][0]) => boolean,
  timeoutMs = 10_000,
  what: string = event,
): Promise<ClientEvents[K][0]> {
  return new Promise((resolve, reject) => {
    const listener = (...args: ClientEvents[K]) => {
      if (!match(args[0])) return;
      clearTimeout(timer);
      client.off(event, listener);
      resolve(args[0]);
    };
    const timer = setTimeout(() => {
      client.off(event, listener);
      reject(new Error(`timed out waiting for ${what} (last state ${client.state.state})`));
    }, timeoutMs);
    client.on(event, listener);
  });
}

/** Waits until `count` messages matching `match` were recorded. */
export async function waitForMessages(client: WeChatClient, rec: Recorder, match: (m: Message) => boolean, count: number, timeoutMs = 10_000): Promise<Message[]> {
  const have = () => rec.messages.filter(match);
  if (have().length >= count) return have();
  await waitForEvent(client, "message", () => have().length >= count, timeoutMs, `${count} messages`);
  return have();
}

/**
 * Resolves once the client is parked on synccheck: its newest call is a synccheck that came after every webwxsync
 * so far, so a change made now reaches it through a new webwxsync, not one already on the wire.
 */
export function waitForSyncIdle(rec: Recorder, timeoutMs = 10_000): Promise<void> {
  if (rec.calls.at(-1) === "synccheck") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      rec.callEvents.off("call", on);
      reject(new Error(`the client did not go back to synccheck within ${timeoutMs} ms: ${rec.calls.slice(-5).join(", ")}`));
    }, timeoutMs);
    const on = (what: string): void => {
      if (what !== "synccheck") return;
      clearTimeout(timer);
      rec.callEvents.off("call", on);
      resolve();
    };
    rec.callEvents.on("call", on);
  });
}

export function uuidOf(state: StateInfo): string {
  const uuid = state.qrUrl?.split("/l/")[1];
  assert.ok(uuid, "waiting-scan carries the QR text");
  return uuid;
}

/** True once online with the contacts loaded (they load in the background after login). */
export const onlineLoaded = (s: StateInfo): boolean => s.state === "online" && s.contacts !== "loading";

/** start(), scan and confirm the QR through the control API, wait until online with the contacts loaded. */
export async function loginByQr(env: Env, client: WeChatClient, account?: string | number): Promise<StateInfo> {
  client.start();
  const waiting = await waitForState(client, (s) => s.state === "waiting-scan", 10_000, "waiting-scan");
  env.sb.control.scan({ uuid: uuidOf(waiting), ...(account !== undefined ? { account } : {}) });
  return waitForState(client, onlineLoaded, 10_000, "online");
}

/** The states a client walked through, a state re-published (online: contacts loaded, sync trouble) once. */
export function stateNames(rec: Recorder): string[] {
  return rec.states.map((s) => s.state).filter((s, i, all) => i === 0 || all[i - 1] !== s);
}

/** Asserts, through the HTTP control API, that the sandbox saw no protocol violation (nor deviation). */
export async function assertNoViolations(env: Env): Promise<void> {
  const violations = await env.api.violations();
  assert.deepEqual(
    violations.map((v) => `${v.endpoint}: ${v.rule}: ${v.detail}`),
    [],
    "the sandbox recorded protocol violations",
  );
  assert.deepEqual(
    (await env.api.deviations()).map((v) => `${v.endpoint}: ${v.rule}: ${v.detail}`),
    [],
    "the sandbox recorded deviations from the official client",
  );
}

/**
 * For a describe() whose tests each start one Env: registers the afterEach that asserts the sandbox saw no
 * violation and then closes that Env (also when the assert fails); returns the start function to call in each test.
 */
export function envPerTest(): (options?: SandboxOptions) => Promise<Env> {
  let env: Env | undefined;
  afterEach(async () => {
    const current = env;
    env = undefined;
    if (!current) return;
    try {
      await assertNoViolations(current);
    } finally {
      await current.close();
    }
  });
  return async (options) => (env = await startEnv(options));
}
