import { randomBytes } from "node:crypto";
import { decodeHTML } from "entities";
import { XMLParser } from "fast-xml-parser";
import type { Ctx } from "./context";
import { isRecord } from "./http";
import type { SandboxState } from "./state";
import type { SentType } from "./types";
import { finishSend, relay, type SendContext } from "./webwx";

/**
 * Forwards by reference (docs/protocol.md section 6, "Forwarding"): the send calls with `Scene: 2` and `MediaId: ""`
 * (stickers: `EMoticonMd5`, `Scene: 0`) name media the server already holds through the original message's
 * Content: the CDN url of an image or video, the md5 of a sticker, the attachid (MediaId) of a file. The sandbox
 * issues such a reference with every media message it delivers and keeps what each names; a forward whose
 * reference it never issued, or whose media is gone (evicted from the media budget), is refused with Ret 1
 * (bad parameters, docs/protocol.md section 8) and recorded as a violation.
 */

/** What a reference names: a blob of `state.media` (by MsgId) or of `state.files` (by MediaId). */
export interface ForwardRef {
  store: "media" | "file";
  key: string;
}

/** References kept at most (oldest forgotten first): far more than a test sends. */
const REFS_KEPT = 100_000;

export function registerRef(state: SandboxState, ref: string, target: ForwardRef): string {
  state.forwardRefs.set(ref, target);
  if (state.forwardRefs.size > REFS_KEPT) state.forwardRefs.delete(state.forwardRefs.keys().next().value as string);
  return ref;
}

/** A CDN url for the media of message `msgId` (the value of `cdnmidimgurl` / `cdnvideourl` in its Content). */
export function cdnRef(state: SandboxState, msgId: string): string {
  return registerRef(state, `3057020100044b30490201000204${randomBytes(24).toString("hex")}`, { store: "media", key: msgId });
}

/** The Msg fields a forward carries, exactly (docs/protocol.md section 6; wechat4u's forwardMsg sends the same). */
const BY_REFERENCE = ["Type", "MediaId", "Content", "FromUserName", "ToUserName", "LocalID", "ClientMsgId"];
const STICKER_BY_MD5 = ["Type", "EmojiFlag", "EMoticonMd5", "FromUserName", "ToUserName", "LocalID", "ClientMsgId"];

/** True when this send is a forward: Scene 2, or a sticker named by its md5. */
export function isForward(s: SendContext): boolean {
  return s.body.Scene === 2 || (s.msg.Type === 47 && s.msg.EMoticonMd5 !== undefined && s.msg.MediaId === undefined);
}

/** Answers Ret 1 (the violation is recorded by the caller): false, "do not go on". */
function refuse(ctx: Ctx): false {
  ctx.fail(1);
  return false;
}

/** Unknown or missing fields of a forward: each a violation, answered Ret 1. */
function checkFields(ctx: Ctx, s: SendContext, fields: string[], scene: 0 | 2): boolean {
  const unknown = Object.keys(s.msg).filter((k) => !fields.includes(k));
  const missing = fields.filter((k) => s.msg[k] === undefined);
  const bodyUnknown = Object.keys(s.body).filter((k) => !["BaseRequest", "Msg", "Scene"].includes(k));
  if (unknown.length > 0 || bodyUnknown.length > 0) {
    ctx.violation("forward-field-unknown", `a forward carries no ${[...unknown.map((k) => `Msg.${k}`), ...bodyUnknown].join(", ")}`);
    return refuse(ctx);
  }
  if (missing.length > 0) {
    ctx.violation("field-missing", `a forward needs Msg.${missing.join(", Msg.")}`);
    return refuse(ctx);
  }
  if (s.body.Scene !== scene) {
    ctx.violation("field-invalid", `this forward is sent with Scene ${scene}`);
    return refuse(ctx);
  }
  if (scene === 2 && s.msg.MediaId !== "") {
    ctx.violation("field-invalid", 'a forward sends MediaId "": the media is named by the Content');
    return refuse(ctx);
  }
  if (fields.includes("Content") && (typeof s.msg.Content !== "string" || s.msg.Content === "")) {
    ctx.violation("field-invalid", "a forward carries the original Content");
    return refuse(ctx);
  }
  return true;
}

