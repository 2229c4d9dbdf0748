import { fileExtension } from "./filename";

export const OCTET_STREAM = "application/octet-stream";

/** The one extension <-> MIME table. Where a type has several extensions, the first listed is its usual one. */
const BY_EXTENSION: Readonly<Record<string, string>> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  bmp: "image/bmp",
  ico: "image/x-icon",
  svg: "image/svg+xml",
  tif: "image/tiff",
  tiff: "image/tiff",
  heic: "image/heic",
  mp4: "video/mp4",
  m4v: "video/mp4",
  mov: "video/quicktime",
  avi: "video/x-msvideo",
  mkv: "video/x-matroska",
  webm: "video/webm",
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  wav: "audio/wav",
  ogg: "audio/ogg",
  amr: "audio/amr",
  silk: "audio/silk",
  pdf: "application/pdf",
  zip: "application/zip",
  rar: "application/vnd.rar",
  "7z": "application/x-7z-compressed",
  gz: "application/gzip",
  tar: "application/x-tar",
  apk: "application/vnd.android.package-archive",
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ppt: "application/vnd.ms-powerpoint",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  txt: "text/plain",
  log: "text/plain",
  md: "text/markdown",
  csv: "text/csv",
  json: "application/json",
  xml: "application/xml",
  html: "text/html",
  htm: "text/html",
};

/** The usual extension of each type in BY_EXTENSION (image/jpeg -> jpg, audio/mpeg -> mp3, video/mp4 -> mp4). */
const EXTENSION_OF: ReadonlyMap<string, string> = new Map(
  Object.entries(BY_EXTENSION)
    .reverse()
    .map(([ext, mime]) => [mime, ext]),
);

/** The usual file extension (without the dot) of a MIME type, or undefined when the table does not know it. */
export function extensionFor(mime: string): string | undefined {
  return EXTENSION_OF.get(mime.split(";")[0]!.trim().toLowerCase());
}

// Formats that are zip archives inside: trust the extension over the bare zip signature.
const ZIP_CONTAINERS = new Set(["docx", "xlsx", "pptx", "apk", "jar", "epub", "odt", "ods", "odp"]);

/** The image types fromMagic knows that every viewer shows (HEIC is left out: it is not one of them). */
const IMAGES_BY_MAGIC = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"]);

function ascii(data: Buffer, start: number, end: number): string {
  return data.length >= end ? data.toString("latin1", start, end) : "";
}

function fromMagic(data: Buffer): string | undefined {
  const b = data;
  if (b.length < 3) return undefined;
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 4) === "PNG" && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) {
    return "image/png";
  }
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  const six = ascii(b, 0, 6);
  if (six === "GIF87a" || six === "GIF89a") return "image/gif";
  if (ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP") return "image/webp";
  if (ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WAVE") return "audio/wav";
  // BMP: "BM", then the file size, then 4 reserved zero bytes.
  if (b.length >= 14 && b[0] === 0x42 && b[1] === 0x4d && b.readUInt32LE(6) === 0) return "image/bmp";
  if (ascii(b, 4, 8) === "ftyp") {
    const brand = ascii(b, 8, 12);
    if (brand === "qt  ") return "video/quicktime";
    if (brand === "M4A " || brand === "M4B ") return "audio/mp4";
    if (brand === "heic" || brand === "heix" || brand === "mif1") return "image/heic";
    return "video/mp4";
  }
  if (ascii(b, 0, 5) === "%PDF-") return "application/pdf";
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && ((b[2] === 3 && b[3] === 4) || (b[2] === 5 && b[3] === 6) || (b[2] === 7 && b[3] === 8))) {
    return "application/zip";
  }
  if (ascii(b, 0, 3) === "ID3") return "audio/mpeg";
  // MPEG audio frame sync: 11 set bits, and a layer other than "reserved" (rules out AAC ADTS).
  if (b[0] === 0xff && (b[1] & 0xe0) === 0xe0 && (b[1] & 0x06) !== 0 && (b[1] & 0x18) !== 0x08) return "audio/mpeg";
  if (ascii(b, 0, 6) === "#!AMR\n") return "audio/amr";
  return undefined;
}

/** The images known by their bytes (PNG, JPEG, GIF, WebP, BMP), with their usual extension; else undefined. */
export function sniffImage(data: Buffer): { mime: string; ext: string } | undefined {
  const mime = Buffer.isBuffer(data) ? fromMagic(data) : undefined;
  const ext = mime !== undefined && IMAGES_BY_MAGIC.has(mime) ? extensionFor(mime) : undefined;
  return mime !== undefined && ext !== undefined ? { mime, ext } : undefined;
}

/** The mime type for an extension-less lookup ("" extension gives undefined). */
export function mimeFromExtension(fileName: string | undefined): string | undefined {
  if (!fileName) return undefined;
  const ext = fileExtension(fileName);
  return ext ? BY_EXTENSION[ext] : undefined;
}

/**
 * The mime type of some bytes: by their magic number first, else by the file name's extension,
 * else application/octet-stream.
 */
export function sniffMime(data: Buffer, fileName?: string): string {
  const magic = Buffer.isBuffer(data) ? fromMagic(data) : undefined;
  if (magic === "application/zip" && fileName && ZIP_CONTAINERS.has(fileExtension(fileName))) {
    return mimeFromExtension(fileName) ?? magic;
  }
  return magic ?? mimeFromExtension(fileName) ?? OCTET_STREAM;
}
