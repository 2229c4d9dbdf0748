import type { SessionApi } from "./api";
import { WeChatError } from "./errors";
import { raw } from "./http";
import { str } from "./messages/fields";
import type { Message } from "./types";

/** Downloads are refused beyond this unless the caller sets maxBytes (files go up to about 100 MB). */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 110 * 1024 * 1024;

const field = (message: Message, name: string): string => str(message.raw[name]);

/**
 * A received message's media (docs/protocol.md section 5): image / sticker via webwxgetmsgimg (thumbnail: type=slave),
 * voice via webwxgetvoice, video via webwxgetvideo with Range, file via file/webwxgetmedia. Cookies ride along
 * in the jar. Larger than maxBytes -> TOO_LARGE.
 */
export async function downloadMedia(api: SessionApi, message: Message, options: { thumbnail?: boolean; maxBytes?: number }): Promise<Buffer> {
  const media = message.media;
  if (!media) throw new WeChatError("INVALID_ARGUMENT", "this message has no media");
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
  if (!(maxBytes > 0)) throw new WeChatError("INVALID_ARGUMENT", "maxBytes must be positive");
  if (media.size !== undefined && media.size > maxBytes && !options.thumbnail) {
    throw new WeChatError("TOO_LARGE", `the media is ${media.size} bytes, more than the ${maxBytes} allowed`);
  }
  const session = api.session;
  const msgId = message.id;
  switch (media.kind) {
    case "image":
    case "sticker":
      return api.media(
        "webwxgetmsgimg",
        api.mediaUrl("webwxgetmsgimg", { MsgID: msgId, skey: session.skey, type: options.thumbnail ? "slave" : "big" }),
        maxBytes,
      );
    case "voice":
      return api.media("webwxgetvoice", api.mediaUrl("webwxgetvoice", { msgid: msgId, skey: session.skey }), maxBytes);
    case "video":
      return api.media("webwxgetvideo", api.mediaUrl("webwxgetvideo", { msgid: msgId, skey: session.skey }), maxBytes, {
        range: "bytes=0-",
      });
    case "file": {
      const mediaId = media.mediaId ?? field(message, "MediaId");
      if (!mediaId) throw new WeChatError("INVALID_ARGUMENT", "this file message has no MediaId");
      const fileUrl = `${session.hosts.file}/`;
      const ticket = (await api.http.cookie(fileUrl, "webwx_data_ticket")) ?? "";
      return api.media(
        "webwxgetmedia",
        api.mediaUrl(
          "webwxgetmedia",
          {
            sender: field(message, "FromUserName"),
            mediaid: mediaId,
            encryfilename: field(message, "EncryFileName"),
            fromuser: session.uin,
            pass_ticket: raw(session.passTicket),
            webwx_data_ticket: ticket,
          },
          session.hosts.file,
        ),
        maxBytes,
      );
    }
  }
}
