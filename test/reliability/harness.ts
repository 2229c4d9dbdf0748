/** Client-level plumbing of the reliability tests: chats to inject into, waiting on a ledger, secrets of the sandbox. */
import { strict as assert } from "node:assert";
import type { WeChatClient } from "../../lib/wechat/client";
import type { Env } from "../client/env";
import type { Ledger } from "./ledger";

/** A chat the tests inject into: a friend, or a member writing in a group. */
export interface Chat {
  key: string;
  from: string;
  room?: string;
}

/** Friends with a world-unique nickName, and one group with another member, as the logged-in client sees them. */
export function pickChats(env: Env, client: WeChatClient, friends: number): Chat[] {
  const world = env.sb.control.world().contacts;
  const counts = new Map<string, number>();
  for (const c of world) counts.set(c.nickName, (counts.get(c.nickName) ?? 0) + 1);
  const contacts = client.listContacts({ kind: "friend" });
  const names = world.filter((c) => c.kind === "friend" && counts.get(c.nickName) === 1 && contacts.some((k) => k.nickName === c.nickName));
  assert.ok(names.length >= friends, `the world has ${friends} friends with unique names`);
  const chats: Chat[] = names.slice(0, friends).map((c, i) => ({ key: `f${i}`, from: c.nickName }));
  const self = client.state.user?.userName;
  const group = client.listContacts({ kind: "group" }).find((g) => (g.members ?? []).some((m) => m.userName !== self));
  if (group) {
    const member = (group.members ?? []).find((m) => m.userName !== self);
    if (member) chats.push({ key: "g0", from: member.userName, room: group.userName });
  }
  return chats;
}

/** Inject one text into `chat` and record it in the ledger. */
export function injectInto(env: Env, ledger: Ledger, chat: Chat, text: string): string {
  const { msgId } = env.sb.control.inject({ from: chat.from, text, ...(chat.room ? { room: chat.room } : {}) });
  ledger.expect(chat.key, msgId);
  return msgId;
}

/** Resolves when the ledger says every injected message arrived (checked on each message of `client`). */
export function waitAllArrived(client: WeChatClient, ledger: Ledger, timeoutMs: number): Promise<void> {
  if (ledger.allArrived()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!ledger.allArrived()) return;
      clearTimeout(timer);
      client.off("message", check);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off("message", check);
      reject(new Error(`not all messages arrived in ${timeoutMs} ms: ${ledger.received}/${ledger.injected}, missing ${ledger.missing().join(",")} (state ${client.state.state})`));
    }, timeoutMs);
    client.on("message", check);
  });
}

/**
 * Every secret the sandbox issued to its sessions so far (sid, skeys, pass_ticket in both forms, the
 * webwx_data_ticket / webwx_auth_ticket / webwxuvid cookies). Skeys rotate: call this often (e.g. from the
 * client's onRequest hook) and keep the union.
 */
export function sandboxSecrets(env: Pick<Env, "sb">, into: Set<string> = new Set()): Set<string> {
  for (const s of env.sb.state.sessions.values()) {
    for (const value of [s.sid, s.skey, s.prevSkey, s.passTicket, decodeURIComponent(s.passTicket), s.dataTicket, s.authTicket, s.uvid]) {
      if (typeof value === "string" && value.length >= 8) into.add(value);
    }
  }
  return into;
}

/** The secrets found in `text` (each also checked %-encoded), for a readable failure. */
export function leakedIn(text: string, secrets: Iterable<string>): string[] {
  const found: string[] = [];
  for (const secret of secrets) {
    if (text.includes(secret) || text.includes(encodeURIComponent(secret))) found.push(`${secret.slice(0, 4)}…(${secret.length} chars)`);
  }
  return found;
}

/** The sandbox saw no protocol violation from our client (what the real server would refuse). */
export function assertNoViolations(env: Pick<Env, "sb">): void {
  assert.deepEqual(
    env.sb.control.violations().map((v) => `${v.endpoint}: ${v.rule}: ${v.detail}`),
    [],
    "the sandbox recorded protocol violations",
  );
}
