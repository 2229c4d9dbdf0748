/** Longest file name we produce, in UTF-8 bytes (common file systems allow 255). */
export const MAX_FILE_NAME_BYTES = 200;

// C0/C1 controls, DEL, and the invisible / direction-changing characters used to disguise extensions.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/g;
// Characters Windows refuses in names; "/" and "\" are handled as directory separators before this.
const WINDOWS_FORBIDDEN = /[<>:"|?*]/g;
const WINDOWS_RESERVED = /^(?:CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³]|CONIN\$|CONOUT\$)$/i;
const MAX_EXT_BYTES = 32;

function utf8Length(value: string): number {
  return Buffer.byteLength(value, "utf8");
}

/** Cuts a string to at most maxBytes of UTF-8 without splitting a character. */
function truncateUtf8(value: string, maxBytes: number): string {
  if (utf8Length(value) <= maxBytes) return value;
  let out = "";
  let used = 0;
  for (const char of value) {
    const size = utf8Length(char);
    if (used + size > maxBytes) break;
    out += char;
    used += size;
  }
  return out;
}

function clean(name: string): string {
  let value = String(name).normalize("NFC");
  // Keep only the last path segment, whatever the separator.
  const parts = value.split(/[/\\]/);
  value = parts[parts.length - 1] ?? "";
  value = value.replace(CONTROL_CHARS, "").replace(WINDOWS_FORBIDDEN, "_");
  value = value.replace(/\.{2,}/g, "."); // no ".." anywhere
  value = value.replace(/^[\s.]+/, "").replace(/[\s.]+$/, ""); // no hidden files, no trailing dot/space (Windows)
  if (value === "") return "";
  const dot = value.indexOf(".");
  const stem = dot === -1 ? value : value.slice(0, dot);
  if (WINDOWS_RESERVED.test(stem.trim())) value = `_${value}`;
  return limitLength(value);
}

function limitLength(value: string): string {
  if (utf8Length(value) <= MAX_FILE_NAME_BYTES) return value;
  const dot = value.lastIndexOf(".");
  const ext = dot > 0 ? value.slice(dot) : "";
  if (ext !== "" && utf8Length(ext) <= MAX_EXT_BYTES) {
    const stem = truncateUtf8(value.slice(0, dot), MAX_FILE_NAME_BYTES - utf8Length(ext)).replace(/[\s.]+$/, "");
    if (stem !== "") return stem + ext;
  }
  return truncateUtf8(value, MAX_FILE_NAME_BYTES).replace(/[\s.]+$/, "");
}

/**
 * Makes a sender-chosen file name safe to use as one path segment on any OS: no directories, no "..",
 * no control characters, no reserved Windows names, no leading dots, at most 200 UTF-8 bytes with the
 * extension kept. Never empty: falls back to `fallback`, then to "file".
 */
export function sanitizeFileName(name: unknown, fallback = "file"): string {
  const cleaned = typeof name === "string" ? clean(name) : "";
  if (cleaned !== "") return cleaned;
  const cleanedFallback = clean(fallback);
  return cleanedFallback !== "" ? cleanedFallback : "file";
}

/** The extension of a name, lower case, without the dot ("" when none). */
export function fileExtension(name: string): string {
  const base = String(name).split(/[/\\]/).pop() ?? "";
  const dot = base.lastIndexOf(".");
  if (dot <= 0 || dot === base.length - 1) return "";
  return base.slice(dot + 1).toLowerCase();
}
