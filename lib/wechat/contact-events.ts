import type { Contact, ContactEvent, GroupMember } from "./types";

function named(contact: Contact): string {
  return JSON.stringify([contact.nickName, contact.remarkName, contact.alias]);
}

function memberDiff(before: GroupMember[], after: GroupMember[]): { added: GroupMember[]; removed: GroupMember[] } {
  const old = new Set(before.map((m) => m.userName));
  const now = new Set(after.map((m) => m.userName));
  return { added: after.filter((m) => !old.has(m.userName)), removed: before.filter((m) => !now.has(m.userName)) };
}

const copy = (contact: Contact): Contact => JSON.parse(JSON.stringify(contact)) as Contact;

/**
 * The `contact` events one change of one contact stands for: added (new, or a stranger who became a friend),
 * removed, renamed (nickname, remark or alias), members (who joined / left a group). Payloads are plain copies.
 */
export function contactEvents(before: Contact | undefined, after: Contact | undefined): ContactEvent[] {
  if (!after) return before ? [{ change: "removed", contact: copy(before), previous: copy(before) }] : [];
  if (!before || (before.kind === "stranger" && after.kind !== "stranger")) return [{ change: "added", contact: copy(after) }];
  const events: ContactEvent[] = [];
  if (named(before) !== named(after)) events.push({ change: "renamed", contact: copy(after), previous: copy(before) });
  if (after.kind === "group" && before.members && after.members) {
    const members = memberDiff(before.members, after.members);
    if (members.added.length + members.removed.length > 0) {
      events.push({ change: "members", contact: copy(after), members: JSON.parse(JSON.stringify(members)) as typeof members });
    }
  }
  return events;
}
