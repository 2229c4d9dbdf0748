/**
 * Aborts watched per call without a listener per call: one "abort" listener per long-lived signal (the client's,
 * a session's), and a set of the calls watching it. Adding and removing an AbortSignal listener cost ~10 µs each
 * in Node 20 (its EventTarget validates options and tracks listeners), which the sync loop paid twice per page
 * (issue #19); a Set costs well under a microsecond. One watch per HttpClient: nothing is shared between clients.
 */
export class AbortWatch {
  private readonly watchers = new WeakMap<AbortSignal, Set<() => void>>();

  /**
   * Calls `onAbort` once when one of `signals` aborts; the function returned stops watching (call it when the call
   * is over). A signal that has already aborted is not reported: check `aborted` first.
   */
  watch(signals: readonly AbortSignal[], onAbort: () => void): () => void {
    const sets: Set<() => void>[] = [];
    for (const signal of signals) {
      let set = this.watchers.get(signal);
      if (set === undefined) {
        const calls = new Set<() => void>();
        set = calls;
        this.watchers.set(signal, calls);
        signal.addEventListener(
          "abort",
          () => {
            const now = [...calls];
            calls.clear();
            for (const call of now) call();
          },
          { once: true },
        );
      }
      set.add(onAbort);
      sets.push(set);
    }
    return () => {
      for (const set of sets) set.delete(onAbort);
    };
  }
}
