/**
 * Byte-level passes over a server's JSON before (or instead of) JSON.parse: the nesting guard, the members of the
 * top-level object (the keys of a webwxsync answer, read before its lists: sync-page.ts), and the quoting of
 * message ids that JSON.parse would round. No allocation per byte; strings are skipped in loops of their own.
 */

/** Deepest nesting accepted in a server's JSON; real answers nest about six levels. */
export const MAX_JSON_DEPTH = 64;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * True when the JSON nests deeper than `max`. One linear pass over the bytes (string contents skipped), so a
 * body of millions of "[" is refused in milliseconds instead of blocking the event loop in JSON.parse for seconds.
 * UTF-8 never uses these ASCII bytes inside a multi-byte character, so bytes are enough.
 */
export function jsonNestsDeeper(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  const length = bytes.length;
  for (let i = 0; i < length; i++) {
    const byte = bytes[i];
    if (byte === QUOTE) {
      // A string is skipped in a loop of its own (most of a sync page is strings: ~30% faster than one loop).
      for (i++; i < length; i++) {
        const inner = bytes[i];
        if (inner === QUOTE) break;
        if (inner === BACKSLASH) i++;
      }
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/** JSON's whitespace: space, tab, line feed, carriage return. */
function isJsonSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

/**
 * Message ids written as JSON numbers: NewMsgId is a number on the wire and exceeds 2^53, so JSON.parse would
 * round it (docs/protocol.md section 9). The keys quoted are NewMsgId, MsgId, MsgID and SvrMsgId; inside a JSON
 * string every quote is escaped, so `"NewMsgId":` followed by a digit only ever matches a real key.
 * One indexOf walk over the key's common part ("MsgI"), about 3x cheaper than a regular expression over the text
 * (a sync page is ~40 KB with 50 ids: issue #19).
 */
export function quoteMessageIds(text: string): string {
  let out = "";
  let copied = 0;
  for (let at = text.indexOf("MsgI"); at !== -1; at = text.indexOf("MsgI", at + 4)) {
    const last = text.charCodeAt(at + 4);
    if (text.charCodeAt(at + 5) !== QUOTE || (last !== 0x64 && last !== 0x44)) continue; // MsgId" or MsgID"
    if (text.charCodeAt(at - 1) !== QUOTE) {
      // NewMsgId, SvrMsgId: never ...MsgID
      if (last !== 0x64 || text.charCodeAt(at - 4) !== QUOTE) continue;
      const prefix = text.slice(at - 3, at);
      if (prefix !== "New" && prefix !== "Svr") continue;
    }
    let i = at + 6;
    while (isJsonSpace(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== COLON) continue;
    i++;
    while (isJsonSpace(text.charCodeAt(i))) i++;
    const start = i;
    if (text.charCodeAt(i) === 0x2d) i++; // "-"
    const digits = i;
    while (text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    if (i === digits) continue;
    out += `${text.slice(copied, start)}"${text.slice(start, i)}"`;
    copied = i;
    at = i - 4;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** Where one top-level member's value lies in the bytes: [start, end), whitespace trimmed. */
export interface MemberRange {
  start: number;
  end: number;
}

/** What topLevelMembers found: the wanted members' values, or why it could not tell. */
export type TopLevel =
  | { kind: "members"; members: Map<string, MemberRange> }
  /** Nests deeper than the limit: refuse the body (JSON.parse would take seconds on millions of "["). */
  | { kind: "too-deep" }
  /** Not laid out so that a byte scan can answer for JSON.parse: parse the whole body instead. */
  | { kind: "unsure" };

function skipSpace(bytes: Uint8Array, at: number): number {
  while (at < bytes.length && isJsonSpace(bytes[at] as number)) at++;
  return at;
}

function sameAscii(bytes: Uint8Array, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (bytes[start + i] !== name.charCodeAt(i)) return false;
  return true;
}

/**
 * The members `names` of a JSON object, found in one pass that also guards the nesting (as jsonNestsDeeper):
 * what JSON.parse(body)[name] would be is JSON.parse of the member's range, for every name found. A name that is
 * not found is not in the object. "unsure" when the bytes are not an object with plainly written keys (an escape
 * in a top-level key, a wanted key twice, anything but whitespace around the object, brackets that do not close),
 * so that the answer could differ from JSON.parse's. Values themselves are not checked here: JSON.parse of a
 * range (or of the whole body) does that. ASCII names only.
 */
export function topLevelMembers(bytes: Uint8Array, names: readonly string[], maxDepth: number): TopLevel {
  const length = bytes.length;
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  i = skipSpace(bytes, i);
  if (bytes[i] !== OPEN_BRACE) return { kind: "unsure" };
  const members = new Map<string, MemberRange>();
  let depth = 1;
  // The member being read at depth 1: its name when wanted ("" when not), and where its value starts.
  let member: string | undefined;
  let valueStart = -1;
  const close = (at: number): boolean => {
    if (member === undefined) return true;
    let end = at;
    while (end > valueStart && isJsonSpace(bytes[end - 1] as number)) end--;
    if (member !== "") {
      if (members.has(member)) return false;
      members.set(member, { start: valueStart, end });
    }
    member = undefined;
    return true;
  };
  for (i++; i < length; i++) {
    const byte = bytes[i];
    if (byte === QUOTE) {
      const open = i;
      // The string is skipped in a loop of its own, as in jsonNestsDeeper (most of a page is strings).
      for (i++; i < length; i++) {
        const inner = bytes[i];
        if (inner === QUOTE) break;
        if (inner === BACKSLASH) i++;
      }
      if (i >= length) return { kind: "unsure" };
      if (depth === 1 && member === undefined) {
        // A key of the top-level object.
        const end = i;
        for (let k = open + 1; k < end; k++) if (bytes[k] === BACKSLASH) return { kind: "unsure" };
        const colon = skipSpace(bytes, end + 1);
        if (bytes[colon] !== COLON) return { kind: "unsure" };
        member = names.find((name) => sameAscii(bytes, open + 1, end, name)) ?? "";
        valueStart = skipSpace(bytes, colon + 1);
        i = valueStart - 1;
      }
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > maxDepth) return { kind: "too-deep" };
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      if (--depth === 0) {
        if (byte !== CLOSE_BRACE || !close(i)) return { kind: "unsure" };
        return skipSpace(bytes, i + 1) === length ? { kind: "members", members } : { kind: "unsure" };
      }
    } else if (byte === COMMA && depth === 1) {
      if (member === undefined || !close(i)) return { kind: "unsure" };
    }
  }
  return { kind: "unsure" };
}
