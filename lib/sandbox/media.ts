import { createHash, randomBytes } from "node:crypto";
import busboy from "busboy";
import { XMLParser } from "fast-xml-parser";
import { authGet, authJson, checkBaseRequest, checkPassTicket, type Ctx } from "./context";
import { discardBody, isRecord, sendText, sendWireJson } from "./http";
import { TINY_PNG } from "./login";
import type { Session } from "./session";
import type { StoredUpload } from "./state";
import { cdnRef, forwardAppMsg, forwardCdnMedia, forwardSticker, isForward, registerRef } from "./forward";
import { beginSend, finishSend, relay } from "./webwx";
import { escapeWire } from "./wire";

/** File host: chunked uploads, media sends, downloads. */

export const CHUNK = 524_288;
const MB = 1024 * 1024;
const CHECK_UPLOAD_OVER = 25 * MB;
const VIDEO_MAX = 20 * MB;
const FILE_MAX = 100 * MB;
/** appid of file appmsgs (docs/protocol.md section 6): the web client's, sent in desktop mode as well. */
const FILE_APPID = "wxeb7ec651dd0aefa9";

/**
 * What one upload request may hold: the official client sends 11 fields and one file part of at most one chunk,
 * and its longest field (uploadmediarequest) is well under 4 KiB. busboy drops whatever goes past these, so one
 * request makes the sandbox keep at most fields x fieldSize (1.5 MiB) plus one chunk. fileSize is CHUNK + 1
 * because busboy reports the limit on reaching it, and a full chunk is fine.
 */
export const MULTIPART_LIMITS = { fields: 24, parts: 26, files: 1, fieldSize: 64 * 1024, fileSize: CHUNK + 1 };
/** A refused upload's body is read (and dropped) up to this much, then the connection is cut. */
const REFUSED_DRAIN = 1 * MB;

interface Multipart {
  fields: Map<string, string>;
  file?: { fileName: string; mime: string; data: Buffer };
  tooLarge: boolean;
  /** A field, part or file limit was hit (MULTIPART_LIMITS). */
  overLimit?: string;
}

function parseMultipart(ctx: Ctx): Promise<Multipart> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: ctx.req.headers, limits: MULTIPART_LIMITS });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const out: Multipart = { fields: new Map(), tooLarge: false };
    bb.on("field", (name, value, info) => {
      if (info.valueTruncated) out.overLimit = `field ${name} is over ${MULTIPART_LIMITS.fieldSize} bytes`;
      else out.fields.set(name, value);
    });
    bb.on("fieldsLimit", () => (out.overLimit = `more than ${MULTIPART_LIMITS.fields} fields`));
    bb.on("partsLimit", () => (out.overLimit = `more than ${MULTIPART_LIMITS.parts} parts`));
    bb.on("filesLimit", () => (out.overLimit = `more than ${MULTIPART_LIMITS.files} file part`));
    bb.on("file", (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("limit", () => (out.tooLarge = true));
      stream.on("end", () => {
        if (name === "filename") out.file = { fileName: info.filename ?? "", mime: info.mimeType, data: Buffer.concat(chunks) };
      });
    });
    bb.on("error", (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))));
    bb.on("close", () => resolve(out));
    ctx.req.pipe(bb);
  });
}

function mediaTypeFor(fileName: string): string {
  const ext = (/\.([^.]+)$/.exec(fileName)?.[1] ?? "").toLowerCase();
  if (["bmp", "png", "jpeg", "jpg"].includes(ext)) return "pic";
  if (ext === "mp4") return "video";
  return "doc";
}

function newMediaId(): string {
  return `@crypt_${randomBytes(4).toString("hex")}_${randomBytes(64).toString("hex")}`;
}

function answerUpload(ctx: Ctx, fields: Record<string, unknown>): void {
  sendWireJson(ctx.res, { BaseResponse: { Ret: 0, ErrMsg: "" }, MediaId: "", StartPos: 0, CDNThumbImgHeight: 0, CDNThumbImgWidth: 0, EncryFileName: "", ...fields });
}

