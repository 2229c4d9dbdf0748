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

/** valueEnd's answers that are not a position. */
const VALUE_UNCLOSED = -1;
const VALUE_TOO_DEEP = -2;

/**
 * Where the JSON value that starts at `start` ends: the position of the first "," or closing bracket after it at
 * its own level (for an object's member, the "," or "}" that follows it). VALUE_TOO_DEEP when brackets inside it
 * nest deeper than `maxDepth`; VALUE_UNCLOSED when the bytes end first. UTF-8 never uses these ASCII bytes inside
 * a multi-byte character, so bytes are enough. This is the loop over nearly every byte of a page, for the nesting
 * guard and the member scan alike: it calls nothing, so V8 compiles it once with all it needs (an inlined helper
 * still without type feedback in the first page made the compiled scan fall back and be compiled again, in the
 * middle of a burst; issue #19).
 */
function valueEnd(bytes: Uint8Array, start: number, maxDepth: number): number {
  const length = bytes.length;
  let depth = 0;
  for (let i = start; i < length; i++) {
    const byte = bytes[i];
    if (byte === QUOTE) {
      // A string is skipped in a loop of its own (most of a sync page is strings).
      for (i++; i < length; i++) {
        const inner = bytes[i];
        if (inner === QUOTE) break;
        if (inner === BACKSLASH) i++;
      }
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > maxDepth) return VALUE_TOO_DEEP;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      if (depth === 0) return i;
      depth--;
    } else if (byte === COMMA && depth === 0) {
      return i;
    }
  }
  return VALUE_UNCLOSED;
}

/**
 * The same bytes as a plain Uint8Array. A Buffer read off a socket and one that Node made in JavaScript (a
 * Buffer.concat of several reads) have different V8 maps; seen one after the other, the second made V8 drop the
 * compiled byte loops and compile them again, once with a 400 KB member batch in the interpreter meanwhile (~10 ms
 * of a login, issue #19). Views of one kind keep the loops on one map. No bytes are copied.
 */
