import { Session, type SessionSnapshot } from "./session";
import type { SandboxState } from "./state";
import { World, type WorldSnapshot } from "./world";
import type { SentRecord, Settings } from "./types";

/**
 * Saving a sandbox and going on from it (README.md, "Saved world"): the world with every change, the live sessions
 * with their secrets, UserNames and SyncKeys, the bot's recent sends, settings and the control token. A client that
 * saved its own session resumes against the restored sandbox without a scan. Not kept: logins in progress, events
 * not yet synced, media, violations. Plain JSON; where it is stored (and encrypted) is the caller's business.
 */

export const SNAPSHOT_FORMAT = "wxflow-sandbox";
/** The bot's sends kept in a snapshot (the phone page's conversation). */
const SENT_KEPT = 500;

export interface SandboxSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  v: 1;
  /** The port it listened on (a sandbox on an ephemeral port may ask for it again). */
  port: number;
  token?: string;
  settings: Settings;
  world: WorldSnapshot;
  sessions: SessionSnapshot[];
  authTickets: [number, { ticket: string; uvid: string }][];
  sent: SentRecord[];
  serials: { msg: string; sent: number };
  savedAt: number;
}

export function takeSnapshot(state: SandboxState, port: number, token: string | undefined): SandboxSnapshot {
  const sessions: SessionSnapshot[] = [];
  for (const session of state.sessions.values()) if (session.live) sessions.push(session.snapshot());
  return {
    format: SNAPSHOT_FORMAT,
    v: 1,
    port,
    ...(token !== undefined ? { token } : {}),
    settings: { ...state.settings },
    world: state.world.snapshot(),
    sessions,
    authTickets: [...state.authTickets].map(([index, t]) => [index, { ...t }]),
    sent: state.sent.slice(-SENT_KEPT).map((r) => ({ ...r })),
    serials: state.serials,
    savedAt: Date.now(),
  };
}

/** The shape of a snapshot, checked before anything is restored from it (a file from another version). */
export function isSnapshot(value: unknown): value is SandboxSnapshot {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  const world = v.world as Record<string, unknown> | null | undefined;
  const serials = v.serials as Record<string, unknown> | null | undefined;
  return (
    v.format === SNAPSHOT_FORMAT &&
    v.v === 1 &&
    typeof v.port === "number" &&
    (v.token === undefined || typeof v.token === "string") &&
    v.settings !== null &&
    typeof v.settings === "object" &&
    world !== null &&
    typeof world === "object" &&
    Array.isArray(world.persons) &&
    Array.isArray(world.groups) &&
    Array.isArray(world.accounts) &&
    Array.isArray(v.sessions) &&
    Array.isArray(v.authTickets) &&
    Array.isArray(v.sent) &&
    serials !== null &&
    typeof serials === "object" &&
    typeof serials.msg === "string" &&
    /^\d+$/.test(serials.msg) &&
    typeof serials.sent === "number"
  );
}

/** Put a snapshot into a fresh state (nothing logged in yet). */
export function applySnapshot(state: SandboxState, saved: SandboxSnapshot): void {
  state.restoreWorld(new World({ seed: saved.world.seed, contacts: 0, groups: 0, accounts: 1 }, saved.world), saved.serials);
  Object.assign(state.settings, saved.settings);
  for (const s of saved.sessions) {
    const account = state.world.accounts[s.account];
    if (!account) continue;
    const session = Session.restore(account, s);
    state.sessions.set(session.sid, session);
  }
  for (const [index, ticket] of saved.authTickets) state.authTickets.set(index, { ...ticket });
  state.sent.push(...saved.sent);
}
