/**
 * A real redis-server for tests: its own temp dir, a free 127.0.0.1 port, no persistence (`--save "" --appendonly
 * no`). Ready is read from its own log line, not guessed with a sleep. `restart()` starts a fresh, empty server on
 * the same port (what a Redis restart without persistence looks like to clients). Call `stop()` in an after() hook:
 * it ends the process and removes the temp dir.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REDIS_SERVER = process.env.WXFLOW_REDIS_SERVER ?? "/usr/bin/redis-server";
const READY_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 5_000;

export interface RedisProcess {
  readonly url: string;
  readonly port: number;
  /** Its temp working dir (removed by stop()). */
  readonly dir: string;
  /** Ends the server (SIGTERM, then SIGKILL if it lingers) and removes its temp dir. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL: the server vanishes mid-conversation, as after a crash. The temp dir stays until stop(). */
  kill(): Promise<void>;
  /** Kills the running server (if any) and starts an empty one on the same port. */
  restart(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port from the loopback listener");
  return address.port;
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

function spawnRedis(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    REDIS_SERVER,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let output = "";
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`redis-server on port ${port} ${why}: ${output.slice(-500)}`));
    };
    const timer = setTimeout(() => fail("not ready in time"), READY_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString("utf8");
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer);
        child.off("exit", onExit);
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        resolve(child);
      }
    };
    const onExit = (): void => fail("exited before it was ready");
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("exit", onExit);
    child.once("error", (err) => fail(err.message));
  });
}

export async function startRedis(): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), "wxflow-redis-"));
  const port = await freePort();
  let child: ChildProcess | undefined = await spawnRedis(port, dir);
  let stopped = false;

  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running) return;
    const exited = waitExit(running);
    running.kill(signal);
    const timer = setTimeout(() => running.kill("SIGKILL"), EXIT_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await end("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => end("SIGKILL"),
    async restart() {
      if (stopped) throw new Error("redis-server was stopped");
      await end("SIGKILL");
      child = await spawnRedis(port, dir);
    },
  };
}
