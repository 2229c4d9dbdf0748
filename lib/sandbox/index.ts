import { Sandbox } from "./server";
import type { SandboxOptions } from "./types";

/** The sandbox: a strict emulator of the web-WeChat servers (see README.md). */

export type { SandboxControl } from "./control";
export { Sandbox, DEFAULT_SETTINGS } from "./server";
export * from "./types";
export { isLoopbackHost, networkWarning, TOKEN_HEADER } from "./guard";
export { DEFAULT_MEDIA_BUDGET } from "./budget";
export { isSnapshot, type SandboxSnapshot } from "./persist";

/** Start a sandbox listening on options.host:options.port (default 127.0.0.1, ephemeral port). */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sandbox = new Sandbox(options);
  await sandbox.listen();
  return sandbox;
}
export { FAMILIES, realHostNames, realHostOf, realHostsTransport, type Family, type HostRole, type RealHostsInfo, type RealHostsOptions } from "./real-hosts";
