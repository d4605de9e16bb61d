/**
 * InvenSense MPU-6050 accelerometer, gyroscope and die-temperature driver, in the ECMA-419
 * sensor-class shape Moddable drivers use: constructor with options, `configure`, `sample`,
 * `close`. Written from "MPU-6000 and MPU-6050 Register Map and Descriptions"
 * (RM-MPU-6000A-00 rev 4.2) and the "Product Specification" (PS-MPU-6000A-00 rev 3.4).
 *
 * Sample shape: a compound sensor as in ECMA-419's `Accelerometer-Gyroscope/MPU6050` class
 * specification, `accelerometer` {x, y, z} in m/s² and `gyroscope` {x, y, z} in rad/s, plus
 * `thermometer` {temperature} in °C for the die temperature. Configuration uses that
 * specification's property names: `range` (AFS_SEL), `gyroRange` (FS_SEL),
 * `sampleRateDivider` (SMPLRT_DIV), `lowPassFilter` (DLPF_CFG).
 *
 * `sample()` is asynchronous, unlike ECMA-419's synchronous one, because the chip needs
 * time the driver waits out on HAL timers rather than by blocking (Moddable's driver calls
 * `Timer.delay(150)` twice in its constructor). The first sample brings the chip up: checks
 * WHO_AM_I, resets it and waits the 100 ms reset time, wakes it on the gyroscope clock,
 * writes the configuration, and waits the 30 ms gyroscope start-up time (PS §6.1). Every
 * sample then waits for DATA_RDY (RM §4.16), polling once per sample period, so it always
 * returns a measurement taken after the previous `sample()` and after any `configure()`.
 *
 * One sample at a time: a call while one is in flight rejects with `busy`.
 * Firmware rules: only the language, typed arrays and the HAL; no busy-waiting.
 */
import type { I2CBus } from '../../../hal/i2c';
import type { Timers } from '../../../hal/timer';
import { I2CSession } from '../driver-support';
import { SensorError } from '../sensor-error';
import { accelerationFromRaw, angularRateFromRaw, int16At, temperatureFromRaw } from './conversion';
import {
  CLKSEL_PLL_X_GYRO,
  DATA_RDY,
  DEVICE_RESET,
  GYRO_STARTUP_MS,
  MAX_LOW_PASS_FILTER,
  MPU6050_ADDRESSES,
  REGISTER,
  RESET_WAIT_MS,
  SENSOR_DATA_LENGTH,
  SLEEP,
  WHO_AM_I_MASK,
  WHO_AM_I_VALUE,
  sampleRateHz,
} from './registers';

/** AFS_SEL / FS_SEL codes, as ECMA-419's MPU6050 class numbers them. */
export type FullScale = 0 | 1 | 2 | 3;

/** `range` values: ±2, ±4, ±8, ±16 g. */
export const AccelerometerRange = { G2: 0, G4: 1, G8: 2, G16: 3 } as const;
/** `gyroRange` values: ±250, ±500, ±1000, ±2000 °/s. */
export const GyroscopeRange = { DPS250: 0, DPS500: 1, DPS1000: 2, DPS2000: 3 } as const;

export interface MPU6050Options {
  i2c: I2CBus;
  timers: Timers;
  /** 0x68 (AD0 low, the default) or 0x69 (AD0 high). */
  address?: number;
  /** Bus speed; the HAL's default when absent. The MPU-6050 allows up to 400 kHz (PS §6.4). */
  hz?: number;
  /** Bus number from the board definition. */
  port?: number;
}

export interface MPU6050Configuration {
  /** Accelerometer full scale, AFS_SEL 0…3 (RM §4.5). Default 0, ±2 g. */
  range?: FullScale;
  /** Gyroscope full scale, FS_SEL 0…3 (RM §4.4). Default 0, ±250 °/s. */
  gyroRange?: FullScale;
  /** SMPLRT_DIV 0…255 (RM §4.2): sample rate = gyroscope output rate / (1 + divider). Default 0. */
  sampleRateDivider?: number;
  /** DLPF_CFG 0…6 (RM §4.3): 0 is 260 Hz accel / 256 Hz gyro bandwidth, 6 is 5 Hz. Default 0. */
  lowPassFilter?: number;
}

export interface MPU6050Sample {
  /** m/s², along each axis. */
  accelerometer: { x: number; y: number; z: number };
  /** rad/s, around each axis. */
  gyroscope: { x: number; y: number; z: number };
  /** Die temperature, °C. */
  thermometer: { temperature: number };
}

const CHIP = 'MPU-6050';
const NACK_DETAIL = 'no acknowledge from the sensor; check wiring and power, and that the address matches the AD0 pin (0x68 low, 0x69 high)';
/** After the 100 ms reset wait, re-read PWR_MGMT_1 this many times, this far apart, for DEVICE_RESET to clear. */
const RESET_RETRIES = 5;
const RESET_RETRY_DELAY_MS = 10;
/** Polls of INT_STATUS after the first, one sample period apart, before a sample fails with `timeout`. */
const DATA_READY_RETRIES = 5;

