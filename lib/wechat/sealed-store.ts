import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import * as path from "node:path";
import { Sealer } from "./store/envelope";

export interface SealedStoreOptions<T> {
  /** The envelope's `format` name: a file of another kind never opens as this one. */
  format: string;
  /** What a decrypted value must look like. */
  accepts(value: unknown): value is T;
  /** How log lines name the file's content ("saved session"). */
  what: string;
  /** Problems worth a warning (a file that cannot be read back). */
  warn?: ((message: string) => void) | undefined;
  /** Notes worth an info line (a migration). */
  info?: ((message: string) => void) | undefined;
  /**
   * Secrets the file was written under before (e.g. the key derived from the user dir, before a key from outside it
   * was configured): a file that opens only with one of them is read once and re-written under `secret` at once.
   */
  previous?: readonly string[] | undefined;
}

/**
 * One JSON value kept encrypted in one file: AES-256-GCM with a key derived by scrypt from the caller's secret,
 * written atomically (temp file, fsync, rename) with mode 0600. A file that cannot be read back (tampered, another
 * secret, another format) is reported through `warn` and treated as absent. Saved sessions (session-store.ts) and
 * the built-in sandbox's world (nodes/shared/sandbox-registry.ts) are kept this way.
 */
export class SealedStore<T> {
  private writing: Promise<void> = Promise.resolve();
  private readonly sealer: Sealer<T>;
  /**
   * The file's directory, made by the first write: a session is saved after every sync answer that changed its keys,
   * and with many accounts in one process a mkdir per save was a fifth of the saves' cost (bench/README.md, row 8).
   */
  private dirMade: Promise<void> | undefined;
  private readonly warn: (message: string) => void;
  private readonly info: (message: string) => void;

  constructor(
    private readonly file: string,
    secret: string,
    private readonly options: SealedStoreOptions<T>,
  ) {
    if (!secret) throw new TypeError(`${options.what}: a secret is required`);
    this.sealer = new Sealer(secret, options);
    this.warn = options.warn ?? (() => undefined);
    this.info = options.info ?? (() => undefined);
  }

  /**
   * Starts deriving the key the first save needs, under the salt of the file already there (Sealer.prepareFor): a
   * load of that file then needs no key of its own. Resolves once the derivation has started; never rejects.
   */
  async prepare(): Promise<void> {
    let sealed: string | undefined;
    try {
      sealed = await fs.readFile(this.file, "utf8");
    } catch {
      // none yet (or unreadable: load() says so)
    }
    this.sealer.prepareFor(sealed);
  }

  async load(): Promise<T | undefined> {
    const { what } = this.options;
    let text: string;
    try {
      text = await fs.readFile(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") this.warn(`${what} unreadable; ignored`);
      return undefined;
    }
    const opened = await this.sealer.open(text);
    if (opened?.migrated) {
      // Migration: from now on the file opens only with the current secret.
      try {
        await this.save(opened.value);
        this.info(`${what} re-encrypted under the configured session key`);
      } catch {
        this.warn(`${what} could not be re-encrypted under the configured session key`);
      }
    }
    if (opened) return opened.value;
    this.warn(`${what} could not be decrypted (tampered, another secret or another format); ignored`);
    return undefined;
  }

  /** Saves; calls are serialised so that the last save wins. */
  save(value: T): Promise<void> {
    const run = this.writing.then(() => this.write(value));
    this.writing = run.catch(() => undefined);
    return run;
  }

  async clear(): Promise<void> {
    await this.writing;
    await fs.rm(this.file, { force: true });
  }

  /** Opens a new file for writing (mode 0600), the directory made first if it is not there (again). */
  private async create(file: string): Promise<FileHandle> {
    const dir = path.dirname(this.file);
    this.dirMade ??= fs.mkdir(dir, { recursive: true }).then(() => undefined);
    try {
      await this.dirMade;
      return await fs.open(file, "wx", 0o600);
    } catch (error) {
      this.dirMade = undefined;
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      // The directory went away since it was made.
      await fs.mkdir(dir, { recursive: true });
      return fs.open(file, "wx", 0o600);
    }
  }

  private async write(value: T): Promise<void> {
    const text = await this.sealer.seal(value);
    const temp = `${this.file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    const handle = await this.create(temp);
    try {
      await handle.writeFile(text);
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
