import { type ChildProcess, fork } from "node:child_process";
import * as path from "node:path";
import { removeSessionDirs } from "./session-dir";
import { type Command, isHelloMessage, isReplyMessage, type Replies, type ReplyMessage, type WorkerInit } from "./ipc";

/** The parent's end of one worker process: typed request/reply over IPC, every call with a deadline. */
export class WorkerHandle {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: ReplyMessage) => void>();
  private exited = false;

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (message: unknown) => {
      if (!isReplyMessage(message)) return;
      const settle = this.pending.get(message.id);
      this.pending.delete(message.id);
      settle?.(message);
    });
    child.on("exit", (code, signal) => {
      this.exited = true;
      for (const [id, settle] of this.pending) settle({ id, ok: false, error: `worker exited (${code ?? signal})` });
      this.pending.clear();
    });
  }

  static spawn(file: string, init: WorkerInit | Record<string, unknown>, execArgv: string[]): Promise<WorkerHandle> {
    const child = fork(path.join(__dirname, file), [JSON.stringify(init)], {
      execArgv,
      // BENCH_DEBUG=1 shows the workers' own output (Node-RED's log, client errors).
      stdio: process.env.BENCH_DEBUG ? ["ignore", "inherit", "inherit", "ipc"] : ["ignore", "ignore", "pipe", "ipc"],
      serialization: "advanced",
    });
    // what its client saved, also when it died before its side's stop()
    child.once("exit", () => removeSessionDirs(child.pid));
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      if (stderr.length < 4000) stderr += chunk.toString();
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error("worker did not start within 20 s"));
      }, 20_000);
      child.once("message", (message: unknown) => {
        clearTimeout(timer);
        if (isHelloMessage(message)) resolve(new WorkerHandle(child));
        else reject(new Error("worker sent an unexpected first message"));
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited during start (code ${code}): ${stderr.trim().slice(0, 500)}`));
      });
    });
  }

  call<K extends Command["cmd"]>(command: Extract<Command, { cmd: K }>, timeoutMs: number): Promise<Replies[K]> {
    if (this.exited) return Promise.reject(new Error("worker has exited"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker call "${command.cmd}" timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        if (reply.ok) resolve(reply.value as Replies[K]);
        else reject(new Error(reply.error));
      });
      this.child.send({ id, command });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Ask the worker to stop its client and exit; kill it if it does not within timeoutMs. */
  async close(timeoutMs = 10_000): Promise<string[]> {
    if (this.exited) return [];
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    let errors: string[] = [];
    try {
      errors = (await this.call({ cmd: "stop" }, timeoutMs)).errors;
    } catch {
      // fall through to the kill below
    }
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    await exited;
    clearTimeout(timer);
    return errors;
  }
}
