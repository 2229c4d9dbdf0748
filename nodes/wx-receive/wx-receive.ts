import * as path from "node:path";
import { errorText, isWeChatError } from "../../lib/wechat/errors";
import type { Message } from "../../lib/wechat/types";
import type { WxAccount } from "../shared/account";
import type { Node, NodeAPI, NodeMessage } from "../shared/red";
import { attachUser } from "../shared/user-node";
import { filterOf, passes, type ReceiveDef } from "./filter";
import { attachmentName, saveAttachment } from "./save";

const DEFAULT_MAX_MB = 10;
/** What a node may keep in its attachment folder in all, unless its Quota field says otherwise. */
const DEFAULT_QUOTA_MB = 500;
const MB = 1024 * 1024;

/** A positive number of MB from a field, else the default, in bytes. */
function megabytes(value: unknown, fallback: number): number {
  const mb = Number(value);
  return Math.round((Number.isFinite(mb) && mb > 0 ? mb : fallback) * MB);
}

export = function register(RED: NodeAPI): void {
  function setup(node: Node, config: ReceiveDef): void {
    const filter = filterOf(config);
    const maxBytes = megabytes(config.maxSize, DEFAULT_MAX_MB);
    const quotaBytes = megabytes(config.quota, DEFAULT_QUOTA_MB);
    const download = config.download === true;
    const dirSetting = download && typeof config.saveDir === "string" ? config.saveDir.trim() : "";
    // A relative folder is taken from the Node-RED user dir (not from wherever Node-RED was started).
    const base = typeof RED.settings.userDir === "string" ? RED.settings.userDir : process.cwd();
    const saveDir = dirSetting === "" ? "" : path.resolve(base, dirSetting);
    // Messages leave in arrival order even when a download takes a while.
    let queue: Promise<void> = Promise.resolve();
    let closed = false;

    const emit = async (message: Message): Promise<void> => {
      type Problem = { code: string; message: string };
      const wechat: Message & { downloadError?: Problem; saveError?: Problem } = structuredClone(message);
      const msg: NodeMessage = { payload: wechat.text, topic: wechat.chat.displayName, wechat };
      const problem = (error: unknown): Problem => ({
        code: isWeChatError(error) ? error.code : "ERROR",
        message: errorText(error),
      });
      const client = account?.runningClient();
      if (download && message.media && client) {
        let data: Buffer | undefined;
        try {
          data = await client.download(message, { maxBytes });
          msg.payload = data;
        } catch (error) {
          wechat.downloadError = problem(error);
          node.warn(`${RED._("wx-receive.warn.download")}: ${wechat.downloadError.message}`);
        }
        if (data && saveDir !== "") {
          try {
            msg.filename = await saveAttachment(saveDir, attachmentName(message, data), data, quotaBytes);
          } catch (error) {
            wechat.saveError = problem(error);
            node.warn(`${RED._("wx-receive.warn.save")}: ${wechat.saveError.message}`);
          }
        }
      }
      if (!closed) node.send(msg);
    };

    const account: WxAccount | undefined = attachUser(RED, node, config.account, {
      onMessage: (message) => {
        if (closed) return;
        const client = account?.runningClient();
        if (!passes(message, filter, (userName) => client?.getContact(userName))) return;
        queue = queue.then(() => emit(message)).catch((error: unknown) => node.warn(errorText(error)));
        // Settles once this message is sent on (or dropped): the account saves the sync position only after that.
        return queue;
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
