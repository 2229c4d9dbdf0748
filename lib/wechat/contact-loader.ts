import type { Json, SessionApi } from "./api";
import type { ContactStore } from "./contacts";
import { rawContactToContact } from "./messages/contact";
import type { RawContact } from "./messages/wire";
import type { Contact } from "./types";

const BATCH = 50;
const IN_FLIGHT = 3;
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

/** Every page of webwxgetcontact (Seq paging until Seq is 0). */
export async function fetchAllContacts(api: SessionApi): Promise<Json[]> {
  const all: Json[] = [];
  let seq = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await api.getContactPage(seq);
    all.push(...answer.members);
    if (answer.seq === 0 || answer.seq === seq) break;
    seq = answer.seq;
  }
  return all;
}

/** webwxbatchgetcontact for any number of entries: at most 50 a call, a few calls in flight, order kept. */
export async function batchGet(api: SessionApi, entries: { UserName: string; EncryChatRoomId: string }[]): Promise<Json[]> {
  const chunks: (typeof entries)[] = [];
  for (let i = 0; i < entries.length; i += BATCH) chunks.push(entries.slice(i, i + BATCH));
  const results: Json[][] = new Array<Json[]>(chunks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < chunks.length) {
      const index = next++;
      results[index] = await api.batchGetContact(chunks[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, chunks.length) }, worker));
  return results.flat();
}

/** Loads the whole address book into the store: contacts with paging, then every group with its members. */
export async function loadContacts(api: SessionApi, store: ContactStore, initial: Json[] = []): Promise<void> {
  const self = api.session.user.userName;
  const raw = [...initial, ...(await fetchAllContacts(api))];
  const contacts = raw.map((r) => toContact(r, self)).filter((c) => c.userName !== "");
  const groups = [...new Set(contacts.filter((c) => c.kind === "group").map((c) => c.userName))];
  const detailed = await batchGet(
    api,
    groups.map((userName) => ({ UserName: userName, EncryChatRoomId: "" })),
  );
  store.clear();
  store.upsert(contacts);
  store.upsert(detailed.map((r) => toContact(r, self)).filter((c) => c.userName !== ""));
}
