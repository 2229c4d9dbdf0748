import type { NodeAPI, NodeDef, Node, NodeMessage } from "../shared/red";
import { mentionsOf, withSent } from "../shared/target";
import { targetResolver } from "../shared/typed-target";
import { attachUser } from "../shared/user-node";
import { textOf } from "../shared/text";

interface SendTextDef extends NodeDef {
  account?: string;
  /** Stable name (remark, nickname, alias, group name), never a UserName; or a property when targetType says so. */
  target?: string;
  /** The typedInput type of target: str (default, and for flows saved before it), msg, flow, global or env. */
  targetType?: string;
}

export = function register(RED: NodeAPI): void {
  function WxSendTextNode(this: Node, config: SendTextDef): void {
    RED.nodes.createNode(this, config);
    const targetOf = targetResolver(RED, this, config);
    attachUser(RED, this, config.account, {
      handle: async (account, msg: NodeMessage, send) => {
        const text = textOf(msg.payload);
        const client = account.onlineClient();
        const contact = await targetOf(msg, client);
        const mentions = mentionsOf(msg, contact);
        const result = await client.sendText(contact.userName, text, mentions ? { mentions } : undefined);
        send(withSent(msg, result));
      },
    });
  }
  RED.nodes.registerType("wx-send-text", WxSendTextNode);
};
