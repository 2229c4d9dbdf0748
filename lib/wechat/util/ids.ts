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

/**
 * BaseRequest.DeviceID: "e" followed by 15 random digits, drawn anew for every request (docs/protocol.md section 2).
 * From Math.random, as the official web client draws it: the id is no secret, and node:crypto's randomInt took
 * 3-8 us a call, twice per request (issue #19).
 */
export function deviceId(): string {
  // 1e15 < 2^53: every value below it is an integer Math.random can reach.
  return `e${String(Math.floor(Math.random() * 1e15)).padStart(15, "0")}`;
}
