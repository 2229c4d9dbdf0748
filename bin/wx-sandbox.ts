#!/usr/bin/env node
/** wx-sandbox: run the web-WeChat sandbox on its own (see lib/sandbox/README.md). */
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { FAMILIES, networkWarning, startSandbox, type Family, type RealHostsOptions } from "../lib/sandbox";

const USAGE =
  "usage: wx-sandbox [--port 8090] [--host 127.0.0.1] [--contacts 40] [--groups 6] [--seed 1] [--media-budget-mb 256] [--require-desktop] [--no-throttle] [--no-token]\n" +
  "                  [--real-hosts wx.qq.com[,web.wechat.com...]] [--real-hosts-port 8443] [--ca-out sandbox-ca.pem]";

/** --real-hosts: the page host of each account's logins, cycling (README.md "Real hosts"). */
function realHostsOption(value: string | undefined, port: number | undefined): RealHostsOptions | undefined {
  if (value === undefined) return undefined;
  const pageHosts: Family[] = [];
  for (const name of value.split(",").map((v) => v.trim()).filter(Boolean)) {
    const family = FAMILIES.find((f) => f === name);
    if (!family) {
      console.error(`wx-sandbox: --real-hosts takes page hosts among ${FAMILIES.join(", ")}\n${USAGE}`);
      process.exit(2);
    }
    pageHosts.push(family);
  }
  return { pageHosts, ...(port !== undefined ? { port } : {}) };
}

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
        "real-hosts": { type: "string" },
        "real-hosts-port": { type: "string" },
        "ca-out": { type: "string" },
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
  const realHosts = realHostsOption(str("real-hosts"), str("real-hosts-port") === undefined ? undefined : intOption(str("real-hosts-port"), "real-hosts-port", 0));
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
    ...(realHosts ? { realHosts } : {}),
  });
  console.log(`wx-sandbox listening on ${sandbox.url}`);
  console.log(`  login URL (use it as the account's login URL): ${sandbox.url}`);
  console.log(`  phone page: ${sandbox.phoneUrl}`);
  console.log(`  control API: ${sandbox.url}/api/sandbox/`);
  const real = sandbox.realHosts;
  if (real) {
    const caFile = str("ca-out") ?? "sandbox-ca.pem";
    await writeFile(caFile, real.ca, { mode: 0o644 });
    console.log(`  real hosts (login URL https://login.wx.qq.com): TLS on ${sandbox.url.replace(/^http:\/\//, "").replace(/:\d+$/, "")}:${real.port}; CA: ${caFile}`);
    console.log(`  connect these names there: ${real.names.join(" ")}`);
  }
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
