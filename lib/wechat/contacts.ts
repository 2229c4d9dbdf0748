import { WeChatError, cleanServerText } from "./errors";
import { isGroupUserName, isSpecialUserName, toContact, toContacts } from "./messages/contact";
import { obj, str } from "./messages/fields";
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
 * A wire entry (a contact page's, a member batch's) kept as it came until it is first used: loading an address book
 * reads only the UserNames. Reading 5,500 contacts and 10,000 group members, their names decoded, took ~40 ms of a
 * ~400 ms login, on the way between the server's answers (issue #19).
 */
class Unread {
  constructor(
    readonly raw: Record<string, unknown>,
    readonly self: string,
    /** A group entry without a MemberList: the entry before it, whose members it keeps (as upsert does). */
    readonly before: Contact | Unread | undefined,
  ) {}
}

type Entry = Contact | Unread;

function hasMembers(entry: Entry): boolean {
  return entry instanceof Unread ? Array.isArray(entry.raw.MemberList) : entry.members !== undefined;
}

/** The Contact an unread entry stands for, names decoded; a group without members keeps those of the entry before. */
function read(entry: Unread): Contact {
  const contact = toContact(entry.raw, entry.self);
  const before = entry.before instanceof Unread ? read(entry.before) : entry.before;
  if (before?.members && contact.kind === "group" && !contact.members) {
    contact.members = before.members;
    if (contact.memberCount === undefined && before.memberCount !== undefined) contact.memberCount = before.memberCount;
  }
  return contact;
}

/**
 * The live contact list of one session, indexed by UserName and by the stable handles a user types
 * (remark, nickname, alias, group name), exactly and case-insensitively.
 */
export class ContactStore {
  /** Contacts by UserName; an entry added from the wire (addWire) stays unread until it is first used. */
  private readonly byUserName = new Map<string, Entry>();
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
    const entry = this.byUserName.get(userName);
    if (!(entry instanceof Unread)) return entry;
    const contact = read(entry);
    this.byUserName.set(userName, contact);
    return contact;
  }

  has(userName: string): boolean {
    return this.byUserName.has(userName);
  }

  /** Every UserName in the list, in the order they were first added (nothing is read). */
  userNames(): string[] {
    return [...this.byUserName.keys()];
  }

  /**
   * Adds or replaces contacts from wire entries raws[from..to) (contact pages, member batches), as upsert would with
   * their Contacts, without reading them: each becomes a Contact when it is first used. Entries without a UserName
   * are left out. Once a name has been looked up (the name indexes exist), entries are read at once.
   */
  addWire(raws: readonly unknown[], self: string, from = 0, to = raws.length): void {
    if (this.indexed) {
      this.upsert(toContacts(raws, self, from, to));
      return;
    }
    for (let i = from; i < to; i++) {
      const raw = obj(raws[i]);
      const userName = str(raw?.UserName);
      if (raw === undefined || userName === "") continue;
      let before: Entry | undefined;
      if (isGroupUserName(userName) && !Array.isArray(raw.MemberList)) {
        const old = this.byUserName.get(userName);
        before = old === undefined || hasMembers(old) ? old : old instanceof Unread ? old.before : undefined;
      }
      this.byUserName.set(userName, new Unread(raw, self, before));
    }
  }

  /** Adds or replaces contacts; returns which were added and which changed. */
  upsert(contacts: Iterable<Contact>): { added: string[]; changed: string[] } {
    const added: string[] = [];
    const changed: string[] = [];
    for (const contact of contacts) {
      if (!contact.userName) continue;
      const old = this.get(contact.userName);
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
      const old = this.get(userName);
      if (!old) continue;
      if (this.indexed) this.names(old, "remove");
      this.byUserName.delete(userName);
      removed.push(userName);
    }
    return removed;
  }

  /** Replaces a group's member list (ModChatRoomMemberList). */
  setMembers(groupUserName: string, members: GroupMember[]): boolean {
    const group = this.get(groupUserName);
    if (!group) return false;
    this.upsert([{ ...group, members, memberCount: members.length }]);
    return true;
  }

  /** A group member's entry, when the group and member are known. */
  member(groupUserName: string, memberUserName: string): GroupMember | undefined {
    return this.get(groupUserName)?.members?.find((m) => m.userName === memberUserName);
  }

  list(query: ContactQuery = {}): Contact[] {
    const kind = query.kind ?? "all";
    const needle = query.name ? fold(query.name) : undefined;
    const out: Contact[] = [];
    for (const contact of this.all()) {
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
    const direct = this.get(wanted);
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
        if (hits.length === 1) return this.get(hits[0]!)!;
        if (hits.length > 1) {
          const candidates = hits.map((u) => describe(this.get(u)!));
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
    for (const contact of this.all()) this.names(contact, "add");
    this.indexed = true;
  }

  /** Every contact, in order, those still unread read now (and kept so). */
  private *all(): Generator<Contact> {
    for (const [userName, entry] of this.byUserName) yield entry instanceof Unread ? this.get(userName)! : entry;
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
