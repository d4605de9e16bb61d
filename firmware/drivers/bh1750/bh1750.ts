/**
 * ROHM BH1750FVI ambient light sensor driver, in the ECMA-419 sensor-class shape Moddable
 * drivers use: constructor with options, `configure`, `sample`, `close`. Written from the
 * "BH1750FVI Technical Note" (ROHM, 2009.04 Rev.B); pages are cited where each instruction,
 * timing or formula is used. `sample()` resolves to `{ lightmeter: { illuminance } }` in lux,
 * the property names Moddable's ambient-light drivers use in a compound sample.
 *
 * The BH1750 has no ready flag: reading the data register mid-measurement returns the previous
 * result (or 0 after power-on). So the driver never reads before the datasheet's maximum
 * measurement time (180 ms at the default MTreg, scaled by MTreg: p.2, p.11) has passed on a
 * HAL timer since it started a measurement:
 * - `one-time` mode (default): every sample starts a measurement and waits for it; the chip
 *   powers down by itself afterwards (p.5), drawing 0.01 µA typical between samples.
 * - `continuous` mode: the first sample after `configure` starts the measurement and waits;
 *   later samples read the latest result at once.
 *
 * It follows that a measurement that never finishes cannot be told from a reading of the
 * previous value; the chip also has no checksum and no identification register, so this
 * driver never rejects with `crc`, `id` or a chip-reported `timeout`.
 *
 * One sample at a time: a second call while one is in flight rejects with `busy`.
 * Firmware rules: only the language, typed arrays and the HAL; no busy-waiting.
 */
import type { I2CBus } from '../../../hal/i2c';
import type { Timers } from '../../../hal/timer';
import { I2CSession } from '../driver-support';
import {
  BH1750_ADDRESSES,
  MEASURE_COMMAND,
  MTREG_DEFAULT,
  MTREG_MAX,
  MTREG_MIN,
  POWER_DOWN,
  POWER_ON,
  RESULT_LENGTH,
  measurementWaitMs,
  mtregHighCommand,
  mtregLowCommand,
} from './commands';
import type { BH1750Mode, BH1750Resolution } from './commands';
import { illuminanceFromCount } from './conversion';

export type { BH1750Mode, BH1750Resolution } from './commands';

export interface BH1750Options {
  i2c: I2CBus;
  timers: Timers;
  /** 0x23 (ADDR low, the default) or 0x5C (ADDR high), p.10. */
  address?: number;
  /** Bus speed; the HAL's default when absent. The BH1750 allows up to 400 kHz (p.2). */
  hz?: number;
  /** Bus number from the board definition. */
  port?: number;
}

export interface BH1750Configuration {
  /** `one-time` (default) or `continuous`, p.5. */
  mode?: BH1750Mode;
  /** `high`: H-resolution mode, 1 lx (default); `high2`: H-resolution mode2, 0.5 lx (p.5). */
  resolution?: BH1750Resolution;
  /**
   * The Measurement Time register, 31…254 (default 69), p.11: higher is more sensitive and
   * slower (measurement time and counts scale with it), e.g. to make up for an optical window
   * or to resolve 0.11 lx; lower reaches 100 000 lx.
   */
  mtreg?: number;
}

export interface BH1750Sample {
  lightmeter: { illuminance: number };
}

const CHIP = 'BH1750';
const NACK_DETAIL = 'no acknowledge from the sensor; check wiring and power, and that the address matches the ADDR pin (0x23 low, 0x5c high)';

interface Setting {
  mode: BH1750Mode;
  resolution: BH1750Resolution;
  mtreg: number;
}

export class BH1750 {
  readonly address: number;
  readonly #bus: I2CSession;
  #setting: Setting = { mode: 'one-time', resolution: 'high', mtreg: MTREG_DEFAULT };
  /**
   * The chip's state as far as the driver knows: unknown until it has sent Power On. MTreg
   * is written on the first sample even when it is the default, because the chip keeps
   * whatever a previous firmware wrote until its supply is cycled.
   */
  #poweredOn = false;
  #chipMtreg: number | undefined;
  /** The continuous measurement running with a result already waited for. */
  #running: Setting | undefined;
  #sampling = false;
  readonly #command = new Uint8Array(1);

  constructor(options: BH1750Options) {
    const address = options.address ?? BH1750_ADDRESSES[0];
    if (BH1750_ADDRESSES.indexOf(address) < 0) {
      throw new RangeError(`${CHIP}: address must be 0x23 or 0x5c, not ${address}`);
    }
    this.address = address;
    this.#bus = new I2CSession(CHIP, address, options, NACK_DETAIL);
  }

