import type { ChatRef, Contact, GroupMember, MediaInfo, Message, MessageType } from "../types";
import { WeChatError } from "../errors";
import { parseXml, xmlPath, xmlString } from "../util/xml";
import { sanitizeFileName } from "../util/filename";
import { isGroupUserName, isSpecialUserName } from "./contact";
import { num, obj, str } from "./fields";
import { decodeContent, isMentioned, splitGroupPrefix, unescapeXmlContent } from "./text";
import type { RawMessage } from "./wire";
import { AppMsgType, MsgType } from "./constants";

export interface NormalizeContext {
  self: { userName: string; nickName: string };
  lookup(userName: string): Contact | undefined;
  memberLookup(roomUserName: string, memberUserName: string): GroupMember | undefined;
  /** Clock for messages without CreateTime (default Date.now). */
  now?(): number;
  /**
   * The entries are the caller's to give away: fresh out of JSON.parse and referenced nowhere else (Inbound's
   * answers). Each becomes Message.raw as it is, without the copy (~1 µs a message, and its garbage: issue #19).
   */
  entriesHandedOver?: boolean;
}

/** Largest XML we parse out of one message's Content. */
const MAX_CONTENT_XML_BYTES = 256 * 1024;
const BARE_AMPERSAND = /&(?!(?:[A-Za-z][A-Za-z0-9]{0,31}|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});)/g;

/**
 * Every UserName an AddMsgList entry mentions that the caller should know before normalising it:
 * sender, receiver, and the member prefix of an incoming group message.
 */
export function referencedUserNames(raw: RawMessage): string[] {
  const entry = obj(raw);
  if (!entry) return [];
  const names = new Set<string>();
  const from = str(entry.FromUserName);
  const to = str(entry.ToUserName);
  if (from) names.add(from);
  if (to) names.add(to);
  if (isGroupUserName(from)) {
    const member = splitGroupPrefix(str(entry.Content)).memberUserName;
    if (member) names.add(member);
  }
  return [...names];
}

const MAX_COPY_DEPTH = 512;

/** What JSON.parse(JSON.stringify(value)) gives, built directly (several times faster on a message entry). */
function jsonCopy(value: unknown, depth: number): unknown {
  if (value === null) return null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "object":
      break;
    case "bigint":
      throw new TypeError("bigint");
    default:
      return undefined;
  }
  if (depth > MAX_COPY_DEPTH) throw new RangeError("too deep");
  const source = value as Record<string, unknown> & { toJSON?: unknown };
  if (typeof source.toJSON === "function") return JSON.parse(JSON.stringify(value)) as unknown;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = jsonCopy(value[i], depth + 1);
      out[i] = item === undefined ? null : item;
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    const item = jsonCopy(source[key], depth + 1);
    if (item === undefined) continue;
    if (key === "__proto__") Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item;
  }
  return out;
}

/** The entry for Message.raw: a plain JSON copy the application may keep or change. */
function plainCopy(raw: Record<string, unknown>): Record<string, unknown> {
  try {
    // Fast path for what JSON.parse made: a spread of the top level, nested objects (RecommendInfo, AppInfo)
    // copied on their own. Anything JSON would change (undefined, NaN, functions...) takes the general copy.
    if (Object.getPrototypeOf(raw) === Object.prototype && Object.getOwnPropertySymbols(raw).length === 0) {
      const copy: Record<string, unknown> = { ...raw };
      for (const key in copy) {
        const value = copy[key];
        const type = typeof value;
        if (type === "string" || type === "boolean" || value === null || (type === "number" && Number.isFinite(value))) continue;
        if (type !== "object" || key === "__proto__") return obj(jsonCopy(raw, 0)) ?? {};
        copy[key] = jsonCopy(value, 1);
      }
      return copy;
    }
    return obj(jsonCopy(raw, 0)) ?? {};
  } catch {
    return {};
  }
}