function plainView(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * True when the JSON nests deeper than `max`. One linear pass over the bytes (string contents skipped), so a
 * body of millions of "[" is refused in milliseconds instead of blocking the event loop in JSON.parse for seconds.
 * A valid body is one value, walked by one valueEnd; anything after a stray "," or closing bracket is walked on
 * from there, its nesting counted afresh.
 */
export function jsonNestsDeeper(body: Uint8Array, max: number): boolean {
  const bytes = plainView(body);
  for (let at = 0; at < bytes.length; ) {
    const end = valueEnd(bytes, at, max);
    if (end === VALUE_TOO_DEEP) return true;
    if (end === VALUE_UNCLOSED) return false;
    at = end + 1;
  }
  return false;
}

/**
 * True when the text opens at most `max` objects and arrays ("{" and "[", inside strings too): then no value in it
 * can nest deeper than `max` levels, and its parsed value need not be walked (valueNestsDeeper). A sync page with a
 * message or two opens ~20. Found with indexOf, not a loop over the characters: in a process just woken, walking a
 * parsed page took ~5 us of each message's way (8-16 us under the harness of bench/README.md, "Fourteenth pass"),
 * this ~2 us (issue #19).
 */
export function opensAtMost(text: string, max: number): boolean {
  let count = 0;
  for (let at = text.indexOf("{"); at !== -1; at = text.indexOf("{", at + 1)) if (++count > max) return false;
  for (let at = text.indexOf("["); at !== -1; at = text.indexOf("[", at + 1)) if (++count > max) return false;
  return true;
}

/**
 * True when a parsed JSON value nests deeper than `max` levels, counted as jsonNestsDeeper counts brackets (the
 * outermost object or array is level 1). Iterative: a value of any depth is walked without recursion, one level at a
 * time (no depth kept per node: 10-20% less on a burst page than a stack of nodes and depths, in baseline and in
 * optimised code; issue #19).
 */
export function valueNestsDeeper(value: unknown, max: number): boolean {
  if (value === null || typeof value !== "object") return false;
  let level: object[] = [value];
  for (let depth = 1; level.length > 0; depth++) {
    if (depth > max) return true;
    const next: object[] = [];
    for (let j = 0; j < level.length; j++) {
      const node = level[j] as object;
      if (Array.isArray(node)) {
        for (let i = 0; i < node.length; i++) {
          const child: unknown = node[i];
          if (child !== null && typeof child === "object") next.push(child);
        }
      } else {
        for (const key in node) {
          const child = (node as Record<string, unknown>)[key];
          if (child !== null && typeof child === "object") next.push(child);
        }
      }
    }
    level = next;
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
  /**
   * `complete`: every byte of the object was walked (so its nesting is guarded too). Otherwise the members between
   * the first and the last ones read were skipped: their nesting is still to be guarded (jsonNestsDeeper).
   */
  | { kind: "members"; members: Map<string, MemberRange>; complete: boolean }
  /** Nests deeper than the limit: refuse the body (JSON.parse would take seconds on millions of "["). */
  | { kind: "too-deep" }
  /** Not laid out so that a byte scan can answer for JSON.parse: parse the whole body instead. */
  | { kind: "unsure" };

function skipSpace(bytes: Uint8Array, at: number): number {
  while (at < bytes.length && isJsonSpace(bytes[at] as number)) at++;
  return at;
}

function skipSpaceBack(bytes: Uint8Array, at: number): number {
  while (at >= 0 && isJsonSpace(bytes[at] as number)) at--;
  return at;
}

const UNSURE: TopLevel = Object.freeze({ kind: "unsure" });
const TOO_DEEP: TopLevel = Object.freeze({ kind: "too-deep" });

/** The name in `names` spelt by bytes [start, end), or "" when none is. */
function wantedName(bytes: Uint8Array, start: number, end: number, names: readonly string[]): string {
  for (const name of names) {
    if (end - start !== name.length) continue;
    let i = 0;
    while (i < name.length && bytes[start + i] === name.charCodeAt(i)) i++;
    if (i === name.length) return name;
  }
  return "";
}

/**
 * The opening quote of the string whose closing quote is at `close`, looking no lower than `floor`; -1 when there
 * is none. Going backwards from outside a string, the first quote not escaped is the opening one: inside a JSON
 * string every quote is escaped, that is, preceded by an odd number of backslashes.
 */
function stringStart(bytes: Uint8Array, close: number, floor: number): number {
  for (let i = close - 1; i >= floor; i--) {
    if (bytes[i] !== QUOTE) continue;
    let k = i - 1;
    while (k >= floor && bytes[k] === BACKSLASH) k--;
    if (((i - 1 - k) & 1) === 0) return i;
  }
  return -1;
}

/** A byte of a number or of true / false / null. */
function isScalarByte(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x7a) || code === 0x2d || code === 0x2b || code === 0x2e || code === 0x45;
}

/**
 * Where the JSON value whose last byte is at `last` starts, looking no lower than `floor` (valueEnd backwards):
 * VALUE_TOO_DEEP when its brackets nest deeper than `maxDepth`, VALUE_UNCLOSED when it does not start above the
 * floor. Brackets are counted, not matched: JSON.parse of the range says whether it is valid.
 */
function valueStart(bytes: Uint8Array, last: number, floor: number, maxDepth: number): number {
  const byte = bytes[last] as number;
  if (byte === QUOTE) return stringStart(bytes, last, floor);
  if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
    let depth = 0;
    for (let i = last; i >= floor; i--) {
      const b = bytes[i];
      if (b === QUOTE) {
        i = stringStart(bytes, i, floor);
        if (i < 0) return VALUE_UNCLOSED;
      } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        if (++depth > maxDepth) return VALUE_TOO_DEEP;
      } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        if (--depth === 0) return i;
      }
    }
    return VALUE_UNCLOSED;
  }
  let i = last;
  while (i >= floor && isScalarByte(bytes[i] as number)) i--;
  return i === last ? VALUE_UNCLOSED : i + 1;
}

/**
 * The members `names` of a JSON object: what JSON.parse(body)[name] would be is JSON.parse of the member's range,
 * for every name found. ASCII names only. "unsure" when the bytes are not an object with plainly written keys (an
 * escape in a key read, anything but whitespace around the object or between the members read, a value that does
 * not end or start where a value must), so that the answer could differ from JSON.parse's.
 *
 * The first member is read forwards, the others backwards from the end, until every wanted name is found: the
 * server puts BaseResponse first and the keys of a page (SyncKey, Seq, ...) last, so only the few hundred bytes
 * around the lists are walked, not the lists (the walk was the whole of the next call's wait: issue #19). A name
 * found backwards is the last of its kind, as JSON.parse takes; a name that is absent makes the walk reach the
 * first member (`complete`). Not checked when the walk stops early: the members in between, including whether one
 * of them repeats the first member's name (JSON.parse would take that one; HttpClient's whole-answer check reads
 * BaseResponse again), and their nesting, which the members read guard here (too-deep) and jsonNestsDeeper the rest.
 * Nothing in the loops allocates.
 */
