import * as os from "node:os";
import type { RedSettings } from "./red";

/** The environment variable naming this Node-RED instance among those sharing accounts on Redis (#17). */
export const INSTANCE_ENV = "WXFLOW_INSTANCE";

/** settings.js `wxflow: { <name> }`, unchecked. */
function setting(settings: RedSettings, name: string): unknown {
  let wxflow = settings.wxflow;
  if (wxflow === undefined && settings.get) {
    try {
      wxflow = settings.get("wxflow");
    } catch {
      // settings.get throws while the runtime's settings are not loaded (e.g. under the test helper)
    }
  }
  return wxflow !== null && typeof wxflow === "object" ? (wxflow as Record<string, unknown>)[name] : undefined;
}

/** settings.js `wxflow: { leaseTtlMs }`: how long an account's lease lasts without renewal (default: the lease's 15 s). */
export function leaseTtlMs(settings: RedSettings): number | undefined {
  const value = setting(settings, "leaseTtlMs");
  return typeof value === "number" && Number.isFinite(value) && value >= 300 ? Math.floor(value) : undefined;
}

/**
 * The name this instance holds an account's lease under, shown as `standby: <name>` on the other instances:
 * settings.js `wxflow: { instanceName }`, else $WXFLOW_INSTANCE, else `<hostname>:<pid>`.
 */
export function instanceName(settings: RedSettings, env: NodeJS.ProcessEnv = process.env, pid = process.pid): string {
  const fromSettings = setting(settings, "instanceName");
  if (typeof fromSettings === "string" && fromSettings.trim() !== "") return fromSettings.trim();
  const fromEnv = env[INSTANCE_ENV]?.trim();
  if (fromEnv) return fromEnv;
  return `${os.hostname()}:${pid}`;
}
