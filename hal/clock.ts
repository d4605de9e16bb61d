/** Time as the device sees it. */
export interface Clock {
  /** Monotonic milliseconds since boot (Moddable: `Time.ticks`). */
  now(): number;
  /** Wall-clock time in Unix milliseconds, or `undefined` until it has been set (SNTP, the hub). */
  wallTime(): number | undefined;
  /** Sets the wall clock (Moddable: `Time.set(seconds)`). */
  setWallTime(unixMs: number): void;
}
