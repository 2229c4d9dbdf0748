import type { ContactPage, Json, SessionApi } from "./api";
import type { ContactStore } from "./contacts";
import { errorText, isWeChatError } from "./errors";
import { afterCallsStarted, backoffDelay, sleep } from "./http";
import { isGroupUserName, rawContactToContact } from "./messages/contact";
import type { RawContact } from "./messages/wire";
import type { Contact } from "./types";
import { TurnQueue } from "./util/turn-queue";

const BATCH = 50;
// Batches in flight at once (each still at most 50 entries, docs/protocol.md).
const IN_FLIGHT = 6;
const MAX_PAGES = 1000;
/** Contacts of a page converted in one turn of the event loop (~0.8 ms for 100; a page has up to ~500). */
const CONTACT_RUN = 100;

/** A wire contact as a Contact; a group entry without a MemberList keeps `members` unset (not "no members"). */
export function toContact(raw: Json, selfUserName: string): Contact {
  const contact = rawContactToContact(raw as RawContact, selfUserName);
  if (contact.kind === "group" && !Array.isArray(raw.MemberList)) {
    delete contact.members;
    if (raw.MemberCount === undefined) delete contact.memberCount;
  }
  return contact;
}

/** The wire contacts raws[from..to) as Contacts, those without a UserName left out. */
export function toContacts(raws: readonly Json[], selfUserName: string, from = 0, to = raws.length): Contact[] {
  const found: Contact[] = [];
  for (let i = from; i < to; i++) {
    const contact = toContact(raws[i] as Json, selfUserName);
    if (contact.userName !== "") found.push(contact);
  }
  return found;
}

/** How a contact page or member batch is tried again after a failure that does not end the session. */
export interface RetryPolicy {
  /** Tries in all (1: no retry). */
  attempts: number;
  /** First back-off (doubled each time, capped at maxBackoffMs). */
  backoffMs: number;
  maxBackoffMs: number;
}

const NO_RETRY: RetryPolicy = { attempts: 1, backoffMs: 0, maxBackoffMs: 0 };

/** Only the end of the session (1100/1101/1102) or of the client stops a retry; a refused argument too. */
function retriable(error: unknown): boolean {
  return isWeChatError(error) && (error.code === "NETWORK" || error.code === "SERVER" || error.code === "THROTTLED" || error.code === "PROTOCOL");
}

/** One call, tried again with back-off (THROTTLED too: 1205 asks to slow down, not to give up). */
export async function retried<T>(call: () => Promise<T>, policy: RetryPolicy, signal?: AbortSignal, warn?: (m: string, error: unknown) => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!retriable(error) || attempt + 1 >= policy.attempts || signal?.aborted) throw error;
      const delay = backoffDelay(attempt, policy.backoffMs, policy.maxBackoffMs);
      warn?.(`${errorText(error, "failed")}; trying again in ${Math.round(delay / 100) / 10} s`, error);
      await sleep(delay, signal);
    }
  }
}

/**
 * Every page of webwxgetcontact (Seq paging until Seq is 0), each handed to `onPage` as it arrives and not kept:
 * a large address book's raw entries die young instead of being carried to the end of the load. The next page is
 * asked for as soon as an answer names its Seq, before that answer's contacts are parsed and handled: still one
 * call in flight, but the server builds the next page while we read this one. Each page is retried on its own; a
 * page whose Seq read but whose contacts do not is fetched again (pages are plain reads).
 */
