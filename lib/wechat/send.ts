import { createHash } from "node:crypto";
import type { Json, SessionApi } from "./api";
import type { ContactStore } from "./contacts";
import { WeChatError, isWeChatError } from "./errors";
import { SendQueue, buildFileAppMsgFields, buildMentionSource, mentionText, multipartBody, uploadPlan } from "./outbox";
import type { ForwardRequest, SendQueueTuning, UploadPlan } from "./outbox";
import { findMember, memberName, requireGroup } from "./members";
import { MsgType } from "./messages/constants";
import { str } from "./messages/fields";
import { isMentioned } from "./messages/text";
import type { Contact, PacingOptions, SendFileOptions, SendResult } from "./types";
import { ClientMsgIds, sniffMime } from "./util";

/**
 * Our guard on one text message. The web protocol documents no limit; phones cap long texts and the server
 * refuses huge bodies with a bare Ret 1, so a clear error up front is kinder than a vague refusal.
 */
export const MAX_TEXT_LENGTH = 16_000;

/** The type-specific fields of a send's Msg (the rest is added by post()). */
interface MsgFields {
  Type: number;
  Content?: string;
  MediaId?: string;
  EmojiFlag?: number;
  MsgSource?: string | undefined;
  Signature?: string;
  EMoticonMd5?: string;
}

/** Friend and group operations: one per 5 s, no burst (they are what gets accounts restricted). */
export const DEFAULT_ACTION_PACING: PacingOptions = { perMinute: 12, burst: 1, jitter: 0.3 };

export interface SenderOptions {
  pacing?: PacingOptions | false | undefined;
  /** Extra pacing of friend / group operations (default DEFAULT_ACTION_PACING). */
  actionPacing?: PacingOptions | false | undefined;
  queue?: SendQueueTuning | undefined;
  /** Where LocalID / ClientMsgId come from: the client keeps one source across its sessions (never the same id). */
  ids?: ClientMsgIds;
  warn(message: string): void;
}

/**
 * Everything this session sends: text (with real @mentions), images, videos, stickers and files (chunked upload,
 * checkupload over 25 MB). Every send goes through one SendQueue: pacing across all chats, slowing down on 1205.
 */
export class Sender {
  private readonly queue: SendQueue;
  private readonly ids: ClientMsgIds;

  constructor(
    private readonly api: SessionApi,
    private readonly contacts: ContactStore,
    options: SenderOptions,
  ) {
    this.ids = options.ids ?? new ClientMsgIds();
    const actionPacing = options.actionPacing === undefined ? DEFAULT_ACTION_PACING : options.actionPacing;
    this.queue = new SendQueue(options.pacing ?? { perMinute: 60 }, { ...options.queue, actionPacing });
    this.queue.on("throttled", (intervalMs, info) => {
      options.warn(`sending too fast (1205): slowing down to one message every ${Math.round(intervalMs / 100) / 10} s, pausing ${Math.round(info.pauseMs / 1000)} s`);
    });
  }

  /** The queue, for observers (tests, status). */
  get sendQueue(): SendQueue {
    return this.queue;
  }

  close(reason?: WeChatError): void {
    this.queue.close(reason);
  }

  sendText(to: Contact, text: string, mentions: string[]): Promise<SendResult> {
    if (typeof text !== "string" || text === "") throw new WeChatError("INVALID_ARGUMENT", "text must be a non-empty string");
    if (text.length > MAX_TEXT_LENGTH) {
      throw new WeChatError("TOO_LARGE", `text of ${text.length} characters is over the ${MAX_TEXT_LENGTH}-character limit: split it`);
    }
    let content = text;
    let msgSource: string | undefined;
    if (mentions.length > 0) {
      requireGroup(to, "mentions only work in groups");
      const members = mentions.map((m) => findMember(to, m, this.contacts));
      const missing = [...new Set(members.map(memberName))].filter((name) => !isMentioned(content, [name]));
      if (missing.length > 0) content = mentionText(missing, content);
      msgSource = buildMentionSource(members.map((m) => m.userName), to.userName);
    }
    return this.queue.run(async () => {
      const answer = await this.post("webwxsendmsg", "webwxsendmsg", {}, to, {
        Type: MsgType.TEXT,
        Content: content,
        MsgSource: msgSource,
      });
      return answer;
    });
  }

