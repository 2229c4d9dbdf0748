#!/usr/bin/env node
/** wx-sandbox: run the web-WeChat sandbox on its own (see lib/sandbox/README.md). */
import { parseArgs } from "node:util";
import { networkWarning, startSandbox } from "../lib/sandbox";

const USAGE =
  "usage: wx-sandbox [--port 8090] [--host 127.0.0.1] [--contacts 40] [--groups 6] [--seed 1] [--media-budget-mb 256] [--require-desktop] [--no-throttle] [--no-token]";

function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`wx-sandbox: --${name} must be a whole number\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      options: {
        port: { type: "string", short: "p" },
        host: { type: "string" },
        contacts: { type: "string" },
        groups: { type: "string" },
        seed: { type: "string" },
        "require-desktop": { type: "boolean" },
        "no-throttle": { type: "boolean" },
        "no-token": { type: "boolean" },
        "media-budget-mb": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (err) {
    console.error(`wx-sandbox: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const str = (k: string): string | undefined => (typeof values[k] === "string" ? (values[k] as string) : undefined);
  const host = str("host") ?? "127.0.0.1";
  const noToken = values["no-token"] === true;
  const budgetMb = intOption(str("media-budget-mb"), "media-budget-mb", 256);
  const sandbox = await startSandbox({
    host,
    token: noToken ? false : undefined,
    mediaBudgetBytes: Math.max(1, budgetMb) * 1024 * 1024,
    port: intOption(str("port"), "port", 8090),
    contacts: intOption(str("contacts"), "contacts", 40),
    groups: intOption(str("groups"), "groups", 6),
    seed: intOption(str("seed"), "seed", 1),
    requireDesktop: values["require-desktop"] === true,
    ...(values["no-throttle"] === true ? { throttle: false as const } : {}),
  });
  console.log(`wx-sandbox listening on ${sandbox.url}`);
  console.log(`  login URL (use it as the account's login URL): ${sandbox.url}`);
  console.log(`  phone page: ${sandbox.phoneUrl}`);
  console.log(`  control API: ${sandbox.url}/api/sandbox/`);
  if (sandbox.token !== undefined) console.log(`  control token (header X-Sandbox-Token): ${sandbox.token}`);
  else console.log("  control token: off (--no-token)");
  const warning = networkWarning(host, !noToken);
  if (warning) console.error(`wx-sandbox: ${warning}`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`wx-sandbox: ${signal}, closing`);
    sandbox.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((err: unknown) => {
  console.error(`wx-sandbox: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