export async function fetchAllContacts(api: SessionApi, onPage: (members: Json[]) => void, retry: RetryPolicy = NO_RETRY, warn?: (m: string) => void): Promise<void> {
  const page = (seq: number) => retried(() => api.getContactPage(seq), retry, api.signal, warn);
  // A page read whole before it is handed on: what a page that could not be read is fetched again with.
  const wholePage = (seq: number) => retried(async () => (await api.getContactPage(seq)).members, retry, api.signal, warn);
  let seq = 0;
  let next: Promise<ContactPage> | undefined = page(seq);
  for (let count = 1; next; count++) {
    const answer: ContactPage = await next;
    const answered = seq;
    next = undefined;
    if (answer.seq !== 0 && answer.seq !== seq && count < MAX_PAGES) {
      seq = answer.seq;
      next = page(seq);
      // Its failure is seen when it is awaited (next round), not as an unhandled rejection meanwhile.
      next.catch(() => undefined);
      await afterCallsStarted();
    }
    let members: Json[];
    try {
      members = answer.members;
    } catch (error) {
      if (!isWeChatError(error, "PROTOCOL")) throw error;
      warn?.(`${errorText(error, "webwxgetcontact: unreadable page")}; fetching it again`);
      members = await wholePage(answered);
    }
    onPage(members);
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

export interface LoadOptions {
  /** webwxinit's ContactList (the recent chats, in full). */
  initial?: Json[];
  /**
   * More groups to fetch with their members besides the listed ones: the ChatSet of webwxinit (unsaved groups are
   * never listed by webwxgetcontact, docs/protocol.md section 7), or the groups known before a refresh.
   */
  groups?: string[];
  /**
   * true (login, in the background): contacts go into the store as they arrive, and a member batch that keeps
   * failing is left out with a warning. false (the default, a refresh): the store is replaced at the end, and any
   * failure fails the load with the store untouched.
   */
  fill?: boolean;
  retry?: RetryPolicy;
  warn?: (message: string) => void;
}

/**
 * Loads the whole address book into the store: contacts with paging, then every group with its members. The
 * member batches (50 groups a call, a few in flight) start as soon as a page has listed 50 groups, while the
 * next pages are fetched; the calls are the same as asking for them after the last page. Each page and batch is
 * retried on its own (options.retry). Resolves with `complete` false when some groups came without members.
 */
export async function loadContacts(api: SessionApi, store: ContactStore, options: LoadOptions = {}): Promise<{ complete: boolean }> {
  const self = api.session.user.userName;
  const replace = !(options.fill ?? false);
  const retry = options.retry ?? NO_RETRY;
  const contacts: Contact[] = [];
  const groups: string[] = [];
  const listed = new Set<string>();
  const run = limiter(IN_FLIGHT);
  // Answers become Contacts in turns of their own, in the order they came (a page's groups, listed first, keep their
  // place before their batch's members), between the network's events: a page that arrives while the previous one
  // is being converted is read, and the page after it asked for, at once. Converted in the same turn as it was
  // read, each page of 500 kept the next answer waiting for its conversion and storing (~3-5 ms) while the server
  // was idle (issue #19).
  const later = new TurnQueue();
  const converting: Promise<void>[] = [];
  const batches: Promise<Contact[]>[] = [];
  let complete = true;
  let asked = 0;
  const keep = (found: Contact[]): void => {
    if (replace) contacts.push(...found);
    else store.upsert(found);
  };
  const want = (userName: string): void => {
    if (listed.has(userName)) return;
    listed.add(userName);
    groups.push(userName);
  };
  const take = (raws: Json[], last: boolean): void => {
    // The page's groups first, and their member batches asked for, before its contacts are converted: the server
    // builds the first batch meanwhile instead of waiting for the conversion (~10 ms for a page of 500, issue #19).
    for (const r of raws) {
      const userName = r.UserName;
      if (typeof userName === "string" && isGroupUserName(userName)) want(userName);
    }
    while (groups.length - asked >= BATCH || (last && groups.length > asked)) {
      const chunk = groups.slice(asked, asked + BATCH).map((userName) => ({ UserName: userName, EncryChatRoomId: "" }));
      asked += chunk.length;
      const batch = run(() => retried(() => api.batchGetContact(chunk), retry, api.signal, options.warn)).then(
        (raws) =>
          later.run(() => {
            const fetched = toContacts(raws, self);
            if (!replace) store.upsert(fetched);
            return fetched;
          }),
        (error: unknown) => {
          if (replace || !retriable(error)) throw error;
          complete = false;
          options.warn?.(`members of ${chunk.length} groups not loaded: ${errorText(error, "error")}`);
          return [];
        },
      );
      batch.catch(() => undefined);
      batches.push(batch);
    }
    for (let i = 0; i < raws.length; i += CONTACT_RUN) {
      const part = later.run(() => keep(toContacts(raws, self, i, Math.min(raws.length, i + CONTACT_RUN))));
      // Awaited at the end; a failure before then is not unhandled.
      part.catch(() => undefined);
      converting.push(part);
    }
  };
  let failure: { error: unknown } | undefined;
  try {
    for (const userName of options.groups ?? []) if (isGroupUserName(userName)) want(userName);
    // The first page is asked for before webwxinit's recent chats (groups with their members: a few ms) become
    // contacts; whichever comes first, they are taken before any page.
    let initialTaken = false;
    const takeInitial = (): void => {
      if (initialTaken) return;
      initialTaken = true;
      take(options.initial ?? [], false);
    };
    const pages = fetchAllContacts(
      api,
      (members) => {
        takeInitial();
        take(members, false);
      },
      retry,
      options.warn,
    );
    pages.catch(() => undefined);
    await afterCallsStarted();
    try {
      takeInitial();
    } catch (error) {
      await pages.catch(() => undefined);
      throw error;
    }
    await pages;
    take([], true);
  } catch (error) {
    failure = { error };
  }
  // Never leave a batch or a conversion behind: all of them settle before this returns or throws.
  const settled = await Promise.allSettled(batches);
  const conversions = await Promise.allSettled(converting);
  if (failure) throw failure.error;
  const refused = [...settled, ...conversions].find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (refused) throw refused.reason;
  if (replace) {
    // The listing, then each group again with its members: upsert puts a later entry in place of an earlier one
    // (same position) and keeps the members it knew when the later entry has none.
    store.clear();
    store.upsert(contacts);
    for (const r of settled) if (r.status === "fulfilled") store.upsert(r.value);
  }
  return { complete };
}