export async function uploadMedia(ctx: Ctx): Promise<void> {
  if (ctx.req.method === "OPTIONS") {
    sendText(ctx.res, 200, "", "text/plain");
    return;
  }
  const fail = (rule: string, detail: string, ret = 1): void => {
    ctx.violation(rule, detail);
    ctx.fail(ret);
  };
  // The cookies come first: a request without a session's cookies is answered before its body is read.
  const refuse = (rule: string, detail: string): void => {
    fail(rule, detail, 1102);
    discardBody(ctx.req, ctx.res, REFUSED_DRAIN);
  };
  const dataTicketCookie = ctx.cookies.get("webwx_data_ticket");
  const wxsid = ctx.cookies.get("wxsid");
  if (!dataTicketCookie || !ctx.cookies.get("wxuin") || !wxsid) return refuse("cookie-missing", "upload needs the wxuin, wxsid and webwx_data_ticket cookies");
  const cookieSession = ctx.state.sessions.get(wxsid);
  if (!cookieSession || String(cookieSession.uin) !== ctx.cookies.get("wxuin") || cookieSession.dataTicket !== dataTicketCookie) {
    return refuse("cookie-invalid", "wxuin, wxsid and webwx_data_ticket cookies do not name a session this server issued");
  }
  let form: Multipart;
  try {
    form = await parseMultipart(ctx);
  } catch {
    ctx.violation("multipart-malformed", "the body is not multipart/form-data");
    ctx.fail(1);
    return;
  }
  if (form.overLimit) return fail("multipart-limits", `${form.overLimit}: the official client sends 11 fields and one file part`);
  const reqText = form.fields.get("uploadmediarequest");
  let request: unknown;
  try {
    request = reqText === undefined ? undefined : JSON.parse(reqText);
  } catch {
    request = undefined;
  }
  if (!isRecord(request)) return fail("field-missing", "uploadmediarequest (JSON) is required");
  const session = checkBaseRequest(ctx, request.BaseRequest);
  if (!session) return;
  if (dataTicketCookie !== session.dataTicket) return fail("cookie-invalid", "webwx_data_ticket cookie is not this session's", 1102);
  if (form.fields.get("webwx_data_ticket") !== session.dataTicket) return fail("field-invalid", "webwx_data_ticket field must be the cookie's value");
  if (!checkPassTicket(ctx, session, form.fields.get("pass_ticket"), true)) return void ctx.fail(1);
  const file = form.file;
  if (!file) return fail("field-missing", "the bytes must come as the part named filename");
  if (form.tooLarge) return fail("upload-unchunked", "a request carries at most one chunk of 524288 bytes");
  const name = form.fields.get("name") ?? file.fileName;
  const total = Number(form.fields.get("size"));
  if (!Number.isInteger(total) || total !== request.TotalLen || request.DataLen !== total) return fail("field-invalid", "size, TotalLen and DataLen must all be the total length");
  if (total === 0) return fail("upload-empty", "zero-byte files are refused");
  if (request.UploadType !== 2 || request.MediaType !== 4 || request.StartPos !== 0) return fail("field-invalid", "UploadType 2, MediaType 4 and StartPos 0 are required");
  const self = session.knownUserName(session.account.personId);
  if (request.FromUserName !== self) return fail("from-not-self", "FromUserName must be the logged-in user");
  const toId = typeof request.ToUserName === "string" ? session.entityOf(request.ToUserName) : undefined;
  if (!toId) return fail("not-a-contact", "ToUserName is not known in this session", 1204);
  const mediatype = form.fields.get("mediatype");
  if (mediatype !== mediaTypeFor(name)) return fail("field-invalid", `mediatype must be ${mediaTypeFor(name)} for ${name}`);
  if (mediatype === "video" && total > VIDEO_MAX) return fail("upload-too-large", "video is limited to 20 MB");
  if (total > FILE_MAX) return fail("upload-too-large", "files are limited to about 100 MB");
  const budget = ctx.state.mediaBudget.limit;
  if (total > budget) return fail("media-budget", `${total} bytes exceed the sandbox's media budget of ${budget} bytes (option mediaBudgetBytes)`);
  if (request.FileMd5 === undefined) ctx.deviation("filemd5-missing", "uploadmediarequest has no FileMd5");
  if (form.fields.get("id") === undefined) ctx.deviation("id-missing", "the id field (WU_FILE_0) is missing");
  if (total > CHECK_UPLOAD_OVER) {
    const check = typeof request.FileMd5 === "string" ? ctx.state.checkUploads.get(request.FileMd5) : undefined;
    if (!check || request.AESKey !== check.aesKey || request.Signature !== check.signature) return fail("checkupload-missing", "files over 25 MB need webwxcheckupload first, its AESKey and Signature in uploadmediarequest");
  }
  const chunksField = form.fields.get("chunks");
  const chunkField = form.fields.get("chunk");
  const expectedChunks = Math.ceil(total / CHUNK);
  if (chunksField === undefined) {
    if (total > CHUNK) return fail("upload-unchunked", `over ${CHUNK} bytes must be sent in chunks`);
    if (file.data.length !== total) return fail("upload-size", "the bytes do not match size");
    return finishUpload(ctx, session, { name, total, mime: form.fields.get("type") ?? file.mime, mediatype, md5: request.FileMd5, toUserName: String(request.ToUserName), data: file.data, chunks: 1 });
  }
  const chunks = Number(chunksField);
  const chunk = Number(chunkField);
  if (chunks !== expectedChunks || !Number.isInteger(chunk) || chunk < 0 || chunk >= chunks) return fail("field-invalid", `chunks must be ${expectedChunks} and chunk 0-based below it`);
  if (chunks === 1) ctx.deviation("chunks-single", "chunks/chunk sent for a single-chunk file");
  const expectedLen = chunk === chunks - 1 ? total - CHUNK * (chunks - 1) : CHUNK;
  if (file.data.length !== expectedLen) return fail("chunk-size", `chunk ${chunk} must be ${expectedLen} bytes`);
  const key = `${session.sid}:${String(request.ClientMediaId)}`;
  const partial = ctx.state.partialUploads.get(key);
  if (chunk === 0) {
    // forget uploads abandoned half way (10 minutes without a chunk)
    for (const [k, p] of ctx.state.partialUploads) if (Date.now() - p.at > 600_000) ctx.state.partialUploads.delete(k);
    ctx.state.partialUploads.set(key, { request: reqText ?? "", parts: [file.data], at: Date.now() });
  } else {
    if (!partial || partial.parts.length !== chunk) return fail("chunk-order", `chunk ${chunk} arrived out of order`);
    if (partial.request !== reqText) return fail("chunk-request", "uploadmediarequest must be the same JSON on every chunk");
    partial.parts.push(file.data);
    partial.at = Date.now();
    ctx.state.partialUploads.set(key, partial); // counts the new chunk against the media budget
  }
  if (chunk < chunks - 1) {
    answerUpload(ctx, { StartPos: (chunk + 1) * CHUNK });
    return;
  }
  const parts = ctx.state.partialUploads.get(key)?.parts ?? [];
  ctx.state.partialUploads.delete(key);
  return finishUpload(ctx, session, { name, total, mime: form.fields.get("type") ?? file.mime, mediatype, md5: request.FileMd5, toUserName: String(request.ToUserName), data: Buffer.concat(parts), chunks });
}

