/**
 * Work that can wait for the network: tasks run in the order they were added, one per turn of the event loop
 * (setImmediate), so that an answer arriving meanwhile is read, and the call after it sent, before the next task
 * runs. Each task's promise settles with what it returned or threw. Nothing is kept once a task has run; a task
 * never runs twice; the queue needs no closing (a pending turn ends as soon as the tasks added so far have run).
 */
export class TurnQueue {
  private readonly tasks: Array<() => void> = [];
  private scheduled = false;

  /** Runs `task` after the tasks added before it, in a turn of its own. */
  run<T>(task: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.tasks.push(() => {
        try {
          resolve(task());
        } catch (error) {
          reject(error);
        }
      });
      this.schedule();
    });
  }

  /** Tasks added and not run yet. */
  get size(): number {
    return this.tasks.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.tasks.shift()?.();
      if (this.tasks.length > 0) this.schedule();
    });
  }
}
