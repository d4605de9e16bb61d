/**
 * The simulator's clock: a discrete-event scheduler in virtual time, or the same interface
 * over real time for interactive runs.
 *
 * In virtual time the clock jumps straight to the next timer, but only once the world is
 * quiet: every device has handled what was delivered to it, and the real network (the broker
 * runs on real sockets) has gone quiet. See `NetQuiet` for what "quiet" means.
 */
export type TimeMode = 'virtual' | 'realtime';

interface Entry {
  at: number;
  seq: number;
  callback: () => void;
}

/** Something whose outstanding work the clock must wait for before jumping ahead. */
export interface Quiescent {
  /** Resolves when this has nothing left to do at the current time. */
  settle(): Promise<void>;
}

export class Scheduler {
  private readonly queue: Entry[] = [];
  private seq = 0;
  private virtualNow = 0;
  private readonly realStart = performance.now();
  private readonly realTimers = new Map<number, ReturnType<typeof setTimeout>>();
  private readonly waiters: Quiescent[] = [];
  private stopped = false;

  constructor(readonly mode: TimeMode) {}

  /** Milliseconds since the simulation started. */
  now(): number {
    return this.mode === 'virtual' ? this.virtualNow : Math.floor(performance.now() - this.realStart);
  }

  /** Runs `callback` at simulation time `at` (not before now). Returns a handle for `cancel`. */
  at(at: number, callback: () => void): number {
    const seq = ++this.seq;
    const when = Math.max(at, this.now());
    if (this.mode === 'realtime') {
      this.realTimers.set(
        seq,
        setTimeout(() => {
          this.realTimers.delete(seq);
          if (!this.stopped) callback();
        }, when - this.now()),
      );
    } else {
      this.push({ at: when, seq, callback });
    }
    return seq;
  }

  cancel(handle: number): void {
    if (this.mode === 'realtime') {
      clearTimeout(this.realTimers.get(handle));
      this.realTimers.delete(handle);
      return;
    }
    const index = this.queue.findIndex((entry) => entry.seq === handle);
    if (index >= 0) this.removeAt(index);
  }

  /** Registers something the virtual clock waits for before each jump. */
  addQuiescent(q: Quiescent): void {
    this.waiters.push(q);
  }

  removeQuiescent(q: Quiescent): void {
    const index = this.waiters.indexOf(q);
    if (index >= 0) this.waiters.splice(index, 1);
  }

  /** Number of pending virtual timers (for tests and progress). */
  get pending(): number {
    return this.mode === 'virtual' ? this.queue.length : this.realTimers.size;
  }

  /**
   * Runs the simulation until time `until` (ms) or until `stop()`. In real time this just
   * waits; in virtual time it fires timers in order as fast as the world allows.
   */
  async run(until: number, shouldStop: () => boolean = () => false): Promise<void> {
    if (this.mode === 'realtime') {
      while (!this.stopped && !shouldStop() && this.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(100, until - this.now())));
      }
      return;
    }
    while (!this.stopped && !shouldStop()) {
      await this.settle();
      const next = this.queue[0];
      if (!next || next.at > until) {
        this.virtualNow = Math.max(this.virtualNow, until);
        return;
      }
      this.virtualNow = next.at;
      while (this.queue.length > 0 && this.queue[0].at === this.virtualNow) {
        const entry = this.queue[0];
        this.removeAt(0);
        entry.callback();
      }
    }
  }

  /** Waits until every registered participant is quiet, twice in a row with nothing new. */
  async settle(): Promise<void> {
    for (let round = 0; round < 1000; round++) {
      const before = this.seq;
      for (const q of [...this.waiters]) await q.settle();
      await new Promise((resolve) => setImmediate(resolve));
      if (before === this.seq) return;
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.realTimers.values()) clearTimeout(timer);
    this.realTimers.clear();
    this.queue.length = 0;
  }

  // A binary heap ordered by (at, seq): equal times fire in the order they were set.
  private push(entry: Entry): void {
    const q = this.queue;
    q.push(entry);
    let i = q.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(q[i], q[parent])) break;
      [q[i], q[parent]] = [q[parent], q[i]];
      i = parent;
    }
  }

  private removeAt(index: number): void {
    const q = this.queue;
    const last = q.pop()!;
    if (index === q.length) return;
    q[index] = last;
    // restore the heap both ways from index
    let i = index;
    while (i > 0 && before(q[i], q[(i - 1) >> 1])) {
      const parent = (i - 1) >> 1;
      [q[i], q[parent]] = [q[parent], q[i]];
      i = parent;
    }
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < q.length && before(q[left], q[smallest])) smallest = left;
      if (right < q.length && before(q[right], q[smallest])) smallest = right;
      if (smallest === i) return;
      [q[i], q[smallest]] = [q[smallest], q[i]];
      i = smallest;
    }
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
