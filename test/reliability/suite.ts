/**
 * What the reliability test files share in one mocha run: the summary table (printed once, when the run ends)
 * and the watch on unhandled promise rejections (each reliability suite asserts it saw none).
 */
import { strict as assert } from "node:assert";
import { Summary } from "./ledger";

export const summary = new Summary();

const rejections: string[] = [];
// mocha re-emits the event it trapped: count each rejected reason once.
const counted = new WeakSet<object>();
const onRejection = (reason: unknown): void => {
  if (reason !== null && typeof reason === "object") {
    if (counted.has(reason)) return;
    counted.add(reason);
  }
  rejections.push(reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason));
};
process.on("unhandledRejection", onRejection);

// Root-level hook (this module is loaded outside any describe): print the table once the run ends.
after(function () {
  process.off("unhandledRejection", onRejection);
  if (summary.rows.length > 0) console.log(`\n${summary.table("Reliability summary (mocha suite)")}\n`);
});

/**
 * Inside a describe: fail the suite's tests when a promise rejection went unhandled while they ran.
 * An unhandled rejection is a crash in production (Node's default is to exit).
 */
export function watchUnhandledRejections(): void {
  let mark = 0;
  beforeEach(function () {
    mark = rejections.length;
  });
  afterEach(async function () {
    // Rejections are reported after a microtask turn: let them land before looking.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(rejections.slice(mark), [], "unhandled promise rejections");
  });
}