  /** Changes mode, resolution and MTreg for the next sample. Synchronous: nothing is sent yet. */
  configure(options: BH1750Configuration = {}): void {
    this.#bus.openDevice();
    const { mode, resolution, mtreg } = options;
    if (mode !== undefined && mode !== 'one-time' && mode !== 'continuous') {
      throw new RangeError(`${CHIP}: mode must be 'one-time' or 'continuous'`);
    }
    if (resolution !== undefined && resolution !== 'high' && resolution !== 'high2') {
      throw new RangeError(`${CHIP}: resolution must be 'high' or 'high2'`);
    }
    if (mtreg !== undefined && !(Number.isInteger(mtreg) && mtreg >= MTREG_MIN && mtreg <= MTREG_MAX)) {
      throw new RangeError(`${CHIP}: mtreg must be an integer from ${MTREG_MIN} to ${MTREG_MAX}`);
    }
    this.#setting = {
      mode: mode ?? this.#setting.mode,
      resolution: resolution ?? this.#setting.resolution,
      mtreg: mtreg ?? this.#setting.mtreg,
    };
  }

  /**
   * Measures (or, in continuous mode once running, reads the latest result). Rejects with
   * `SensorError`: `nack` (no sensor at the address), `timeout`/`bus` (the bus failed),
   * `busy` (a sample is in flight), `closed`.
   */
  async sample(): Promise<BH1750Sample> {
    this.#bus.openDevice();
    if (this.#sampling) throw this.#bus.error('busy', 'a sample is already in flight; sample() does not queue');
    this.#sampling = true;
    try {
      const setting = this.#setting;
      if (!this.#poweredOn) {
        this.#send(POWER_ON); // p.5: from power down, wait for a measurement command
        this.#poweredOn = true;
      }
      if (this.#chipMtreg !== setting.mtreg) {
        this.#send(mtregHighCommand(setting.mtreg)); // p.5, p.11: two opcodes, high bits first
        this.#send(mtregLowCommand(setting.mtreg));
        this.#chipMtreg = setting.mtreg;
        this.#running = undefined;
      }
      const running = this.#running;
      const alreadyRunning =
        setting.mode === 'continuous' &&
        running !== undefined &&
        running.mode === setting.mode &&
        running.resolution === setting.resolution &&
        running.mtreg === setting.mtreg;
      if (!alreadyRunning) {
        this.#running = undefined;
        this.#send(MEASURE_COMMAND[setting.mode][setting.resolution]);
        await this.#bus.wait(measurementWaitMs(setting.mtreg)); // p.2 tHR max, scaled by MTreg (p.11)
        if (setting.mode === 'continuous') this.#running = setting;
      }
      const data = this.#read();
      const count = (data[0] << 8) | data[1]; // p.10 Read Format: high byte first
      return { lightmeter: { illuminance: illuminanceFromCount(count, setting.mtreg, setting.resolution) } };
    } finally {
      this.#sampling = false;
    }
  }

  /**
   * Powers the chip down (p.5) if it was ever powered on, best effort, and releases the bus.
   * A sample in flight rejects with `closed`. Closing twice is harmless.
   */
  close(): void {
    if (this.#bus.isOpen && this.#poweredOn) {
      try {
        this.#command[0] = POWER_DOWN;
        this.#bus.write(this.#command);
      } catch {
        // Closing anyway: a chip that does not answer is not drawing much either.
      }
    }
    this.#bus.close();
  }

  #read(): Uint8Array {
    let data: Uint8Array;
    try {
      data = this.#bus.openDevice().read(RESULT_LENGTH);
    } catch (error) {
      this.#forgetChipState();
      throw this.#bus.fromBusError(error);
    }
    if (data.length < RESULT_LENGTH) throw this.#bus.error('bus', `short read: ${data.length} of ${RESULT_LENGTH} bytes`);
    return data;
  }

  #send(opcode: number): void {
    this.#command[0] = opcode;
    try {
      this.#bus.openDevice().write(this.#command);
    } catch (error) {
      this.#forgetChipState();
      throw this.#bus.fromBusError(error);
    }
  }

  /**
   * After a failed transfer the chip may have browned out and come back in power down with
   * MTreg 69: start again from Power On and rewrite MTreg on the next sample.
   */
  #forgetChipState(): void {
    this.#poweredOn = false;
    this.#chipMtreg = undefined;
    this.#running = undefined;
  }
}
