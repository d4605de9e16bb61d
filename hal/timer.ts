/** An opaque handle for a pending timer. */
export type TimerId = number;

/**
 * One-shot and repeating timers (Moddable: `Timer.set`, `Timer.repeat`, `Timer.clear`).
 * Callbacks run on the device's single event loop; a throwing callback is a firmware
 * exception like any other.
 */
export interface Timers {
  /** Calls `callback` once after `ms` milliseconds. */
  set(callback: () => void, ms: number): TimerId;
  /** Calls `callback` every `ms` milliseconds until cleared. */
  repeat(callback: () => void, ms: number): TimerId;
  /** Cancels a pending timer; clearing an expired or unknown id does nothing. */
  clear(id: TimerId): void;
}
