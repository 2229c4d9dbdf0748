import { randomBytes } from "node:crypto";

// Quotes and line breaks inside a part's name/filename, escaped the way browsers (and form-data-encoder) do.
const escapeName = (name: string): string => name.replace(/\r/g, "%0D").replace(/\n/g, "%0A").replace(/"/g, "%22");

export interface MultipartFile {
  name: string;
  fileName: string;
  contentType: string;
  data: Buffer;
}

/**
 * A multipart/form-data body in one Buffer: the text fields in order, then one file part. One allocation and
 * one copy of the file bytes, so the request goes out in a few large writes instead of a stream of small ones.
 */
export function multipartBody(fields: ReadonlyArray<readonly [string, string]>, file: MultipartFile): { data: Buffer; contentType: string } {
  // A long boundary (RFC 2046 allows 70 characters) lets the receiver's boundary search skip further.
  const boundary = `----wxflowFormBoundary${randomBytes(24).toString("hex")}`;
  let head = "";
  for (const [name, value] of fields) {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(name)}"\r\n\r\n${value}\r\n`;
  }
  head +=
    `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(file.name)}"; filename="${escapeName(file.fileName)}"\r\n` +
    `Content-Type: ${file.contentType}\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const headLength = Buffer.byteLength(head);
  const data = Buffer.allocUnsafe(headLength + file.data.length + Buffer.byteLength(tail));
  data.write(head, 0);
  file.data.copy(data, headLength);
  data.write(tail, headLength + file.data.length);
  return { data, contentType: `multipart/form-data; boundary=${boundary}` };
}