/** Parses the (usually HTML-escaped) XML of a Content field; undefined when it is not XML. */
function contentXml(content: string): Record<string, unknown> | undefined {
  if (content === "") return undefined;
  // Content is normally escaped ("&lt;msg&gt;"); raw XML is taken as is so its own entities survive.
  const text = /^\s*</.test(content) ? content : unescapeXmlContent(content);
  const start = text.indexOf("<");
  if (start === -1) return undefined;
  // A bare "&" (an unescaped URL) would make the whole document malformed: escape it.
  const xml = text.slice(start).replace(BARE_AMPERSAND, "&amp;");
  try {
    return parseXml(xml, { maxBytes: MAX_CONTENT_XML_BYTES });
  } catch {
    return undefined;
  }
}

function attr(node: unknown, name: string): string {
  return str(xmlPath(node, `@_${name}`));
}

function coordinate(value: string): number | undefined {
  const n = num(value);
  return n !== undefined && Math.abs(n) <= 180 ? n : undefined;
}

/** lat,lng from a maps URL such as ...geocoder?coord=40.075041,116.338994 */
function coordFromUrl(url: string): { lat?: number | undefined; lng?: number | undefined } {
  const match = /[?&]coord=(-?\d+(?:\.\d+)?)(?:,|%2C)(-?\d+(?:\.\d+)?)/i.exec(url);
  if (!match) return {};
  return { lat: coordinate(match[1] ?? ""), lng: coordinate(match[2] ?? "") };
}

function joinDescription(label: string, detail: string): string {
  return detail.trim() === "" ? label : `${label} ${detail.trim()}`;
}

interface Resolver {
  ref(userName: string): ChatRef;
  memberRef(roomUserName: string, memberUserName: string): ChatRef;
}

function makeResolver(ctx: NormalizeContext): Resolver {
  const selfUserName = ctx.self.userName;
  const selfRef = (): ChatRef => {
    const contact = ctx.lookup(selfUserName);
    const name = ctx.self.nickName || contact?.nickName || selfUserName;
    return { userName: selfUserName, handle: contact?.handle || name, displayName: name, kind: "self" };
  };
  const ref = (userName: string): ChatRef => {
    if (userName !== "" && userName === selfUserName) return selfRef();
    const contact = ctx.lookup(userName);
    if (contact) return { userName, handle: contact.handle, displayName: contact.displayName, kind: contact.kind };
    if (isGroupUserName(userName)) return { userName, handle: "", displayName: userName, kind: "group" };
    if (isSpecialUserName(userName)) return { userName, handle: userName, displayName: userName, kind: "special" };
    return { userName, handle: "", displayName: userName, kind: "stranger" };
  };
  const memberRef = (roomUserName: string, memberUserName: string): ChatRef => {
    if (memberUserName === selfUserName) return selfRef();
    const contact = ctx.lookup(memberUserName);
    const member = ctx.memberLookup(roomUserName, memberUserName);
    if (contact && contact.kind !== "stranger") {
      const displayName = contact.remarkName || member?.displayName || contact.displayName;
      return { userName: memberUserName, handle: contact.handle, displayName, kind: contact.kind };
    }
    if (member) {
      const displayName = member.displayName || member.nickName || memberUserName;
      return { userName: memberUserName, handle: member.nickName, displayName, kind: contact?.kind ?? "stranger" };
    }
    return ref(memberUserName);
  };
  return { ref, memberRef };
}

/** What a message is, from its type fields and content (filled into the Message by normalizeMessage). */
interface Body {
  type: MessageType;
  text: string;
  appMsgType?: number;
  media?: MediaInfo;
  url?: string;
  title?: string;
  location?: Message["location"];
  card?: Message["card"];
  friendRequest?: Message["friendRequest"];
  recall?: Message["recall"];
  /** Overrides the sender (friend requests: the requester). */
  sender?: ChatRef;
}

function dimensions(raw: Record<string, unknown>, media: MediaInfo): MediaInfo {
  const width = num(raw.ImgWidth);
  const height = num(raw.ImgHeight);
  if (width !== undefined && width > 0) media.width = width;
  if (height !== undefined && height > 0) media.height = height;
  return media;
}

/** The byte size a media message's XML announces (<msg><img length="...">), when it does. */
function withSize(media: MediaInfo, content: string, element: string): MediaInfo {
  if (!/^\s*(?:<|&lt;)/.test(content)) return media;
  const size = num(attr(xmlPath(contentXml(content), "msg", element), "length"));
  if (size !== undefined && size > 0) media.size = size;
  return media;
}

