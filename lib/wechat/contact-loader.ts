import type { Json, SessionApi } from "./api";
import type { ContactStore } from "./contacts";
import { afterCallsStarted } from "./http";
import { rawContactToContact } from "./messages/contact";
import type { RawContact } from "./messages/wire";
import type { Contact } from "./types";

const BATCH = 50;
// Batches in flight at once (each still at most 50 entries, protocol.md).
const IN_FLIGHT = 6;
const MAX_PAGES = 1000;

/** A wire contact as a Contact; a group entry without a MemberList keeps `members` unset (not "no members"). */
export function toContact(raw: Json, selfUserName: string): Contact {
  const contact = rawContactToContact(raw as RawContact, selfUserName);
  if (contact.kind === "group" && !Array.isArray(raw.MemberList)) {
    delete contact.members;
    if (raw.MemberCount === undefined) delete contact.memberCount;
  }
  return contact;
}

/**
 * Every page of webwxgetcontact (Seq paging until Seq is 0), each handed to `onPage` as it arrives and not kept:
 * a large address book's raw entries die young instead of being carried to the end of the load. The next page is
 * asked for as soon as an answer names its Seq, before that answer's contacts are handled: still one call in
 * flight, but the server builds the next page while we read this one.
 */
export async function fetchAllContacts(api: SessionApi, onPage: (members: Json[]) => void): Promise<void> {
  let seq = 0;
  let next: Promise<{ members: Json[]; seq: number }> | undefined = api.getContactPage(seq);
  for (let page = 1; next; page++) {
    const answer: { members: Json[]; seq: number } = await next;
    next = undefined;
    if (answer.seq !== 0 && answer.seq !== seq && page < MAX_PAGES) {
      seq = answer.seq;
      next = api.getContactPage(seq);
      // Awaited on the next turn of the loop; if handling this page throws first, the failure is not unhandled.
      next.catch(() => undefined);
      await afterCallsStarted();
    }
    onPage(answer.members);
  }
}

/** Runs at most `limit` tasks at once, in the order given. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/** webwxbatchgetcontact for any number of entries: at most 50 a call, a few calls in flight, order kept. */
export async function batchGet(api: SessionApi, entries: { UserName: string; EncryChatRoomId: string }[]): Promise<Json[]> {
  const run = limiter(IN_FLIGHT);
  const calls: Promise<Json[]>[] = [];
  for (let i = 0; i < entries.length; i += BATCH) {
    const chunk = entries.slice(i, i + BATCH);
    calls.push(run(() => api.batchGetContact(chunk)));
  }
  return (await Promise.all(calls)).flat();
}

/**
 * Loads the whole address book into the store: contacts with paging, then every group with its members. The
 * member batches (50 groups a call, a few in flight) start as soon as a page has listed 50 groups, while the
 * next pages are fetched; the calls are the same as asking for them after the last page.
 */
export async function loadContacts(api: SessionApi, store: ContactStore, initial: Json[] = []): Promise<void> {
  const self = api.session.user.userName;
  const contacts: Contact[] = [];
  const groups: string[] = [];
  const listed = new Set<string>();
  const run = limiter(IN_FLIGHT);
  // Each batch's groups are turned into Contacts as the answer arrives, while the server builds the next one.
  const batches: Promise<Contact[]>[] = [];
  let asked = 0;
  const take = (raws: Json[], last: boolean): void => {
    for (const r of raws) {
      const contact = toContact(r, self);
      if (contact.userName === "") continue;
      contacts.push(contact);
      if (contact.kind === "group" && !listed.has(contact.userName)) {
        listed.add(contact.userName);
        groups.push(contact.userName);
      }
    }
    while (groups.length - asked >= BATCH || (last && groups.length > asked)) {
      const chunk = groups.slice(asked, asked + BATCH).map((userName) => ({ UserName: userName, EncryChatRoomId: "" }));
      asked += chunk.length;
      const batch = run(() => api.batchGetContact(chunk)).then((raws) => raws.map((r) => toContact(r, self)));
      batch.catch(() => undefined);
      batches.push(batch);
    }
  };
  let failure: { error: unknown } | undefined;
  try {
    take(initial, false);
    await fetchAllContacts(api, (members) => take(members, false));
    take([], true);
  } catch (error) {
    failure = { error };
  }
  // Never leave a batch behind: all of them settle before this returns or throws.
  const settled = await Promise.allSettled(batches);
  if (failure) throw failure.error;
  const refused = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (refused) throw refused.reason;
  // The listing, then each group again with its members: upsert puts a later entry in place of an earlier one
  // (same position) and keeps the members it knew when the later entry has none.
  store.clear();
  store.upsert(contacts);
  for (const r of settled) if (r.status === "fulfilled") store.upsert(r.value);
}
