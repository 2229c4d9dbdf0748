import { WeChatError } from "../errors";
import { AppMsgType } from "../messages/constants";
import { escapeXml } from "../util/xml";

/**
 * appid of file messages, in web and desktop (UOS) mode alike: every working desktop-mode client sends it
 * (docs/protocol.md section 6).
 */
export const WEB_FILE_APPID = "wxeb7ec651dd0aefa9";
/** The appmsg `<type>` and Msg.Type of a file: AppMsgType.FILE. */
export const APPMSG_TYPE_FILE = AppMsgType.FILE;

export interface FileAppMsgInput {
  /** The file name shown to the receiver (XML-escaped here). */
  title: string;
  size: number;
  /** The MediaId of the finished upload. */
  mediaId: string;
  /** File extension without the dot. */
  ext: string;
  /**
   * From webwxcheckupload (files over 25 MB). The official web client sends it as Msg.Signature, docs/protocol.md
   * puts it "into the appmsg": it goes into both (<appattach><signature>), which the server accepts either way.
   */
  signature?: string | undefined;
}

function checkInput(input: FileAppMsgInput): void {
  if (!Number.isSafeInteger(input.size) || input.size < 0) {
    throw new WeChatError("INVALID_ARGUMENT", "file message: size must be a non-negative integer");
  }
  if (typeof input.mediaId !== "string" || input.mediaId === "") {
    throw new WeChatError("INVALID_ARGUMENT", "file message: mediaId is required");
  }
}

/**
 * The <appmsg> Content of a file message (docs/protocol.md section 6), byte for byte as the official web client
 * builds it, with the title, media id and extension XML-escaped.
 */
export function buildFileAppMsg(input: FileAppMsgInput): string {
  checkInput(input);
  return (
    `<appmsg appid='${WEB_FILE_APPID}' sdkver=''>` +
    `<title>${escapeXml(String(input.title ?? ""))}</title>` +
    "<des></des><action></action>" +
    `<type>${APPMSG_TYPE_FILE}</type>` +
    "<content></content><url></url><lowurl></lowurl>" +
    "<appattach>" +
    `<totallen>${input.size}</totallen>` +
    `<attachid>${escapeXml(input.mediaId)}</attachid>` +
    `<fileext>${escapeXml(String(input.ext ?? ""))}</fileext>` +
    (input.signature ? `<signature>${escapeXml(input.signature)}</signature>` : "") +
    "</appattach>" +
    "<extinfo></extinfo>" +
    "</appmsg>"
  );
}

export interface FileAppMsgFields {
  Type: typeof AppMsgType.FILE;
  Content: string;
  /** Present for checked (large) uploads: the official client sends it beside Content. */
  Signature?: string;
}

/** The type-specific Msg fields of webwxsendappmsg for a file (add FromUserName, ToUserName, LocalID, ClientMsgId). */
export function buildFileAppMsgFields(input: FileAppMsgInput): FileAppMsgFields {
  const fields: FileAppMsgFields = { Type: APPMSG_TYPE_FILE, Content: buildFileAppMsg(input) };
  if (input.signature) fields.Signature = input.signature;
  return fields;
}
