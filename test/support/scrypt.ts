import type * as Crypto from "node:crypto";
import { createRequire } from "node:module";

// The module object itself (an import gives a copy of its bindings): a test counts the scrypt calls made through it.
const crypto = createRequire(__filename)("node:crypto") as typeof Crypto;

/** Runs `body` with every crypto.scrypt call counted (`derivations()`): how many sealing keys were derived. */
export async function countingScrypt(body: (derivations: () => number) => Promise<void>): Promise<void> {
  const scrypt = crypto.scrypt;
  let count = 0;
  crypto.scrypt = ((...args: unknown[]) => {
    count++;
    return (scrypt as (...a: unknown[]) => void)(...args);
  }) as typeof scrypt;
  try {
    await body(() => count);
  } finally {
    crypto.scrypt = scrypt;
  }
}