/** What other InvenSense parts answer in WHO_AM_I, to make an `id` error say what was found. */
const KNOWN_IDS: { [id: number]: string } = { 0x70: 'an MPU-6500', 0x71: 'an MPU-9250', 0x73: 'an MPU-9255', 0x19: 'an MPU-6886' };

interface Settings {
  range: FullScale;
  gyroRange: FullScale;
  sampleRateDivider: number;
  lowPassFilter: number;
}

export class MPU6050 {
  readonly address: number;
  readonly #bus: I2CSession;
  #settings: Settings = { range: 0, gyroRange: 0, sampleRateDivider: 0, lowPassFilter: 0 };
  /** True once the chip is reset, awake, configured and past its gyroscope start-up time. */
  #running = false;
  #sampling = false;
  /** Reused for every transfer: no allocation per sample beyond what the bus returns. */
  readonly #pointer = new Uint8Array(1);
  readonly #registerWrite = new Uint8Array(2);
  /** SMPLRT_DIV, CONFIG, GYRO_CONFIG, ACCEL_CONFIG: consecutive, so one auto-incrementing write. */
  readonly #configurationWrite = new Uint8Array(5);

  constructor(options: MPU6050Options) {
    const address = options.address ?? MPU6050_ADDRESSES[0];
    if (MPU6050_ADDRESSES.indexOf(address) < 0) {
      throw new RangeError(`${CHIP}: address must be 0x68 or 0x69, not ${address}`);
    }
    this.address = address;
    this.#bus = new I2CSession(CHIP, address, options, NACK_DETAIL);
  }

