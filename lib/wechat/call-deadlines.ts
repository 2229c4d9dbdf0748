import { performance } from "node:perf_hooks";

/**
 * The whole-call timeouts of one HttpClient's direct calls, kept by one timer: a call's deadline is an entry in a
 * map, made and dropped without touching a timer as long as an earlier deadline is armed. A timer per call cost
 * ~15 us in a process just woken (setTimeout, then clearTimeout emptying Node's list of that duration, made again by
 * the next call), paid on the way of every message by its synccheck and its webwxsync (issue #19); an entry costs
 * ~5. The timer is armed for the earliest deadline, re-armed when it fires, and cleared by close(). Unreferenced: a
 * call in flight keeps the process alive by its socket, not by its deadline.
 */
export class CallDeadlines {
  /** Each call's onTimeout and its deadline (performance.now() ms). */
  private readonly calls = new Map<() => void, number>();
  private timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is armed for (Infinity: none). */
  private armedFor = Infinity;
  private closed = false;

  /**
   * Calls `onTimeout` once, when `timeoutMs` have passed and the function returned was not called before (call it
   * when the call is over).
   */
  watch(timeoutMs: number, onTimeout: () => void): () => void {
    const deadline = performance.now() + timeoutMs;
    this.calls.set(onTimeout, deadline);
    if (deadline < this.armedFor && !this.closed) this.arm(deadline);
    return () => {
      this.calls.delete(onTimeout);
    };
  }

  /** Stops the timer and forgets every deadline: what was in flight is ended by its own close (HttpClient.close). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    this.calls.clear();
  }

  private arm(deadline: number): void {
    clearTimeout(this.timer);
    this.armedFor = deadline;
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(deadline - performance.now())));
    this.timer.unref();
  }

  /** The calls past their deadline time out (in the order they were watched); the timer is armed for the next one. */
  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = performance.now();
    const due: (() => void)[] = [];
    let next = Infinity;
    for (const [onTimeout, deadline] of this.calls) {
      if (deadline <= now) due.push(onTimeout);
      else if (deadline < next) next = deadline;
    }
    for (const onTimeout of due) this.calls.delete(onTimeout);
    if (next < Infinity && !this.closed) this.arm(next);
    for (const onTimeout of due) onTimeout();
  };
}
