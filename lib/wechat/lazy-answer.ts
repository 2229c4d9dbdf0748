import type { Json } from "./api";
import { MAX_JSON_DEPTH, topLevelMembers } from "./json-scan";
import { isWeChatError } from "./errors";
import { checkBaseResponse, jsonAnswer } from "./http";

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object";

/**
 * The objects of a JSON array (anything else in it skipped); [] when it is not an array. An array of objects only
 * (what the server sends) is handed back as it is, not copied: the parsed answer is the caller's.
 */
export function objectList(value: unknown): Json[] {
  if (!Array.isArray(value)) return [];
  for (let i = 0; i < value.length; i++) if (!isObject(value[i])) return value.filter(isObject);
  return value as Json[];
}

/** A JSON answer read in two steps: a few top-level members at once, the whole of it on first use. */
export interface LazyAnswer {
  /** The members asked for (those present), BaseResponse already checked; the whole answer when `parsed`. */
  head: Json;
  /** Parsed whole at once (a small answer): `head` is all of it, and whole() returns it. */
  parsed: boolean;
  /** The whole answer, parsed and checked on the first call (then kept). Throws as HttpClient.json does. */
  whole(): Json;
}

/**
 * Answers up to this size are parsed whole at once (a sync page with a message or two, the page of a small address
 * book): for them the scan, the members parsed alone and the whole parse later cost more than one parse (~50 us of
 * each message's way to the flow at 20 messages a second, issue #19). A burst's pages of 50 messages are larger.
 */
const WHOLE_FIRST_MAX_BYTES = 16 * 1024;

/**
 * A small answer (up to WHOLE_FIRST_MAX_BYTES) parsed whole and checked; undefined when it is larger, or not readable
 * JSON (PROTOCOL): such an answer goes the scan's way (scannedAnswer), which says what of it can still be read. A
 * refusal (BaseResponse.Ret) throws its typed error.
 */
export function wholeIfSmall(body: Buffer, what: string): Json | undefined {
  if (body.length > WHOLE_FIRST_MAX_BYTES) return undefined;
  try {
    return jsonAnswer(body, what);
  } catch (error) {
    if (isWeChatError(error, "PROTOCOL")) return undefined;
    throw error;
  }
}

/**
 * The answer of a paged call (webwxsync, webwxgetcontact) whose next call needs only a few of its top-level
 * members (keys, Seq): those are found by walking the bytes around the lists, not the lists (json-scan.ts) and
 * parsed alone, so that the next call goes out before the page's lists are walked and parsed (issue #19: JSON.parse
 * of a page, then the walk over it, was most of the way from one answer to the next call). BaseResponse is among
 * them and checked: a refusal throws its typed error at once, as HttpClient.json does. A body the scan cannot
 * answer for is parsed whole here.
 */
export function lazyAnswer(body: Buffer, what: string, names: readonly string[]): LazyAnswer {
  const value = wholeIfSmall(body, what);
  return value ? { head: value, parsed: true, whole: () => value } : scannedAnswer(body, what, names);
}

/** lazyAnswer's way for an answer that wholeIfSmall did not read: the members found by the scan, the rest later. */
export function scannedAnswer(body: Buffer, what: string, names: readonly string[]): LazyAnswer {
  const scan = topLevelMembers(body, ["BaseResponse", ...names], MAX_JSON_DEPTH);
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
  if (!head || scan.kind !== "members") {
    // Too deep, unsure or unreadable: read whole, as HttpClient.json reads an answer (its errors, its depth check
    // unless the scan went through every byte).
    const value = jsonAnswer(body, what, { depthChecked: scan.kind === "members" && scan.complete });
    return { head: value, parsed: true, whole: () => value };
  }
  checkBaseResponse(head, what);
  // The members the scan skipped are guarded (jsonNestsDeeper) when the whole answer is read.
  const depthChecked = scan.complete;
  let rest: Buffer | undefined = body;
  let value: Json | undefined;
  return {
    head,
    parsed: false,
    whole: () => {
      if (!value) {
        value = jsonAnswer(rest as Buffer, what, { depthChecked });
        // The bytes are not needed again.
        rest = undefined;
      }
      return value;
    },
  };
}
