import type { Contact, ContactKind, GroupMember } from "../../lib/wechat/types";

/** A contact as it goes into a msg: a plain copy, `type` named as users expect it. */
export interface ContactOut extends PickerEntry {
  userName: string;
  sex?: number;
  signature?: string;
  province?: string;
  city?: string;
  starred?: boolean;
  verifyFlag?: number;
  members?: GroupMember[];
}

export function contactOut(contact: Contact, withMembers = false): ContactOut {
  const out: ContactOut = { userName: contact.userName, ...pickerEntry(contact) };
  if (contact.sex !== undefined) out.sex = contact.sex;
  if (contact.signature) out.signature = contact.signature;
  if (contact.province) out.province = contact.province;
  if (contact.city) out.city = contact.city;
  if (contact.starred !== undefined) out.starred = contact.starred;
  if (contact.verifyFlag !== undefined) out.verifyFlag = contact.verifyFlag;
  if (withMembers && contact.members) out.members = contact.members.map((m) => ({ ...m }));
  return out;
}

/** What the editor pickers get: stable names only, never a UserName (it changes at every login). */
export interface PickerEntry {
  handle: string;
  displayName: string;
  nickName: string;
  remarkName: string;
  alias: string;
  type: ContactKind;
  memberCount?: number;
}

export function pickerEntry(contact: Contact): PickerEntry {
  const entry: PickerEntry = {
    handle: contact.handle,
    displayName: contact.displayName,
    nickName: contact.nickName,
    remarkName: contact.remarkName,
    alias: contact.alias,
    type: contact.kind,
  };
  const memberCount = contact.memberCount ?? contact.members?.length;
  if (memberCount !== undefined) entry.memberCount = memberCount;
  return entry;
}
