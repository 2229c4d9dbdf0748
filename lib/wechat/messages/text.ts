import { decodeHTML, decodeHTMLStrict } from "entities";

const EMOJI_SPAN = /<span\s+class\s*=\s*["']emoji\s+emoji([0-9a-fA-F]{1,12})["'][^<>]*>\s*<\/span>/gi;
const BR = /<br\s*\/?>/gi;
/** A QQ face in a text: `<img class="qqemoji qqemoji13" text="[Grin]_web" src="...">` stands for its `text`. */
const QQ_FACE = /<img\s[^<>]*?\bclass\s*=\s*["']qqemoji[^"']*["'][^<>]*?>/gi;
const QQ_FACE_TEXT = /\btext\s*=\s*["']([^"']*)["']/i;
/**
 * The markup the server itself writes into names and texts besides emoji spans and <br/> (docs/protocol.md section 9):
 * links in system notices and a short list of real HTML tags. Anything else that looks like a tag (`<Team>`) is
 * part of the text and stays.
 */
const SERVER_TAG = /<\/?(?:a|span|img|font|b|strong|em|p|div)(?:\s[^<>]*)?\/?>/gi;

// Second code points that follow a base character in WeChat's two-code-point emoji classes.
const TRAILING_4 = new Set(["20e3", "fe0f", "200d"]);
const TRAILING_5 = /^1f(?:1e[6-9a-f]|1f[0-9a-f]|3f[b-f])$/; // regional indicators, skin tones

function validCodePoint(hex: string): number | undefined {
  if (hex.length === 0 || hex.length > 6) return undefined;
  const value = parseInt(hex, 16);
  if (!Number.isFinite(value) || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff) || value === 0) return undefined;
  return value;
}

function fromParts(first: string, second: string): string | undefined {
  const a = validCodePoint(first);
  const b = validCodePoint(second);
  return a === undefined || b === undefined ? undefined : String.fromCodePoint(a, b);
}

/**
 * The characters of an emoji class suffix: one code point ("1f604") or two ("1f1e81f1f3" = CN flag,
 * "2320e3" = keycap #). A known trailing code point decides the split; else a leading "1f" means a
 * 5-digit first code point, otherwise 4 digits.
 */
export function emojiFromHex(hex: string): string {
  const h = hex.toLowerCase();
  if (h.length <= 5) {
    const single = validCodePoint(h);
    return single === undefined ? "" : String.fromCodePoint(single);
  }
  const tail4 = h.slice(-4);
  if (TRAILING_4.has(tail4)) return fromParts(h.slice(0, -4), tail4) ?? "";
  const tail5 = h.slice(-5);
  if (TRAILING_5.test(tail5)) return fromParts(h.slice(0, -5), tail5) ?? "";
  const firstLength = h.startsWith("1f") ? 5 : 4;
  return fromParts(h.slice(0, firstLength), h.slice(firstLength)) ?? "";
}

const MARKUP = /[<&]/;

function qqFaceText(tag: string): string {
  return (QQ_FACE_TEXT.exec(tag)?.[1] ?? "").replace(/_web$/, "");
}

/**
 * Decodes a WeChat Content / name, shared by names and message texts: emoji spans become characters, <br/>
 * becomes "\n", QQ faces their text, the server's own tags are dropped, then every HTML entity is decoded once
 * (so an escaped "&lt;b&gt;" stays visible text "<b>"). Text that only looks like a tag, sent raw (`Dev <Team>`),
 * is kept as it is.
 */
export function decodeContent(content: unknown): string {
  if (typeof content !== "string" || content === "") return "";
  // Every tag starts with "<" and every entity with "&": most names and texts have neither.
  if (!MARKUP.test(content)) return content;
  // Strict: only entities with their ";" (what the server writes), so a raw "AT&T &copy 2" keeps its text.
  if (!content.includes("<")) return decodeHTMLStrict(content);
  return decodeHTMLStrict(
    content
      .replace(EMOJI_SPAN, (_span, hex: string) => emojiFromHex(hex))
      .replace(BR, "\n")
      .replace(QQ_FACE, qqFaceText)
      .replace(SERVER_TAG, ""),
  );
}

/** Undoes the HTML escaping of XML carried in Content (app messages, recalls), keeping the XML markup. */
export function unescapeXmlContent(content: unknown): string {
  if (typeof content !== "string") return "";
  return decodeHTML(content.replace(BR, "\n"));
}

export interface GroupPrefix {
  /** The member who wrote the message; undefined when the content had no prefix. */
  memberUserName: string | undefined;
  body: string;
}

const GROUP_PREFIX = /^(@[0-9A-Za-z_-]+):(?:<br\s*\/?>|\n)/;

/** Splits `@member:<br/>text` (incoming group content) into the member and the rest, left undecoded. */
export function splitGroupPrefix(content: unknown): GroupPrefix {
  const text = typeof content === "string" ? content : "";
  const match = GROUP_PREFIX.exec(text);
  if (!match) return { memberUserName: undefined, body: text };
  return { memberUserName: match[1], body: text.slice(match[0].length) };
}

/** The separator phones put after an @mention ("@Name" + U+2005); what we send carries it too. */
export const MENTION_SEPARATOR = "\u2005";

const MENTION_END = new Set([MENTION_SEPARATOR, " "]);

/** True when the text holds `@Name` followed by U+2005 (phones), a space, or the end, for any name. */
export function isMentioned(text: string, names: readonly string[]): boolean {
  if (typeof text !== "string" || text === "") return false;
  for (const name of names) {
    if (typeof name !== "string" || name.trim() === "") continue;
    const needle = `@${name}`;
    let from = 0;
    for (;;) {
      const at = text.indexOf(needle, from);
      if (at === -1) break;
      const after = at + needle.length;
      if (after === text.length || MENTION_END.has(text.charAt(after))) return true;
      from = at + 1;
    }
  }
  return false;
}
