import { isWeChatError } from "../../lib/wechat/errors";
import type { Message } from "../../lib/wechat/types";
import type { WxAccount } from "../wx-account/account";
import type { Node, NodeAPI, NodeMessage } from "../shared/red";
import { attachUser } from "../shared/user-node";
import { filterOf, passes, type ReceiveDef } from "./filter";

const DEFAULT_MAX_MB = 10;

export = function register(RED: NodeAPI): void {
  function setup(node: Node, config: ReceiveDef): void {
    const filter = filterOf(config);
    const maxMb = Number(config.maxSize);
    const maxBytes = Math.round((Number.isFinite(maxMb) && maxMb > 0 ? maxMb : DEFAULT_MAX_MB) * 1024 * 1024);
    const download = config.download === true;
    // Messages leave in arrival order even when a download takes a while.
    let queue: Promise<void> = Promise.resolve();
    let closed = false;

    const emit = async (message: Message): Promise<void> => {
      const wechat: Message & { downloadError?: { code: string; message: string } } = structuredClone(message);
      const msg: NodeMessage = { payload: wechat.text, topic: wechat.chat.displayName, wechat };
      const client = account?.runningClient();
      if (download && message.media && client) {
        try {
          msg.payload = await client.download(message, { maxBytes });
        } catch (error) {
          const code = isWeChatError(error) ? error.code : "ERROR";
          wechat.downloadError = { code, message: error instanceof Error ? error.message : String(error) };
          node.warn(`${RED._("wx-receive.warn.download")}: ${wechat.downloadError.message}`);
        }
      }
      if (!closed) node.send(msg);
    };

    const account: WxAccount | undefined = attachUser(RED, node, config.account, {
      onMessage: (message) => {
        if (closed) return;
        const client = account?.runningClient();
        if (!passes(message, filter, (userName) => client?.getContact(userName))) return;
        queue = queue.then(() => emit(message)).catch((error: unknown) => node.warn(String(error)));
      },
    });
    node.on("close", (_removed, done) => {
      closed = true;
      done();
    });
  }
  function WxReceiveNode(this: Node, config: ReceiveDef): void {
    RED.nodes.createNode(this, config);
    setup(this, config);
  }
  RED.nodes.registerType("wx-receive", WxReceiveNode);
};