function finishUpload(ctx: Ctx, session: Session, u: { name: string; total: number; mime: string; mediatype: string; md5: unknown; toUserName: string; data: Buffer; chunks: number }): void {
  const md5 = createHash("md5").update(u.data).digest("hex");
  if (u.data.length !== u.total) {
    ctx.violation("upload-size", "reassembled bytes do not match size");
    ctx.fail(1);
    return;
  }
  if (typeof u.md5 === "string" && u.md5.toLowerCase() !== md5) {
    ctx.violation("upload-md5", "FileMd5 does not match the bytes");
    ctx.fail(1);
    return;
  }
  const mediaId = newMediaId();
  const stored: StoredUpload = {
    record: { mediaId, account: ctx.state.accountName(session.account), fileName: u.name, size: u.total, md5, mediaType: u.mediatype, mime: u.mime, to: u.toUserName, time: Date.now(), chunks: u.chunks },
    data: u.data,
    sid: session.sid,
  };
  ctx.state.uploads.set(mediaId, stored);
  ctx.state.events.emit("upload", stored.record);
  answerUpload(ctx, { MediaId: mediaId, StartPos: u.total, CDNThumbImgHeight: 100, CDNThumbImgWidth: 100, EncryFileName: encodeURIComponent(u.name) });
}

