/**
 * Sensirion SHT3x-DIS (SHT30/SHT31/SHT35) humidity and temperature driver, in the ECMA-419
 * sensor-class shape Moddable drivers use: constructor with options, `configure`, `sample`,
 * `close`. Written from the datasheet ("Datasheet SHT3x-DIS", v5, May 2018); sections are
 * cited where each command or formula is used.
 *
 * `sample()` is asynchronous, unlike ECMA-419's synchronous one: it uses single-shot
 * measurements *without* clock stretching (§4.3) and waits on a HAL timer for the maximum
 * measurement time (§2.2), so the bus and the event loop stay free meanwhile.
 *
 * One sample at a time: a call while a sample is in flight rejects with `SensorError`
 * code `busy` rather than queueing, so the driver holds no queue and a caller that samples
 * faster than the sensor can measure finds out.
 *
 * Firmware rules: only the language, typed arrays and the HAL; no busy-waiting.
 */
import { I2CError } from '../../../hal/i2c';
import type { I2CBus, I2CDevice } from '../../../hal/i2c';
import type { TimerId, Timers } from '../../../hal/timer';
import { SensorError } from '../sensor-error';
import type { SensorErrorCode } from '../sensor-error';
import {
  COMMAND_GAP_MS,
  HEATER_DISABLE_COMMAND,
  HEATER_ENABLE_COMMAND,
  MEASUREMENT_MAX_MS,
  MEASUREMENT_RESULT_LENGTH,
  SHT3X_ADDRESSES,
  SINGLE_SHOT_COMMAND,
  encodeCommand,
} from './commands';
import type { Repeatability } from './commands';
import { humidityFromRaw, temperatureFromRaw } from './conversion';
import { wordCrcMatches } from './crc8';

export type { Repeatability } from './commands';

export interface SHT3xOptions {
  i2c: I2CBus;
  timers: Timers;
  /** 0x44 (ADDR to VSS, the default) or 0x45 (ADDR to VDD). */
  address?: number;
  /** Bus speed; the HAL's default when absent. The SHT3x allows up to 1 MHz (§4). */
  hz?: number;
  /** Bus number from the board definition. */
  port?: number;
}

export interface SHT3xConfiguration {
  /** Trades measurement time for noise (§2.2, §4.3). Default `high`. */
  repeatability?: Repeatability;
  /** The on-chip heater (§4.10), for plausibility checks or drying out condensation. */
  heater?: boolean;
}

export interface SHT3xSample {
  thermometer: { temperature: number };
  hygrometer: { humidity: number };
}

const CHIP = 'SHT3x';
/** One measurement plus two retries when a CRC does not match. */
const MEASUREMENT_ATTEMPTS = 3;
/**
 * Extra reads after the first NACKed one, `READ_RETRY_DELAY_MS` apart. The first read
 * already comes after the datasheet maximum, so these only cover a slow or stuck chip:
 * 5 × 2 ms gives it 10 ms of grace before the sample fails with `timeout`.
 */
const READ_RETRIES = 5;
const READ_RETRY_DELAY_MS = 2;

export class SHT3x {
  readonly address: number;
  #device: I2CDevice | undefined;
  readonly #timers: Timers;
  #repeatability: Repeatability = 'high';
  /** Unknown until the driver sets it: the chip may have kept it on across an MCU reboot. */
  #heater: boolean | undefined;
  #sampling = false;
  /** Running while a command sent by `configure` is younger than the 1 ms gap (§4.3). */
  #gapTimer: TimerId | undefined;
  /** The timer a sample is waiting on, and how to fail that wait if the driver closes. */
  #waitTimer: TimerId | undefined;
  #abortWait: ((error: SensorError) => void) | undefined;
  /** Reused for every command: no allocation per sample. */
  readonly #command = new Uint8Array(2);

  constructor(options: SHT3xOptions) {
    const address = options.address ?? SHT3X_ADDRESSES[0];
    if (SHT3X_ADDRESSES.indexOf(address) < 0) {
      throw new RangeError(`${CHIP}: address must be 0x44 or 0x45, not ${address}`);
    }
    this.address = address;
    this.#timers = options.timers;
    this.#device = options.i2c.open({ address, hz: options.hz, port: options.port });
  }

