import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";

/**
 * A JSON value kept encrypted in one file: AES-256-GCM under a key derived (HKDF-SHA256, a fresh salt per write)
 * from the caller's secret, written atomically (temp file + rename) with mode 0600 in a 0700 folder. Used for the
 * saved sandbox world (its sessions hold keys); the secret is one of nodes/shared/secret.ts.
 */

interface Sealed {
  format: "wxflow-sealed";
  v: 1;
  salt: string;
  iv: string;
  tag: string;
  data: string;
}

const INFO = "wxflow-sealed-file";

function keyOf(secret: string, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", secret, salt, INFO, 32));
}

function isSealed(value: unknown): value is Sealed {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return v.format === "wxflow-sealed" && v.v === 1 && [v.salt, v.iv, v.tag, v.data].every((x) => typeof x === "string");
}

function open(sealed: Sealed, secret: string): unknown {
  try {
    const decipher = createDecipheriv("aes-256-gcm", keyOf(secret, Buffer.from(sealed.salt, "base64")), Buffer.from(sealed.iv, "base64"));
    decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
    const plain = Buffer.concat([decipher.update(Buffer.from(sealed.data, "base64")), decipher.final()]);
    return JSON.parse(plain.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

/** Thrown when a file exists but no secret opens it (tampered, another key, another format). */
export class SealedFileError extends Error {
  readonly code = "UNREADABLE";
  constructor(file: string) {
    super(`${path.basename(file)} could not be decrypted (tampered, another key or another format)`);
    this.name = "SealedFileError";
  }
}

/** The value in `file`, opened with the first of `secrets` that fits; undefined when there is no file. */
export async function readSealed(file: string, secrets: readonly string[]): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  let sealed: unknown;
  try {
    sealed = JSON.parse(text);
  } catch {
    sealed = undefined;
  }
  if (isSealed(sealed)) {
    for (const secret of secrets) {
      const value = open(sealed, secret);
      if (value !== undefined) return value;
    }
  }
  throw new SealedFileError(file);
}

export async function writeSealed(file: string, secret: string, value: unknown): Promise<void> {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyOf(secret, salt), iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
  const sealed: Sealed = {
    format: "wxflow-sealed",
    v: 1,
    salt: salt.toString("base64"),
    iv: iv.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
    data: data.toString("base64"),
  };
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  await fs.writeFile(temp, JSON.stringify(sealed), { flag: "wx", mode: 0o600 });
  try {
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}
