import { createCipheriv, createDecipheriv, randomBytes, scrypt } from "node:crypto";

/**
 * The sealed form of one JSON value, the same wherever it is kept (a file, a Redis key): the value as JSON,
 * AES-256-GCM under a key derived by scrypt from the secret and `salt`.
 */
interface Envelope {
  format: string;
  v: 1;
  kdf: "scrypt";
  salt: string;
  iv: string;
  tag: string;
  data: string;
}

const SCRYPT_N = 16384;
/** Keys kept per sealer (Sealer.keyFor). */
const KEYS_KEPT = 8;

function deriveKey(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, 32, { N: SCRYPT_N, r: 8, p: 1 }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function isEnvelope(value: unknown, format: string): value is Envelope {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return (
    v.format === format &&
    v.v === 1 &&
    v.kdf === "scrypt" &&
    typeof v.salt === "string" &&
    typeof v.iv === "string" &&
    typeof v.tag === "string" &&
    typeof v.data === "string"
  );
}

/** The salt of an envelope of `format` in `text` when it is a 16-byte one, else undefined. */
function envelopeSalt(text: string, format: string): string | undefined {
  try {
    const envelope: unknown = JSON.parse(text);
    if (!isEnvelope(envelope, format)) return undefined;
    return Buffer.from(envelope.salt, "base64").length === 16 ? envelope.salt : undefined;
  } catch {
    return undefined;
  }
}

export interface SealOptions<T> {
  /** The envelope's `format` name: a value of another kind never opens as this one. */
  format: string;
  /** What a decrypted value must look like. */
  accepts(value: unknown): value is T;
  /** Secrets the value may have been sealed under before: it opens with them too (`migrated` says so). */
  previous?: readonly string[] | undefined;
}

/** An opened value, and whether only an earlier secret opened it (then it should be sealed again at once). */
export interface Opened<T> {
  value: T;
  migrated: boolean;
}

/**
 * Seals and opens values of one kind under one secret: used by the encrypted file (SealedStore) and the Redis
 * session storage alike, so both hold the same envelope. One salt and key per sealer: scrypt runs once for
 * writing, every seal still gets a fresh IV.
 */
export class Sealer<T> {
  private writeKey?: Promise<{ salt: Buffer; key: Buffer }>;
  /** The current secret's keys by salt (base64): the salt written under and a file's own, each derived once. */
  private readonly keys = new Map<string, Promise<Buffer>>();
  private readonly previous: readonly string[];

  constructor(
    private readonly secret: string,
    private readonly options: SealOptions<T>,
  ) {
    if (!secret) throw new TypeError(`${options.format}: a secret is required`);
    this.previous = (options.previous ?? []).filter((p) => p && p !== secret);
  }

  /**
   * Starts deriving the key seal() needs (scrypt, ~50 ms of CPU in libuv's pool), so that the first seal does not
   * wait for it: a login writes its new session as soon as webwxinit has answered (issue #19).
   */
  prepare(): void {
    this.sealingKey().catch(() => undefined);
  }

  /**
   * prepare(), sealing under the salt of `sealed` (the envelope last written, when it is one of this kind): the key
   * that opens it is then the key that seals, so resuming a saved session derives once, not twice. The salt is not
   * secret and each seal still gets a fresh IV.
   */
  prepareFor(sealed: string | undefined): void {
    const salt = sealed === undefined ? undefined : envelopeSalt(sealed, this.options.format);
    if (salt !== undefined && !this.writeKey) {
      this.writeKey = this.keyFor(this.secret, salt).then((key) => ({ salt: Buffer.from(salt, "base64"), key }));
    }
    this.prepare();
  }

  private sealingKey(): Promise<{ salt: Buffer; key: Buffer }> {
    this.writeKey ??= (async () => {
      const salt = randomBytes(16);
      return { salt, key: await this.keyFor(this.secret, salt.toString("base64")) };
    })();
    return this.writeKey;
  }

  /** The key of `secret` and `salt`; the current secret's are kept (a failed derivation is not). */
  private keyFor(secret: string, salt: string): Promise<Buffer> {
    if (secret !== this.secret) return deriveKey(secret, Buffer.from(salt, "base64"));
    let key = this.keys.get(salt);
    if (!key) {
      key = deriveKey(secret, Buffer.from(salt, "base64"));
      // A few salts in a process's life (its own, the file's, another instance's on Redis): the oldest goes first.
      if (this.keys.size >= KEYS_KEPT) this.keys.delete(this.keys.keys().next().value as string);
      this.keys.set(salt, key);
      key.catch(() => this.keys.delete(salt));
    }
    return key;
  }

  /** The value as envelope text (JSON). */
  async seal(value: T): Promise<string> {
    const { salt, key } = await this.sealingKey();
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
    const envelope: Envelope = {
      format: this.options.format,
      v: 1,
      kdf: "scrypt",
      salt: salt.toString("base64"),
      iv: iv.toString("base64"),
      tag: cipher.getAuthTag().toString("base64"),
      data: data.toString("base64"),
    };
    return JSON.stringify(envelope);
  }

  /** The value in envelope text, when the secret (or an earlier one) opens it and it is accepted; else undefined. */
  async open(text: string): Promise<Opened<T> | undefined> {
    let envelope: unknown;
    try {
      envelope = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (!isEnvelope(envelope, this.options.format)) return undefined;
    const current = await this.openWith(envelope, this.secret);
    if (current) return { value: current, migrated: false };
    for (const secret of this.previous) {
      const value = await this.openWith(envelope, secret);
      if (value) return { value, migrated: true };
    }
    return undefined;
  }

  private async openWith(envelope: Envelope, secret: string): Promise<T | undefined> {
    try {
      const key = await this.keyFor(secret, envelope.salt);
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(envelope.iv, "base64"));
      decipher.setAuthTag(Buffer.from(envelope.tag, "base64"));
      const plain = Buffer.concat([decipher.update(Buffer.from(envelope.data, "base64")), decipher.final()]);
      const value: unknown = JSON.parse(plain.toString("utf8"));
      return this.options.accepts(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }
}
