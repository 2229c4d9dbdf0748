export { decodeContent, emojiFromHex, unescapeXmlContent, splitGroupPrefix, isMentioned } from "./text";
export type { GroupPrefix } from "./text";
export { normalizeMessage, referencedUserNames, MsgType, AppMsgType } from "./normalize";
export type { NormalizeContext } from "./normalize";
export {
  rawContactToContact,
  rawMemberToMember,
  contactKind,
  isGroupUserName,
  isSpecialUserName,
  SPECIAL_USERNAMES,
} from "./contact";
export type { RawMessage, RawContact, RawMember, RawRecommendInfo, RawAppInfo } from "./wire";
