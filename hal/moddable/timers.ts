/**
 * Timers over Moddable's `timer` module (documentation/base/base.md "Timer"):
 * `Timer.set(callback, ms)` for one-shots, `Timer.repeat(callback, ms)`, `Timer.clear(timer)`.
 * Moddable hands out timer objects; the HAL hands out numbers, so this keeps the map
 * between them, bounded like everything else on the device.
 */
import Timer from "timer";
import type { TimerId, Timers } from "../timer";

/** Pending timers at most; a firmware that needs more is leaking them. */
export const MAX_PENDING_TIMERS = 64;

export class ModdableTimers implements Timers {
  readonly #pending = new Map<TimerId, Timer>();
  #nextId = 1;

  set(callback: () => void, ms: number): TimerId {
    const id = this.#reserve();
    const timer = Timer.set(() => {
      this.#pending.delete(id);
      callback();
    }, Math.max(0, ms));
    this.#pending.set(id, timer);
    return id;
  }

  repeat(callback: () => void, ms: number): TimerId {
    const id = this.#reserve();
    // An interval of 0 would spin the event loop.
    const timer = Timer.repeat(() => callback(), Math.max(1, ms));
    this.#pending.set(id, timer);
    return id;
  }

  clear(id: TimerId): void {
    const timer = this.#pending.get(id);
    if (timer === undefined) return;
    this.#pending.delete(id);
    Timer.clear(timer);
  }

  /** Pending timers now (for diagnostics). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  #reserve(): TimerId {
    if (this.#pending.size >= MAX_PENDING_TIMERS) {
      throw new RangeError(`more than ${MAX_PENDING_TIMERS} timers pending: clear timers that are no longer needed`);
    }
    const id = this.#nextId;
    this.#nextId = id >= 0x7fff_ffff ? 1 : id + 1;
    return id;
  }
}
