import type { Contact, ContactKind, GroupMember } from "../types";
import { decodeContent } from "./text";
import type { RawContact, RawMember } from "./wire";
import { num, obj, str } from "./fields";

/** Built-in accounts of docs/protocol.md section 7 (plus anything ending "@qqim"). */
export const SPECIAL_USERNAMES: ReadonlySet<string> = new Set([
  "filehelper",
  "weixin",
  "fmessage",
  "newsapp",
  "medianote",
  "qqmail",
  "tmessage",
  "qmessage",
  "qqsync",
  "floatbottle",
  "lbsapp",
  "shakeapp",
  "qqfriend",
  "readerapp",
  "blogapp",
  "facebookapp",
  "masssendapp",
  "meishiapp",
  "feedsapp",
  "voip",
  "blogappweixin",
  "brandsessionholder",
  "weixinreminder",
  "officialaccounts",
  "notification_messages",
  "wxitil",
  "userexperience_alarm",
  "notifymessage",
]);

const VERIFY_FLAG_OFFICIAL = 8;
const CONTACT_FLAG_CONTACT = 1;
/** How many member names make up an untitled group's display name. */
const UNTITLED_GROUP_NAMES = 3;

export function isGroupUserName(userName: string): boolean {
  return typeof userName === "string" && userName.startsWith("@@");
}

export function isSpecialUserName(userName: string): boolean {
  return typeof userName === "string" && (SPECIAL_USERNAMES.has(userName) || userName.endsWith("@qqim"));
}



/** The kind of a contact from its UserName and flags (no ContactFlag: assumed a friend). */
export function contactKind(raw: RawContact, selfUserName: string): ContactKind {
  const userName = str(raw.UserName);
  if (userName !== "" && userName === selfUserName) return "self";
  if (isGroupUserName(userName)) return "group";
  if (isSpecialUserName(userName)) return "special";
  const verifyFlag = num(raw.VerifyFlag) ?? 0;
  if ((verifyFlag & VERIFY_FLAG_OFFICIAL) !== 0) return "official";
  const contactFlag = num(raw.ContactFlag);
  if (contactFlag !== undefined && (contactFlag & CONTACT_FLAG_CONTACT) === 0) return "stranger";
  return "friend";
}

export function rawMemberToMember(input: RawMember): GroupMember {
  const raw: RawMember = obj(input) ?? {};
  return {
    userName: str(raw.UserName),
    nickName: decodeContent(str(raw.NickName)),
    displayName: decodeContent(str(raw.DisplayName)),
  };
}

/** Maps a wire contact (any of the contact lists) to the public Contact shape, names decoded. */
export function rawContactToContact(input: RawContact, selfUserName: string): Contact {
  const raw: RawContact = obj(input) ?? {};
  const userName = str(raw.UserName);
  const kind = contactKind(raw, selfUserName);
  const nickName = decodeContent(str(raw.NickName));
  const remarkName = decodeContent(str(raw.RemarkName));
  const alias = decodeContent(str(raw.Alias));
  const contact: Contact = { userName, nickName, remarkName, alias, kind, displayName: "", handle: "" };

  if (kind === "group") {
    const memberList = Array.isArray(raw.MemberList) ? raw.MemberList : [];
    const members = memberList.filter((m): m is RawMember => m !== null && typeof m === "object").map(rawMemberToMember);
    const untitled = members
      .slice(0, UNTITLED_GROUP_NAMES)
      .map((m) => m.displayName || m.nickName)
      .filter((name) => name !== "")
      .join(", ");
    contact.displayName = nickName || remarkName || untitled || userName;
    // The topic is what a user stores for a group; an untitled group falls back to its member names.
    contact.handle = nickName || remarkName || untitled;
    contact.members = members;
    contact.memberCount = num(raw.MemberCount) ?? members.length;
    const encry = str(raw.EncryChatRoomId);
    if (encry !== "") contact.encryChatRoomId = encry;
  } else {
    contact.displayName = remarkName || nickName || alias || userName;
    // A special account's UserName (filehelper, ...) is the same at every login: the most stable handle.
    contact.handle = kind === "special" ? userName : remarkName || alias || nickName;
  }

  const sex = num(raw.Sex);
  if (sex !== undefined) contact.sex = sex;
  const signature = decodeContent(str(raw.Signature));
  if (signature !== "") contact.signature = signature;
  const province = decodeContent(str(raw.Province));
  if (province !== "") contact.province = province;
  const city = decodeContent(str(raw.City));
  if (city !== "") contact.city = city;
  const verifyFlag = num(raw.VerifyFlag);
  if (verifyFlag !== undefined) contact.verifyFlag = verifyFlag;
  if (raw.StarFriend !== undefined) contact.starred = num(raw.StarFriend) === 1;
  return contact;
}

/** A wire contact as a Contact; a group entry without a MemberList keeps `members` unset (not "no members"). */
export function toContact(input: unknown, selfUserName: string): Contact {
  const contact = rawContactToContact(input as RawContact, selfUserName);
  const raw: RawContact = obj(input) ?? {};
  if (contact.kind === "group" && !Array.isArray(raw.MemberList)) {
    delete contact.members;
    if (raw.MemberCount === undefined) delete contact.memberCount;
  }
  return contact;
}

/** The wire contacts raws[from..to) as Contacts, those without a UserName left out. */
export function toContacts(raws: readonly unknown[], selfUserName: string, from = 0, to = raws.length): Contact[] {
  const found: Contact[] = [];
  for (let i = from; i < to; i++) {
    const contact = toContact(raws[i], selfUserName);
    if (contact.userName !== "") found.push(contact);
  }
  return found;
}
