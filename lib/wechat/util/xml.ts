import { XMLParser, XMLValidator } from "fast-xml-parser";
import { decodeHTML, escapeUTF8 } from "entities";
import { WeChatError, errorText } from "../errors";

export interface ParseXmlOptions {
  /** Refuse input larger than this many UTF-8 bytes (default 1 MiB). */
  maxBytes?: number;
}

export const DEFAULT_XML_MAX_BYTES = 1024 * 1024;

// DTDs are never part of what WeChat sends; refusing them closes entity-expansion attacks.
const DTD_PATTERN = /<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST)/i;

/** The options every parse uses: strings stay strings, attributes kept, CDATA folded into the text (not decoded). */
const PARSER_OPTIONS = {
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  cdataPropName: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: true,
  // Decodes numeric references (&#x1F604;) and HTML names (&nbsp;) too, which WeChat's XML uses.
  htmlEntities: true,
  maxNestedTags: 64,
} as const;

/** The rules every XML input meets before anything reads it: a string, within the size cap, no DTD, not empty. */
function checkedXml(text: string, options: ParseXmlOptions): string {
  if (typeof text !== "string") throw new WeChatError("PROTOCOL", "XML: expected a string");
  const maxBytes = options.maxBytes ?? DEFAULT_XML_MAX_BYTES;
  // text.length is a lower bound on the byte length: cheap first check before counting bytes.
  if (text.length > maxBytes || Buffer.byteLength(text, "utf8") > maxBytes) {
    throw new WeChatError("PROTOCOL", `XML: input larger than ${maxBytes} bytes refused`);
  }
  if (DTD_PATTERN.test(text)) {
    throw new WeChatError("PROTOCOL", "XML: DOCTYPE / ENTITY declarations are refused");
  }
  const trimmed = text.trim();
  if (trimmed === "") throw new WeChatError("PROTOCOL", "XML: empty document");
  return trimmed;
}

/**
 * Parses a small XML document (login tickets, app messages, recalls) into plain objects.
 * Throws WeChatError PROTOCOL for oversized input, DTDs and malformed XML; never evaluates anything.
 */
