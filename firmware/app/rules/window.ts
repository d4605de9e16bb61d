/**
 * A bounded averaging window: the newest samples of one quantity, in a ring of
 * Float64Arrays, and their mean. Sample-count windows keep the last N samples; time windows
 * keep the samples younger than their duration, at most `capacity` of them.
 */
import { MAX_WINDOW_SAMPLES } from './limits';

export type WindowSpec = { readonly samples: number } | { readonly ms: number };

export class AveragingWindow {
  readonly capacity: number;
  private readonly values: Float64Array;
  private readonly times: Float64Array;
  /** Index of the oldest sample. */
  private head = 0;
  private size = 0;

  constructor(readonly spec: WindowSpec) {
    this.capacity = 'samples' in spec ? spec.samples : MAX_WINDOW_SAMPLES;
    if (!Number.isInteger(this.capacity) || this.capacity < 1 || this.capacity > MAX_WINDOW_SAMPLES) {
      throw new RangeError(`an averaging window holds 1 to ${MAX_WINDOW_SAMPLES} samples, not ${this.capacity}`);
    }
    this.values = new Float64Array(this.capacity);
    this.times = new Float64Array(this.capacity);
  }

  /** Samples in the window now (call `expire` first for a time window). */
  get count(): number {
    return this.size;
  }

  /** Adds a sample taken at `nowMs`, dropping the oldest when the window is full. */
  add(value: number, nowMs: number): void {
    this.expire(nowMs);
    if (this.size === this.capacity) {
      this.head = (this.head + 1) % this.capacity;
      this.size--;
    }
    const at = (this.head + this.size) % this.capacity;
    this.values[at] = value;
    this.times[at] = nowMs;
    this.size++;
  }

  /** Drops the samples a time window no longer covers at `nowMs`: those `ms` or more old. */
  expire(nowMs: number): void {
    if (!('ms' in this.spec)) return;
    while (this.size > 0 && nowMs - this.times[this.head]! >= this.spec.ms) {
      this.head = (this.head + 1) % this.capacity;
      this.size--;
    }
  }

  /** The mean of the samples in the window, or undefined when it is empty. */
  mean(): number | undefined {
    if (this.size === 0) return undefined;
    let sum = 0;
    for (let i = 0; i < this.size; i++) sum += this.values[(this.head + i) % this.capacity]!;
    return sum / this.size;
  }

  /** A window of another spec holding this one's newest samples (as many as fit). */
  resized(spec: WindowSpec, nowMs: number): AveragingWindow {
    const next = new AveragingWindow(spec);
    const keep = Math.min(this.size, next.capacity);
    for (let i = this.size - keep; i < this.size; i++) {
      const at = (this.head + i) % this.capacity;
      next.add(this.values[at]!, this.times[at]!);
    }
    next.expire(nowMs);
    return next;
  }
}

/** Whether two window specs describe the same window. */
export function sameWindow(a: WindowSpec, b: WindowSpec): boolean {
  return 'samples' in a ? 'samples' in b && a.samples === b.samples : 'ms' in b && a.ms === b.ms;
}
