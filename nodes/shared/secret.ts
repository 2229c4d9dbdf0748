import { hkdfSync, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { RedSettings } from "./red";

/** File (0600, beside the sessions) holding a per-install secret when Node-RED has none to offer. */
export const INSTALL_SECRET_FILE = ".secret";
/** The session key itself, from the environment (best: it never touches the disk Node-RED writes to). */
export const SESSION_KEY_ENV = "WXFLOW_SESSION_KEY";
/** A file holding the session key, outside the user dir (e.g. a systemd credential or a Docker secret). */
export const SESSION_KEY_FILE_ENV = "WXFLOW_SESSION_KEY_FILE";
/** Shortest session key accepted from the environment or a key file. */
export const MIN_SESSION_KEY_LENGTH = 16;

/** Where the base secret of the sessions comes from. */
export type SessionKeySource = "env" | "file" | "credentialSecret" | "node-red" | "install";

export interface SessionKey {
  /** The base secret sessions are written under (one key per account is derived from it). */
  secret: string;
  source: SessionKeySource;
  /** Where the key lives, for the warning (a variable name or a path); never the key. */
  where: string;
  /** True when a copy of the user dir holds the key: such a copy decrypts every session. */
  inUserDir: boolean;
  /** Base secrets sessions may still be under (the one derived from the user dir): read once, then re-written. */
  previous: string[];
}

function readSetting(settings: RedSettings, key: string): unknown {
  try {
    return settings.get ? settings.get(key) : undefined;
  } catch {
    // settings.get throws while the runtime's settings are not loaded (e.g. under the test helper)
    return undefined;
  }
}

function installSecret(dir: string): string {
  const file = path.join(dir, INSTALL_SECRET_FILE);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, randomBytes(32).toString("hex"), { flag: "wx", mode: 0o600 });
  } catch (error) {
    // Another account (or an earlier start) created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const secret = fs.readFileSync(file, "utf8").trim();
  if (secret.length < 32) throw new Error(`${file} does not hold a usable secret`);
  return secret;
}

/** The secret the user dir yields: the user's credentialSecret, else Node-RED's generated one; undefined if none. */
function userDirSecret(settings: RedSettings): { secret: string; source: "credentialSecret" | "node-red" } | undefined {
  const user = settings.credentialSecret ?? readSetting(settings, "credentialSecret");
  if (typeof user === "string" && user.length > 0) return { secret: user, source: "credentialSecret" };
  const generated = readSetting(settings, "_credentialSecret");
  if (typeof generated === "string" && generated.length > 0) return { secret: generated, source: "node-red" };
  return undefined;
}

/**
 * The base secret sessions were encrypted with before a key from outside the user dir existed: the user's
 * credentialSecret, else the one Node-RED generated for the credentials file (loaded before any node starts), else a
 * per-install random secret in `dir`.
 */
export function baseSecret(settings: RedSettings, dir: string): string {
  return userDirSecret(settings)?.secret ?? installSecret(dir);
}

/** The same, without creating anything: what existing session files may be under. */
function existingBaseSecrets(settings: RedSettings, dir: string): string[] {
  const out: string[] = [];
  const fromDir = userDirSecret(settings);
  if (fromDir) out.push(fromDir.secret);
  try {
    const install = fs.readFileSync(path.join(dir, INSTALL_SECRET_FILE), "utf8").trim();
    if (install.length >= 32) out.push(install);
  } catch {
    // no install secret: nothing was written under one
  }
  return out;
}

function isInside(file: string, dir: string | undefined): boolean {
  if (!dir) return false;
  const relative = path.relative(path.resolve(dir), path.resolve(file));
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

function keyFileSetting(settings: RedSettings): string | undefined {
  const wxflow = settings.wxflow ?? readSetting(settings, "wxflow");
  if (wxflow === null || typeof wxflow !== "object") return undefined;
  const file = (wxflow as { sessionKeyFile?: unknown }).sessionKeyFile;
  return typeof file === "string" && file.trim() !== "" ? file.trim() : undefined;
}

function checkedKey(key: string, where: string): string {
  if (key.length < MIN_SESSION_KEY_LENGTH) {
    throw new Error(`the session key in ${where} is shorter than ${MIN_SESSION_KEY_LENGTH} characters; refused`);
  }
  return key;
}

/**
 * The session key of this install. In order: the environment variable WXFLOW_SESSION_KEY, a key file named by
 * WXFLOW_SESSION_KEY_FILE or by settings.js `wxflow: { sessionKeyFile }`, else the secret derived from the user dir
 * (see baseSecret). A configured key that cannot be read is an error, never a silent fall-back to the user dir.
 * With a configured key, the user-dir secrets are offered as `previous` so existing sessions migrate.
 */
export function sessionKey(settings: RedSettings, dir: string, env: NodeJS.ProcessEnv = process.env): SessionKey {
  const userDir = typeof settings.userDir === "string" ? settings.userDir : undefined;
  const fromEnv = env[SESSION_KEY_ENV];
  const file = env[SESSION_KEY_FILE_ENV]?.trim() || keyFileSetting(settings);
  if ((fromEnv !== undefined && fromEnv !== "") || file) {
    let secret: string;
    let source: SessionKeySource;
    let where: string;
    if (fromEnv !== undefined && fromEnv !== "") {
      secret = checkedKey(fromEnv.trim(), SESSION_KEY_ENV);
      source = "env";
      where = SESSION_KEY_ENV;
    } else {
      const resolved = path.resolve(userDir ?? ".", file ?? "");
      let text: string;
      try {
        text = fs.readFileSync(resolved, "utf8");
      } catch (error) {
        throw new Error(`the session key file ${resolved} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
      }
      secret = checkedKey(text.trim(), resolved);
      source = "file";
      where = resolved;
    }
    const previous = existingBaseSecrets(settings, dir).filter((p) => p !== secret);
    return { secret, source, where, inUserDir: source === "file" && isInside(where, userDir), previous };
  }
  const fromDir = userDirSecret(settings);
  if (fromDir) {
    const where = fromDir.source === "credentialSecret" ? "settings.js credentialSecret" : ".config.runtime.json _credentialSecret";
    return { secret: fromDir.secret, source: fromDir.source, where, inUserDir: true, previous: [] };
  }
  return { secret: installSecret(dir), source: "install", where: path.join(dir, INSTALL_SECRET_FILE), inUserDir: true, previous: [] };
}

/** One key per account, so one account's file never decrypts with another's key. */
export function sessionSecret(base: string, accountId: string): string {
  return Buffer.from(hkdfSync("sha256", base, "wxflow-session", accountId, 32)).toString("hex");
}