export function parseXml(text: string, options: ParseXmlOptions = {}): Record<string, unknown> {
  const trimmed = checkedXml(text, options);
  const valid = XMLValidator.validate(trimmed);
  if (valid !== true) {
    // The validator's message names tags and positions, never the document's content.
    throw new WeChatError("PROTOCOL", `XML: malformed (${valid.err.msg}, line ${valid.err.line})`);
  }
  let parsed: unknown;
  try {
    parsed = new XMLParser(PARSER_OPTIONS).parse(trimmed);
  } catch (error) {
    throw new WeChatError("PROTOCOL", `XML: ${errorText(error, "parse failed")}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new WeChatError("PROTOCOL", "XML: no root element");
  }
  return parsed as Record<string, unknown>;
}

// Characters XML 1.0 does not allow at all (C0 controls except tab, LF, CR; lone surrogates; U+FFFE/U+FFFF).
// eslint-disable-next-line no-control-regex
const XML_INVALID_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escapes text for an XML element or attribute value (& < > " '), dropping characters XML cannot hold. */
export function escapeXml(value: string): string {
  return escapeUTF8(String(value).replace(XML_INVALID_CHARS, ""));
}

/** Reads a path of keys in a parsed XML object; undefined when any step is missing. */
export function xmlPath(root: unknown, ...keys: string[]): unknown {
  let node: unknown = root;
  for (const key of keys) {
    if (node === null || typeof node !== "object" || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** The text of a parsed node: strings as is, numbers stringified, an element with attributes its "#text". */
export function xmlText(node: unknown): string {
  if (typeof node === "string") return node;
  if (typeof node === "number" || typeof node === "boolean") return String(node);
  if (Array.isArray(node)) return node.length > 0 ? xmlText(node[0]) : "";
  if (node !== null && typeof node === "object") {
    const text = (node as Record<string, unknown>)["#text"];
    return typeof text === "string" ? text : typeof text === "number" ? String(text) : "";
  }
  return "";
}

/** Shorthand: the text at a path ("" when absent). */
export function xmlString(root: unknown, ...keys: string[]): string {
  return xmlText(xmlPath(root, ...keys));
}

const CDATA = /<!\[CDATA\[([\s\S]*?)\]\]>/g;
const MARKUP = /<[^>]*>/g;

/**
 * One element's text read without a parser: the first opening tag, up to its closing tag (or the next tag when it
 * never closes); CDATA unwrapped, inner markup dropped, entities decoded once. Each search runs once over the text,
 * so a hostile answer full of unclosed tags costs linear time.
 */
function looseText(text: string, tag: string): string | undefined {
  // Tag names are our own constants (letters and "_"), never server text.
  const opening = new RegExp(`<${tag}(?:\\s[^<>]{0,200})?>`, "i").exec(text);
  if (!opening) return undefined;
  const rest = text.slice(opening.index + opening[0].length);
  const closing = rest.search(new RegExp(`</${tag}\\s*>`, "i"));
  const next = rest.indexOf("<");
  const raw = closing >= 0 ? rest.slice(0, closing) : rest.slice(0, next >= 0 ? next : rest.length);
  const inner = raw
    .replace(CDATA, (_m, data: string) => data.replace(/&/g, "&amp;").replace(/</g, "&lt;"))
    .replace(MARKUP, "");
  return decodeHTML(inner).trim();
}

/**
 * A root element holding nothing but plain children: no attributes, no declaration, each child's text without markup,
 * entity or control character, XML whitespace between them. This is how the server writes the tickets page.
 */
// eslint-disable-next-line no-control-regex
const PLAIN_DOCUMENT = /^<([A-Za-z_][\w.-]*)>((?:[ \t\r\n]*<([A-Za-z_][\w.-]*)>[^<>&\u0000-\u001f\ufffe\uffff]*<\/\3>)*)[ \t\r\n]*<\/\1>$/;
const PLAIN_CHILD = /<([A-Za-z_][\w.-]*)>([^<]*)</g;

/**
 * readXmlTags of a plain document (PLAIN_DOCUMENT), read by two regular expressions; undefined for any other document.
 * What the parser would give: each element's text trimmed, the first of a repeated one. The parser's code, cold, cost
 * ~6 ms of every login on the way from the tickets to webwxinit (issue #19).
 */
function plainTags(text: string, root: string, tags: readonly string[]): Record<string, string> | undefined {
  const document = PLAIN_DOCUMENT.exec(text);
  if (!document || document[1] !== root) return undefined;
  const out: Record<string, string> = {};
  for (const [, name, value] of (document[2] as string).matchAll(PLAIN_CHILD)) {
    if (tags.includes(name as string) && out[name as string] === undefined) out[name as string] = (value as string).trim();
  }
  return out;
}

/**
 * The text of the elements `tags` under `root`, also from a document that is not well-formed (login answers: docs/protocol.md
 * section 9 reports refusals that were not). Size and DTD rules are parseXml's; a well-formed document is parsed,
 * any other is read element by element. Absent elements are left out.
 */
export function readXmlTags(text: string, root: string, tags: readonly string[], options: ParseXmlOptions = {}): Record<string, string> {
  const trimmed = checkedXml(text, options);
  const plain = plainTags(trimmed, root, tags);
  if (plain) return plain;
  const out: Record<string, string> = {};
  if (XMLValidator.validate(trimmed) === true) {
    const parsed = parseXml(trimmed, options);
    for (const tag of tags) {
      const node = xmlPath(parsed, root, tag);
      if (node !== undefined) out[tag] = xmlText(node);
    }
    return out;
  }
  for (const tag of tags) {
    const value = looseText(trimmed, tag);
    if (value !== undefined) out[tag] = value;
  }
  return out;
}
