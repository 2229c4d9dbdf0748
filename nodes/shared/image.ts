import { promises as fs } from "node:fs";
import * as path from "node:path";
import { WeChatError } from "../../lib/wechat/errors";

export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

const SIGNATURES: { mime: string; ext: string; test: (b: Buffer) => boolean }[] = [
  { mime: "image/png", ext: "png", test: (b) => b.length > 8 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a },
  { mime: "image/jpeg", ext: "jpg", test: (b) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { mime: "image/gif", ext: "gif", test: (b) => b.length > 6 && /^GIF8[79]a$/.test(b.subarray(0, 6).toString("latin1")) },
  {
    mime: "image/webp",
    ext: "webp",
    test: (b) => b.length > 12 && b.subarray(0, 4).toString("latin1") === "RIFF" && b.subarray(8, 12).toString("latin1") === "WEBP",
  },
  { mime: "image/bmp", ext: "bmp", test: (b) => b.length > 14 && b[0] === 0x42 && b[1] === 0x4d },
];

/** The image type of some bytes by their magic number, or undefined when they are not a known image. */
export function sniffImage(data: Buffer): { mime: string; ext: string } | undefined {
  const found = SIGNATURES.find((s) => s.test(data));
  return found ? { mime: found.mime, ext: found.ext } : undefined;
}

export interface ImageSourceOptions {
  allowPath: boolean;
  allowUrl: boolean;
  maxBytes?: number;
}

/** msg.payload as image bytes: a Buffer, or (when allowed) a file path or an http(s) URL. */
export async function loadImage(payload: unknown, options: ImageSourceOptions): Promise<{ data: Buffer; name?: string }> {
  const max = options.maxBytes ?? MAX_IMAGE_BYTES;
  if (Buffer.isBuffer(payload)) return { data: payload };
  if (payload instanceof Uint8Array) return { data: Buffer.from(payload) };
  if (typeof payload !== "string" || payload.trim() === "") {
    throw new WeChatError("INVALID_ARGUMENT", "msg.payload must be the image as a Buffer");
  }
  const ref = payload.trim();
  if (/^https?:\/\//i.test(ref)) {
    if (!options.allowUrl) throw new WeChatError("INVALID_ARGUMENT", "URLs in msg.payload are not enabled on this node");
    return { data: await fetchImage(ref, max), name: path.posix.basename(new URL(ref).pathname) || undefined };
  }
  if (!options.allowPath) throw new WeChatError("INVALID_ARGUMENT", "file paths in msg.payload are not enabled on this node");
  let size: number;
  try {
    size = (await fs.stat(ref)).size;
  } catch (error) {
    throw new WeChatError("NOT_FOUND", `cannot read image file "${ref}"`, { cause: error });
  }
  if (size > max) throw new WeChatError("TOO_LARGE", `image file is ${size} bytes, more than ${max}`);
  return { data: await fs.readFile(ref), name: path.basename(ref) };
}

async function fetchImage(url: string, max: number): Promise<Buffer> {
  const { got } = await import("got");
  const request = got(url, { responseType: "buffer", timeout: { request: 15_000 }, retry: { limit: 0 }, followRedirect: true });
  request.on("downloadProgress", (progress: { transferred: number; total?: number }) => {
    if (progress.transferred > max || (progress.total !== undefined && progress.total > max)) request.cancel();
  });
  try {
    const response = await request;
    return response.body;
  } catch (error) {
    if (request.isCanceled) throw new WeChatError("TOO_LARGE", `image at ${url} is larger than ${max} bytes`);
    throw new WeChatError("NETWORK", `cannot download the image from ${url}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}
