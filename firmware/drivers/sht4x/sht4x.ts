/**
 * Sensirion SHT4x (SHT40/SHT41/SHT43/SHT45) humidity and temperature driver, in the ECMA-419
 * sensor-class shape Moddable drivers use: constructor with options, `configure`, `sample`,
 * `close`. Written from "Datasheet SHT4x" (Sensirion, version 6, February 2023); sections are
 * cited where each command, timing or formula is used.
 *
 * `sample()` is asynchronous: the SHT4x has no clock stretching, it NACKs the read header
 * until a measurement is done (§4.1), so the driver sends the command and waits on a HAL
 * timer for the datasheet maximum before reading.
 *
 * Before its first measurement the driver soft-resets the sensor (§4.7), which puts it in a
 * known state even if the MCU rebooted in the middle of a measurement or heater pulse, and
 * reads the serial number (§4.6) as an identity check: a part that answers with an all-zero
 * or all-one serial, or with another serial than the `serialNumber` option names, is
 * refused with `SensorError` `id`.
 *
 * One operation at a time: a `sample()` or `heat()` while another is in flight rejects with
 * `busy` rather than queueing, so the driver holds no queue.
 *
 * Firmware rules: only the language, typed arrays and the HAL; no busy-waiting.
 */
import type { I2CBus } from '../../../hal/i2c';
import type { Timers } from '../../../hal/timer';
import { I2CSession } from '../driver-support';
import { wordCrcMatches } from '../sht3x/crc8';
import {
  HEATER_COMMAND,
  HEATER_MAX_MS,
  MEASUREMENT_RESULT_LENGTH,
  MEASUREMENT_WAIT_MS,
  MEASURE_COMMAND,
  READ_SERIAL_COMMAND,
  SERIAL_RESULT_LENGTH,
  SHT4X_ADDRESSES,
  SOFT_RESET_COMMAND,
  SOFT_RESET_MAX_MS,
} from './commands';
import type { HeaterDuration, HeaterPower, Repeatability } from './commands';
import { humidityFromRaw, temperatureFromRaw } from './conversion';

export type { HeaterDuration, HeaterPower, Repeatability } from './commands';

export interface SHT4xOptions {
  i2c: I2CBus;
  timers: Timers;
  /** 0x44 (SHT4x-A…, the default), 0x45 (-B…) or 0x46 (-C…): fixed by the order code. */
  address?: number;
  /** Bus speed; the HAL's default when absent. The SHT4x allows up to 1 MHz (FM+). */
  hz?: number;
  /** Bus number from the board definition. */
  port?: number;
  /**
   * The serial number this sensor must have (§4.6), e.g. the one on an SHT43's ISO 17025
   * calibration certificate. When given, any other serial is refused with `id`.
   */
  serialNumber?: number;
}

export interface SHT4xConfiguration {
  /** Trades measurement time for noise (§4.4, timing table in §3). Default `high`. */
  repeatability?: Repeatability;
}

export interface SHT4xSample {
  thermometer: { temperature: number };
  hygrometer: { humidity: number };
}

/** A heater pulse (§4.8): power in mW and length in ms. */
export interface SHT4xHeating {
  power: HeaterPower;
  duration: HeaterDuration;
}

const CHIP = 'SHT4x';
const NACK_DETAIL =
  'no acknowledge from the sensor; check wiring and power, and that the address matches the order code (SHT4x-A 0x44, -B 0x45, -C 0x46)';
/** One transfer plus two retries when a CRC does not match. */
const ATTEMPTS = 3;
/**
 * Extra reads after the first NACKed one, `READ_RETRY_DELAY_MS` apart: the first read comes
 * after the datasheet maximum, so these only cover a slow or stuck chip (10 ms of grace).
 */
const READ_RETRIES = 5;
const READ_RETRY_DELAY_MS = 2;
/** §4.6 gives no time for the serial-number command; a millisecond is ample, and a NACKed read is retried. */
const SERIAL_WAIT_MS = 1;

export class SHT4x {
  readonly address: number;
  readonly #bus: I2CSession;
  readonly #expectedSerial: number | undefined;
  #repeatability: Repeatability = 'high';
  /** Set once the reset and serial check have passed; a failed check is tried again next time. */
  #serialNumber: number | undefined;
  #sampling = false;
  /** Reused for every command: no allocation per sample. */
  readonly #command = new Uint8Array(1);

  constructor(options: SHT4xOptions) {
    const address = options.address ?? SHT4X_ADDRESSES[0];
    if (SHT4X_ADDRESSES.indexOf(address) < 0) {
      throw new RangeError(`${CHIP}: address must be 0x44, 0x45 or 0x46, not ${address}`);
    }
    const expected = options.serialNumber;
    if (expected !== undefined && !(Number.isInteger(expected) && expected >= 0 && expected <= 0xffffffff)) {
      throw new RangeError(`${CHIP}: serialNumber must be a 32-bit unsigned integer`);
    }
    this.address = address;
    this.#expectedSerial = expected;
    this.#bus = new I2CSession(CHIP, address, options, NACK_DETAIL);
  }

  /** The sensor's serial number (§4.6), once the first sample has read it. */
  get serialNumber(): number | undefined {
    return this.#serialNumber;
  }

