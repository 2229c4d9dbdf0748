import { randomInt } from "node:crypto";

/** LocalID / ClientMsgId: milliseconds followed by 4 random digits (17 digits), as a string. */
export function makeClientMsgId(now: number = Date.now()): string {
  const ms = Math.max(0, Math.floor(now));
  return `${ms}${String(randomInt(0, 10_000)).padStart(4, "0")}`;
}

/** BaseRequest.DeviceID: "e" followed by 15 random digits. */
export function deviceId(): string {
  // Two draws: randomInt's range is limited to 2^48.
  return `e${String(randomInt(0, 100_000_000)).padStart(8, "0")}${String(randomInt(0, 10_000_000)).padStart(7, "0")}`;
}
