import type { ContactPage, Json, SessionApi } from "./api";
import type { ContactStore } from "./contacts";
import { errorText, isWeChatError } from "./errors";
import { afterCallsStarted, backoffDelay, sleep } from "./http";
import { isGroupUserName } from "./messages/contact";

const BATCH = 50;
// Batches in flight at once (each still at most 50 entries, docs/protocol.md).
const IN_FLIGHT = 6;
const MAX_PAGES = 1000;

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
 * Every page of webwxgetcontact (Seq paging until Seq is 0), each handed to `onPage` as it arrives (none is kept
 * here: what to keep of a page is the caller's). The next page is
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
 * Entries go into the store as they came (ContactStore.addWire): each is read into a Contact when first used.
 */
export async function loadContacts(api: SessionApi, store: ContactStore, options: LoadOptions = {}): Promise<{ complete: boolean }> {
  const self = api.session.user.userName;
  const replace = !(options.fill ?? false);
  const retry = options.retry ?? NO_RETRY;
  // Replacing: every answer, in the order it came, for the store at the end.
  const answers: Json[][] = [];
  const groups: string[] = [];
  const listed = new Set<string>();
  const run = limiter(IN_FLIGHT);
  const batches: Promise<void>[] = [];
  let complete = true;
  let asked = 0;
  const keep = (raws: Json[]): void => {
    if (raws.length === 0) return;
    if (replace) answers.push(raws);
    else store.addWire(raws, self);
  };
  const want = (userName: string): void => {
    if (listed.has(userName)) return;
    listed.add(userName);
    groups.push(userName);
  };
  const take = (raws: Json[], last: boolean): void => {
    // The page's groups first, and their member batches asked for, before its entries are kept.
    for (const r of raws) {
      const userName = r.UserName;
      if (typeof userName === "string" && isGroupUserName(userName)) want(userName);
    }
    while (groups.length - asked >= BATCH || (last && groups.length > asked)) {
      const chunk = groups.slice(asked, asked + BATCH).map((userName) => ({ UserName: userName, EncryChatRoomId: "" }));
      asked += chunk.length;
      const batch = run(() => retried(() => api.batchGetContact(chunk), retry, api.signal, options.warn)).then(keep, (error: unknown) => {
        if (replace || !retriable(error)) throw error;
        complete = false;
        options.warn?.(`members of ${chunk.length} groups not loaded: ${errorText(error, "error")}`);
      });
      batch.catch(() => undefined);
      batches.push(batch);
    }
    keep(raws);
  };
  let failure: { error: unknown } | undefined;
  try {
    for (const userName of options.groups ?? []) if (isGroupUserName(userName)) want(userName);
    // The first page is asked for before webwxinit's recent chats (groups with their members) are taken; whichever
    // comes first, they are taken before any page.
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
  // Never leave a batch behind: all of them settle before this returns or throws.
  const settled = await Promise.allSettled(batches);
  if (failure) throw failure.error;
  const refused = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (refused) throw refused.reason;
  if (replace) {
    // Every answer in the order it came: addWire puts a later entry in place of an earlier one (same position) and
    // keeps the members it knew when the later entry has none.
    store.clear();
    for (const raws of answers) store.addWire(raws, self);
  }
  return { complete };
}