export async function checkUpload(ctx: Ctx): Promise<void> {
  const auth = await authJson(ctx, { passTicket: true });
  if (!auth) return;
  const { body } = auth;
  if (typeof body.FileMd5 !== "string" || typeof body.FileName !== "string" || typeof body.FileSize !== "number" || body.FileType !== 7) {
    ctx.violation("field-invalid", "FileMd5, FileName, FileSize and FileType 7 are required");
    ctx.fail(1);
    return;
  }
  if (body.FileSize === 0) {
    ctx.violation("upload-empty", "zero-byte files are refused");
    ctx.fail(1);
    return;
  }
  const check = { aesKey: randomBytes(16).toString("hex"), signature: randomBytes(32).toString("hex") };
  ctx.state.checkUploads.set(body.FileMd5.toLowerCase(), check);
  sendWireJson(ctx.res, { BaseResponse: { Ret: 0, ErrMsg: "" }, MediaId: "", AESKey: check.aesKey, Signature: check.signature, EntryFileName: body.FileName, EncryFileName: encodeURIComponent(body.FileName) });
}

function ownUpload(ctx: Ctx, session: Session, mediaId: unknown, kinds: string[]): StoredUpload | undefined {
  const up = typeof mediaId === "string" ? ctx.state.uploads.get(mediaId) : undefined;
  if (!up || up.sid !== session.sid) {
    ctx.violation("media-unknown", "MediaId was not uploaded in this session");
    ctx.fail(1);
    return undefined;
  }
  if (!kinds.includes(up.record.mediaType)) {
    ctx.violation("media-kind", `this send needs a ${kinds.join("/")} upload, got ${up.record.mediaType}`);
    ctx.fail(1);
    return undefined;
  }
  return up;
}

export async function sendImage(ctx: Ctx): Promise<void> {
  const s = await beginSend(ctx, 3);
  if (!s) return;
  if (isForward(s)) return forwardCdnMedia(ctx, s, "image", (data, ref) => ({ Content: imageContent(data, ref), ImgHeight: 100, ImgWidth: 100, ImgStatus: 2 }));
  const up = ownUpload(ctx, s.session, s.msg.MediaId, ["pic", "doc"]);
  if (!up) return;
  const msgId = finishSend(ctx, s, "image", { mediaId: up.record.mediaId, fileName: up.record.fileName });
  const ref = cdnRef(ctx.state, msgId);
  relay(ctx.state, s.session.account, s.targetId, 3, () => ({ Content: imageContent(up.data, ref), ImgHeight: 100, ImgWidth: 100, ImgStatus: 2 }), { data: up.data, mime: up.record.mime }, msgId);
}

