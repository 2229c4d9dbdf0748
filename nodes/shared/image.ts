import { sniffMime } from "../../lib/wechat/util";
import { loadBytes, type SourceAccess } from "./source";

export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

/** The image types WeChat shows inline, with the extension a name gets when it has none. */
const IMAGE_EXTENSIONS: Readonly<Record<string, string>> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/gif": "gif",
  "image/webp": "webp",
  "image/bmp": "bmp",
};

/** The image type of some bytes by their magic number, or undefined when they are not a known image. */
export function sniffImage(data: Buffer): { mime: string; ext: string } | undefined {
  const mime = sniffMime(data);
  const ext = IMAGE_EXTENSIONS[mime];
  return ext === undefined ? undefined : { mime, ext };
}


/** msg.payload as image bytes: a Buffer, or (when allowed) a file path or an http(s) URL. */
export function loadImage(payload: unknown, access: SourceAccess, maxBytes = MAX_IMAGE_BYTES): Promise<{ data: Buffer; name?: string }> {
  return loadBytes(payload, { ...access, maxBytes, what: "image" });
}