export function topLevelMembers(body: Uint8Array, names: readonly string[], maxDepth: number): TopLevel {
  const bytes = plainView(body);
  const length = bytes.length;
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  i = skipSpace(bytes, i);
  if (bytes[i] !== OPEN_BRACE) return UNSURE;
  const members = new Map<string, MemberRange>();
  i = skipSpace(bytes, i + 1);
  if (bytes[i] === CLOSE_BRACE) return skipSpace(bytes, i + 1) === length ? { kind: "members", members, complete: true } : UNSURE;
  // The first member, forwards: a key plainly written (no escape), a colon, the value one level below the object's.
  if (bytes[i] !== QUOTE) return UNSURE;
  const open = i;
  for (i++; i < length && bytes[i] !== QUOTE; i++) if (bytes[i] === BACKSLASH) return UNSURE;
  if (i >= length) return UNSURE;
  const firstName = wantedName(bytes, open + 1, i, names);
  i = skipSpace(bytes, i + 1);
  if (bytes[i] !== COLON) return UNSURE;
  const firstStart = skipSpace(bytes, i + 1);
  const firstEnd = valueEnd(bytes, firstStart, maxDepth - 1);
  if (firstEnd === VALUE_TOO_DEEP) return TOO_DEEP;
  if (firstEnd === VALUE_UNCLOSED) return UNSURE;
  let trimmed = firstEnd;
  while (trimmed > firstStart && isJsonSpace(bytes[trimmed - 1] as number)) trimmed--;
  const first: MemberRange = { start: firstStart, end: trimmed };
  if (bytes[firstEnd] === CLOSE_BRACE) {
    if (skipSpace(bytes, firstEnd + 1) !== length) return UNSURE;
    if (firstName !== "") members.set(firstName, first);
    return { kind: "members", members, complete: true };
  }
  if (bytes[firstEnd] !== COMMA) return UNSURE;
  // The object's end, then its members backwards down to the comma after the first one.
  let at = skipSpaceBack(bytes, length - 1);
  if (at <= firstEnd || bytes[at] !== CLOSE_BRACE) return UNSURE;
  let wanted = names.length - (firstName !== "" ? 1 : 0);
  let complete = false;
  for (at = skipSpaceBack(bytes, at - 1); wanted > 0; ) {
    if (at <= firstEnd) return UNSURE;
    const valueLast = at;
    const start = valueStart(bytes, valueLast, firstEnd + 1, maxDepth - 1);
    if (start === VALUE_TOO_DEEP) return TOO_DEEP;
    if (start < 0) return UNSURE;
    at = skipSpaceBack(bytes, start - 1);
    if (at <= firstEnd || bytes[at] !== COLON) return UNSURE;
    at = skipSpaceBack(bytes, at - 1);
    if (at <= firstEnd || bytes[at] !== QUOTE) return UNSURE;
    const close = at;
    const keyOpen = stringStart(bytes, close, firstEnd + 1);
    if (keyOpen < 0) return UNSURE;
    for (let k = keyOpen + 1; k < close; k++) if (bytes[k] === BACKSLASH) return UNSURE;
    const name = wantedName(bytes, keyOpen + 1, close, names);
    // The last of a name is the one JSON.parse keeps: one met before (further on in the bytes) stays.
    if (name !== "" && !members.has(name)) {
      members.set(name, { start, end: valueLast + 1 });
      if (name !== firstName) wanted--;
    }
    at = skipSpaceBack(bytes, keyOpen - 1);
    if (at === firstEnd) {
      complete = true;
      break;
    }
    if (at < firstEnd || bytes[at] !== COMMA) return UNSURE;
    at = skipSpaceBack(bytes, at - 1);
  }
  if (firstName !== "" && !members.has(firstName)) members.set(firstName, first);
  return { kind: "members", members, complete };
}