  /** Changes repeatability for the next sample. Synchronous: nothing is sent. */
  configure(options: SHT4xConfiguration = {}): void {
    this.#bus.openDevice();
    const { repeatability } = options;
    if (repeatability !== undefined) {
      if (repeatability !== 'high' && repeatability !== 'medium' && repeatability !== 'low') {
        throw new RangeError(`${CHIP}: repeatability must be 'high', 'medium' or 'low'`);
      }
      this.#repeatability = repeatability;
    }
  }

  /**
   * Measures once. Rejects with `SensorError`: `nack` (no sensor at the address), `timeout`
   * (the sensor never finished), `crc` (three measurements in a row failed their CRC), `id`
   * (the serial number check failed), `busy` (an operation is in flight), `closed`.
   */
  sample(): Promise<SHT4xSample> {
    const repeatability = this.#repeatability;
    return this.#exclusive(() => this.#measure(MEASURE_COMMAND[repeatability], MEASUREMENT_WAIT_MS[repeatability]));
  }

  /**
   * Runs the heater (§4.8) and returns the high-precision measurement the sensor takes at
   * the end of the pulse, so it reads warmer and drier than the room. §4.8 limits the heater
   * to a 10 % duty cycle; keeping to it is the caller's job.
   */
  heat(heating: SHT4xHeating): Promise<SHT4xSample> {
    if (heating.power !== 200 && heating.power !== 110 && heating.power !== 20) {
      return Promise.reject(new RangeError(`${CHIP}: heater power must be 20, 110 or 200 mW`));
    }
    if (heating.duration !== 1000 && heating.duration !== 100) {
      return Promise.reject(new RangeError(`${CHIP}: heater duration must be 100 or 1000 ms`));
    }
    const waitMs = HEATER_MAX_MS[heating.duration] + MEASUREMENT_WAIT_MS.high;
    const command = HEATER_COMMAND[heating.power][heating.duration];
    return this.#exclusive(() => this.#measure(command, waitMs));
  }

  /** Releases the bus. An operation in flight rejects with `closed`. Closing twice is harmless. */
  close(): void {
    this.#bus.close();
  }

  async #exclusive(operation: () => Promise<SHT4xSample>): Promise<SHT4xSample> {
    this.#bus.openDevice();
    if (this.#sampling) throw this.#bus.error('busy', 'a sample is already in flight; sample() does not queue');
    this.#sampling = true;
    try {
      if (this.#serialNumber === undefined) await this.#identify();
      return await operation();
    } finally {
      this.#sampling = false;
    }
  }

  /** §4.7 soft reset, then §4.6 serial number: the identity check. */
  async #identify(): Promise<void> {
    this.#send(SOFT_RESET_COMMAND);
    await this.#bus.wait(SOFT_RESET_MAX_MS);
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      this.#send(READ_SERIAL_COMMAND);
      await this.#bus.wait(SERIAL_WAIT_MS);
      const data = await this.#readResult(SERIAL_RESULT_LENGTH, SERIAL_WAIT_MS);
      if (!wordCrcMatches(data, 0) || !wordCrcMatches(data, 3)) continue;
      const serial = (((data[0] << 8) | data[1]) * 0x10000 + ((data[3] << 8) | data[4])) >>> 0;
      if (serial === 0 || serial === 0xffffffff) {
        throw this.#bus.error('id', `serial number ${hex32(serial)} is not a programmed SHT4x serial; is this an SHT4x?`);
      }
      if (this.#expectedSerial !== undefined && serial !== this.#expectedSerial) {
        throw this.#bus.error('id', `serial number ${hex32(serial)}, expected ${hex32(this.#expectedSerial)}`);
      }
      this.#serialNumber = serial;
      return;
    }
    throw this.#bus.error('crc', `CRC mismatch in the serial number after ${ATTEMPTS} attempts`);
  }

  /** One command that returns a measurement (§4.4), retried when its CRC fails. */
  async #measure(command: number, waitMs: number): Promise<SHT4xSample> {
    let corruptWords = '';
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      this.#send(command);
      await this.#bus.wait(waitMs); // §3 timing table, maximum
      const data = await this.#readResult(MEASUREMENT_RESULT_LENGTH, waitMs);
      // §4.2: temperature word + CRC, then humidity word + CRC; §4.3 for the CRC.
      const temperatureOk = wordCrcMatches(data, 0);
      const humidityOk = wordCrcMatches(data, 3);
      if (temperatureOk && humidityOk) {
        return {
          thermometer: { temperature: temperatureFromRaw((data[0] << 8) | data[1]) },
          hygrometer: { humidity: humidityFromRaw((data[3] << 8) | data[4]) },
        };
      }
      corruptWords = temperatureOk ? 'humidity word' : humidityOk ? 'temperature word' : 'temperature and humidity words';
    }
    throw this.#bus.error('crc', `CRC mismatch in ${corruptWords} after ${ATTEMPTS} attempts`);
  }

  /** §4.1: the sensor NACKs the read header until its result is ready; retry a bounded number of times. */
  #readResult(length: number, waitedMs: number): Promise<Uint8Array> {
    return this.#bus.readWhenReady(
      length,
      READ_RETRIES,
      READ_RETRY_DELAY_MS,
      (nacks, extraMs) => `result not ready ${waitedMs + extraMs} ms after the command (read NACKed ${nacks} times)`,
    );
  }

  #send(command: number): void {
    this.#command[0] = command;
    this.#bus.write(this.#command);
  }
}

function hex32(value: number): string {
  return '0x' + value.toString(16).padStart(8, '0');
}
