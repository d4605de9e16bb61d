/**
 * Clock over Moddable's `time` module (documentation/base/base.md "Time"): `Time.ticks` is a
 * 32-bit millisecond counter since boot, extended here to a monotonic count that survives its
 * wrap (every 49.7 days; the clock must be read at least that often, which any firmware
 * with a timer does). Wall time is `Date.now()`, which on ESP32 starts at 0 (1970) until
 * SNTP or `Time.set` sets it; it keeps running across software restarts.
 */
import Time from "time";
import type { Clock } from "../clock";

/** 2024-01-01T00:00:00Z: a wall clock earlier than this has not been set since power-on. */
export const WALL_CLOCK_VALID_FROM = 1_704_067_200_000;

export class ModdableClock implements Clock {
  #lastTicks: number;
  #elapsed: number;
  #setExplicitly = false;

  constructor() {
    this.#lastTicks = Time.ticks >>> 0;
    this.#elapsed = this.#lastTicks;
  }

  now(): number {
    const ticks = Time.ticks >>> 0;
    // Unsigned 32-bit difference: right across a wrap of the counter.
    this.#elapsed += (ticks - this.#lastTicks) >>> 0;
    this.#lastTicks = ticks;
    return this.#elapsed;
  }

  wallTime(): number | undefined {
    const ms = Date.now();
    return this.#setExplicitly || ms >= WALL_CLOCK_VALID_FROM ? ms : undefined;
  }

  setWallTime(unixMs: number): void {
    if (!Number.isFinite(unixMs) || unixMs < 0) throw new RangeError(`wall time must be a non-negative Unix time in ms (got ${unixMs})`);
    // `Time.set` takes whole seconds.
    Time.set(Math.round(unixMs / 1000));
    this.#setExplicitly = true;
  }
}
