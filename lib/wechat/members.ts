import { fold, nfc, type ContactStore } from "./contacts";
import { WeChatError, cleanServerText } from "./errors";
import type { Contact, GroupMember } from "./types";

/** The names a member can be called by: their name in the group, their nickname, and our handles for them. */
function namesOf(member: GroupMember, contacts: ContactStore): string[] {
  const contact = contacts.get(member.userName);
  const names = [member.displayName, member.nickName];
  if (contact && contact.kind !== "stranger") names.push(contact.handle, contact.remarkName, contact.alias);
  return names.filter((n) => n !== "");
}

/**
 * A member of a group by what a user types: the member's UserName, their name in the group (DisplayName),
 * their NickName, or our handle for them (remark, alias). Exact matches before case-insensitive ones.
 * Unknown -> NOT_FOUND (naming only what was typed and the group), several -> AMBIGUOUS.
 */
export function findMember(group: Contact, name: string, contacts: ContactStore): GroupMember {
  const wanted = typeof name === "string" ? name.trim() : "";
  if (!wanted) throw new WeChatError("INVALID_ARGUMENT", "a member name is required");
  const members = group.members ?? [];
  const byUserName = members.find((m) => m.userName === wanted);
  if (byUserName) return byUserName;
  const exact = nfc(wanted);
  const folded = fold(wanted);
  for (const same of [(a: string) => nfc(a) === exact, (a: string) => fold(a) === folded]) {
    const hits = members.filter((m) => namesOf(m, contacts).some(same));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) {
      const candidates = hits.map((m) => m.displayName || m.nickName);
      const names = candidates.map((c) => cleanServerText(c)).join(", ");
      throw new WeChatError("AMBIGUOUS", `"${wanted}" matches ${hits.length} members of ${cleanServerText(group.displayName)}: ${names}`, { candidates });
    }
  }
  throw new WeChatError("NOT_FOUND", `"${wanted}" is not a member of ${cleanServerText(group.displayName)}`);
}

/**
 * The one "not a group" check: the contact when it is a group, else INVALID_ARGUMENT saying what needed one
 * (`what`: "renameGroup", "msg.mentions only work in groups", ...).
 */
export function requireGroup(contact: Contact, what: string): Contact {
  if (contact.kind !== "group") throw new WeChatError("INVALID_ARGUMENT", `${what}: "${cleanServerText(contact.displayName)}" is not a group`);
  return contact;
}

/** The name a member is shown under in the group (what an @mention writes). */
export function memberName(member: GroupMember): string {
  return member.displayName || member.nickName;
}
