import { WeChatError } from "../../lib/wechat/errors";
import { sniffImage } from "../../lib/wechat/util";
import { loadImage } from "../shared/image";
import type { Node, NodeAPI, NodeDef, NodeMessage } from "../shared/red";
import { sourceAccessOf, type SourceDef } from "../shared/source";
import { withSent } from "../shared/target";
import { targetResolver } from "../shared/typed-target";
import { attachUser } from "../shared/user-node";

interface SendImageDef extends NodeDef, SourceDef {
  account?: string;
  /** Stable name (remark, nickname, alias, group name), never a UserName; or a property when targetType says so. */
  target?: string;
  /** The typedInput type of target: str (default, and for flows saved before it), msg, flow, global or env. */
  targetType?: string;
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
    const targetOf = targetResolver(RED, this, config);
    const sources = sourceAccessOf(RED, this, config);
    attachUser(RED, this, config.account, {
      handle: async (account, msg, send) => {
        const client = account.onlineClient();
        const contact = await targetOf(msg, client);
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
