/**
 * Texas Instruments ADS1115 16-bit ADC driver, in the ECMA-419 sensor-class shape Moddable
 * drivers use: constructor with options, `configure`, `sample`, `close`. Written from the
 * datasheet (SBAS444D, January 2018); sections are cited where each register or time is used.
 *
 * Sample shape. Neither ECMA-419 nor the Moddable SDK has an ADC sensor class (the SDK has
 * no ADS1115 driver); the nearest convention is ECMA-419's Analog IO class, whose `read()`
 * gives the raw code. So a sample carries both the raw code and the physical value, in
 * volts, named plainly: `{ voltage, raw, clipped, readings }`, where `voltage`/`raw`/
 * `clipped` are those of the first configured input and `readings` lists every configured
 * input in order (`{ input, voltage, raw, clipped }`), for boards that scan several.
 * `clipped` marks a full-scale code (§9.5.4): the input is at or beyond ±FSR, and
 * `voltage` is then a bound, not a measurement. It is a reading, not an error.
 *
 * `sample()` runs one single-shot conversion per input (§9.4.2.1): it writes the config
 * with OS = 1, waits on a HAL timer for one conversion period at the slowest data rate the
 * datasheet allows, then reads the config back until OS says the conversion is done
 * (bounded), and reads the conversion register. The bus and event loop stay free meanwhile.
 *
 * One sample at a time: a call while one is in flight rejects with `SensorError` `busy`.
 * Firmware rules: only the language, typed arrays and the HAL; no busy-waiting.
 */
import type { I2CBus } from '../../../hal/i2c';
import type { Timers } from '../../../hal/timer';
import { I2CSession } from '../driver-support';
import { isClipped, signedWord, voltsFromRaw } from './conversion';
import { ADS1115_ADDRESSES, CONFIG, DR_CODE, MUX_CODE, PGA_CODE, POINTER, conversionWaitMs, singleShotConfig } from './registers';
import type { ADS1115Input, DataRate, FullScale } from './registers';

export type { ADS1115Input, DataRate, FullScale } from './registers';

export interface ADS1115Options {
  i2c: I2CBus;
  timers: Timers;
  /** 0x48 (ADDR to GND, the default), 0x49 (VDD), 0x4A (SDA) or 0x4B (SCL), §9.5.1.1. */
  address?: number;
  /** Bus speed; the HAL's default when absent. Up to 400 kHz without Hs mode (§9.5.1.3). */
  hz?: number;
  /** Bus number from the board definition. */
  port?: number;
}

export interface ADS1115Configuration {
  /** One input to convert (§9.6.3 MUX). Default `ain0`, single-ended. */
  input?: ADS1115Input;
  /** Several inputs, converted in this order on each sample (at most 8). Excludes `input`. */
  inputs?: readonly ADS1115Input[];
  /**
   * Full-scale range ±V (the PGA, §9.3.3). Default ±4.096 V, which covers a 3.3 V system
   * (the chip's own power-up default is ±2.048 V). No input may exceed VDD + 0.3 V whatever
   * the range (§7.1).
   */
  fullScale?: FullScale;
  /** Conversions per second (§9.3.6): slower is quieter. Default 128, the chip's default. */
  rate?: DataRate;
}

export interface ADS1115Reading {
  input: ADS1115Input;
  /** AINP − AINN in volts: raw · FSR / 32768. */
  voltage: number;
  /** The conversion result, a signed 16-bit integer (§9.6.2). */
  raw: number;
  /** The code is 0x7FFF or 0x8000: the input is at or beyond the full-scale range (§9.5.4). */
  clipped: boolean;
}

export interface ADS1115Sample {
  /** The first configured input's reading, at the top level for the common one-input case. */
  voltage: number;
  raw: number;
  clipped: boolean;
  /** Every configured input, in order. */
  readings: ADS1115Reading[];
}

const CHIP = 'ADS1115';
const NACK_DETAIL =
  'no acknowledge from the ADC; check wiring and power, and that the address matches the ADDR pin (GND 0x48, VDD 0x49, SDA 0x4a, SCL 0x4b)';
const MAX_INPUTS = 8;
/** Extra config reads after the first finds OS = 0, each 5% of a conversion period apart (at least 1 ms). */
const POLL_RETRIES = 4;

export class ADS1115 {
  readonly address: number;
  readonly #bus: I2CSession;
  #inputs: readonly ADS1115Input[] = ['ain0'];
  #fullScale: FullScale = 4.096;
  #rate: DataRate = 128;
  #sampling = false;
  /** Reused for every transfer: pointer byte plus a 16-bit register value. */
  readonly #command = new Uint8Array(3);
  readonly #pointer = new Uint8Array(1);

  constructor(options: ADS1115Options) {
    const address = options.address ?? ADS1115_ADDRESSES[0];
    if (ADS1115_ADDRESSES.indexOf(address) < 0) {
      throw new RangeError(`${CHIP}: address must be 0x48, 0x49, 0x4a or 0x4b, not ${address}`);
    }
    this.address = address;
    this.#bus = new I2CSession(CHIP, address, options, NACK_DETAIL);
  }

