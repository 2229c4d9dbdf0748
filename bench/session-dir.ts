import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * Where a worker's client saves its session during a row (bench/sides/ours.ts): a temp folder named after the
 * worker's pid, so that the parent removes it after the worker exits (worker-handle.ts), also when the worker died
 * before its side's stop() could.
 */
const PREFIX = "wxflow-bench-";

/** A new session folder of this process. */
export function makeSessionDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}${process.pid}-`));
}

/** Removes the session folders worker `pid` left; never throws. */
export function removeSessionDirs(pid: number | undefined): void {
  if (pid === undefined) return;
  const mine = `${PREFIX}${pid}-`;
  try {
    for (const name of fs.readdirSync(os.tmpdir())) {
      if (name.startsWith(mine)) fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
    }
  } catch {
    // the temp dir unreadable: nothing to clean
  }
}
