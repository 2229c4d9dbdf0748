import { WeChatError } from "../../lib/wechat/errors";
import { sniffImage } from "../../lib/wechat/util";
import { loadImage } from "../shared/image";
import type { Node, NodeAPI, NodeDef, NodeMessage } from "../shared/red";
import { sourceAccessOf, type SourceDef } from "../shared/source";
import { resolveTarget, withSent } from "../shared/target";
import { attachUser } from "../shared/user-node";

interface SendImageDef extends NodeDef, SourceDef {
  account?: string;
  /** Stable name (remark, nickname, alias, group name): never a UserName. */
  target?: string;
}

function fileNameOf(msg: NodeMessage, fallback: string | undefined, ext: string): string {
  const given = typeof msg.filename === "string" && msg.filename.trim() !== "" ? msg.filename.trim() : fallback;
  // Only the last path segment: a name, never a path.
  const base = given ? given.split(/[\\/]/).pop() ?? "" : "";
  if (base === "") return `image.${ext}`;
  return /\.[A-Za-z0-9]{1,5}$/.test(base) ? base : `${base}.${ext}`;
}

export = function register(RED: NodeAPI): void {
  function WxSendImageNode(this: Node, config: SendImageDef): void {
    RED.nodes.createNode(this, config);
    const configured = typeof config.target === "string" ? config.target : "";
    const sources = sourceAccessOf(RED, this, config);
    attachUser(RED, this, config.account, {
      handle: async (account, msg, send) => {
        const client = account.onlineClient();
        const contact = await resolveTarget(msg, configured, client);
        const image = await loadImage(msg.payload, sources);
        if (image.data.length === 0) throw new WeChatError("INVALID_ARGUMENT", "the image is empty");
        const type = sniffImage(image.data);
        if (!type) throw new WeChatError("INVALID_ARGUMENT", "msg.payload is not an image (PNG, JPEG, GIF, WebP or BMP)");
        const fileName = fileNameOf(msg, image.name, type.ext);
        const result = await client.sendImage(contact.userName, image.data, { fileName, mime: type.mime });
        send(withSent(msg, result));
      },
    });
  }
  RED.nodes.registerType("wx-send-image", WxSendImageNode);
};
