import type { Json } from "./api";
import { WeChatError, errorText } from "./errors";
import { MAX_JSON_DEPTH, topLevelMembers } from "./json-scan";
import { checkBaseResponse, parseJsonBody } from "./http";

/** The objects of a JSON array (anything else in it skipped); [] when it is not an array. */
export function objectList(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter((v): v is Json => v !== null && typeof v === "object") : [];
}

/** A JSON answer read in two steps: a few top-level members at once, the whole of it on first use. */
export interface LazyAnswer {
  /** The members asked for (those present), BaseResponse already checked. */
  head: Json;
  /** The whole answer, parsed on the first call (then kept). Throws PROTOCOL (afterSent) when it is not JSON. */
  whole(): Json;
}

/** The server answered, so it may have acted on the call: an unreadable answer is not a refusal (as HttpClient.json). */
function unreadable(what: string, error?: unknown): WeChatError {
  return new WeChatError("PROTOCOL", errorText(error, `${what}: the answer is not valid JSON`), { afterSent: true });
}

function parsed(body: Buffer, what: string, depthChecked: boolean): Json {
  let value: unknown;
  try {
    value = parseJsonBody(body, what, { depthChecked });
  } catch (error) {
    throw unreadable(what, error);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw unreadable(what);
  return value as Json;
}

/**
 * The answer of a paged call (webwxsync, webwxgetcontact) whose next call needs only a few of its top-level
 * members (keys, Seq): those are read from one pass over the bytes (json-scan.ts, which also guards the nesting)
 * and parsed alone, so that the next call goes out before the page's lists are parsed (issue #19: JSON.parse of
 * a page was most of the way from one answer to the next call). BaseResponse is among them and checked: a refusal
 * throws its typed error at once, as HttpClient.json does. A body the scan cannot answer for is parsed whole here.
 */
export function lazyAnswer(body: Buffer, what: string, names: readonly string[]): LazyAnswer {
  const scan = topLevelMembers(body, ["BaseResponse", ...names], MAX_JSON_DEPTH);
  if (scan.kind === "too-deep") {
    throw unreadable(what, new WeChatError("PROTOCOL", `${what}: the answer nests deeper than ${MAX_JSON_DEPTH} levels; refused`));
  }
  let head: Json | undefined;
  if (scan.kind === "members") {
    head = {};
    try {
      for (const [name, range] of scan.members) head[name] = JSON.parse(body.toString("utf8", range.start, range.end));
    } catch {
      // A member's value is not JSON: the whole body says what is wrong.
      head = undefined;
    }
  }
  if (!head) {
    const value = parsed(body, what, false);
    checkBaseResponse(value, what);
    return { head: value, whole: () => value };
  }
  checkBaseResponse(head, what);
  let rest: Buffer | undefined = body;
  let value: Json | undefined;
  return {
    head,
    whole: () => {
      if (value) return value;
      if (!rest) throw unreadable(what);
      value = parsed(rest, what, true);
      // The bytes are not needed again.
      rest = undefined;
      return value;
    },
  };
}
