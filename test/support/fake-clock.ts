/**
 * Fake time for code that takes its clock and timers as dependencies (the send queue): timers fire only when a
 * test advances the clock, with promises settling in between.
 */
export class FakeClock {
  t = 1_000_000;
  private timers: Array<{ id: number; at: number; fn: () => void }> = [];
  private nextId = 1;
  readonly now = (): number => this.t;
  readonly setTimer = (fn: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.push({ id, at: this.t + ms, fn });
    return id;
  };
  readonly clearTimer = (handle: unknown): void => {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  };
  get pendingTimers(): number {
    return this.timers.length;
  }
  /** Moves time forward, firing due timers in order and letting promises settle in between. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (let i = 0; i < 10_000; i += 1) {
      await settle();
      const due = this.timers.filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = end;
    await settle();
  }
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}
