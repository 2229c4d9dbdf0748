/*
 * The login and push hosts answer with JavaScript assignments instead of JSON, e.g.
 *   window.QRLogin.code = 200; window.QRLogin.uuid = "wb7R2kx9dA==";
 *   window.code=200;\nwindow.redirect_uri="https://...";
 *   window.code=201;window.userAvatar = 'data:img/jpg;base64,...';
 *   window.synccheck={retcode:"0",selector:"2"}
 * They are read with regular expressions only: nothing is ever evaluated.
 */

const IDENT = "[A-Za-z_$][\\w$]*";
const DOUBLE = '"(?:[^"\\\\]|\\\\[\\s\\S])*"';
const SINGLE = "'(?:[^'\\\\]|\\\\[\\s\\S])*'";
const OBJECT = "\\{[^{}]*\\}";
const BARE = "[^;\\s,}]+";
const ASSIGNMENT = new RegExp(`window\\.(${IDENT}(?:\\.${IDENT})*)\\s*=\\s*(${DOUBLE}|${SINGLE}|${OBJECT}|${BARE})`, "g");
const PROPERTY = new RegExp(`(${IDENT}|${DOUBLE}|${SINGLE})\\s*:\\s*(${DOUBLE}|${SINGLE}|${BARE})`, "g");

function unquote(value: string): string {
  const first = value[0];
  if ((first !== '"' && first !== "'") || value.length < 2 || value[value.length - 1] !== first) return value.trim();
  return value.slice(1, -1).replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[\s\S])/g, (_match, esc: string) => {
    if (esc.length > 1) return String.fromCharCode(parseInt(esc.slice(1), 16));
    switch (esc) {
      case "n":
        return "\n";
      case "r":
        return "\r";
      case "t":
        return "\t";
      case "b":
        return "\b";
      case "f":
        return "\f";
      case "0":
        return "\0";
      default:
        return esc; // \" \' \\ \/ and anything else stand for themselves
    }
  });
}

/**
 * Reads `window.a.b = value` assignments into a flat record of strings.
 * Every value is stored under its full path after "window." ("QRLogin.uuid", "code", "redirect_uri")
 * and also under its last segment ("uuid") unless that key was already set by a full path.
 * Object values are flattened: `window.synccheck={retcode:"0",selector:"2"}` gives
 * "synccheck.retcode", "synccheck.selector", and also "retcode", "selector".
 */
export function parseScriptVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof text !== "string") return out;
  const fullKeys = new Set<string>();
  const put = (path: string, value: string): void => {
    if (path.split(".").some((part) => part === "__proto__" || part === "prototype")) return;
    out[path] = value;
    fullKeys.add(path);
    const last = path.slice(path.lastIndexOf(".") + 1);
    if (last !== path && !fullKeys.has(last)) out[last] = value;
  };
  for (const match of text.matchAll(ASSIGNMENT)) {
    const path = match[1]!;
    const raw = match[2]!;
    if (raw.startsWith("{")) {
      for (const prop of raw.matchAll(PROPERTY)) {
        put(`${path}.${unquote(prop[1]!)}`, unquote(prop[2]!));
      }
    } else {
      put(path, unquote(raw));
    }
  }
  return out;
}
