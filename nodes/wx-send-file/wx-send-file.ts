import { WeChatError } from "../../lib/wechat/errors";
import type { SendFileOptions } from "../../lib/wechat/types";
import { MAX_FILE_BYTES } from "../../lib/wechat/outbox";
import { extensionFor, sanitizeFileName, sniffMime } from "../../lib/wechat/util";
import type { Node, NodeAPI, NodeDef, NodeMessage } from "../shared/red";
import { loadBytes, sourceAccessOf, type SourceDef } from "../shared/source";
import { withSent } from "../shared/target";
import { targetResolver } from "../shared/typed-target";
import { attachUser } from "../shared/user-node";
import { SEND_AS, type SendAs } from "./send-as";


interface SendFileDef extends NodeDef, SourceDef {
  account?: string;
  /** Stable name (remark, nickname, alias, group name), never a UserName; or a property when targetType says so. */
  target?: string;
  /** The typedInput type of target: str (default, and for flows saved before it), msg, flow, global or env. */
  targetType?: string;
  /** "auto" (by type) or one of SEND_AS. */
  as?: string;
}

/** How to send: msg.as, else the node's option; undefined = by the file's type. */
function sendAsOf(msg: NodeMessage, configured: SendAs | undefined): SendAs | undefined {
  const value = msg.as;
  if (value === undefined || value === null || value === "" || value === "auto") return configured;
  const found = SEND_AS.find((a) => a === value);
  if (!found) throw new WeChatError("INVALID_ARGUMENT", `msg.as must be one of auto, ${SEND_AS.join(", ")}`);
  return found;
}

/** The name the receiver sees: msg.filename, else the source's name, else "file" with an extension from the bytes. */
function fileNameOf(msg: NodeMessage, sourceName: string | undefined, data: Buffer): string {
  const given = typeof msg.filename === "string" && msg.filename.trim() !== "" ? msg.filename : sourceName;
  if (given !== undefined && given.trim() !== "") return sanitizeFileName(given, "file");
  const mime = sniffMime(data);
  const ext = extensionFor(mime);
  return ext === undefined ? "file" : `file.${ext}`;
}

export = function register(RED: NodeAPI): void {
  function WxSendFileNode(this: Node, config: SendFileDef): void {
    RED.nodes.createNode(this, config);
    const targetOf = targetResolver(RED, this, config);
    const as = SEND_AS.find((a) => a === config.as);
    const sources = sourceAccessOf(RED, this, config);
    attachUser(RED, this, config.account, {
      handle: async (account, msg, send) => {
        const client = account.onlineClient();
        const contact = await targetOf(msg, client);
        const sendAs = sendAsOf(msg, as);
        // Read no more than the largest upload; the library alone decides what each form may take (video under
        // 20 MB, any file up to 100 MB: lib/wechat/outbox/upload.ts), so the node and the library never disagree.
        const source = await loadBytes(msg.payload, { ...sources, maxBytes: MAX_FILE_BYTES, what: sendAs === "video" ? "video" : "file" });
        if (source.data.length === 0) throw new WeChatError("INVALID_ARGUMENT", "the file is empty (WeChat refuses zero-byte files)");
        const fileName = fileNameOf(msg, source.name, source.data);
        // By the bytes first (a name can lie), else by the name's extension.
        const mime = sniffMime(source.data, fileName);
        const options: SendFileOptions = { fileName, mime };
        if (sendAs) options.as = sendAs;
        const result = await client.sendFile(contact.userName, source.data, options);
        msg.filename = fileName;
        send(withSent(msg, result));
      },
    });
  }
  RED.nodes.registerType("wx-send-file", WxSendFileNode);
};