  /** Changes inputs, range and rate. Synchronous and without bus traffic: each sample writes its own config. */
  configure(options: ADS1115Configuration = {}): void {
    this.#bus.openDevice();
    const { input, inputs, fullScale, rate } = options;
    if (input !== undefined && inputs !== undefined) throw new RangeError(`${CHIP}: give input or inputs, not both`);
    const chosen = input !== undefined ? [input] : inputs;
    if (chosen !== undefined) {
      if (chosen.length === 0 || chosen.length > MAX_INPUTS) throw new RangeError(`${CHIP}: between 1 and ${MAX_INPUTS} inputs`);
      for (const name of chosen) {
        if (!Object.prototype.hasOwnProperty.call(MUX_CODE, name)) {
          throw new RangeError(`${CHIP}: unknown input ${String(name)}; inputs are ain0…ain3 or the pairs ain0-ain1, ain0-ain3, ain1-ain3, ain2-ain3`);
        }
      }
    }
    if (fullScale !== undefined && !Object.prototype.hasOwnProperty.call(PGA_CODE, fullScale)) {
      throw new RangeError(`${CHIP}: fullScale must be 6.144, 4.096, 2.048, 1.024, 0.512 or 0.256 (volts)`);
    }
    if (rate !== undefined && !Object.prototype.hasOwnProperty.call(DR_CODE, rate)) {
      throw new RangeError(`${CHIP}: rate must be 8, 16, 32, 64, 128, 250, 475 or 860 (samples per second)`);
    }
    if (chosen !== undefined) this.#inputs = chosen.slice();
    if (fullScale !== undefined) this.#fullScale = fullScale;
    if (rate !== undefined) this.#rate = rate;
  }

  /**
   * Converts each configured input once. Rejects with `SensorError`: `nack` (no ADC at the
   * address), `id` (the config register does not hold what was written: not an ADS111x),
   * `timeout` (a conversion never finished), `busy`, `closed`.
   */
  async sample(): Promise<ADS1115Sample> {
    this.#bus.openDevice();
    if (this.#sampling) throw this.#bus.error('busy', 'a sample is already in flight; sample() does not queue');
    this.#sampling = true;
    try {
      const inputs = this.#inputs;
      const fullScale = this.#fullScale;
      const rate = this.#rate;
      const readings: ADS1115Reading[] = [];
      for (let i = 0; i < inputs.length; i++) {
        const raw = await this.#convert(singleShotConfig(inputs[i], fullScale, rate), rate);
        readings.push({ input: inputs[i], voltage: voltsFromRaw(raw, fullScale), raw, clipped: isClipped(raw) });
      }
      const first = readings[0];
      return { voltage: first.voltage, raw: first.raw, clipped: first.clipped, readings };
    } finally {
      this.#sampling = false;
    }
  }

  /** Releases the bus. A sample in flight rejects with `closed`. Closing twice is harmless. */
  close(): void {
    this.#bus.close();
  }

  /** §9.4.2.1: start, wait one conversion, confirm OS = 1 (not converting), read the result. */
  async #convert(config: number, rate: DataRate): Promise<number> {
    this.#writeRegister(POINTER.CONFIG, config);
    const waitMs = conversionWaitMs(rate);
    await this.#bus.wait(waitMs);
    const pollMs = Math.max(1, Math.ceil(1000 / rate / 20));
    let waitedMs = waitMs;
    for (let retry = 0; ; retry++) {
      const status = this.#readRegister(POINTER.CONFIG);
      // Everything but OS reads back as written; anything else is not an ADS111x.
      if (((status ^ config) & ~CONFIG.OS & 0xffff) !== 0) {
        throw this.#bus.error('id', `config reads 0x${hex16(status)} after 0x${hex16(config)} was written; is this an ADS1115?`);
      }
      if (status & CONFIG.OS) break; // §9.6.3: OS reads 1 when no conversion is in progress
      if (retry === POLL_RETRIES) {
        throw this.#bus.error('timeout', `conversion not finished ${waitedMs} ms after it was started (OS still 0)`);
      }
      await this.#bus.wait(pollMs);
      waitedMs += pollMs;
    }
    return this.#readRegister(POINTER.CONVERSION);
  }

  /** §9.5.3: pointer byte, then the value MSB first. */
  #writeRegister(pointer: number, value: number): void {
    const command = this.#command;
    command[0] = pointer;
    command[1] = (value >> 8) & 0xff;
    command[2] = value & 0xff;
    this.#bus.write(command);
  }

  /** §9.5.3: pointer byte, then two bytes MSB first. Conversion results are signed; the config is returned unsigned. */
  #readRegister(pointer: number): number {
    this.#pointer[0] = pointer;
    const data = this.#bus.writeRead(this.#pointer, 2);
    return pointer === POINTER.CONVERSION ? signedWord(data[0], data[1]) : (data[0] << 8) | data[1];
  }
}

function hex16(word: number): string {
  const digits = word.toString(16);
  return '0000'.slice(digits.length) + digits;
}