export async function sendVideo(ctx: Ctx): Promise<void> {
  const s = await beginSend(ctx, 43);
  if (!s) return;
  if (isForward(s)) return forwardCdnMedia(ctx, s, "video", (data, ref) => ({ Content: videoContent(data, ref, 3), PlayLength: 3, ImgHeight: 100, ImgWidth: 100 }));
  const up = ownUpload(ctx, s.session, s.msg.MediaId, ["video"]);
  if (!up) return;
  const msgId = finishSend(ctx, s, "video", { mediaId: up.record.mediaId, fileName: up.record.fileName });
  const ref = cdnRef(ctx.state, msgId);
  relay(ctx.state, s.session.account, s.targetId, 43, () => ({ Content: videoContent(up.data, ref, 3), PlayLength: 3, ImgHeight: 100, ImgWidth: 100 }), { data: up.data, mime: "video/mp4" }, msgId);
}

export async function sendEmoticon(ctx: Ctx): Promise<void> {
  const s = await beginSend(ctx, 47);
  if (!s) return;
  if (isForward(s)) return forwardSticker(ctx, s, (md5, size) => stickerContent(md5, size, ""));
  if (s.msg.EmojiFlag !== 2) ctx.deviation("emojiflag", "EmojiFlag 2 expected");
  const up = ownUpload(ctx, s.session, s.msg.MediaId, ["doc", "pic"]);
  if (!up) return;
  const msgId = finishSend(ctx, s, "sticker", { mediaId: up.record.mediaId, fileName: up.record.fileName });
  registerRef(ctx.state, up.record.md5, { store: "media", key: msgId });
  relay(ctx.state, s.session.account, s.targetId, 47, () => ({ Content: stickerContent(up.record.md5, up.record.size, "") }), { data: up.data, mime: "image/gif" }, msgId);
}

const xml = new XMLParser({ ignoreAttributes: false, parseTagValue: false, processEntities: true });

export async function sendAppMsg(ctx: Ctx): Promise<void> {
  const s = await beginSend(ctx, [6, 49], FORWARDABLE_APPS);
  if (!s) return;
  if (isForward(s)) return forwardAppMsg(ctx, s, fileMsgFields, newMediaId);
  if (s.msg.Type === 49) ctx.deviation("appmsg-type", "Type 49 instead of 6 for a file appmsg");
  const content = typeof s.msg.Content === "string" ? s.msg.Content : "";
  let parsed: unknown;
  try {
    parsed = xml.parse(content, true);
  } catch (err) {
    ctx.violation("appmsg-xml", `Content is not well-formed XML (${err instanceof Error ? err.message.split("\n")[0] : "?"}); XML-escape the file name`);
    ctx.fail(1);
    return;
  }
  const appmsg = isRecord(parsed) && isRecord(parsed.appmsg) ? parsed.appmsg : undefined;
  const attach = appmsg && isRecord(appmsg.appattach) ? appmsg.appattach : undefined;
  if (!appmsg || !attach || String(appmsg.type) !== "6") {
    ctx.violation("appmsg-fields", "Content must be an <appmsg> with <type>6</type> and <appattach>");
    ctx.fail(1);
    return;
  }
  const appId = String(appmsg["@_appid"] ?? "");
  if (s.session.desktop && appId !== FILE_APPID) {
    // Desktop-mode file messages without it do not arrive: every working desktop-mode client sends it.
    ctx.violation("appmsg-appid", `desktop mode: a file appmsg must carry appid='${FILE_APPID}' (got '${appId}')`);
    ctx.fail(1);
    return;
  }
  const up = ownUpload(ctx, s.session, attach.attachid, ["doc", "pic", "video"]);
  if (!up) return;
  const title = String(appmsg.title ?? "");
  if (Number(attach.totallen) !== up.record.size) {
    ctx.violation("appmsg-size", "totallen must be the uploaded size");
    ctx.fail(1);
    return;
  }
  if (title !== up.record.fileName) ctx.deviation("appmsg-title", "title differs from the uploaded file name");
  if (up.record.size > CHECK_UPLOAD_OVER) {
    const check = ctx.state.checkUploads.get(up.record.md5);
    // docs/protocol.md puts the Signature "into the appmsg"; the official web client sends it as Msg.Signature: accept either.
    const signed = check !== undefined && (content.includes(check.signature) || s.msg.Signature === check.signature);
    if (!signed) ctx.deviation("appmsg-signature", "appmsg of a file over 25 MB should carry the Signature");
  }
  const msgId = finishSend(ctx, s, "file", { mediaId: up.record.mediaId, fileName: title, appId });
  const mediaId = newMediaId();
  const owners = new Set(ctx.state.world.accounts.filter((a) => a !== s.session.account).map((a) => a.index));
  ctx.state.files.set(mediaId, { data: up.data, fileName: title, owners });
  registerRef(ctx.state, mediaId, { store: "file", key: mediaId });
  relay(ctx.state, s.session.account, s.targetId, 49, () => fileMsgFields(title, up.data.length, mediaId), undefined, msgId);
}