function locationBody(raw: Record<string, unknown>, content: string): Body {
  const xml = contentXml(str(raw.OriContent)) ?? contentXml(content);
  const node = xmlPath(xml, "msg", "location");
  const url = str(raw.Url);
  let label = attr(node, "label") || attr(node, "poiname");
  if (label === "" && !/^\s*(?:<|&lt;)/.test(content)) {
    // Web form: "<label>:<br/>/cgi-bin/mmwebwx-bin/webwxgetpubliclinkimg?..."
    label = decodeContent(content.split(/:<br\s*\/?>/i)[0] ?? "").trim();
  }
  const fromUrl = coordFromUrl(url);
  const lat = coordinate(attr(node, "x")) ?? fromUrl.lat;
  const lng = coordinate(attr(node, "y")) ?? fromUrl.lng;
  const location: NonNullable<Message["location"]> = { label };
  if (lat !== undefined) location.lat = lat;
  if (lng !== undefined) location.lng = lng;
  if (url !== "") location.url = url;
  const body: Body = { type: "location", text: joinDescription("[location]", label), location };
  if (url !== "") body.url = url;
  return body;
}

function appBody(raw: Record<string, unknown>, content: string): Body {
  const xml = contentXml(content);
  const app = xmlPath(xml, "msg", "appmsg") ?? xmlPath(xml, "appmsg");
  const appMsgType = num(raw.AppMsgType) || num(xmlString(app, "type")) || 0;
  const title = xmlString(app, "title") || decodeContent(str(raw.FileName));
  const des = xmlString(app, "des");
  const url = xmlString(app, "url") || str(raw.Url);
  const base = (type: MessageType, text: string): Body => {
    const body: Body = { type, text, appMsgType };
    if (title !== "") body.title = title;
    if (url !== "") body.url = url;
    return body;
  };

  switch (appMsgType) {
    case AppMsgType.LINK:
    case AppMsgType.MUSIC:
    case AppMsgType.VIDEO_LINK:
      return base("link", joinDescription("[link]", title));
    case AppMsgType.FILE: {
      const original = decodeContent(str(raw.FileName)) || title;
      const body = base("file", joinDescription("[file]", original));
      const media: MediaInfo = { kind: "file", fileName: sanitizeFileName(original, "file") };
      const size = num(raw.FileSize) ?? num(xmlString(app, "appattach", "totallen"));
      if (size !== undefined) media.size = size;
      const mediaId = str(raw.MediaId) || xmlString(app, "appattach", "attachid");
      if (mediaId !== "") media.mediaId = mediaId;
      body.media = media;
      return body;
    }
    case AppMsgType.STICKER: {
      const body = base("sticker", "[sticker]");
      body.media = dimensions(raw, { kind: "sticker" });
      const mediaId = str(raw.MediaId);
      if (mediaId !== "") body.media.mediaId = mediaId;
      return body;
    }
    case AppMsgType.LIVE_LOCATION: {
      const body = base("location", joinDescription("[live location]", title));
      body.location = { label: title };
      return body;
    }
    case AppMsgType.MINI_PROGRAM:
    case AppMsgType.MINI_PROGRAM_2: {
      const appName = xmlString(app, "sourcedisplayname") || xmlString(xml, "msg", "appinfo", "appname");
      const detail = appName && title ? `${appName}: ${title}` : appName || title;
      return base("mini-program", joinDescription("[mini program]", detail));
    }
    case AppMsgType.TRANSFER: {
      const amount = xmlString(app, "wcpayinfo", "feedesc");
      const memo = xmlString(app, "wcpayinfo", "pay_memo");
      return base("transfer", joinDescription("[transfer]", [amount, memo].filter(Boolean).join(" ") || des || title));
    }
    case AppMsgType.RED_PACKET: {
      const greeting = xmlString(app, "wcpayinfo", "sendertitle") || xmlString(app, "wcpayinfo", "receivertitle");
      return base("red-packet", joinDescription("[red packet]", greeting || title));
    }
    case AppMsgType.REPLY: {
      // A quote-reply: the title is the reply's own text.
      const body = base("text", title);
      delete body.url;
      return body;
    }
    case AppMsgType.FILE_UPLOADING:
      return base("status", joinDescription("[file upload]", title));
    case AppMsgType.CHAT_HISTORY:
      return base("unknown", joinDescription("[chat history]", title));
    default:
      return base("unknown", joinDescription(`[app message ${appMsgType}]`, title));
  }
}

