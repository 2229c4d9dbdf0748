import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from "node:dns";
import { isIP } from "node:net";
import * as ipaddr from "ipaddr.js";

/**
 * Which addresses a URL in msg.payload may reach. A chat message can end up as that URL, so by default only
 * public unicast addresses are fetched: never loopback, link-local (cloud metadata at 169.254.169.254),
 * RFC 1918, CGNAT, ULA, multicast, unspecified or reserved ranges, nor an IPv6 form that embeds one of
 * them (v4-mapped, NAT64, 6to4). A flow builder may name hosts that are allowed anyway (a NAS on the LAN).
 */
export interface AddressPolicy {
  /** Host names (or IP literals) that may resolve to private addresses, lower case, no trailing dot. */
  allowHosts: readonly string[];
}

/** Thrown (inside the connection's DNS lookup too) when a host is refused. Its message names only the host. */
export class AddressRefusedError extends Error {
  readonly code = "ERR_WXFLOW_ADDRESS_REFUSED";
  constructor(readonly host: string) {
    super(`${host} is a private or local address (list the host under the node's Private hosts to reach it)`);
    this.name = "AddressRefusedError";
  }
}

/** A host as a URL names it, for comparison: lower case, no IPv6 brackets, no trailing dot. */
export function normalizeHost(host: string): string {
  const bare = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return bare.endsWith(".") ? bare.slice(0, -1) : bare;
}

/** The node's "allowed hosts" setting: names separated by commas or white space. */
export function parseAllowHosts(value: unknown): string[] {
  if (typeof value !== "string") return [];
  return value
    .split(/[\s,]+/)
    .map(normalizeHost)
    .filter((h) => h !== "");
}

/**
 * True when `address` (an IPv4 or IPv6 literal) is public unicast. ipaddr.js names every special range; only
 * "unicast" is public. v4-mapped IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it carries; the other
 * IPv6 forms that embed IPv4 (NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo) have their own range names and are
 * refused with the rest.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === "unicast";
}

export function isHostAllowed(host: string, policy: AddressPolicy): boolean {
  return policy.allowHosts.includes(normalizeHost(host));
}

/**
 * The refusal of a URL host that is itself a private IP literal (Node connects to a literal without any lookup, so the
 * guarded lookup below never sees it). The WHATWG parser has already turned 2130706433 or 0x7f.1 into 127.0.0.1.
 */
export function refusedLiteral(host: string, policy: AddressPolicy): AddressRefusedError | undefined {
  const bare = normalizeHost(host);
  return isIP(bare) !== 0 && !isHostAllowed(bare, policy) && !isPublicAddress(bare) ? new AddressRefusedError(bare) : undefined;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
type LookupFn = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

/**
 * A DNS lookup for the HTTP client that drops every non-public address it resolves, unless the host is allowed.
 * The socket connects to what this returns, so a name cannot resolve to a public address when checked and a
 * private one when connected (DNS rebinding): there is only one resolution.
 */
export function guardedLookup(policy: AddressPolicy): LookupFn {
  return (hostname, options, callback) => {
    const all: LookupAllOptions = { ...options, all: true };
    dnsLookup(hostname, all, (error, addresses) => {
      if (error) {
        callback(error, []);
        return;
      }
      const usable = isHostAllowed(hostname, policy) ? addresses : addresses.filter((a) => isPublicAddress(a.address));
      const first = usable[0];
      if (first === undefined) {
        callback(new AddressRefusedError(normalizeHost(hostname)), []);
        return;
      }
      if (options.all === true) callback(null, usable);
      else callback(null, first.address, first.family);
    });
  };
}
