import { homedir } from "node:os";
import * as path from "node:path";
import { WeChatError } from "../../lib/wechat/errors";
import { parseAllowHosts, type AddressPolicy } from "./address";
import { downloadBytes } from "./download";
import { parseFolders, readInFolders, resolveReadFolders, type ReadFolders } from "./folders";
import type { Node, NodeAPI } from "./red";

/** The settings of a node that takes a file path or URL in msg.payload (wx-send-file, wx-send-image). */
export interface SourceDef {
  /** Folders (absolute, separated by ";") whose files msg.payload may name; blank: no file paths. */
  readFolders?: unknown;
  /** Before 0.2: a checkbox that let msg.payload name any file. Ignored (reading is off), with a warning. */
  allowPath?: unknown;
  allowUrl?: unknown;
  /** Hosts a URL may reach although they are private or local (comma or space separated). */
  allowHosts?: unknown;
}

/** What a node lets msg.payload name, fixed at deploy. */
export interface SourceAccess {
  /** The folders files are read from; an error when the setting was refused at deploy; undefined: off. */
  read: ReadFolders | WeChatError | undefined;
  allowUrl: boolean;
  address: AddressPolicy;
}

export interface SourceOptions extends SourceAccess {
  maxBytes: number;
  /** What the bytes are, for error messages ("image", "file"). */
  what: string;
}

/**
 * The node's source settings, checked at deploy: a refused folder is reported with node.error (and every path
 * in msg.payload is then refused); a flow saved with the old allowPath checkbox reads no file and says so once.
 */
export function sourceAccessOf(RED: NodeAPI, node: Node, config: SourceDef): SourceAccess {
  const folders = parseFolders(config.readFolders);
  const userDir = typeof RED.settings.userDir === "string" ? RED.settings.userDir : path.join(homedir(), ".node-red");
  let read: SourceAccess["read"];
  if (folders.length > 0) {
    try {
      read = resolveReadFolders(folders, userDir);
    } catch (error) {
      read = error instanceof WeChatError ? error : new WeChatError("INVALID_ARGUMENT", String(error));
      node.error(`${RED._(`${node.type}.error.readFolders`)}: ${read.message}`);
    }
  } else if (config.allowPath === true) {
    node.warn(RED._(`${node.type}.warn.allowPath`));
  }
  return { read, allowUrl: config.allowUrl === true, address: { allowHosts: parseAllowHosts(config.allowHosts) } };
}

/** msg.payload as bytes: a Buffer, or (when allowed) a file path or an http(s) URL; `name` is the source's base name. */
export async function loadBytes(payload: unknown, options: SourceOptions): Promise<{ data: Buffer; name?: string }> {
  const { maxBytes: max, what } = options;
  let data: Buffer;
  let name: string | undefined;
  if (Buffer.isBuffer(payload)) data = payload;
  else if (payload instanceof Uint8Array) data = Buffer.from(payload);
  else if (typeof payload !== "string" || payload.trim() === "") {
    throw new WeChatError("INVALID_ARGUMENT", `msg.payload must be the ${what} as a Buffer`);
  } else {
    const ref = payload.trim();
    if (/^https?:\/\//i.test(ref)) {
      if (!options.allowUrl) throw new WeChatError("INVALID_ARGUMENT", "URLs in msg.payload are not enabled on this node");
      data = await downloadBytes(ref, max, what, options.address);
      name = path.posix.basename(new URL(ref).pathname) || undefined;
    } else {
      const read = options.read;
      if (read === undefined) throw new WeChatError("INVALID_ARGUMENT", "file paths in msg.payload are not enabled on this node");
      if (read instanceof WeChatError) {
        throw new WeChatError("INVALID_ARGUMENT", `file paths in msg.payload are off: the node's folders were refused at deploy (${read.message})`);
      }
      ({ data, name } = await readInFolders(ref, read, max, what));
    }
  }
  if (data.length > max) throw new WeChatError("TOO_LARGE", `the ${what} is ${data.length} bytes, more than ${max}`);
  return name === undefined ? { data } : { data, name };
}
