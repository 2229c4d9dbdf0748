import type { SessionStorage } from "../../lib/wechat/store";

/**
 * Where this instance stands with one account shared on Redis (#17): it runs the account (owner), another
 * instance does (standby, with its name when known), or Redis cannot be reached and the lease is not ours (paused).
 */
export type Role = { kind: "owner" } | { kind: "standby"; owner?: string } | { kind: "paused" };

/** The account's side of the lease: which instance runs it, and the session storage fenced by that lease. */
export interface Ownership {
  /** This instance's name (settings wxflow.instanceName, $WXFLOW_INSTANCE, or host:pid). */
  readonly self: string;
  readonly role: Role;
  /**
   * The session storage the client uses while it runs here (every write checks the lease). Throws when the
   * session key cannot be had (a configured key file that cannot be read, or no key shared between instances).
   */
  storage(): SessionStorage;
  /** Called on every change of role or of the known owner. */
  onChange(listener: () => void): void;
  /** Connect (and keep the connection up); the lease is not asked for yet. */
  start(): void;
  /**
   * Contend for the lease (and keep it while held) while a wx node uses the account; give it up (released when
   * ours) when none does, so an instance where the account is unused never keeps it from the others.
   */
  contend(on: boolean): Promise<void>;
  /** Release the lease when ours and close the connection. */
  close(): Promise<void>;
}

export function roleOwner(role: Role, self: string): string | undefined {
  return role.kind === "owner" ? self : role.kind === "standby" ? role.owner : undefined;
}
