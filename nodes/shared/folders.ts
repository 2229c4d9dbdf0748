import { constants, promises as fs, realpathSync, statSync } from "node:fs";
import * as path from "node:path";
import { WeChatError } from "../../lib/wechat/errors";

/**
 * Reading files named in msg.payload, confined to folders the flow builder chose. A chat message can become
 * that path ("send me the file I name"), so a path is read only when its real location (symlinks and ".."
 * resolved) is inside one of the folders, never inside the Node-RED user dir (flows, credentials, the saved
 * session) or /proc, /sys, /dev; the file is opened without following a symlink, must be a regular file, and
 * its size is taken from the open handle.
 */

/** Always out of reach, whatever the folders: kernel and device trees. The user dir is added per runtime. */
const SYSTEM_ROOTS = ["/proc", "/sys", "/dev"];

export interface ReadFolders {
  /** Real paths (symlinks resolved) of the chosen folders. */
  folders: readonly string[];
  /** The folders as given (absolute, normalised), for the check before anything is looked up on disk. */
  given: readonly string[];
  /** Real paths never read from, even inside a folder. */
  forbidden: readonly string[];
}

/** True when `child` is `parent` or inside it (both absolute and normalised). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/** The folders setting: absolute paths separated by ";" (blank: reading files is off). */
export function parseFolders(value: unknown): string[] {
  if (typeof value !== "string") return [];
  return value
    .split(";")
    .map((f) => f.trim())
    .filter((f) => f !== "");
}

/**
 * Checks the folders at deploy. Each must be absolute, an existing directory, and neither be nor sit inside a
 * forbidden place. Throws INVALID_ARGUMENT naming the first bad folder.
 */
export function resolveReadFolders(folders: readonly string[], userDir: string | undefined): ReadFolders {
  const forbidden = [...SYSTEM_ROOTS, ...(userDir ? [userDir] : [])].flatMap((p) => [path.resolve(p), realOrSelf(p)]);
  const real: string[] = [];
  for (const folder of folders) {
    if (!path.isAbsolute(folder)) throw new WeChatError("INVALID_ARGUMENT", `the folder "${folder}" is not an absolute path`);
    const refused = new WeChatError("INVALID_ARGUMENT", `the folder "${folder}" is or is inside the Node-RED user directory, /proc, /sys or /dev`);
    if (forbidden.some((f) => isInside(f, path.resolve(folder)))) throw refused;
    let resolved: string;
    try {
      resolved = realpathSync(folder);
      if (!statSync(resolved).isDirectory()) throw new Error("not a directory");
    } catch (error) {
      throw new WeChatError("NOT_FOUND", `the folder "${folder}" is not an existing directory`, { cause: error });
    }
    // Also by where it really is: a symlink to the user dir is the user dir.
    if (forbidden.some((f) => isInside(f, resolved))) throw refused;
    real.push(resolved);
  }
  return { folders: real, given: folders.map((f) => path.resolve(f)), forbidden: [...new Set(forbidden)] };
}

function allowed(folders: readonly string[], forbidden: readonly string[], p: string): boolean {
  return folders.some((f) => isInside(f, p)) && !forbidden.some((f) => isInside(f, p));
}

/** Where an open descriptor really points (Linux); undefined where the system cannot tell. */
async function pathOfHandle(fd: number): Promise<string | undefined> {
  try {
    return await fs.readlink(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/**
 * Reads the file `ref` names (absolute, or relative to the first folder) when it is allowed by `access`, with
 * at most `max` bytes. Refusals say only that the path is outside the folders, never what is there.
 */
export async function readInFolders(ref: string, access: ReadFolders, max: number, what: string): Promise<{ data: Buffer; name: string }> {
  const first = access.folders[0];
  if (first === undefined) throw new WeChatError("INVALID_ARGUMENT", "file paths in msg.payload are not enabled on this node");
  const outside = new WeChatError("INVALID_ARGUMENT", `"${ref}" is not inside the folders this node reads from`);
  const target = path.resolve(first, ref);
  // First by the name alone, so that nothing outside the folders is even looked up (no "exists?" oracle).
  if (ref.includes("\0") || !allowed([...access.given, ...access.folders], access.forbidden, target)) throw outside;
  let real: string;
  try {
    real = await fs.realpath(target);
  } catch (error) {
    throw new WeChatError("NOT_FOUND", `cannot read ${what} file "${ref}"`, { cause: error });
  }
  if (!allowed(access.folders, access.forbidden, real)) throw outside;
  let handle: fs.FileHandle;
  try {
    // O_NOFOLLOW: a symlink swapped in after realpath is not followed; O_NONBLOCK: a FIFO does not hang the open.
    handle = await fs.open(real, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw new WeChatError("NOT_FOUND", `cannot read ${what} file "${ref}"`, { cause: error });
  }
  try {
    // A folder on the way swapped for a symlink between realpath and open: the descriptor tells where it landed.
    const opened = await pathOfHandle(handle.fd);
    if (opened !== undefined && !allowed(access.folders, access.forbidden, opened)) throw outside;
    const stat = await handle.stat();
    if (!stat.isFile()) throw new WeChatError("INVALID_ARGUMENT", `"${ref}" is not a regular file`);
    if (stat.size > max) throw new WeChatError("TOO_LARGE", `${what} file is ${stat.size} bytes, more than ${max}`);
    // Exactly the size fstat gave (at most max): a file growing meanwhile cannot push the read past the cap.
    const buffer = Buffer.alloc(stat.size);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return { data: buffer.subarray(0, length), name: path.basename(ref) };
  } finally {
    await handle.close();
  }
}
