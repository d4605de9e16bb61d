/**
 * The plumbing every sensor driver shares: the I2C device it opened, the `SensorError`s it
 * rejects with, HAL I2C errors turned into those, and waits on a HAL timer that `close()`
 * can cut short. What a driver sends and when stays in the driver.
 *
 * Firmware rules: only the language, typed arrays and the HAL; no busy-waiting.
 */
import { I2CError } from '../../hal/i2c';
import type { I2CBus, I2CDevice } from '../../hal/i2c';
import type { TimerId, Timers } from '../../hal/timer';
import { SensorError } from './sensor-error';
import type { SensorErrorCode } from './sensor-error';

/** True for a HAL I2C NACK, which some chips use to say "not ready yet". */
export function isNack(error: unknown): error is I2CError {
  return error instanceof I2CError && error.code === 'nack';
}

/**
 * A HAL I2C error as a `SensorError` that says what to check; anything else is a bug (or
 * already a `SensorError`) and passes through. `nackDetail` is the chip's own advice for a
 * NACK: its address pins, or its power supply.
 */
export function busError(error: unknown, chip: string, address: number, nackDetail: string): unknown {
  if (!(error instanceof I2CError)) return error;
  switch (error.code) {
    case 'nack':
      return new SensorError('nack', chip, address, nackDetail, error);
    case 'timeout':
      return new SensorError('timeout', chip, address, 'I2C transfer timed out (is SCL held low?)', error);
    default:
      return new SensorError('bus', chip, address, `I2C bus error: ${error.message}`, error);
  }
}

/** One wait at a time on a HAL timer, which `abort` clears and rejects. */
export class AbortableWait {
  readonly #timers: Timers;
  #timer: TimerId | undefined;
  #reject: ((error: unknown) => void) | undefined;

  constructor(timers: Timers) {
    this.#timers = timers;
  }

  /** Resolves after `ms` on the HAL timer, unless `abort` comes first. */
  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#reject = reject;
      this.#timer = this.#timers.set(() => {
        this.#timer = undefined;
        this.#reject = undefined;
        resolve();
      }, ms);
    });
  }

  /** Clears the pending timer and rejects its wait with `reason()`; nothing when no wait is pending. */
  abort(reason: () => unknown): void {
    if (this.#timer !== undefined) this.#timers.clear(this.#timer);
    this.#timer = undefined;
    const reject = this.#reject;
    this.#reject = undefined;
    reject?.(reason());
  }
}

/** What a session needs from a driver's options. */
export interface I2CSessionOptions {
  i2c: I2CBus;
  timers: Timers;
  hz?: number;
  port?: number;
}

/**
 * A driver's device on the bus until `close()`: its transfers, with HAL errors mapped to
 * `SensorError`s, and its timer waits, which `close()` rejects with `closed`.
 */
export class I2CSession {
  #device: I2CDevice | undefined;
  readonly #waits: AbortableWait;

  /**
   * Opens `address` on the bus. `onBusError` runs whenever a HAL I2C error is mapped, for a
   * driver that must then forget what it knew about the chip's state.
   */
  constructor(
    /** Chip family as the driver names it in errors, e.g. "SHT3x". */
    readonly chip: string,
    readonly address: number,
    options: I2CSessionOptions,
    /** The detail of a `nack` error: what to check when the chip does not answer. */
    readonly nackDetail: string,
    readonly onBusError?: (error: I2CError) => void,
  ) {
    this.#waits = new AbortableWait(options.timers);
    this.#device = options.i2c.open({ address, hz: options.hz, port: options.port });
  }

  get isOpen(): boolean {
    return this.#device !== undefined;
  }

  /** The device, or `SensorError` `closed` once the session is closed. */
  openDevice(): I2CDevice {
    if (this.#device === undefined) throw this.error('closed', 'driver is closed');
    return this.#device;
  }

  error(code: SensorErrorCode, detail: string, cause?: unknown): SensorError {
    return new SensorError(code, this.chip, this.address, detail, cause);
  }

  /** `busError` for this chip, after telling `onBusError`. */
  fromBusError(error: unknown): unknown {
    if (error instanceof I2CError) this.onBusError?.(error);
    return busError(error, this.chip, this.address, this.nackDetail);
  }

  write(bytes: Uint8Array): void {
    try {
      this.openDevice().write(bytes);
    } catch (error) {
      throw this.fromBusError(error);
    }
  }

  /** Writes `bytes`, then reads `count` with a repeated START; fewer than `count` is a `bus` error. */
  writeRead(bytes: Uint8Array, count: number): Uint8Array {
    let data: Uint8Array;
    try {
      data = this.openDevice().writeRead(bytes, count);
    } catch (error) {
      throw this.fromBusError(error);
    }
    return this.#complete(data, count);
  }

  /**
   * Reads `length` bytes from a chip that NACKs its read header until its answer is ready:
   * each NACK is read again `retryDelayMs` later, up to `retries` times, then the read fails
   * with `timeout` and `notReady(nacks, extraMs)` as its detail, `extraMs` being the time
   * spent on retries.
   */
  async readWhenReady(
    length: number,
    retries: number,
    retryDelayMs: number,
    notReady: (nacks: number, extraMs: number) => string,
  ): Promise<Uint8Array> {
    for (let retry = 0; ; retry++) {
      let data: Uint8Array;
      try {
        data = this.openDevice().read(length);
      } catch (error) {
        if (!isNack(error)) throw this.fromBusError(error);
        if (retry === retries) throw this.error('timeout', notReady(retry + 1, retry * retryDelayMs), error);
        await this.wait(retryDelayMs);
        continue;
      }
      return this.#complete(data, length);
    }
  }

  /** Resolves after `ms` on the HAL timer; `close()` rejects it. */
  wait(ms: number): Promise<void> {
    return this.#waits.wait(ms);
  }

  /** Releases the device; a wait in flight rejects with `closed`. Closing twice is harmless. */
  close(): void {
    const device = this.#device;
    this.#device = undefined;
    device?.close();
    this.#waits.abort(() => this.error('closed', 'closed while sampling'));
  }

  #complete(data: Uint8Array, count: number): Uint8Array {
    if (data.length < count) throw this.error('bus', `short read: ${data.length} of ${count} bytes`);
    return data;
  }
}