/** App message types a forward may carry (docs/protocol.md section 6; red packets, transfers, live locations never). */
const FORWARDABLE_APPS = [3, 4, 5, 6, 8, 33, 36, 57];

/** `ref`: the CDN url a forward names the image by (forward.ts). */
export function imageContent(data: Buffer, ref: string): string {
  const md5 = createHash("md5").update(data).digest("hex");
  const key = ref ? createHash("md5").update(ref).digest("hex") : "";
  return escapeWire(`<?xml version="1.0"?>\n<msg>\n\t<img aeskey="${key}" encryver="1" cdnthumbaeskey="${key}" cdnthumburl="${ref}" cdnthumblength="${TINY_PNG.length}" cdnthumbheight="100" cdnthumbwidth="100" cdnmidheight="0" cdnmidwidth="0" cdnhdheight="0" cdnhdwidth="0" cdnmidimgurl="${ref}" length="${data.length}" md5="${md5}" />\n</msg>`).replace(/\n/g, "<br/>");
}

/** Laid out like the real server's: "<br/>" then a TAB before the element (docs/protocol.md section 9). */
export function videoContent(data: Buffer, ref: string, seconds: number): string {
  const key = ref ? createHash("md5").update(ref).digest("hex") : "";
  const xml = `<?xml version="1.0"?>\n<msg>\n\t<videomsg aeskey="${key}" cdnthumbaeskey="${key}" cdnvideourl="${ref}" cdnthumburl="${ref}" length="${data.length}" playlength="${seconds}" cdnthumblength="0" cdnthumbwidth="100" cdnthumbheight="100" fromusername="" md5="" newmd5="" isad="0" />\n</msg>`;
  return escapeWire(xml).replace(/\n/g, "<br/>");
}

/** A sticker's Content: known by its md5; a store sticker (productid set) may come without one. */
export function stickerContent(md5: string, size: number, productId: string): string {
  return escapeWire(`<msg><emoji fromusername="" tousername="" type="2" md5="${md5}" len="${size}" productid="${productId}" androidmd5="${md5}" /></msg>`);
}

export function fileMsgFields(fileName: string, size: number, mediaId: string): Record<string, unknown> {
  const ext = (/\.([^.]+)$/.exec(fileName)?.[1] ?? "").toLowerCase();
  const xmlName = escapeWire(fileName);
  const appmsg = `<msg><appmsg appid="" sdkver="0"><title>${xmlName}</title><des></des><action></action><type>6</type><showtype>0</showtype><content></content><url></url><appattach><totallen>${size}</totallen><attachid>${mediaId}</attachid><fileext>${escapeWire(ext)}</fileext></appattach><extinfo></extinfo></appmsg></msg>`;
  return { Content: escapeWire(appmsg), AppMsgType: 6, FileName: escapeWire(fileName), FileSize: String(size), MediaId: mediaId, EncryFileName: encodeURIComponent(fileName) };
}

// ---- downloads ----------------------------------------------------------------------------------------------------

