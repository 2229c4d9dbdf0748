export { decodeContent, emojiFromHex, unescapeXmlContent, splitGroupPrefix, isMentioned } from "./text";
export type { GroupPrefix } from "./text";
export { messageNormalizer, normalizeMessage, referencedUserNames } from "./normalize";
export { MsgType, AppMsgType, StatusNotifyCode } from "./constants";
export type { MsgTypeValue, AppMsgTypeValue } from "./constants";
export type { NormalizeContext } from "./normalize";
export {
  rawContactToContact,
  rawMemberToMember,
  toContact,
  contactKind,
  isGroupUserName,
  isSpecialUserName,
  SPECIAL_USERNAMES,
} from "./contact";
export type { RawMessage, RawContact, RawMember, RawRecommendInfo, RawAppInfo } from "./wire";
