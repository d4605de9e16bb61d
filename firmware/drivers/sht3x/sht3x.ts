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
import type { I2CBus } from '../../../hal/i2c';
import type { TimerId, Timers } from '../../../hal/timer';
import { I2CSession } from '../driver-support';
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
const NACK_DETAIL = 'no acknowledge from the sensor; check wiring and power, and that the address matches the ADDR pin (0x44 low, 0x45 high)';
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
  readonly #bus: I2CSession;
  readonly #timers: Timers;
  #repeatability: Repeatability = 'high';
  /** Unknown until the driver sets it: the chip may have kept it on across an MCU reboot. */
  #heater: boolean | undefined;
  #sampling = false;
  /** Running while a command sent by `configure` is younger than the 1 ms gap (§4.3). */
  #gapTimer: TimerId | undefined;
  /** Reused for every command: no allocation per sample. */
  readonly #command = new Uint8Array(2);

  constructor(options: SHT3xOptions) {
    const address = options.address ?? SHT3X_ADDRESSES[0];
    if (SHT3X_ADDRESSES.indexOf(address) < 0) {
      throw new RangeError(`${CHIP}: address must be 0x44 or 0x45, not ${address}`);
    }
    this.address = address;
    this.#timers = options.timers;
    this.#bus = new I2CSession(CHIP, address, options, NACK_DETAIL);
  }

  /**
   * Changes repeatability and heater. Synchronous, as in ECMA-419: a heater change is sent
   * at once. Throws `SensorError` `busy` if a sample is in flight or a previous heater
   * command is less than 1 ms old (§4.3), since the sensor would not take the command.
   */
  configure(options: SHT3xConfiguration = {}): void {
    this.#bus.openDevice();
    const { repeatability, heater } = options;
    if (repeatability !== undefined) {
      if (repeatability !== 'high' && repeatability !== 'medium' && repeatability !== 'low') {
        throw new RangeError(`${CHIP}: repeatability must be 'high', 'medium' or 'low'`);
      }
      this.#repeatability = repeatability;
    }
    if (heater !== undefined && heater !== this.#heater) {
      if (this.#sampling) throw this.#bus.error('busy', 'cannot switch the heater while a sample is in flight');
      if (this.#gapTimer !== undefined) {
        throw this.#bus.error('busy', 'previous command less than 1 ms ago; the sensor needs a gap between commands');
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
    this.#bus.openDevice();
    if (this.#sampling) throw this.#bus.error('busy', 'a sample is already in flight; sample() does not queue');
    this.#sampling = true;
    try {
      if (this.#gapTimer !== undefined) await this.#bus.wait(COMMAND_GAP_MS);
      const repeatability = this.#repeatability;
      let corruptWords = '';
      for (let attempt = 1; attempt <= MEASUREMENT_ATTEMPTS; attempt++) {
        this.#send(SINGLE_SHOT_COMMAND[repeatability]); // §4.3 Table 9, no clock stretching
        await this.#bus.wait(MEASUREMENT_MAX_MS[repeatability]); // §2.2 Table 4, tMEAS max
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
      throw this.#bus.error('crc', `CRC mismatch in ${corruptWords} after ${MEASUREMENT_ATTEMPTS} attempts`);
    } finally {
      this.#sampling = false;
    }
  }

  /** Releases the bus. A sample in flight rejects with `closed`. Closing twice is harmless. */
  close(): void {
    if (this.#gapTimer !== undefined) this.#timers.clear(this.#gapTimer);
    this.#gapTimer = undefined;
    this.#bus.close();
  }

  /**
   * §4.3/§4.4: without clock stretching the sensor NACKs the read header until the data is
   * ready. The first read comes after tMEAS max; a NACK then means a slow or stuck chip, so
   * read again a bounded number of times before giving up.
   */
  #readResult(waitedMs: number): Promise<Uint8Array> {
    return this.#bus.readWhenReady(
      MEASUREMENT_RESULT_LENGTH,
      READ_RETRIES,
      READ_RETRY_DELAY_MS,
      (nacks, extraMs) => `measurement not ready ${waitedMs + extraMs} ms after the command (read NACKed ${nacks} times)`,
    );
  }

  #send(command: number): void {
    this.#bus.write(encodeCommand(command, this.#command));
  }
}
