import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { WeChatError } from "../../lib/wechat/errors";
import { AddressRefusedError, guardedLookup, refusedLiteral, isHostAllowed, type AddressPolicy } from "./address";

/** Redirects followed before giving up; each hop is checked like the first URL. */
export const MAX_REDIRECTS = 5;
const TIMEOUT_MS = 15_000;
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

/**
 * A URL as error messages may show it: scheme, host, port and path. Never the user:password@ part, the query
 * (tokens) or the fragment.
 */
export function redactUrl(url: URL | string): string {
  let parsed: URL;
  try {
    parsed = typeof url === "string" ? new URL(url) : url;
  } catch {
    return "(an invalid URL)";
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/** The first AddressRefusedError in an error's cause chain (the HTTP client wraps the lookup's error). */
function refusalIn(error: unknown): AddressRefusedError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof AddressRefusedError) return current;
    current = current.cause;
  }
  return undefined;
}

/** The refusal of a private address as the node reports it (`from`: the URL that redirected there). */
function refusedError(refused: AddressRefusedError, what: string, from: string | undefined): WeChatError {
  const via = from === undefined ? "" : ` (redirected from ${from})`;
  return new WeChatError("INVALID_ARGUMENT", `refused to download the ${what}: ${refused.message}${via}`);
}

/**
 * Why a request failed, in words that hold nothing from the URL: the HTTP status or the system error code
 * (the HTTP client's own messages and error objects carry the URL, credentials included, so neither is kept).
 */
function reasonOf(error: unknown): string {
  const status = (error as { response?: { statusCode?: unknown } }).response?.statusCode;
  if (typeof status === "number") return `the server answered HTTP ${status}`;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^[A-Z0-9_]+$/.test(code) ? code : "the request failed";
}

/** Where a redirect leads, without the credentials of the URL it came from when it leaves that origin. */
function redirectTarget(location: string | undefined, from: URL, failure: string): URL {
  if (typeof location !== "string" || location === "") throw new WeChatError("NETWORK", `${failure}: a redirect without a Location`);
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new WeChatError("NETWORK", `${failure}: a redirect to an invalid URL`);
  }
  if (next.origin !== from.origin) {
    next.username = "";
    next.password = "";
  }
  return next;
}

/**
 * GETs `url` with at most `max` bytes, following up to MAX_REDIRECTS redirects itself so that every hop is
 * checked against `policy` (literal hosts here, resolved names in the connection's own lookup). Credentials in the
 * URL are sent only to the origin that carried them. No error repeats credentials or the query.
 */
export async function downloadBytes(url: string, max: number, what: string, policy: AddressPolicy): Promise<Buffer> {
  const { got } = await import("got");
  let current: URL;
  try {
    current = new URL(url);
  } catch {
    throw new WeChatError("INVALID_ARGUMENT", `msg.payload is not a valid URL`);
  }
  const shown = redactUrl(current);
  // Sockets of this download only: Node's global agents keep connections alive and pool them by host and port,
  // so a later download (from a node where that host is not allowed) would reuse one without any lookup.
  const agent = { http: new HttpAgent({ keepAlive: false }), https: new HttpsAgent({ keepAlive: false }) };
  try {
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      if (current.protocol !== "http:" && current.protocol !== "https:") {
        throw new WeChatError("INVALID_ARGUMENT", `the ${what} at ${shown} redirects to a URL that is not http(s)`);
      }
      const from = hop === 0 ? undefined : shown;
      const literal = refusedLiteral(current.hostname, policy);
      if (literal) throw refusedError(literal, what, from);
      const request = got(current, {
        responseType: "buffer",
        timeout: { request: TIMEOUT_MS },
        retry: { limit: 0 },
        followRedirect: false,
        agent,
        dnsLookup: isHostAllowed(current.hostname, policy) ? undefined : guardedLookup(policy),
      });
      let tooLarge = false;
      request.on("downloadProgress", (progress: { transferred: number; total?: number }) => {
        if (progress.transferred > max || (progress.total !== undefined && progress.total > max)) {
          tooLarge = true;
          request.cancel();
        }
      });
      let response: Awaited<typeof request>;
      try {
        response = await request;
      } catch (error) {
        const refused = refusalIn(error);
        if (refused) throw refusedError(refused, what, from);
        if (tooLarge) throw new WeChatError("TOO_LARGE", `the ${what} at ${shown} is larger than ${max} bytes`);
        throw new WeChatError("NETWORK", `cannot download the ${what} from ${shown}: ${reasonOf(error)}`);
      }
      if (!REDIRECT_STATUS.has(response.statusCode)) {
        if (response.statusCode >= 300) throw new WeChatError("NETWORK", `cannot download the ${what} from ${shown}: the server answered HTTP ${response.statusCode}`);
        return response.body;
      }
      current = redirectTarget(response.headers.location, current, `cannot download the ${what} from ${shown}`);
    }
    throw new WeChatError("NETWORK", `cannot download the ${what} from ${shown}: more than ${MAX_REDIRECTS} redirects`);
  } finally {
    agent.http.destroy();
    agent.https.destroy();
  }
}