function mediaFor(ctx: Ctx, session: Session): { data: Buffer; mime: string } | undefined {
  const msgId = ctx.q("MsgID") ?? ctx.q("msgid");
  if (ctx.raw.get("MsgID") === undefined && ctx.raw.get("msgid") !== undefined && ctx.endpoint === "webwxgetmsgimg") ctx.deviation("msgid-case", "webwxgetmsgimg takes MsgID");
  const blob = msgId ? ctx.state.media.get(msgId) : undefined;
  if (!blob || !blob.owners.has(session.account.index)) {
    ctx.violation("media-unknown", "no media for this MsgId in this account");
    sendText(ctx.res, 404, "", "text/plain");
    return undefined;
  }
  return blob;
}

export function getMsgImg(ctx: Ctx): void {
  const session = authGet(ctx, { skey: true, dataTicket: true });
  if (!session) return;
  const blob = mediaFor(ctx, session);
  if (!blob) return;
  if (ctx.q("type") === "slave") sendText(ctx.res, 200, TINY_PNG, "image/jpeg");
  else sendText(ctx.res, 200, blob.data, blob.mime);
}

export function getVoice(ctx: Ctx): void {
  const session = authGet(ctx, { skey: true, dataTicket: true });
  if (!session) return;
  const blob = mediaFor(ctx, session);
  if (blob) sendText(ctx.res, 200, blob.data, "audio/mpeg");
}

export function getVideo(ctx: Ctx): void {
  const session = authGet(ctx, { skey: true, dataTicket: true });
  if (!session) return;
  const blob = mediaFor(ctx, session);
  if (!blob) return;
  const range = /^bytes=(\d*)-(\d*)$/.exec(String(ctx.req.headers.range ?? ""));
  if (!range) {
    ctx.deviation("range-missing", "webwxgetvideo is fetched with Range: bytes=0-");
    sendText(ctx.res, 200, blob.data, "video/mp4", { "Accept-Ranges": "bytes" });
    return;
  }
  const size = blob.data.length;
  const start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
  const end = range[1] && range[2] ? Math.min(size - 1, Number(range[2])) : size - 1;
  if (start >= size || start > end) {
    sendText(ctx.res, 416, "", "text/plain", { "Content-Range": `bytes */${size}` });
    return;
  }
  sendText(ctx.res, 206, blob.data.subarray(start, end + 1), "video/mp4", { "Accept-Ranges": "bytes", "Content-Range": `bytes ${start}-${end}/${size}` });
}

export function getMedia(ctx: Ctx): void {
  const session = authGet(ctx, { skey: false, dataTicket: true });
  if (!session) return;
  const mediaId = ctx.q("mediaid") ?? "";
  const file = ctx.state.files.get(mediaId);
  const bad = (rule: string, detail: string): void => {
    ctx.violation(rule, detail);
    sendText(ctx.res, 404, "", "text/plain");
  };
  if (!file || !file.owners.has(session.account.index)) return bad("media-unknown", "mediaid is not a file this account received");
  if (ctx.q("webwx_data_ticket") !== session.dataTicket) return bad("field-invalid", "webwx_data_ticket query must be the cookie's value");
  const sender = ctx.q("sender");
  if (!sender || !session.entityOf(sender)) return bad("field-invalid", "sender must be the FromUserName of the message");
  if (ctx.q("encryfilename") === undefined) {
    if (ctx.q("filename") === undefined) return bad("field-missing", "encryfilename is required");
    ctx.deviation("encryfilename", "filename instead of encryfilename");
  }
  const fromuser = ctx.q("fromuser");
  if (fromuser !== String(session.uin)) {
    if (fromuser === session.knownUserName(session.account.personId)) ctx.deviation("fromuser", "fromuser is the UserName, the official client sends wxuin");
    else return bad("field-invalid", "fromuser must be the wxuin");
  }
  sendText(ctx.res, 200, file.data, "application/octet-stream", { "Content-Disposition": `attachment; filename*=UTF-8''${encodeURIComponent(file.fileName)}` });
}