function bodyFor(raw: Record<string, unknown>, msgType: number, content: string, resolver: Resolver): Body {
  switch (msgType) {
    case MsgType.TEXT:
      if (str(raw.Url) !== "" && num(raw.SubMsgType) === MsgType.LOCATION) return locationBody(raw, content);
      return { type: "text", text: decodeContent(content) };
    case MsgType.IMAGE:
      return { type: "image", text: "[image]", media: withSize(dimensions(raw, { kind: "image" }), content, "img") };
    case MsgType.VOICE: {
      const media: MediaInfo = { kind: "voice" };
      const ms = num(raw.VoiceLength);
      if (ms !== undefined && ms >= 0) media.durationMs = ms;
      return { type: "voice", text: "[voice]", media: withSize(media, content, "voicemsg") };
    }
    case MsgType.VIDEO:
    case MsgType.SHORT_VIDEO: {
      const media = dimensions(raw, { kind: "video" });
      const seconds = num(raw.PlayLength);
      if (seconds !== undefined && seconds >= 0) media.durationMs = seconds * 1000;
      return { type: "video", text: "[video]", media: withSize(media, content, "videomsg") };
    }
    case MsgType.STICKER: {
      const emoji = xmlPath(contentXml(content), "msg", "emoji");
      const media = dimensions(raw, { kind: "sticker" });
      const width = num(attr(emoji, "width"));
      const height = num(attr(emoji, "height"));
      if (media.width === undefined && width !== undefined && width > 0) media.width = width;
      if (media.height === undefined && height !== undefined && height > 0) media.height = height;
      const body: Body = { type: "sticker", text: "[sticker]", media };
      const cdnUrl = attr(emoji, "cdnurl");
      if (cdnUrl !== "") body.url = cdnUrl;
      return body;
    }
    case MsgType.LOCATION:
      return locationBody(raw, content);
    case MsgType.APP:
      return appBody(raw, content);
    case MsgType.CARD: {
      const info = obj(raw.RecommendInfo) ?? {};
      const node = xmlPath(contentXml(content), "msg");
      const card: NonNullable<Message["card"]> = {
        userName: str(info.UserName) || attr(node, "username"),
        nickName: decodeContent(str(info.NickName)) || attr(node, "nickname"),
      };
      const alias = decodeContent(str(info.Alias)) || attr(node, "alias");
      if (alias !== "") card.alias = alias;
      return { type: "card", text: joinDescription("[card]", card.nickName), card };
    }
    case MsgType.FRIEND_REQUEST: {
      const info = obj(raw.RecommendInfo) ?? {};
      const node = xmlPath(contentXml(content), "msg");
      const userName = str(info.UserName) || attr(node, "fromusername");
      const nickName = decodeContent(str(info.NickName)) || attr(node, "fromnickname");
      const greeting = decodeContent(str(info.Content)) || attr(node, "content");
      const request: NonNullable<Message["friendRequest"]> = {
        userName,
        nickName,
        greeting,
        ticket: str(info.Ticket) || attr(node, "ticket"),
      };
      const scene = num(info.Scene) ?? num(attr(node, "scene"));
      if (scene !== undefined) request.scene = scene;
      const known = userName !== "" ? resolver.ref(userName) : undefined;
      const sender: ChatRef =
        known && known.kind !== "stranger" ? known : { userName, handle: nickName, displayName: nickName || userName, kind: "stranger" };
      const text = joinDescription("[friend request]", greeting ? `${nickName}: ${greeting}` : nickName);
      return { type: "friend-request", text, friendRequest: request, sender };
    }
    case MsgType.POSSIBLE_FRIEND: {
      const info = obj(raw.RecommendInfo) ?? {};
      return { type: "status", text: joinDescription("[possible friend]", decodeContent(str(info.NickName))) };
    }
    case MsgType.RECALL: {
      const revoke = xmlPath(contentXml(content), "sysmsg", "revokemsg");
      const recall = { msgId: xmlString(revoke, "msgid"), replaceText: decodeContent(xmlString(revoke, "replacemsg")) };
      return { type: "recall", text: recall.replaceText || "[recall]", recall };
    }
    case MsgType.SYSTEM:
      return { type: "system", text: decodeContent(content) };
    case MsgType.STATUS_NOTIFY:
      return { type: "status", text: `[status notify ${num(raw.StatusNotifyCode) ?? 0}]` };
    case MsgType.VOIP_MSG:
    case MsgType.VOIP_NOTIFY:
    case MsgType.VOIP_INVITE:
      return { type: "status", text: "[voip]" };
    case MsgType.SYS_NOTICE:
      return { type: "status", text: "[system notice]" };
    default:
      return { type: "unknown", text: `[message type ${msgType}]` };
  }
}

