import { loadBytes, type SourceAccess } from "./source";

/** The largest image wx-send-image takes, as a Buffer, a file or a download (the node's own bound; help: 20 MB). */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

/** msg.payload as image bytes: a Buffer, or (when allowed) a file path or an http(s) URL. */
export function loadImage(payload: unknown, access: SourceAccess, maxBytes = MAX_IMAGE_BYTES): Promise<{ data: Buffer; name?: string }> {
  return loadBytes(payload, { ...access, maxBytes, what: "image" });
}
