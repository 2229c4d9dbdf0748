import { performance } from "node:perf_hooks";

/** The calls of one timeout length, in the order they were watched (so also in the order of their deadlines). */
interface Lane {
  length: number;
  /** Each call's onTimeout and its deadline (performance.now() ms). */
  calls: Map<() => void, number>;
  /** Armed for the first call's deadline (or a deadline since passed) while there is one. */
  timer: NodeJS.Timeout | undefined;
}

/**
 * The whole-call timeouts of one HttpClient's direct calls, kept by one timer per timeout length: a call's deadline is
 * an entry in a map, made and dropped without touching a timer. A timer per call cost ~15 us in a process just woken
 * (setTimeout, then clearTimeout emptying Node's list of that duration, made again by the next call), paid on the way
 * of every message by its synccheck and its webwxsync (issue #19); an entry costs ~5. Calls of one length time out in
 * the order they were made, so a later one never needs the timer re-armed: the synccheck's 38 s and the webwxsync's
 * 15 s each keep their own. A timer that fires re-arms itself for the next deadline of its length, and close() clears
 * them all. Unreferenced: a call in flight keeps the process alive by its socket, not by its deadline.
 */
export class CallDeadlines {
  private readonly lanes = new Map<number, Lane>();
  private closed = false;

  /**
   * Calls `onTimeout` once, when `timeoutMs` have passed and the function returned was not called before (call it
   * when the call is over).
   */
  watch(timeoutMs: number, onTimeout: () => void): () => void {
    const deadline = performance.now() + timeoutMs;
    let lane = this.lanes.get(timeoutMs);
    if (lane === undefined) {
      lane = { length: timeoutMs, calls: new Map(), timer: undefined };
      this.lanes.set(timeoutMs, lane);
    }
    const calls = lane.calls;
    calls.set(onTimeout, deadline);
    if (lane.timer === undefined && !this.closed) this.arm(lane, deadline);
    return () => {
      calls.delete(onTimeout);
    };
  }

  /** Stops every timer and forgets every deadline: what was in flight is ended by its own close (HttpClient.close). */
  close(): void {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
      lane.calls.clear();
    }
  }

  private arm(lane: Lane, deadline: number): void {
    lane.timer = setTimeout(() => this.fire(lane), Math.max(1, Math.ceil(deadline - performance.now())));
    lane.timer.unref();
  }

  /**
   * The lane's calls past their deadline time out, oldest first; the timer is armed for the next one, if any. A lane
   * left without calls is dropped: lengths come and go (a caller's own timeoutMs) without piling up.
   */
  private fire(lane: Lane): void {
    lane.timer = undefined;
    const now = performance.now();
    const due: (() => void)[] = [];
    let next: number | undefined;
    for (const [onTimeout, deadline] of lane.calls) {
      if (deadline > now) {
        next = deadline;
        break;
      }
      due.push(onTimeout);
    }
    for (const onTimeout of due) lane.calls.delete(onTimeout);
    if (next !== undefined && !this.closed) this.arm(lane, next);
    else if (lane.calls.size === 0 && this.lanes.get(lane.length) === lane) this.lanes.delete(lane.length);
    for (const onTimeout of due) onTimeout();
  }
}
