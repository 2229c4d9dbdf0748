import { hostsFor, type Hosts } from "./hosts";
import type { SavedSession, SyncKey } from "./session-store";
import type { SelfInfo } from "./types";
import { deviceId } from "./util/ids";

export type { SyncKey } from "./session-store";

/** The live credentials and keys of one logged-in session. Owned by one client; never logged. */
export class Session {
  readonly hosts: Hosts;
  skey: string;
  syncKey?: SyncKey | undefined;
  syncCheckKey?: SyncKey | undefined;
  user: SelfInfo;

  constructor(
    pageUrl: string,
    readonly uin: number,
    readonly sid: string,
    skey: string,
    readonly passTicket: string,
    /**
     * The DeviceID drawn at login, kept only because saved sessions carry one: requests draw a new one each time
     * (deviceIdForRequest), as the official client does (docs/protocol.md section 2).
     */
    readonly deviceId: string,
    user?: SelfInfo,
  ) {
    this.hosts = hostsFor(pageUrl);
    this.skey = skey;
    this.user = user ?? { userName: "", nickName: "", uin };
  }

  static fromSaved(saved: SavedSession): Session {
    const session = new Session(saved.pageUrl, saved.uin, saved.sid, saved.skey, saved.passTicket, saved.deviceId, {
      userName: saved.user.userName,
      nickName: saved.user.nickName,
      uin: saved.user.uin,
    });
    session.syncKey = saved.syncKey;
    session.syncCheckKey = saved.syncCheckKey;
    return session;
  }

  toSaved(cookies: unknown, seen: string[] = []): SavedSession {
    return {
      version: 1,
      pageUrl: this.hosts.page,
      uin: this.uin,
      sid: this.sid,
      skey: this.skey,
      passTicket: this.passTicket,
      deviceId: this.deviceId,
      user: { userName: this.user.userName, nickName: this.user.nickName, uin: this.user.uin },
      ...(this.syncKey ? { syncKey: this.syncKey } : {}),
      ...(this.syncCheckKey ? { syncCheckKey: this.syncCheckKey } : {}),
      ...(seen.length > 0 ? { seen } : {}),
      cookies,
      savedAt: Date.now(),
    };
  }

  /** A new BaseRequest for every request, with a DeviceID drawn anew each time (docs/protocol.md section 2). */
  baseRequest(): { Uin: number; Sid: string; Skey: string; DeviceID: string } {
    return { Uin: this.uin, Sid: this.sid, Skey: this.skey, DeviceID: this.deviceIdForRequest() };
  }

  /** "e" + 15 random digits, drawn anew for every request: the official client never reuses one. */
  deviceIdForRequest(): string {
    return deviceId();
  }

  /** The synccheck `synckey` parameter: from SyncCheckKey, else SyncKey. */
  syncCheckParam(): string {
    return formatSyncKey(this.syncCheckKey ?? this.syncKey);
  }
}

export function formatSyncKey(key: SyncKey | undefined): string {
  return (key?.List ?? []).map((k) => `${k.Key}_${k.Val}`).join("|");
}

/** A SyncKey from a server answer, or undefined when it is absent or empty. */
export function readSyncKey(value: unknown): SyncKey | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const list = (value as { List?: unknown }).List;
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const entries: { Key: number; Val: number }[] = [];
  for (let i = 0; i < list.length; i++) {
    const item: unknown = list[i];
    if (item === null || typeof item !== "object") continue;
    const key = Number((item as { Key?: unknown }).Key);
    const val = Number((item as { Val?: unknown }).Val);
    if (Number.isFinite(key) && Number.isFinite(val)) entries.push({ Key: key, Val: val });
  }
  return entries.length > 0 ? { Count: entries.length, List: entries } : undefined;
}
