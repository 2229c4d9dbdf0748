import { WeChatError } from "../../lib/wechat/errors";

/** msg.payload as message text: strings as they are, buffers as UTF-8, other values as JSON. */
export function textOf(payload: unknown): string {
  let text: string;
  if (typeof payload === "string") text = payload;
  else if (payload === undefined || payload === null) text = "";
  else if (Buffer.isBuffer(payload)) text = payload.toString("utf8");
  else if (typeof payload === "object") text = JSON.stringify(payload);
  else text = String(payload);
  if (text.trim() === "") throw new WeChatError("INVALID_ARGUMENT", "msg.payload is empty: nothing to send");
  return text;
}
