import type { NodeAPI, NodeDef, Node, NodeMessage } from "../shared/red";
import { mentionsOf, resolveTarget, withSent } from "../shared/target";
import { attachUser } from "../shared/user-node";
import { textOf } from "../shared/text";

interface SendTextDef extends NodeDef {
  account?: string;
  /** Stable name (remark, nickname, alias, group name): never a UserName. */
  target?: string;
}

export = function register(RED: NodeAPI): void {
  function WxSendTextNode(this: Node, config: SendTextDef): void {
    RED.nodes.createNode(this, config);
    const configured = typeof config.target === "string" ? config.target : "";
    attachUser(RED, this, config.account, {
      handle: async (account, msg: NodeMessage, send) => {
        const text = textOf(msg.payload);
        const client = account.onlineClient();
        const contact = await resolveTarget(msg, configured, client);
        const mentions = mentionsOf(msg, contact);
        const result = await client.sendText(contact.userName, text, mentions ? { mentions } : undefined);
        send(withSent(msg, result));
      },
    });
  }
  RED.nodes.registerType("wx-send-text", WxSendTextNode);
};