/** The blob a reference names, or the refusal: unknown (never issued, or not this account's) or stale (gone). */
function resolveRef(ctx: Ctx, s: SendContext, ref: string | undefined, what: string, anyAccount = false): { data: Buffer; mime: string; fileName?: string } | undefined {
  const target = ref ? ctx.state.forwardRefs.get(ref) : undefined;
  if (!target) {
    ctx.violation("forward-unknown", `${what}: the reference in the forward names nothing this server issued`);
    return ctx.fail(1);
  }
  const blob = target.store === "media" ? ctx.state.media.get(target.key) : ctx.state.files.get(target.key);
  if (!blob) {
    ctx.violation("forward-stale", `${what}: the referenced media is no longer kept (evicted or expired)`);
    return ctx.fail(1);
  }
  if (!anyAccount && !blob.owners.has(s.session.account.index)) {
    ctx.violation("forward-unknown", `${what}: the reference is not of a message this account received or sent`);
    return ctx.fail(1);
  }
  return { data: blob.data, mime: "mime" in blob ? blob.mime : "application/octet-stream", ...("fileName" in blob ? { fileName: blob.fileName } : {}) };
}

/** The value of attribute `name` in a Content (entities decoded once, as the server reads it). */
function attribute(content: string, name: string): string | undefined {
  const text = decodeHTML(content);
  return new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`).exec(text)?.[1];
}

/** Media a forwarded message carries to its receivers (and the sender, who may forward it again). */
function keep(state: SandboxState, s: SendContext, msgId: string, media: { data: Buffer; mime: string }): void {
  state.media.set(msgId, { ...media, owners: new Set([s.session.account.index]) });
}

function send(ctx: Ctx, s: SendContext, type: SentType, extra: { text?: string; fileName?: string } = {}): string {
  return finishSend(ctx, s, type, { ...extra, forwarded: true });
}

const escapeAngles = (text: string): string => text.replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The wire text of a forwarded text: `<` and `>` escaped again, the server's own `<br/>` and emoji spans kept. */
function rewire(content: string): string {
  return content
    .split(/(<br\s*\/?>|<span class="emoji emoji[0-9a-f]+"><\/span>)/)
    .map((part, i) => (i % 2 === 1 ? part : escapeAngles(part)))
    .join("");
}

export function forwardText(ctx: Ctx, s: SendContext, location: (msgId: string, label: string, lat: number, lng: number) => Record<string, unknown>): void {
  if (!checkFields(ctx, s, BY_REFERENCE, 2)) return;
  const content = String(s.msg.Content);
  if (s.msg.Type === 48) {
    const loc = parseLocation(content);
    if (!loc) {
      ctx.violation("forward-location", "a forwarded location carries the original OriContent (<msg><location x= y= label= />)");
      ctx.fail(1);
      return;
    }
    const msgId = send(ctx, s, "location", { text: loc.label });
    relay(ctx.state, s.session.account, s.targetId, 1, () => location(msgId, loc.label, loc.lat, loc.lng), undefined, msgId);
    return;
  }
  const wire = rewire(content);
  const msgId = send(ctx, s, "text", { text: decodeHTML(wire.replace(/<br\s*\/?>/g, "\n")) });
  relay(ctx.state, s.session.account, s.targetId, 1, () => ({ Content: wire }), undefined, msgId);
}

const xml = new XMLParser({ ignoreAttributes: false, parseTagValue: false, processEntities: true });

function parseXml(text: string): Record<string, unknown> | undefined {
  for (const candidate of [text, decodeHTML(text)]) {
    try {
      const parsed: unknown = xml.parse(candidate.replace(/^[^<]*/, ""), true);
      if (isRecord(parsed)) return parsed;
    } catch {
      // the next candidate: entities decoded once
    }
  }
  return undefined;
}

function parseLocation(content: string): { label: string; lat: number; lng: number } | undefined {
  const doc = parseXml(content);
  const msg = doc && isRecord(doc.msg) ? doc.msg : undefined;
  const loc = msg && isRecord(msg.location) ? msg.location : undefined;
  const lat = Number(loc?.["@_x"]);
  const lng = Number(loc?.["@_y"]);
  if (!loc || !Number.isFinite(lat) || !Number.isFinite(lng)) return undefined;
  return { label: String(loc["@_label"] ?? loc["@_poiname"] ?? ""), lat, lng };
}

/**
 * An image or a video, named by the CDN url in its Content (`cdnmidimgurl` / `cdnvideourl`). `fields` builds the
 * receivers' Msg fields from the bytes and the new message's own CDN url.
 */
export function forwardCdnMedia(ctx: Ctx, s: SendContext, kind: "image" | "video", fields: (data: Buffer, ref: string) => Record<string, unknown>): void {
  if (!checkFields(ctx, s, BY_REFERENCE, 2)) return;
  const media = resolveRef(ctx, s, attribute(String(s.msg.Content), kind === "image" ? "cdnmidimgurl" : "cdnvideourl"), kind);
  if (!media) return;
  const msgId = send(ctx, s, kind);
  keep(ctx.state, s, msgId, media);
  const ref = cdnRef(ctx.state, msgId);
  relay(ctx.state, s.session.account, s.targetId, kind === "image" ? 3 : 43, () => fields(media.data, ref), media, msgId);
}

export function forwardSticker(ctx: Ctx, s: SendContext, content: (md5: string, size: number) => string): void {
  if (!checkFields(ctx, s, STICKER_BY_MD5, 0)) return;
  if (s.msg.EmojiFlag !== 2) {
    ctx.violation("field-invalid", "a sticker goes with EmojiFlag 2");
    ctx.fail(1);
    return;
  }
  const md5 = typeof s.msg.EMoticonMd5 === "string" ? s.msg.EMoticonMd5.toLowerCase() : undefined;
  // The server knows a sticker by its md5, whoever sent it first.
  const media = resolveRef(ctx, s, md5, "sticker", true);
  if (!media || !md5) return;
  const msgId = send(ctx, s, "sticker", { text: md5 });
  keep(ctx.state, s, msgId, media);
  relay(ctx.state, s.session.account, s.targetId, 47, () => ({ Content: content(md5, media.data.length), ImgHeight: 100, ImgWidth: 100 }), media, msgId);
}

/** A forwarded app message: a file by its attachid; links, replies, mini programs and the like as they are. */
export function forwardAppMsg(ctx: Ctx, s: SendContext, file: (fileName: string, size: number, mediaId: string) => Record<string, unknown>, newMediaId: () => string): void {
  if (!checkFields(ctx, s, BY_REFERENCE, 2)) return;
  const content = String(s.msg.Content);
  const doc = parseXml(content);
  const appmsg = doc && isRecord(doc.appmsg) ? doc.appmsg : doc && isRecord(doc.msg) && isRecord(doc.msg.appmsg) ? doc.msg.appmsg : undefined;
  if (!appmsg || String(appmsg.type) !== String(s.msg.Type)) {
    ctx.violation("appmsg-fields", "a forwarded app message carries its <appmsg> with the <type> of Msg.Type");
    ctx.fail(1);
    return;
  }
  const title = String(appmsg.title ?? "");
  if (s.msg.Type === 6) {
    const attach = isRecord(appmsg.appattach) ? appmsg.appattach : undefined;
    const media = resolveRef(ctx, s, attach ? String(attach.attachid ?? "") : undefined, "file");
    if (!media) return;
    const msgId = send(ctx, s, "file", { fileName: title });
    const mediaId = newMediaId();
    const owners = new Set(ctx.state.world.accounts.map((a) => a.index));
    ctx.state.files.set(mediaId, { data: media.data, fileName: media.fileName ?? title, owners });
    registerRef(ctx.state, mediaId, { store: "file", key: mediaId });
    keep(ctx.state, s, msgId, media);
    relay(ctx.state, s.session.account, s.targetId, 49, () => file(media.fileName ?? title, media.data.length, mediaId), undefined, msgId);
    return;
  }
  // The client undid only the escaping of "<" and ">": doing it again gives the original's wire form exactly.
  const url = String(appmsg.url ?? "");
  const inner = /<appmsg[\s>][\s\S]*<\/appmsg>/.exec(content)?.[0] ?? content;
  const msgId = send(ctx, s, "app", { text: decodeHTML(title) });
  relay(
    ctx.state,
    s.session.account,
    s.targetId,
    49,
    () => ({ Content: escapeAngles(`<msg>${inner}</msg>`), AppMsgType: Number(s.msg.Type), FileName: escapeAngles(title), ...(url ? { Url: escapeAngles(url) } : {}) }),
    undefined,
    msgId,
  );
}
