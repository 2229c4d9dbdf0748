import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { AbortWatch } from "../../lib/wechat/abort-watch";

describe("AbortWatch: aborts watched per call with one listener per signal (#19)", () => {
  it("reports an abort once to every call still watching, through one listener however many calls watched", () => {
    const watch = new AbortWatch();
    const client = new AbortController();
    const session = new AbortController();
    const calls: string[] = [];
    const stops = Array.from({ length: 100 }, (_, i) => watch.watch([session.signal, client.signal], () => calls.push(`call${i}`)));
    assert.equal(getEventListeners(session.signal, "abort").length, 1);
    assert.equal(getEventListeners(client.signal, "abort").length, 1);
    // Calls 0-97 are over; 98 and 99 are still in flight.
    for (const stop of stops.slice(0, 98)) stop();
    session.abort();
    assert.deepEqual(calls, ["call98", "call99"]);
    // The other signal aborting later reports nothing more for the calls that watched both.
    stops[98]?.();
    stops[99]?.();
    client.abort();
    assert.deepEqual(calls, ["call98", "call99"]);
  });

  it("keeps the watchers of two clients apart", () => {
    const shared = new AbortController();
    const a = new AbortWatch();
    const b = new AbortWatch();
    const heard: string[] = [];
    const stopA = a.watch([shared.signal], () => heard.push("a"));
    b.watch([shared.signal], () => heard.push("b"));
    stopA();
    shared.abort();
    assert.deepEqual(heard, ["b"]);
  });
});
