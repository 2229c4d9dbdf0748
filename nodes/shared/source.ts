import { promises as fs } from "node:fs";
import * as path from "node:path";
import { WeChatError } from "../../lib/wechat/errors";

export interface SourceOptions {
  allowPath: boolean;
  allowUrl: boolean;
  maxBytes: number;
  /** What the bytes are, for error messages ("image", "file"). */
  what: string;
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
      data = await fetchBytes(ref, max, what);
      name = path.posix.basename(new URL(ref).pathname) || undefined;
    } else {
      if (!options.allowPath) throw new WeChatError("INVALID_ARGUMENT", "file paths in msg.payload are not enabled on this node");
      let size: number;
      try {
        const stat = await fs.stat(ref);
        if (!stat.isFile()) throw new Error("not a regular file");
        size = stat.size;
      } catch (error) {
        throw new WeChatError("NOT_FOUND", `cannot read ${what} file "${ref}"`, { cause: error });
      }
      if (size > max) throw new WeChatError("TOO_LARGE", `${what} file is ${size} bytes, more than ${max}`);
      data = await fs.readFile(ref);
      name = path.basename(ref);
    }
  }
  if (data.length > max) throw new WeChatError("TOO_LARGE", `the ${what} is ${data.length} bytes, more than ${max}`);
  return name === undefined ? { data } : { data, name };
}

async function fetchBytes(url: string, max: number, what: string): Promise<Buffer> {
  const { got } = await import("got");
  const request = got(url, { responseType: "buffer", timeout: { request: 15_000 }, retry: { limit: 0 }, followRedirect: true });
  request.on("downloadProgress", (progress: { transferred: number; total?: number }) => {
    if (progress.transferred > max || (progress.total !== undefined && progress.total > max)) request.cancel();
  });
  try {
    const response = await request;
    return response.body;
  } catch (error) {
    if (request.isCanceled) throw new WeChatError("TOO_LARGE", `${what} at ${url} is larger than ${max} bytes`);
    throw new WeChatError("NETWORK", `cannot download the ${what} from ${url}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}
