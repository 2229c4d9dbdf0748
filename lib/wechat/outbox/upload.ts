import { WeChatError } from "../errors";
import { fileExtension, sanitizeFileName } from "../util/filename";
import { sniffMime } from "../util/mime";

/** Bytes per webwxuploadmedia request. */
export const UPLOAD_CHUNK_SIZE = 524_288;
const MB = 1024 * 1024;
/** Above this size the official client calls webwxcheckupload first. */
export const CHECK_UPLOAD_THRESHOLD = 25 * MB;
/** The official client refuses videos of 20 MB or more. */
export const MAX_VIDEO_BYTES = 20 * MB;
export const MAX_FILE_BYTES = 100 * MB;

export type SendAs = "image" | "video" | "sticker" | "file";
export type UploadMediaType = "pic" | "video" | "doc";

export interface UploadPlan {
  mediatype: UploadMediaType;
  sendAs: SendAs;
  /** Byte ranges [start, end) of each upload request, in order. */
  chunks: Array<{ start: number; end: number }>;
  needsCheckUpload: boolean;
  size: number;
  /** The mime type used (given or sniffed), lower case, without parameters. */
  mime: string;
  /** The name to upload under (sanitised) and its extension without the dot. */
  fileName: string;
  ext: string;
}

const PICTURES = new Set(["image/png", "image/jpeg", "image/jpg", "image/bmp"]);
const STICKERS = new Set(["image/gif", "image/png", "image/jpeg", "image/jpg"]);
const VIDEOS = new Set(["video/mp4"]);

function defaultSendAs(mime: string): SendAs {
  if (PICTURES.has(mime)) return "image";
  if (mime === "image/gif") return "sticker";
  if (VIDEOS.has(mime)) return "video";
  return "file";
}

function checkSendAs(as: SendAs, mime: string): void {
  const allowed = as === "image" ? PICTURES : as === "sticker" ? STICKERS : as === "video" ? VIDEOS : undefined;
  if (as !== "file" && !allowed) throw new WeChatError("INVALID_ARGUMENT", `unknown send type "${String(as)}"`);
  if (allowed && !allowed.has(mime)) {
    throw new WeChatError("INVALID_ARGUMENT", `a ${mime} file cannot be sent as ${as}; send it as a file`);
  }
}

/** docs/protocol.md: the upload's mediatype follows the file's type, not how it is sent (a PNG sent as a file is "pic"). */
function uploadMediaType(mime: string): UploadMediaType {
  if (PICTURES.has(mime)) return "pic";
  if (VIDEOS.has(mime)) return "video";
  return "doc";
}

/**
 * How to upload and send some bytes (docs/protocol.md section 6, Upload): the send form (image, video, gif as
 * sticker, else file, unless `as` says otherwise), the upload mediatype, the 512 KiB chunks, and whether
 * webwxcheckupload is needed. Throws INVALID_ARGUMENT for empty data or a form the type cannot take,
 * TOO_LARGE over the limits (video 20 MB, anything 100 MB).
 */
export function uploadPlan(data: Buffer, fileName: string, mime?: string, as?: SendAs): UploadPlan {
  if (!Buffer.isBuffer(data)) throw new WeChatError("INVALID_ARGUMENT", "upload: data must be a Buffer");
  const size = data.length;
  if (size === 0) throw new WeChatError("INVALID_ARGUMENT", "upload: zero-byte files are refused by WeChat");
  if (size > MAX_FILE_BYTES) throw new WeChatError("TOO_LARGE", `upload: ${size} bytes is over the ${MAX_FILE_BYTES / MB} MB limit`);
  const safeName = sanitizeFileName(fileName, "file");
  const type = (typeof mime === "string" && mime.trim() !== "" ? mime : sniffMime(data, safeName)).split(";")[0]!.trim().toLowerCase();
  const sendAs = as ?? defaultSendAs(type);
  checkSendAs(sendAs, type);
  if (sendAs === "video" && size >= MAX_VIDEO_BYTES) {
    throw new WeChatError("TOO_LARGE", `upload: videos must be under ${MAX_VIDEO_BYTES / MB} MB; send it as a file`);
  }
  const mediatype = uploadMediaType(type);
  const chunks: Array<{ start: number; end: number }> = [];
  for (let start = 0; start < size; start += UPLOAD_CHUNK_SIZE) {
    chunks.push({ start, end: Math.min(size, start + UPLOAD_CHUNK_SIZE) });
  }
  return {
    mediatype,
    sendAs,
    chunks,
    needsCheckUpload: size > CHECK_UPLOAD_THRESHOLD,
    size,
    mime: type,
    fileName: safeName,
    ext: fileExtension(safeName),
  };
}