/**
 * Turns one AddMsgList entry into the public Message: who it is from and where (docs/protocol.md section 5),
 * decoded text, and the details of its type. Never throws for odd content; throws PROTOCOL only when the
 * entry is not an object at all.
 */
export function normalizeMessage(raw: RawMessage, ctx: NormalizeContext): Message {
  return normalizeWith(raw, ctx, makeResolver(ctx));
}

/**
 * normalizeMessage for many entries in one context (a sync answer's, Inbound): the context's name lookups are
 * bound once, not for every message (issue #19).
 */
export function messageNormalizer(ctx: NormalizeContext): (raw: RawMessage) => Message {
  const resolver = makeResolver(ctx);
  return (raw) => normalizeWith(raw, ctx, resolver);
}

function normalizeWith(raw: RawMessage, ctx: NormalizeContext, resolver: Resolver): Message {
  const entry = obj(raw);
  if (!entry) throw new WeChatError("PROTOCOL", "message: an AddMsgList entry is not an object");
  const selfUserName = ctx.self.userName;
  const from = str(entry.FromUserName);
  const to = str(entry.ToUserName);
  const msgType = num(entry.MsgType) ?? 0;
  let content = str(entry.Content);

  let roomUserName: string | undefined;
  let senderUserName = from;
  if (isGroupUserName(from)) {
    roomUserName = from;
    const split = splitGroupPrefix(content);
    if (split.memberUserName !== undefined) {
      senderUserName = split.memberUserName;
      content = split.body;
    }
  } else if (isGroupUserName(to)) {
    // Sent by this account from the phone: no prefix, the group is the receiver.
    roomUserName = to;
  }
  const fromSelf = selfUserName !== "" && (from === selfUserName || senderUserName === selfUserName);

  const body = bodyFor(entry, msgType, content, resolver);
  const room = roomUserName !== undefined ? resolver.ref(roomUserName) : undefined;
  const chat = room ?? resolver.ref(fromSelf ? to : from);
  const sender =
    body.sender ??
    (roomUserName !== undefined && senderUserName !== roomUserName
      ? resolver.memberRef(roomUserName, senderUserName)
      : resolver.ref(senderUserName));

  let mentioned = false;
  if (roomUserName !== undefined && !fromSelf && body.type === "text") {
    const inGroup = ctx.memberLookup(roomUserName, selfUserName)?.displayName;
    mentioned = isMentioned(body.text, [inGroup || ctx.self.nickName]);
  }

  const createTime = num(entry.CreateTime);
  const message: Message = {
    id: str(entry.MsgId),
    type: body.type,
    msgType,
    time: createTime !== undefined ? createTime * 1000 : (ctx.now ?? Date.now)(),
    chat,
    sender,
    fromSelf,
    mentioned,
    text: body.text,
    raw: ctx.entriesHandedOver ? entry : plainCopy(entry),
  };
  const newId = str(entry.NewMsgId);
  if (newId !== "") message.newId = newId;
  if (room) message.room = room;
  if (body.appMsgType !== undefined) message.appMsgType = body.appMsgType;
  if (body.media) message.media = body.media;
  if (body.url !== undefined) message.url = body.url;
  if (body.title !== undefined) message.title = body.title;
  if (body.location) message.location = body.location;
  if (body.card) message.card = body.card;
  if (body.friendRequest) message.friendRequest = body.friendRequest;
  if (body.recall) message.recall = body.recall;
  return message;
}