  sendMedia(to: Contact, data: Buffer, options: SendFileOptions): Promise<SendResult> {
    if (!Buffer.isBuffer(data)) throw new WeChatError("INVALID_ARGUMENT", "data must be a Buffer");
    const mime = options.mime ?? sniffMime(data, options.fileName);
    const plan = uploadPlan(data, options.fileName, mime, options.as);
    return this.queue.run(async () => {
      const uploaded = await this.upload(to, data, plan);
      switch (plan.sendAs) {
        case "image":
          return this.post("webwxsendmsgimg", "webwxsendmsgimg", { fun: "async", f: "json" }, to, { Type: MsgType.IMAGE, MediaId: uploaded.mediaId, Content: "" });
        case "video":
          return this.post("webwxsendvideomsg", "webwxsendvideomsg", { fun: "async", f: "json" }, to, { Type: MsgType.VIDEO, MediaId: uploaded.mediaId, Content: "" });
        case "sticker":
          return this.post("webwxsendemoticon", "webwxsendemoticon", { fun: "sys" }, to, { Type: MsgType.STICKER, EmojiFlag: 2, MediaId: uploaded.mediaId });
        case "file":
          return this.post("webwxsendappmsg", "webwxsendappmsg", { fun: "async", f: "json" }, to, {
            ...buildFileAppMsgFields({
              title: plan.fileName,
              size: data.length,
              mediaId: uploaded.mediaId,
              ext: plan.ext,
              signature: uploaded.signature,
            }),
          });
      }
    });
  }

  /** A received message again, by reference (outbox/forward.ts): no download, no upload; paced like every send. */
  forward(to: Contact, request: ForwardRequest): Promise<SendResult> {
    return this.queue.run(() => this.post(request.what, request.path, request.query, to, request.fields, request.scene), `forward ${request.kind}`);
  }

  /**
   * One send call. A failure after the request may have reached the server (a reset, a timeout, a 5xx, an answer
   * that cannot be read) becomes SEND_UNCERTAIN with the ClientMsgId, and is never resent: the server is not known
   * to drop a repeated ClientMsgId, so a resend could reach the chat twice (docs/protocol.md section 2).
   */
  private async post(what: string, path: string, query: Record<string, string>, to: Contact, fields: MsgFields, scene: 0 | 2 = 0): Promise<SendResult> {
    const localId = this.ids.next();
    let answer: Json;
    try {
      answer = await this.api.send(what, path, query, {
        ...fields,
        FromUserName: this.api.session.user.userName,
        ToUserName: to.userName,
        LocalID: localId,
        ClientMsgId: localId,
      }, scene);
    } catch (error) {
      if (isWeChatError(error) && error.afterSent && error.code !== "CLOSED") {
        throw new WeChatError(
          "SEND_UNCERTAIN",
          `${what}: the message may or may not have been sent (ClientMsgId ${localId}); it is not sent again: look in the chat (${error.message})`,
          { clientMsgId: localId, afterSent: true },
        );
      }
      throw error;
    }
    return { msgId: str(answer.MsgID), localId: str(answer.LocalID) || localId, to: to.userName, toHandle: to.handle, time: Date.now() };
  }

  /** The chunked upload; the MediaId of the last chunk (or of checkupload when the server has the file). */
  private async upload(to: Contact, data: Buffer, plan: UploadPlan): Promise<{ mediaId: string; signature?: string | undefined }> {
    const session = this.api.session;
    const md5 = createHash("md5").update(data).digest("hex");
    const self = session.user.userName;
    let extra: Json = {};
    let signature: string | undefined;
    if (plan.needsCheckUpload) {
      const check = await this.api.checkUpload({
        FileMd5: md5,
        FileName: plan.fileName,
        FileSize: data.length,
        FileType: 7,
        FromUserName: self,
        ToUserName: to.userName,
      });
      signature = str(check.Signature) || undefined;
      const existing = str(check.MediaId);
      if (existing) return { mediaId: existing, signature };
      extra = { AESKey: str(check.AESKey), Signature: str(check.Signature) };
    }
    const request = JSON.stringify({
      UploadType: 2,
      BaseRequest: session.baseRequest(),
      ClientMediaId: Date.now(),
      TotalLen: data.length,
      StartPos: 0,
      DataLen: data.length,
      MediaType: 4,
      FromUserName: self,
      ToUserName: to.userName,
      FileMd5: md5,
      ...extra,
    });
    const ticket = (await this.api.http.cookie(`${session.hosts.file}/`, "webwx_data_ticket")) ?? "";
    const lastModified = new Date().toString();
    const chunks = plan.chunks;
    let mediaId = "";
    for (let index = 0; index < chunks.length; index++) {
      const chunk = chunks[index]!;
      const fields: Array<[string, string]> = [
        ["id", "WU_FILE_0"],
        ["name", plan.fileName],
        ["type", plan.mime],
        ["lastModifiedDate", lastModified],
        ["size", String(data.length)],
      ];
      if (chunks.length > 1) fields.push(["chunks", String(chunks.length)], ["chunk", String(index)]);
      fields.push(
        ["mediatype", plan.mediatype],
        ["uploadmediarequest", request],
        ["webwx_data_ticket", ticket],
        ["pass_ticket", session.passTicket],
      );
      const form = multipartBody(fields, {
        name: "filename",
        fileName: plan.fileName,
        contentType: "application/octet-stream",
        data: data.subarray(chunk.start, chunk.end),
      });
      const answer = await this.api.uploadChunk(form);
      mediaId = str(answer.MediaId) || mediaId;
    }
    if (!mediaId) throw new WeChatError("PROTOCOL", "webwxuploadmedia: no MediaId after the last chunk");
    return { mediaId, signature };
  }
}
