import { WeChatError, cleanServerText } from "./errors";
import { isSpecialUserName } from "./messages/contact";
import type { Contact, ContactQuery, GroupMember } from "./types";

type Field = "remarkName" | "nickName" | "alias" | "displayName";
// The order a typed name is tried in (the first field with matches decides).
const FIELDS: Field[] = ["remarkName", "nickName", "alias", "displayName"];

// Printable ASCII is already NFC: skip normalize() for it (most names, and every UserName-like alias).
const NON_ASCII = /[^ -~]/;
export const nfc = (value: string): string => (NON_ASCII.test(value) ? value.normalize("NFC") : value);
/** A name as compared case-insensitively (contacts here, group members in members.ts). */
export const fold = (value: string): string => nfc(value).trim().toLowerCase();

/** Name -> UserNames. Most names belong to one contact: those are kept as a plain string, not a one-entry Set. */
class NameIndex {
  private readonly map = new Map<string, string | Set<string>>();
  add(key: string, userName: string): void {
    if (!key) return;
    const hit = this.map.get(key);
    if (hit === undefined) this.map.set(key, userName);
    else if (typeof hit === "string") {
      if (hit !== userName) this.map.set(key, new Set([hit, userName]));
    } else hit.add(userName);
  }
  remove(key: string, userName: string): void {
    const hit = this.map.get(key);
    if (hit === undefined) return;
    if (typeof hit === "string") {
      if (hit === userName) this.map.delete(key);
      return;
    }
    hit.delete(userName);
    if (hit.size === 1) this.map.set(key, hit.values().next().value as string);
  }
  get(key: string): string[] {
    const hit = this.map.get(key);
    if (hit === undefined) return [];
    return typeof hit === "string" ? [hit] : [...hit];
  }
  clear(): void {
    this.map.clear();
  }
}

/**
 * The live contact list of one session, indexed by UserName and by the stable handles a user types
 * (remark, nickname, alias, group name), exactly and case-insensitively.
 */
export class ContactStore {
  private readonly byUserName = new Map<string, Contact>();
  private readonly exact = new Map<Field, NameIndex>(FIELDS.map((f) => [f, new NameIndex()]));
  private readonly folded = new Map<Field, NameIndex>(FIELDS.map((f) => [f, new NameIndex()]));
  /**
   * The name indexes are built on the first lookup by name and kept up to date from then on: loading a large
   * address book at login does not wait for them.
   */
  private indexed = false;

  get size(): number {
    return this.byUserName.size;
  }

  clear(): void {
    this.byUserName.clear();
    for (const index of [...this.exact.values(), ...this.folded.values()]) index.clear();
    this.indexed = false;
  }

  get(userName: string): Contact | undefined {
    return this.byUserName.get(userName);
  }

  has(userName: string): boolean {
    return this.byUserName.has(userName);
  }

  /** Adds or replaces contacts; returns which were added and which changed. */
  upsert(contacts: Iterable<Contact>): { added: string[]; changed: string[] } {
    const added: string[] = [];
    const changed: string[] = [];
    for (const contact of contacts) {
      if (!contact.userName) continue;
      const old = this.byUserName.get(contact.userName);
      if (old) {
        if (this.indexed) this.names(old, "remove");
        // A Mod entry without members must not drop the members we know.
        if (contact.kind === "group" && !contact.members && old.members) {
          contact.members = old.members;
          if (contact.memberCount === undefined && old.memberCount !== undefined) contact.memberCount = old.memberCount;
        }
        changed.push(contact.userName);
      } else {
        added.push(contact.userName);
      }
      this.byUserName.set(contact.userName, contact);
      if (this.indexed) this.names(contact, "add");
    }
    return { added, changed };
  }

  remove(userNames: Iterable<string>): string[] {
    const removed: string[] = [];
    for (const userName of userNames) {
      const old = this.byUserName.get(userName);
      if (!old) continue;
      if (this.indexed) this.names(old, "remove");
      this.byUserName.delete(userName);
      removed.push(userName);
    }
    return removed;
  }

  /** Replaces a group's member list (ModChatRoomMemberList). */
  setMembers(groupUserName: string, members: GroupMember[]): boolean {
    const group = this.byUserName.get(groupUserName);
    if (!group) return false;
    this.upsert([{ ...group, members, memberCount: members.length }]);
    return true;
  }

  /** A group member's entry, when the group and member are known. */
  member(groupUserName: string, memberUserName: string): GroupMember | undefined {
    return this.byUserName.get(groupUserName)?.members?.find((m) => m.userName === memberUserName);
  }

  list(query: ContactQuery = {}): Contact[] {
    const kind = query.kind ?? "all";
    const needle = query.name ? fold(query.name) : undefined;
    const out: Contact[] = [];
    for (const contact of this.byUserName.values()) {
      if (kind !== "all" && contact.kind !== kind) continue;
      if (needle && !FIELDS.some((f) => fold(contact[f]).includes(needle))) continue;
      out.push(contact);
    }
    return out;
  }

  /**
   * A target to a contact: a UserName (@...), a special account, or a stable handle. The first of remark,
   * nickname, alias, display name that matches decides (exact before case-insensitive); several matches there
   * are AMBIGUOUS, none anywhere NOT_FOUND.
   */
  resolve(target: string): Contact {
    const wanted = typeof target === "string" ? target.trim() : "";
    if (!wanted) throw new WeChatError("INVALID_ARGUMENT", "no target given");
    const direct = this.byUserName.get(wanted);
    if (direct) return direct;
    if (wanted.startsWith("@")) throw new WeChatError("NOT_FOUND", "no contact with this UserName in the current session");
    if (isSpecialUserName(wanted)) return specialContact(wanted);
    this.buildIndexes();
    for (const [indexes, key] of [
      [this.exact, nfc(wanted)],
      [this.folded, fold(wanted)],
    ] as const) {
      for (const field of FIELDS) {
        const hits = indexes.get(field)!.get(key);
        if (hits.length === 1) return this.byUserName.get(hits[0]!)!;
        if (hits.length > 1) {
          const candidates = hits.map((u) => describe(this.byUserName.get(u)!));
          // Names are server text: cleaned for the message, kept as they are in `candidates`.
          const names = candidates.map((c) => cleanServerText(c)).join(", ");
          throw new WeChatError("AMBIGUOUS", `"${wanted}" matches ${hits.length} contacts: ${names}`, { candidates });
        }
      }
    }
    throw new WeChatError("NOT_FOUND", `no contact or group named "${wanted}"`);
  }

  private buildIndexes(): void {
    if (this.indexed) return;
    for (const contact of this.byUserName.values()) this.names(contact, "add");
    this.indexed = true;
  }

  /** Adds the contact's names to, or removes them from, the exact and folded indexes (the same keys both ways). */
  private names(contact: Contact, op: "add" | "remove"): void {
    for (const field of FIELDS) {
      const value = contact[field];
      if (!value) continue;
      const exact = nfc(value);
      this.exact.get(field)![op](exact, contact.userName);
      this.folded.get(field)![op](exact.trim().toLowerCase(), contact.userName);
    }
  }
}

function describe(contact: Contact): string {
  const extra = [contact.kind, contact.alias ? `alias ${contact.alias}` : "", contact.remarkName ? `remark ${contact.remarkName}` : ""]
    .filter(Boolean)
    .join(", ");
  return `${contact.displayName || contact.nickName} (${extra})`;
}

export function specialContact(userName: string): Contact {
  return {
    userName,
    nickName: userName,
    remarkName: "",
    alias: "",
    kind: "special",
    displayName: userName,
    handle: userName,
  };
}
