import { createCipheriv, createDecipheriv, randomBytes, scrypt } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";

/** A SyncKey as the server sends it. */
export interface SyncKey {
  Count: number;
  List: { Key: number; Val: number }[];
}

/** What survives a restart: enough to resume the session without a scan. Contacts are not saved. */
export interface SavedSession {
  version: 1;
  /** Origin of the page host (hosts follow from it). */
  pageUrl: string;
  uin: number;
  sid: string;
  skey: string;
  passTicket: string;
  deviceId: string;
  user: { userName: string; nickName: string; uin: number };
  syncKey?: SyncKey;
  syncCheckKey?: SyncKey;
  /** MsgIds handled last (newest last): a resumed session with an older SyncKey does not emit them twice. */
  seen?: string[];
  /** MsgIds of this client's own sends and when (ms), newest last: their echoes are known after a restart. */
  sent?: Array<[string, number]>;
  /** tough-cookie jar serialisation. */
  cookies: unknown;
  savedAt: number;
}

interface Envelope {
  format: "wxflow-session";
  v: 1;
  kdf: "scrypt";
  salt: string;
  iv: string;
  tag: string;
  data: string;
}

const SCRYPT_N = 16384;

function deriveKey(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, 32, { N: SCRYPT_N, r: 8, p: 1 }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** The session in an envelope when `secret` opens it and the content is a session; undefined otherwise. */
async function open(envelope: Envelope, secret: string): Promise<SavedSession | undefined> {
  try {
    const key = await deriveKey(secret, Buffer.from(envelope.salt, "base64"));
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(envelope.iv, "base64"));
    decipher.setAuthTag(Buffer.from(envelope.tag, "base64"));
    const plain = Buffer.concat([decipher.update(Buffer.from(envelope.data, "base64")), decipher.final()]);
    const session: unknown = JSON.parse(plain.toString("utf8"));
    return isSavedSession(session) ? session : undefined;
  } catch {
    return undefined;
  }
}

function isEnvelope(value: unknown): value is Envelope {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return (
    v.format === "wxflow-session" &&
    v.v === 1 &&
    v.kdf === "scrypt" &&
    typeof v.salt === "string" &&
    typeof v.iv === "string" &&
    typeof v.tag === "string" &&
    typeof v.data === "string"
  );
}

function isSavedSession(value: unknown): value is SavedSession {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  const user = v.user as Record<string, unknown> | null | undefined;
  return (
    v.version === 1 &&
    typeof v.pageUrl === "string" &&
    typeof v.uin === "number" &&
    typeof v.sid === "string" &&
    typeof v.skey === "string" &&
    typeof v.passTicket === "string" &&
    typeof v.deviceId === "string" &&
    user !== null &&
    typeof user === "object" &&
    typeof user.userName === "string" &&
    (v.seen === undefined || (Array.isArray(v.seen) && v.seen.every((id) => typeof id === "string"))) &&
    (v.sent === undefined || (Array.isArray(v.sent) && v.sent.every((e) => Array.isArray(e) && typeof e[0] === "string" && typeof e[1] === "number")))
  );
}

export interface SessionStoreOptions {
  /** Problems worth a warning (a file that cannot be read back). */
  warn?: (message: string) => void;
  /** Notes worth an info line (a migration). */
  info?: (message: string) => void;
  /**
   * Secrets sessions were written under before (e.g. the key derived from the user dir, before a key from outside it
   * was configured): a file that opens only with one of them is read once and re-written under `secret` at once.
   */
  previous?: readonly string[];
}

/**
 * The saved session of one account: AES-256-GCM with a key derived by scrypt from the caller's secret, written
 * atomically (temp file + rename) with mode 0600. A file that cannot be read back (tampered, another secret,
 * another format) is reported through `warn` and treated as absent.
 */
export class SessionStore {
  private writing: Promise<void> = Promise.resolve();
  /** One salt and key per store: scrypt runs once, every write still gets a fresh IV. */
  private writeKey?: Promise<{ salt: Buffer; key: Buffer }>;

  private readonly warn: (message: string) => void;
  private readonly info: (message: string) => void;
  private readonly previous: readonly string[];

  constructor(
    private readonly file: string,
    private readonly secret: string,
    options: SessionStoreOptions | ((message: string) => void) = {},
  ) {
    if (!secret) throw new TypeError("SessionStore: a secret is required");
    const opts = typeof options === "function" ? { warn: options } : options;
    this.warn = opts.warn ?? (() => undefined);
    this.info = opts.info ?? (() => undefined);
    this.previous = (opts.previous ?? []).filter((p) => p && p !== secret);
  }

  async load(): Promise<SavedSession | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") this.warn("saved session unreadable; ignored");
      return undefined;
    }
    let envelope: unknown;
    try {
      envelope = JSON.parse(text);
    } catch {
      envelope = undefined;
    }
    if (isEnvelope(envelope)) {
      const current = await open(envelope, this.secret);
      if (current) return current;
      for (const secret of this.previous) {
        const migrated = await open(envelope, secret);
        if (!migrated) continue;
        // Migration: from now on the file opens only with the current secret.
        try {
          await this.save(migrated);
          this.info("saved session re-encrypted under the configured session key");
        } catch {
          this.warn("saved session could not be re-encrypted under the configured session key");
        }
        return migrated;
      }
    }
    this.warn("saved session could not be decrypted (tampered, another secret or another format); ignored");
    return undefined;
  }

  /** Saves; calls are serialised so that the last save wins. */
  save(session: SavedSession): Promise<void> {
    const run = this.writing.then(() => this.write(session));
    this.writing = run.catch(() => undefined);
    return run;
  }

  async clear(): Promise<void> {
    await this.writing;
    await fs.rm(this.file, { force: true });
  }

  private async write(session: SavedSession): Promise<void> {
    this.writeKey ??= (async () => {
      const salt = randomBytes(16);
      return { salt, key: await deriveKey(this.secret, salt) };
    })();
    const { salt, key } = await this.writeKey;
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(session), "utf8"), cipher.final()]);
    const envelope: Envelope = {
      format: "wxflow-session",
      v: 1,
      kdf: "scrypt",
      salt: salt.toString("base64"),
      iv: iv.toString("base64"),
      tag: cipher.getAuthTag().toString("base64"),
      data: data.toString("base64"),
    };
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    const handle = await fs.open(temp, "wx", 0o600);
    try {
      await handle.writeFile(JSON.stringify(envelope));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.chmod(temp, 0o600);
      await fs.rename(temp, this.file);
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
  }
}
