import { WeChatError } from "../errors";
import { num, obj, str } from "../messages/fields";
import { AppMsgType, MsgType } from "../messages/constants";
import { splitGroupPrefix, unescapeXmlContent } from "../messages/text";
import { escapeXml } from "../util/xml";

/**
 * Forwarding a received message by reference (docs/protocol.md section 6, "Forwarding"): the same send call as the
 * original's type, `Scene: 2`, `MediaId: ""` and the original Content (angle brackets unescaped, the group
 * sender prefix removed), so the server re-sends its own media: nothing is downloaded or uploaded.
 */

/** What forward() takes: a received message as the client emits it (`msg.wechat` in a flow), or its wire entry. */
export interface ForwardSource {
  /** The AddMsgList entry (Message.raw). */
  raw?: Record<string, unknown>;
}

/** One forward on the wire: the call, its query and the type-specific Msg fields. */
export interface ForwardRequest {
  what: string;
  path: string;
  query: Record<string, string>;
  scene: 0 | 2;
  fields: {
    Type: number;
    Content?: string;
    MediaId?: string;
    EmojiFlag?: number;
    EMoticonMd5?: string;
  };
  /** A short name of what is forwarded ("text", "image", ...), for messages and logs. */
  kind: string;
}

/** App messages the web client forwards as they are: links, music, videos, files, gifs, mini programs, replies. */
const FORWARDABLE_APPS = new Set<number>([
  AppMsgType.MUSIC,
  AppMsgType.VIDEO_LINK,
  AppMsgType.LINK,
  AppMsgType.FILE,
  AppMsgType.STICKER,
  AppMsgType.MINI_PROGRAM,
  AppMsgType.MINI_PROGRAM_2,
  AppMsgType.REPLY,
]);

const ASYNC_JSON = { fun: "async", f: "json" };
const APPMSG = /<appmsg[\s>][\s\S]*<\/appmsg>/;
const ATTACH_ID = /(<attachid>)[\s\S]*?(<\/attachid>)/;
const EMOTICON_MD5 = /\bmd5\s*=\s*"([0-9a-fA-F]{32})"/;

/** `&lt;` / `&gt;` back to `<` / `>`, nothing else (docs/protocol.md section 6: the rest stays as the server wrote it). */
function unescapeAngles(content: string): string {
  return content.replace(/&lt;/g, "<").replace(/&gt;/g, ">");
}

function notForwardable(what: string): WeChatError {
  return new WeChatError("NOT_FORWARDABLE", `forward: ${what} cannot be forwarded by reference`);
}

/**
 * The forward of one received message, or NOT_FORWARDABLE for what the web client cannot forward (voice, cards,
 * friend requests, store stickers without an md5, red packets, transfers, live locations, system notices, ...).
 * INVALID_ARGUMENT when `source` is not a received message.
 */
export function forwardRequest(source: ForwardSource | undefined): ForwardRequest {
  const raw = obj(obj(source)?.raw);
  if (!raw || str(raw.MsgId) === "" || num(raw.MsgType) === undefined) {
    throw new WeChatError("INVALID_ARGUMENT", "forward: a received message is required (msg.wechat as wx-receive sends it, with its raw entry)");
  }
  const msgType = num(raw.MsgType)!;
  const fromGroup = str(raw.FromUserName).startsWith("@@");
  // The original content without the "@member:<br/>" a group message carries (messages written by this account have none).
  const body = fromGroup ? splitGroupPrefix(str(raw.Content)).body : str(raw.Content);
  const content = unescapeAngles(body);
  const location = msgType === MsgType.LOCATION || (msgType === MsgType.TEXT && num(raw.SubMsgType) === MsgType.LOCATION);
  if (location) {
    const ori = str(raw.OriContent) || content;
    if (ori === "") throw notForwardable("a location without its content");
    return { what: "webwxsendmsg", path: "webwxsendmsg", query: {}, scene: 2, kind: "location", fields: { Type: MsgType.LOCATION, MediaId: "", Content: unescapeAngles(ori) } };
  }
  switch (msgType) {
    case MsgType.TEXT:
      if (content === "") throw notForwardable("an empty text");
      return { what: "webwxsendmsg", path: "webwxsendmsg", query: {}, scene: 2, kind: "text", fields: { Type: MsgType.TEXT, MediaId: "", Content: content } };
    case MsgType.IMAGE:
      return { what: "webwxsendmsgimg", path: "webwxsendmsgimg", query: ASYNC_JSON, scene: 2, kind: "image", fields: { Type: MsgType.IMAGE, MediaId: "", Content: content } };
    case MsgType.VIDEO:
    case MsgType.SHORT_VIDEO:
      // A micro video goes as a video (Type 43), through the same call.
      return { what: "webwxsendvideomsg", path: "webwxsendvideomsg", query: ASYNC_JSON, scene: 2, kind: "video", fields: { Type: MsgType.VIDEO, MediaId: "", Content: content } };
    case MsgType.STICKER: {
      // By its md5; a store sticker comes without one and cannot be forwarded.
      const md5 = EMOTICON_MD5.exec(unescapeXmlContent(body))?.[1];
      if (!md5) throw notForwardable("a store sticker (no md5)");
      return { what: "webwxsendemoticon", path: "webwxsendemoticon", query: { fun: "sys" }, scene: 0, kind: "sticker", fields: { Type: MsgType.STICKER, EmojiFlag: 2, EMoticonMd5: md5.toLowerCase() } };
    }
    case MsgType.APP: {
      const appMsgType = num(raw.AppMsgType) ?? 0;
      if (!FORWARDABLE_APPS.has(appMsgType)) throw notForwardable(appName(appMsgType));
      const appmsg = APPMSG.exec(content)?.[0];
      if (!appmsg) throw notForwardable("an app message without its <appmsg>");
      // The attachment is named by the original's MediaId: the server sends its own copy.
      const mediaId = str(raw.MediaId);
      const withAttach = ATTACH_ID.test(appmsg) ? appmsg.replace(ATTACH_ID, (_m, open: string, close: string) => `${open}${escapeXml(mediaId)}${close}`) : appmsg;
      return { what: "webwxsendappmsg", path: "webwxsendappmsg", query: ASYNC_JSON, scene: 2, kind: "app message", fields: { Type: appMsgType, MediaId: "", Content: withAttach } };
    }
    default:
      throw notForwardable(typeName(msgType));
  }
}

/** What refused types are called in the error message. */
const APP_NAMES: Record<number, string> = {
  [AppMsgType.RED_PACKET]: "a red packet",
  [AppMsgType.TRANSFER]: "a transfer",
  [AppMsgType.LIVE_LOCATION]: "a live location",
};
const TYPE_NAMES: Record<number, string> = {
  [MsgType.VOICE]: "a voice message",
  [MsgType.CARD]: "a contact card",
  [MsgType.FRIEND_REQUEST]: "a friend request",
};

const appName = (appMsgType: number): string => APP_NAMES[appMsgType] ?? `an app message of type ${appMsgType}`;
const typeName = (msgType: number): string => TYPE_NAMES[msgType] ?? `a message of type ${msgType}`;
