import type { SendFileOptions } from "../../lib/wechat/types";

export type SendAs = NonNullable<SendFileOptions["as"]>;
/** How a wx-send-file node may send, besides "auto" (by the file's type); also the editor's choices. */
export const SEND_AS: readonly SendAs[] = ["image", "video", "sticker", "file"];
