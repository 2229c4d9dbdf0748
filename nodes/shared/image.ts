import { loadBytes } from "./source";

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
export function loadImage(payload: unknown, options: ImageSourceOptions): Promise<{ data: Buffer; name?: string }> {
  return loadBytes(payload, { allowPath: options.allowPath, allowUrl: options.allowUrl, maxBytes: options.maxBytes ?? MAX_IMAGE_BYTES, what: "image" });
}
