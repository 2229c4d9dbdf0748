import { WeChatError } from "../errors";
import { isGroupUserName } from "../messages/contact";
import { MENTION_SEPARATOR } from "../messages/text";
import { escapeXml } from "../util/xml";

export { MENTION_SEPARATOR };

/**
 * MsgSource of a text message that really notifies the mentioned members (docs/protocol.md section 6):
 * `<msgsource><atusername>u1,u2</atusername><atchatroomname>@@room</atchatroomname></msgsource>`.
 */
export function buildMentionSource(memberUserNames: readonly string[], roomUserName: string): string {
  if (!isGroupUserName(roomUserName)) {
    throw new WeChatError("INVALID_ARGUMENT", "mentions are only possible in a group (@@...)");
  }
  const members = [...new Set((Array.isArray(memberUserNames) ? memberUserNames : []).filter((u) => typeof u === "string" && u !== ""))];
  if (members.length === 0) throw new WeChatError("INVALID_ARGUMENT", "mentions: at least one member is required");
  if (members.some((u) => u.includes(","))) throw new WeChatError("INVALID_ARGUMENT", "mentions: a UserName cannot contain a comma");
  return (
    `<msgsource><atusername>${escapeXml(members.join(","))}</atusername>` +
    `<atchatroomname>${escapeXml(roomUserName)}</atchatroomname></msgsource>`
  );
}

/** The visible text for mentions: "@Name" + U+2005 for each name, before the message text. */
export function mentionText(names: readonly string[], text: string): string {
  return names.map((name) => `@${name}${MENTION_SEPARATOR}`).join("") + text;
}
