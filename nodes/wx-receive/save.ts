import { promises as fs } from "node:fs";
import * as path from "node:path";
import { WeChatError } from "../../lib/wechat/errors";
import type { Message } from "../../lib/wechat/types";
import { sanitizeFileName, sniffImage } from "../../lib/wechat/util";

const EXTENSIONS: Record<string, string> = { voice: "mp3", video: "mp4", sticker: "gif" };
/** Attempts at a free name ("name (1).ext", ...) before giving up. */
const MAX_ATTEMPTS = 100;

/** The name a downloaded attachment is saved under: the sender's name sanitised, else one made from the message. */
export function attachmentName(message: Message, data: Buffer): string {
  const kind = message.media?.kind ?? "file";
  const ext = kind === "image" ? sniffImage(data)?.ext ?? "jpg" : EXTENSIONS[kind] ?? "bin";
  const fallback = `${kind}-${message.id}.${ext}`;
  // The sender chooses FileName: only ever one sanitised path segment (no "..", separators, NUL, controls).
  return sanitizeFileName(message.media?.fileName ?? fallback, fallback);
}

/** Bytes held by the regular files directly in `dir` (what this node writes there; nothing is followed). */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    try {
      total += (await fs.lstat(path.join(dir, entry.name))).size;
    } catch {
      // Removed meanwhile: it no longer counts.
    }
  }
  return total;
}

/**
 * Writes `data` into `dir` under a sanitised `name`, never overwriting (a number is added) and never outside
 * `dir`. Refused (TOO_LARGE) when the folder's files and `data` together would pass `quotaBytes`, so that
 * contacts sending attachments cannot fill the disk. Returns the full path.
 */
export async function saveAttachment(dir: string, name: string, data: Buffer, quotaBytes = Infinity): Promise<string> {
  const root = path.resolve(dir);
  const safe = sanitizeFileName(name);
  await fs.mkdir(root, { recursive: true });
  const used = await folderBytes(root);
  if (used + data.length > quotaBytes) {
    throw new WeChatError("TOO_LARGE", `the folder's quota is full: ${used} bytes saved, ${data.length} more would pass ${quotaBytes}`);
  }
  const dot = safe.lastIndexOf(".");
  const stem = dot > 0 ? safe.slice(0, dot) : safe;
  const ext = dot > 0 ? safe.slice(dot) : "";
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const file = path.join(root, i === 0 ? safe : `${stem} (${i})${ext}`);
    // Belt and braces: the sanitiser keeps names to one segment; refuse anything that would land elsewhere.
    if (path.dirname(file) !== root || file.includes("\0")) throw new WeChatError("INVALID_ARGUMENT", "unsafe attachment file name");
    try {
      // "wx": never replace an existing file (nor follow a symlink planted under that name).
      await fs.writeFile(file, data, { flag: "wx", mode: 0o600 });
      return file;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  throw new WeChatError("INVALID_ARGUMENT", `no free file name for "${safe}" in ${root}`);
}
