/**
 * A machine without a network, for the real-WeChat server mode (#16.2): a client transport whose every connection
 * fails on this machine (a name that does not resolve, a refused loopback port) or goes to a loopback server, and
 * a guard that fails the test when anything else tries to resolve a name other than a loopback one.
 * Nothing here ever contacts a WeChat host or any address but 127.0.0.1.
 */
import type * as Dns from "node:dns";
import { createRequire } from "node:module";
import * as net from "node:net";
import { strict as assert } from "node:assert";
import type { Transport } from "../../lib/wechat/types";

// the module object itself (not an import's copy of it), so replacing its lookup reaches every socket
const dns = createRequire(__filename)("node:dns") as typeof Dns;

/** What the offline transport does with the next connection. */
export type OfflineMode =
  /** the name does not resolve (ENOTFOUND from the injected resolver; the system's resolver is never asked) */
  | { kind: "dns" }
  /** connection refused: a loopback port nothing listens on */
  | { kind: "refused"; port: number }
  /** to a loopback server (a self-signed TLS one, a silent one) */
  | { kind: "loopback"; port: number }
  /** where another transport sends it (the sandbox's real-hosts mode) */
  | { kind: "route"; to: Transport };

/** The name every connection is sent to in "dns" mode: reserved, and only ever given to the injected resolver. */
export const UNRESOLVABLE = "wx-offline.invalid";

export interface OfflineTransport {
  transport: Transport;
  set(mode: OfflineMode): void;
  /** host:port of every connection the client opened through the transport. */
  readonly connects: string[];
  /** Every name the injected resolver was asked for. */
  readonly lookups: string[];
}

function enotfound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND", errno: -3008, syscall: "getaddrinfo", hostname });
}

/** A transport for the real WeChat login URL that never leaves this machine; `ca` is the CA a route may need. */
export function offlineTransport(initial: OfflineMode = { kind: "dns" }, ca?: string): OfflineTransport {
  let mode = initial;
  const connects: string[] = [];
  const lookups: string[] = [];
  const lookup = ((hostname: string, options: unknown, callback?: unknown) => {
    const done = (typeof options === "function" ? options : callback) as (err: NodeJS.ErrnoException | null, address?: string, family?: number) => void;
    lookups.push(hostname);
    const all = typeof options === "object" && options !== null && (options as { all?: boolean }).all === true;
    process.nextTick(() => {
      if (hostname === "127.0.0.1") {
        if (all) (done as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: "127.0.0.1", family: 4 }]);
        else done(null, "127.0.0.1", 4);
      } else {
        done(enotfound(hostname));
      }
    });
  }) as unknown as net.LookupFunction;
  const transport: Transport = {
    connect(host, port) {
      connects.push(`${host}:${port}`);
      switch (mode.kind) {
        case "dns":
          return { host: UNRESOLVABLE, port };
        case "refused":
        case "loopback":
          return { host: "127.0.0.1", port: mode.port };
        case "route":
          return mode.to.connect(host, port);
      }
    },
    lookup,
    ...(ca !== undefined ? { ca } : {}),
  };
  return {
    transport,
    set: (next) => {
      mode = next;
      // a route to a server of its own CA (the sandbox's real-hosts mode) brings that CA
      if (next.kind === "route" && next.to.ca !== undefined) transport.ca = next.to.ca;
    },
    connects,
    lookups,
  };
}

/** A loopback port nothing listens on (a connection to it is refused). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface DnsGuard {
  /** Names something tried to resolve through the system's resolver that are not loopback ones. */
  readonly attempts: string[];
  restore(): void;
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);

/**
 * Replaces dns.lookup (what every socket uses to resolve a name) for the test: loopback names pass, any other is
 * recorded and fails at once with ENOTFOUND, never sent to a real resolver. The test asserts `attempts` is empty.
 */
export function guardDns(onAttempt?: (hostname: string) => void): DnsGuard {
  const original = dns.lookup;
  const attempts: string[] = [];
  const guarded = function (this: unknown, hostname: string, ...rest: unknown[]): void {
    if (LOOPBACK_NAMES.has(hostname)) {
      (original as unknown as (...a: unknown[]) => void).call(this, hostname, ...rest);
      return;
    }
    attempts.push(hostname);
    onAttempt?.(hostname);
    const callback = rest[rest.length - 1] as (err: NodeJS.ErrnoException) => void;
    process.nextTick(() => callback(enotfound(hostname)));
  };
  (dns as { lookup: unknown }).lookup = guarded;
  return {
    attempts,
    restore: () => {
      (dns as { lookup: unknown }).lookup = original;
    },
  };
}

/** mocha hooks: the resolver guard for every test, checked after it. */
export function useDnsGuard(): { guard?: DnsGuard | undefined } {
  const holder: { guard?: DnsGuard | undefined } = {};
  beforeEach(() => {
    holder.guard = guardDns();
  });
  afterEach(() => {
    const guard = holder.guard;
    holder.guard = undefined;
    guard?.restore();
    assert.deepEqual(guard?.attempts, [], "no name but a loopback one went to the system resolver");
  });
  return holder;
}
