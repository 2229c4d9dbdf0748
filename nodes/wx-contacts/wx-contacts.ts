import { WeChatError } from "../../lib/wechat/errors";
import { requireGroup } from "../../lib/wechat/members";
import type { ContactQuery } from "../../lib/wechat/types";
import { contactOut } from "../shared/contacts";
import type { Node, NodeAPI, NodeDef, NodeMessage } from "../shared/red";
import { attachUser } from "../shared/user-node";

type Action = "list" | "get" | "members" | "refresh";
type Kind = "friend" | "group" | "official" | "all";

const ACTIONS: readonly Action[] = ["list", "get", "members", "refresh"];
/** Plural forms are accepted from msgs ("friends", "groups"). */
const KINDS: Record<string, Kind> = {
  friend: "friend",
  friends: "friend",
  group: "group",
  groups: "group",
  official: "official",
  all: "all",
};

interface ContactsDef extends NodeDef {
  account?: string;
  action?: string;
  kind?: string;
  /** list: substring filter; get / members: the stable name of the contact or group. */
  query?: string;
}

function optionalString(msg: NodeMessage, key: string): string | undefined {
  const value = msg[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new WeChatError("INVALID_ARGUMENT", `msg.${key} must be a string`);
  return value.trim();
}

export = function register(RED: NodeAPI): void {
  function WxContactsNode(this: Node, config: ContactsDef): void {
    RED.nodes.createNode(this, config);
    const defaults = {
      action: ACTIONS.find((a) => a === config.action) ?? "list",
      kind: KINDS[config.kind ?? "all"] ?? "all",
      query: typeof config.query === "string" ? config.query.trim() : "",
    };
    attachUser(RED, this, config.account, {
      handle: async (account, msg, send) => {
        const actionText = optionalString(msg, "action");
        const action = actionText === undefined || actionText === "" ? defaults.action : ACTIONS.find((a) => a === actionText);
        if (!action) throw new WeChatError("INVALID_ARGUMENT", `unknown msg.action "${actionText}" (list, get, members, refresh)`);
        const kindText = optionalString(msg, "kind");
        const kind = kindText === undefined || kindText === "" ? defaults.kind : KINDS[kindText.toLowerCase()];
        if (!kind) throw new WeChatError("INVALID_ARGUMENT", `unknown msg.kind "${kindText}" (friends, groups, official, all)`);
        // The name: msg.name, else (get / members only) a string msg.payload, else the node's setting.
        const payloadName =
          (action === "get" || action === "members") && typeof msg.payload === "string" ? msg.payload.trim() : "";
        const name = optionalString(msg, "name") ?? (payloadName !== "" ? payloadName : defaults.query);

        const client = account.onlineClient();
        if (action === "refresh") await client.refreshContacts();
        // Right after login the contacts load in the background: a list waits for them (bounded, then it lists
        // those loaded so far); get / members wait the same way in findContact.
        else if (action === "list") await client.contactsReady();
        if (action === "list" || action === "refresh") {
          const query: ContactQuery = { kind };
          if (name !== "") query.name = name;
          msg.payload = client
            .listContacts(query)
            .filter((c) => c.kind !== "self")
            .map((c) => contactOut(c));
        } else {
          if (name === "") throw new WeChatError("INVALID_ARGUMENT", `"${action}" needs a name: msg.name, msg.payload or the node's name setting`);
          const contact = await client.findContact(name);
          if (action === "get") {
            msg.payload = contactOut(contact, true);
          } else {
            msg.payload = (requireGroup(contact, "members").members ?? []).map((m) => ({ ...m }));
          }
        }
        send(msg);
      },
    });
  }
  RED.nodes.registerType("wx-contacts", WxContactsNode);
};
