import { randomInt } from "node:crypto";

/** LocalID / ClientMsgId: milliseconds followed by 4 random digits (17 digits), as a string. */
export function makeClientMsgId(now: number = Date.now()): string {
  const ms = Math.max(0, Math.floor(now));
  return `${ms}${String(randomInt(0, 10_000)).padStart(4, "0")}`;
}

/**
 * LocalID / ClientMsgId for one account: the same shape as makeClientMsgId, but never the same id twice. The server
 * answers a repeated ClientMsgId with the first message's answer (a retry) or refuses it when the message differs,
 * so two sends in the same millisecond must not draw the same 4 digits (at 1,000 sends a second they did, about
 * once in 10,000 pairs). Each id is above the one before: within a millisecond the digits count up from a random
 * start, and an overflow carries into the millisecond part.
 */
export class ClientMsgIds {
  private last = 0n;

  constructor(private readonly now: () => number = Date.now) {}

  next(): string {
    let id = BigInt(makeClientMsgId(this.now()));
    if (id <= this.last) id = this.last + 1n;
    this.last = id;
    return id.toString();
  }
}

/** BaseRequest.DeviceID: "e" followed by 15 random digits. */
export function deviceId(): string {
  // Two draws: randomInt's range is limited to 2^48.
  return `e${String(randomInt(0, 100_000_000)).padStart(8, "0")}${String(randomInt(0, 10_000_000)).padStart(7, "0")}`;
}
