export { SendQueue } from "./send-queue";
export type { SendQueueDeps, SendQueueTuning, SendQueueOptions, SendQueueEvents, ThrottleInfo } from "./send-queue";
export { buildFileAppMsg, buildFileAppMsgFields, WEB_FILE_APPID, APPMSG_TYPE_FILE } from "./appmsg";
export type { FileAppMsgInput, FileAppMsgFields } from "./appmsg";
export { uploadPlan, UPLOAD_CHUNK_SIZE, CHECK_UPLOAD_THRESHOLD, MAX_VIDEO_BYTES, MAX_FILE_BYTES } from "./upload";
export type { UploadPlan, SendAs, UploadMediaType } from "./upload";
export { buildMentionSource, mentionText, MENTION_SEPARATOR } from "./mention";
export { multipartBody } from "./multipart";
export type { MultipartFile } from "./multipart";