  /**
   * Changes full-scale ranges, sample rate divider and low-pass filter. Synchronous, as in
   * ECMA-419: once the chip is running the registers are written at once, and the data-ready
   * flag is cleared so that the next sample is one taken with the new settings. Before the
   * first sample the settings are kept and written when the chip is brought up (the reset
   * would wipe them). Throws `busy` while a sample is in flight, RangeError for bad values.
   */
  configure(options: MPU6050Configuration = {}): void {
    this.#bus.openDevice();
    const next: Settings = { ...this.#settings };
    if (options.range !== undefined) next.range = fullScale(options.range, 'range');
    if (options.gyroRange !== undefined) next.gyroRange = fullScale(options.gyroRange, 'gyroRange');
    if (options.sampleRateDivider !== undefined) {
      next.sampleRateDivider = integerIn(options.sampleRateDivider, 0, 255, 'sampleRateDivider');
    }
    if (options.lowPassFilter !== undefined) {
      next.lowPassFilter = integerIn(options.lowPassFilter, 0, MAX_LOW_PASS_FILTER, 'lowPassFilter');
    }
    if (this.#sampling) throw this.#bus.error('busy', 'cannot configure while a sample is in flight');
    this.#settings = next;
    if (!this.#running) return;
    try {
      this.#writeConfiguration();
      this.#readRegister(REGISTER.INT_STATUS); // clears DATA_RDY: data from before the change is stale
    } catch (error) {
      this.#running = false; // bring the chip up from a reset next time
      throw error;
    }
  }

  /**
   * Measures once. Rejects with `SensorError`: `nack` (no chip at the address), `id` (the
   * chip is not an MPU-6050), `timeout` (the reset never finished, or no data became ready),
   * `busy` (a sample is already in flight), `closed`. After `nack` or `timeout` the next
   * sample starts again from a reset, in case the chip lost power meanwhile.
   */
  async sample(): Promise<MPU6050Sample> {
    this.#bus.openDevice();
    if (this.#sampling) throw this.#bus.error('busy', 'a sample is already in flight; sample() does not queue');
    this.#sampling = true;
    try {
      if (!this.#running) await this.#start();
      await this.#waitForData();
      // RM §4.17–§4.19: one burst from ACCEL_XOUT_H; the chip serves a burst from one sampling instant.
      const data = this.#read(REGISTER.ACCEL_XOUT_H, SENSOR_DATA_LENGTH);
      const { range, gyroRange } = this.#settings;
      return {
        accelerometer: {
          x: accelerationFromRaw(int16At(data, 0), range),
          y: accelerationFromRaw(int16At(data, 2), range),
          z: accelerationFromRaw(int16At(data, 4), range),
        },
        gyroscope: {
          x: angularRateFromRaw(int16At(data, 8), gyroRange),
          y: angularRateFromRaw(int16At(data, 10), gyroRange),
          z: angularRateFromRaw(int16At(data, 12), gyroRange),
        },
        thermometer: { temperature: temperatureFromRaw(int16At(data, 6)) },
      };
    } catch (error) {
      if (error instanceof SensorError && (error.code === 'nack' || error.code === 'timeout')) this.#running = false;
      throw error;
    } finally {
      this.#sampling = false;
    }
  }

  /**
   * Puts the chip back to sleep if it was running (best effort: a chip that does not answer
   * is not an error here), and releases the bus. A sample in flight rejects with `closed`.
   * Closing twice is harmless.
   */
  close(): void {
    if (this.#running && this.#bus.isOpen) {
      try {
        this.#writeRegister(REGISTER.PWR_MGMT_1, SLEEP | CLKSEL_PLL_X_GYRO); // RM §4.28: SLEEP, 5 µA (PS §6.3)
      } catch {
        // Closing must not fail because the chip is gone.
      }
    }
    this.#running = false;
    this.#bus.close();
  }

  /** Identify, reset, wake, configure, and wait for the gyroscope to settle. */
  async #start(): Promise<void> {
    const id = this.#readRegister(REGISTER.WHO_AM_I);
    if ((id & WHO_AM_I_MASK) !== WHO_AM_I_VALUE) {
      const known = KNOWN_IDS[id];
      throw this.#bus.error(
        'id',
        `WHO_AM_I reads ${hex(id)}, not 0x68: not an MPU-6050${known ? ` (${hex(id)} is what ${known} answers)` : ''}`,
      );
    }
    // RM §4.28: DEVICE_RESET puts every register back to its default; the bit clears when done.
    this.#writeRegister(REGISTER.PWR_MGMT_1, DEVICE_RESET);
    await this.#bus.wait(RESET_WAIT_MS);
    let waitedMs = RESET_WAIT_MS;
    for (let retry = 0; this.#readRegister(REGISTER.PWR_MGMT_1) & DEVICE_RESET; retry++) {
      if (retry === RESET_RETRIES) {
        throw this.#bus.error('timeout', `device reset not finished ${waitedMs} ms after DEVICE_RESET`);
      }
      await this.#bus.wait(RESET_RETRY_DELAY_MS);
      waitedMs += RESET_RETRY_DELAY_MS;
    }
    // Out of sleep (the reset default is SLEEP = 1, RM §3), on the X gyroscope's clock.
    this.#writeRegister(REGISTER.PWR_MGMT_1, CLKSEL_PLL_X_GYRO);
    this.#writeConfiguration();
    this.#writeRegister(REGISTER.INT_ENABLE, DATA_RDY); // RM §4.15: raise DATA_RDY_INT for each new sample
    await this.#bus.wait(GYRO_STARTUP_MS); // PS §6.1, gyroscope start-up time
    this.#readRegister(REGISTER.INT_STATUS); // forget any sample taken while the gyroscope settled
    this.#running = true;
  }

  /** RM §4.16: poll DATA_RDY_INT once per sample period, a bounded number of times. */
  async #waitForData(): Promise<void> {
    const { sampleRateDivider, lowPassFilter } = this.#settings;
    const pollMs = Math.max(1, Math.ceil(1000 / sampleRateHz(sampleRateDivider, lowPassFilter)));
    let waitedMs = 0;
    for (let retry = 0; ; retry++) {
      if (this.#readRegister(REGISTER.INT_STATUS) & DATA_RDY) return;
      if (retry === DATA_READY_RETRIES) {
        throw this.#bus.error('timeout', `no new data after ${waitedMs} ms (DATA_RDY never set; is the chip asleep?)`);
      }
      await this.#bus.wait(pollMs);
      waitedMs += pollMs;
    }
  }

  /** SMPLRT_DIV, CONFIG, GYRO_CONFIG and ACCEL_CONFIG in one auto-incrementing write (RM §4.2–§4.5). */
  #writeConfiguration(): void {
    const { range, gyroRange, sampleRateDivider, lowPassFilter } = this.#settings;
    const bytes = this.#configurationWrite;
    bytes[0] = REGISTER.SMPLRT_DIV;
    bytes[1] = sampleRateDivider;
    bytes[2] = lowPassFilter; // EXT_SYNC_SET = 0: FSYNC unused
    bytes[3] = gyroRange << 3; // FS_SEL [4:3], self-test bits off
    bytes[4] = range << 3; // AFS_SEL [4:3], self-test bits off
    this.#bus.write(bytes);
  }

  #readRegister(register: number): number {
    return this.#read(register, 1)[0];
  }

  /** Sets the register pointer, then reads `count` bytes from it with a repeated START. */
  #read(register: number, count: number): Uint8Array {
    this.#pointer[0] = register;
    return this.#bus.writeRead(this.#pointer, count);
  }

  #writeRegister(register: number, value: number): void {
    this.#registerWrite[0] = register;
    this.#registerWrite[1] = value;
    this.#bus.write(this.#registerWrite);
  }
}

function fullScale(value: number, name: string): FullScale {
  return integerIn(value, 0, 3, name) as FullScale;
}

function integerIn(value: number, min: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${CHIP}: ${name} must be an integer from ${min} to ${max}, not ${value}`);
  }
  return value;
}

function hex(byte: number): string {
  return '0x' + (byte < 16 ? '0' : '') + byte.toString(16);
}
