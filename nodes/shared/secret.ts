import { hkdfSync, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { RedSettings } from "./red";

/** File (0600, beside the sessions) holding a per-install secret when Node-RED has none to offer. */
export const INSTALL_SECRET_FILE = ".secret";

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

/**
 * The base secret sessions are encrypted with: the user's credentialSecret, else the one Node-RED generated
 * for the credentials file (loaded before any node starts), else a per-install random secret in `dir`.
 */
export function baseSecret(settings: RedSettings, dir: string): string {
  const user = settings.credentialSecret ?? readSetting(settings, "credentialSecret");
  if (typeof user === "string" && user.length > 0) return user;
  const generated = readSetting(settings, "_credentialSecret");
  if (typeof generated === "string" && generated.length > 0) return generated;
  return installSecret(dir);
}

/** One key per account, so one account's file never decrypts with another's key. */
export function sessionSecret(base: string, accountId: string): string {
  return Buffer.from(hkdfSync("sha256", base, "wxflow-session", accountId, 32)).toString("hex");
}