  /**
   * Changes repeatability and heater. Synchronous, as in ECMA-419: a heater change is sent
   * at once. Throws `SensorError` `busy` if a sample is in flight or a previous heater
   * command is less than 1 ms old (§4.3), since the sensor would not take the command.
   */
  configure(options: SHT3xConfiguration = {}): void {
    this.#openDevice();
    const { repeatability, heater } = options;
    if (repeatability !== undefined) {
      if (repeatability !== 'high' && repeatability !== 'medium' && repeatability !== 'low') {
        throw new RangeError(`${CHIP}: repeatability must be 'high', 'medium' or 'low'`);
      }
      this.#repeatability = repeatability;
    }
    if (heater !== undefined && heater !== this.#heater) {
      if (this.#sampling) throw this.#error('busy', 'cannot switch the heater while a sample is in flight');
      if (this.#gapTimer !== undefined) {
        throw this.#error('busy', 'previous command less than 1 ms ago; the sensor needs a gap between commands');
      }
      this.#send(heater ? HEATER_ENABLE_COMMAND : HEATER_DISABLE_COMMAND); // §4.10 Table 16
      this.#heater = heater;
      this.#gapTimer = this.#timers.set(() => {
        this.#gapTimer = undefined;
      }, COMMAND_GAP_MS);
    }
  }

  /**
   * Measures once. Rejects with `SensorError`: `nack` (no sensor at the address), `timeout`
   * (the sensor never finished), `crc` (three measurements in a row failed their CRC),
   * `busy` (a sample is already in flight), `closed`.
   */
  async sample(): Promise<SHT3xSample> {
    this.#openDevice();
    if (this.#sampling) throw this.#error('busy', 'a sample is already in flight; sample() does not queue');
    this.#sampling = true;
    try {
      if (this.#gapTimer !== undefined) await this.#wait(COMMAND_GAP_MS);
      const repeatability = this.#repeatability;
      let corruptWords = '';
      for (let attempt = 1; attempt <= MEASUREMENT_ATTEMPTS; attempt++) {
        this.#send(SINGLE_SHOT_COMMAND[repeatability]); // §4.3 Table 9, no clock stretching
        await this.#wait(MEASUREMENT_MAX_MS[repeatability]); // §2.2 Table 4, tMEAS max
        const data = await this.#readResult(MEASUREMENT_MAX_MS[repeatability]);
        // §4.4: temperature word + CRC, then humidity word + CRC; §4.12 for the CRC.
        const temperatureOk = wordCrcMatches(data, 0);
        const humidityOk = wordCrcMatches(data, 3);
        if (temperatureOk && humidityOk) {
          return {
            thermometer: { temperature: temperatureFromRaw((data[0] << 8) | data[1]) },
            hygrometer: { humidity: humidityFromRaw((data[3] << 8) | data[4]) },
          };
        }
        corruptWords = temperatureOk
          ? 'humidity word'
          : humidityOk
            ? 'temperature word'
            : 'temperature and humidity words';
      }
      throw this.#error('crc', `CRC mismatch in ${corruptWords} after ${MEASUREMENT_ATTEMPTS} attempts`);
    } finally {
      this.#sampling = false;
    }
  }

  /** Releases the bus. A sample in flight rejects with `closed`. Closing twice is harmless. */
  close(): void {
    if (this.#gapTimer !== undefined) this.#timers.clear(this.#gapTimer);
    this.#gapTimer = undefined;
    if (this.#waitTimer !== undefined) this.#timers.clear(this.#waitTimer);
    this.#waitTimer = undefined;
    const abort = this.#abortWait;
    this.#abortWait = undefined;
    const device = this.#device;
    this.#device = undefined;
    device?.close();
    abort?.(this.#error('closed', 'closed while sampling'));
  }

  /**
   * §4.3/§4.4: without clock stretching the sensor NACKs the read header until the data is
   * ready. The first read comes after tMEAS max; a NACK then means a slow or stuck chip, so
   * read again a bounded number of times before giving up.
   */
  async #readResult(waitedMs: number): Promise<Uint8Array> {
    for (let retry = 0; ; retry++) {
      let data: Uint8Array;
      try {
        data = this.#openDevice().read(MEASUREMENT_RESULT_LENGTH);
      } catch (error) {
        if (!(error instanceof I2CError) || error.code !== 'nack') throw this.#fromBusError(error);
        if (retry === READ_RETRIES) {
          throw this.#error(
            'timeout',
            `measurement not ready ${waitedMs} ms after the command (read NACKed ${retry + 1} times)`,
            error,
          );
        }
        await this.#wait(READ_RETRY_DELAY_MS);
        waitedMs += READ_RETRY_DELAY_MS;
        continue;
      }
      if (data.length < MEASUREMENT_RESULT_LENGTH) {
        throw this.#error('bus', `short read: ${data.length} of ${MEASUREMENT_RESULT_LENGTH} bytes`);
      }
      return data;
    }
  }

  #send(command: number): void {
    try {
      this.#openDevice().write(encodeCommand(command, this.#command));
    } catch (error) {
      throw this.#fromBusError(error);
    }
  }

  /** Resolves after `ms` on the HAL timer; `close()` rejects it. */
  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#abortWait = reject;
      this.#waitTimer = this.#timers.set(() => {
        this.#waitTimer = undefined;
        this.#abortWait = undefined;
        resolve();
      }, ms);
    });
  }

  #openDevice(): I2CDevice {
    if (this.#device === undefined) throw this.#error('closed', 'driver is closed');
    return this.#device;
  }

  /** HAL I2C errors become `SensorError`s that say what to check; anything else is a bug and passes through. */
  #fromBusError(error: unknown): unknown {
    if (!(error instanceof I2CError)) return error;
    switch (error.code) {
      case 'nack':
        return this.#error(
          'nack',
          'no acknowledge from the sensor; check wiring and power, and that the address matches the ADDR pin (0x44 low, 0x45 high)',
          error,
        );
      case 'timeout':
        return this.#error('timeout', 'I2C transfer timed out (is SCL held low?)', error);
      default:
        return this.#error('bus', `I2C bus error: ${error.message}`, error);
    }
  }

  #error(code: SensorErrorCode, detail: string, cause?: unknown): SensorError {
    return new SensorError(code, CHIP, this.address, detail, cause);
  }
}
