import { WeChatError } from "../../lib/wechat/errors";
import { requireGroup } from "../../lib/wechat/members";
import type { Contact } from "../../lib/wechat/types";
import type { WxAccount } from "../shared/account";
import { contactOut } from "../shared/contacts";
import type { Node, NodeAPI, NodeDef, NodeMessage } from "../shared/red";
import { chooseTarget, isRecord, withSent } from "../shared/target";
import { type NodeTarget, configuredTarget, evaluateTarget } from "../shared/typed-target";
import { attachUser } from "../shared/user-node";
import { ACTIONS, type Action, actionOf, forwardSourceOf, forwardTargets, friendRequestOf, nameList, sentOf, textArg } from "./args";

interface ActionDef extends NodeDef {
  account?: string;
  action?: string;
  /** Stable name of the contact or group acted on, or a property when targetType says so. */
  target?: string;
  /** The typedInput type of target: str (default, and for flows saved before it), msg, flow, global or env. */
  targetType?: string;
  /** create-group / rename-group: the group name. */
  topic?: string;
  /** create-group / add-members / remove-members: names, comma separated. */
  members?: string;
  /** set-remark: the remark ("" clears it). */
  remark?: string;
}

interface Defaults {
  action: Action;
  /** The node's target, read for this msg (typed-target.ts). */
  target: NodeTarget;
  topic: string;
  members: string[] | undefined;
  remark: string;
}

/** What msg.wechat.action says about a done action: the contact acted on, by current UserName and stable handle. */
function acted(msg: NodeMessage, action: Action, contact?: Contact): void {
  const wechat = isRecord(msg.wechat) ? msg.wechat : {};
  const info: Record<string, unknown> = { action };
  if (contact) info.target = { userName: contact.userName, handle: contact.handle, displayName: contact.displayName, type: contact.kind };
  msg.wechat = { ...wechat, action: info };
}

async function run(account: WxAccount, msg: NodeMessage, d: Defaults): Promise<void> {
  const action = actionOf(msg.action, d.action);
  if (action === "logout") {
    await account.logout();
    acted(msg, action);
    return;
  }
  const client = account.onlineClient();
  const target = (): Promise<Contact> => client.findContact(chooseTarget(msg, d.target, client, "target").target);
  const members = (): string[] => {
    const list = nameList(msg.members, "msg.members") ?? d.members;
    if (!list) throw new WeChatError("INVALID_ARGUMENT", `${action} needs members: msg.members or the node's members`);
    return list;
  };
  const topic = (): string => {
    const value = textArg(msg, ["topic", "payload"], d.topic);
    if (value === "") throw new WeChatError("INVALID_ARGUMENT", `${action} needs a group name: msg.topic, msg.payload or the node's group name`);
    return value;
  };
  switch (action) {
    case "recall":
      await client.revoke(sentOf(msg));
      acted(msg, action);
      return;
    case "accept-friend": {
      const request = friendRequestOf(msg);
      await client.acceptFriend(request);
      acted(msg, action, client.getContact(request.userName));
      return;
    }
    case "set-remark": {
      const contact = await target();
      const remark = typeof msg.remark === "string" ? msg.remark.trim() : d.remark;
      await client.setRemark(contact.userName, remark);
      acted(msg, action, contact);
      return;
    }
    case "pin":
    case "unpin": {
      const contact = await target();
      await client.pin(contact.userName, action === "pin");
      acted(msg, action, contact);
      return;
    }
    case "create-group": {
      const name = topic();
      const group = await client.createGroup(name, members());
      msg.payload = contactOut(group, true);
      acted(msg, action, group);
      return;
    }
    case "add-members":
    case "remove-members": {
      const group = requireGroup(await target(), action);
      const list = members();
      if (action === "add-members") await client.addMembers(group.userName, list);
      else await client.removeMembers(group.userName, list);
      acted(msg, action, group);
      return;
    }
    case "rename-group": {
      const group = requireGroup(await target(), action);
      await client.renameGroup(group.userName, topic());
      acted(msg, action, group);
      return;
    }
    case "mark-read": {
      const contact = await target();
      await client.markRead(contact.userName);
      acted(msg, action, contact);
      return;
    }
    case "forward": {
      // One target after the other, through the send queue; msg.wechat.forwarded lists what went out so far (also
      // on the msg a Catch node gets when a later target fails), msg.wechat.sent the last (for a recall).
      const source = forwardSourceOf(msg);
      const forwarded: unknown[] = [];
      for (const to of forwardTargets(msg, d.target, client)) {
        withSent(msg, await client.forward(source, to));
        forwarded.push((msg.wechat as Record<string, unknown>).sent);
        msg.wechat = { ...(msg.wechat as Record<string, unknown>), forwarded };
      }
      acted(msg, action);
      return;
    }
    case "avatar": {
      const group = typeof msg.group === "string" && msg.group.trim() !== "" ? msg.group.trim() : undefined;
      if (group !== undefined) {
        // A member's avatar: msg.target names the member within msg.group.
        const member = textArg(msg, ["target"], typeof d.target.value === "string" ? d.target.value.trim() : "");
        if (member === "") throw new WeChatError("INVALID_ARGUMENT", "avatar with msg.group needs msg.target (the member's name)");
        msg.payload = await client.avatar(member, { group });
        acted(msg, action, await client.findContact(group));
      } else {
        const contact = await target();
        msg.payload = await client.avatar(contact.userName);
        acted(msg, action, contact);
      }
      return;
    }
  }
}

export = function register(RED: NodeAPI): void {
  function WxActionNode(this: Node, config: ActionDef): void {
    RED.nodes.createNode(this, config);
    const target = configuredTarget(config);
    const defaults: Omit<Defaults, "target"> = {
      action: ACTIONS.find((a) => a === config.action) ?? "recall",
      topic: typeof config.topic === "string" ? config.topic.trim() : "",
      members: nameList(typeof config.members === "string" ? config.members : undefined, "members"),
      remark: typeof config.remark === "string" ? config.remark.trim() : "",
    };
    attachUser(RED, this, config.account, {
      handle: async (account, msg, send) => {
        await run(account, msg, { ...defaults, target: await evaluateTarget(RED, this, target, msg) });
        send(msg);
      },
    });
  }
  RED.nodes.registerType("wx-action", WxActionNode);
};
