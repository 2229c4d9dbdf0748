import type { NodeAPI } from "./red";

/** A duration in ms from settings.js (`name`): a finite number >= 0, else `fallback`. */
export function durationSetting(RED: NodeAPI, name: string, fallback: number): number {
  const value: unknown = (RED.settings as Record<string, unknown>)[name];
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : fallback;
}
