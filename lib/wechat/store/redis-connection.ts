import { Redis } from "ioredis";
import { WeChatError } from "../errors";

export interface OpenRedisOptions {
  /** redis://host:port[/db] (a password in the URL works too, but keep it in `password`: URLs get logged). */
  url: string;
  password?: string | undefined;
  /** The connection's name in CLIENT LIST (e.g. the instance name). */
  name?: string | undefined;
  /** How long a command may wait for its answer before it fails (default 5 s): no call hangs on a stalled server. */
  commandTimeoutMs?: number | undefined;
  /** Connection problems, as text without secrets (the connection retries on its own). */
  onError?: ((message: string) => void) | undefined;
}

/** The keys of one account under a prefix: `<prefix>:<accountId>:session | :seen | :lease`. */
export function accountKeys(prefix: string, accountId: string): { session: string; seen: string; lease: string } {
  const base = `${prefix}:${accountId}`;
  return { session: `${base}:session`, seen: `${base}:seen`, lease: `${base}:lease` };
}

/**
 * A Redis connection set up for fenced writes: no offline queue and no re-sending after a reconnect, so a command
 * either runs while the connection is up or fails at once (STORE_UNAVAILABLE); none runs late, after the lease may
 * have moved, and none waits longer than commandTimeoutMs. It reconnects on its own (back-off up to 2 s). Resolves
 * once connected; the caller quits it.
 */
export async function openRedis(options: OpenRedisOptions): Promise<Redis> {
  const redis = new Redis(options.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 5_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    ...(options.password ? { password: options.password } : {}),
    ...(options.name ? { connectionName: options.name } : {}),
  });
  // ioredis errors may quote a command's arguments: only their code is passed on.
  redis.on("error", (error: NodeJS.ErrnoException) => options.onError?.(`redis: ${error.code ?? error.name}`));
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new WeChatError("STORE_UNAVAILABLE", `redis: no connection (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  return redis;
}
