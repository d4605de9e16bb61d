/**
 * Sensirion SCD4x (SCD40, SCD41) CO2, temperature and humidity driver, in the ECMA-419
 * sensor-class shape Moddable drivers use: constructor with options, `configure`, `sample`,
 * `close`. `sample()` resolves to `{ carbonDioxideGasSensor: { CO2 }, thermometer:
 * { temperature }, hygrometer: { humidity } }`, the property names of the ECMA-419 sensor
 * classes (CO2 in ppm). Written from "Datasheet SCD4x" (Sensirion, version 1.3, September
 * 2022); sections are cited where each command, timing or formula is used.
 *
 * Modes:
 * - `periodic` (default, §3.5): a measurement every 5 s. The driver starts it on the first
 *   sample; each sample then polls get_data_ready_status (§3.8.2) on a HAL timer until a new
 *   result is there and reads it (§3.5.2), so a sample returns the next fresh measurement.
 * - `low-power-periodic` (§3.8.1): the same every 30 s.
 * - `single-shot` (SCD41 only, §3.10.1): each sample triggers one measurement and waits its
 *   5 s; an SCD40 refuses the command, which the driver reports as `id`.
 *
 * Before its first command the driver wakes the sensor (§3.10.4, in case a previous firmware
 * left an SCD41 asleep), stops any periodic measurement a previous firmware left running
 * (§3.5.3), retrying for the §3.1 power-up time while the sensor does not answer yet, and
 * reads the serial number (§3.9.2) as an identity check.
 *
 * Settings (temperature offset, altitude, automatic self-calibration) can only be written in
 * idle mode (§3.6): when they change, the next sample stops the measurement (500 ms), writes
 * them and starts again, so its result comes one interval later. Ambient pressure may be
 * written while measuring (§3.6.5). Settings are not persisted to EEPROM (§3.9.1), to spare
 * its 2000 write cycles; the driver writes them after every power-up instead.
 *
 * The driver never sends a command before the previous one's execution time has passed
 * (§3.3, Table 9): every wait is a HAL timer, never a busy loop.
 *
 * One sample at a time: a second call while one is in flight rejects with `busy`.
 */
import type { I2CBus } from '../../../hal/i2c';
import type { Timers } from '../../../hal/timer';
import { I2CSession, isNack } from '../driver-support';
import { sensirionCrc8, wordCrcMatches } from '../sht3x/crc8';
import {
  COMMAND,
  DATA_READY_MASK,
  EXECUTION_MS,
  LOW_POWER_PERIODIC_INTERVAL_MS,
  PERIODIC_INTERVAL_MS,
  POWER_UP_MS,
  SCD4X_ADDRESS,
  encodeCommand,
} from './commands';
import { humidityFromRaw, temperatureFromRaw, temperatureOffsetToRaw } from './conversion';

export type SCD4xMode = 'periodic' | 'low-power-periodic' | 'single-shot';

export interface SCD4xOptions {
  i2c: I2CBus;
  timers: Timers;
  /** Always 0x62 (§3, Table 8); accepted for symmetry with the other drivers. */
  address?: number;
  /** Bus speed; the HAL's default when absent. The SCD4x allows up to 400 kHz. */
  hz?: number;
  /** Bus number from the board definition. */
  port?: number;
}

export interface SCD4xConfiguration {
  mode?: SCD4xMode;
  /** °C the sensor subtracts from its temperature for self-heating (§3.6.1); 0…175, the sensor's default is 4. */
  temperatureOffset?: number;
  /** Metres above sea level for pressure compensation (§3.6.3), 0…3000. */
  altitude?: number;
  /** Ambient pressure in hPa (§3.6.5), 700…1200; overrides the altitude. */
  ambientPressure?: number;
  /** Automatic self-calibration (§3.7.2); on by default in the sensor. */
  automaticSelfCalibration?: boolean;
}

export interface SCD4xSample {
  carbonDioxideGasSensor: { CO2: number };
  thermometer: { temperature: number };
  hygrometer: { humidity: number };
}

const CHIP = 'SCD4x';
const NACK_DETAIL = 'no acknowledge from the sensor; check wiring and power (the SCD4x needs a supply that holds up under its current peaks)';
/** A transfer plus two retries when a CRC fails (a measurement: the next two measurements). */
const ATTEMPTS = 3;
/** Extra reads after a NACKed one, `READ_RETRY_DELAY_MS` apart, before `timeout`. */
const READ_RETRIES = 5;
const READ_RETRY_DELAY_MS = 2;
/** While the sensor powers up (§3.1), the first command is retried this often. */
const POWER_UP_RETRY_MS = 100;
/** Data-ready polls per signal update interval. */
const POLLS_PER_INTERVAL = 10;
/** A single shot is polled this long past its 5 s before `timeout`. */
const SINGLE_SHOT_GRACE_MS = 1000;
const SINGLE_SHOT_POLL_MS = 100;

type ChipState = 'unknown' | 'idle' | 'periodic' | 'low-power-periodic';

interface IdleSettings {
  temperatureOffset?: number;
  altitude?: number;
  automaticSelfCalibration?: boolean;
}

export class SCD4x {
  readonly address: number;
  readonly #bus: I2CSession;
  #mode: SCD4xMode = 'periodic';
  #state: ChipState = 'unknown';
  /** Settings to write the next time the sensor is idle, and the pressure to write next. */
  #idleSettings: IdleSettings = {};
  #ambientPressure: number | undefined;
  #serialNumber: number | undefined;
  #sampling = false;
  /** Reused buffers: a command with its argument, and the words of the last answer. */
  readonly #tx = new Uint8Array(5);
  readonly #words = new Uint16Array(3);

  constructor(options: SCD4xOptions) {
    const address = options.address ?? SCD4X_ADDRESS;
    if (address !== SCD4X_ADDRESS) throw new RangeError(`${CHIP}: the address is always 0x62, not ${address}`);
    this.address = address;
    // The sensor's state is unknown after a failed transfer, so the next sample starts over with the initialisation.
    this.#bus = new I2CSession(CHIP, address, options, NACK_DETAIL, () => {
      this.#state = 'unknown';
    });
  }

  /** The 48-bit serial number (§3.9.2), once the first sample has read it. */
  get serialNumber(): number | undefined {
    return this.#serialNumber;
  }

  /** Changes mode and settings for the next sample. Synchronous: nothing is sent yet. */
  configure(options: SCD4xConfiguration = {}): void {
    this.#bus.openDevice();
    const { mode, temperatureOffset, altitude, ambientPressure, automaticSelfCalibration } = options;
    if (mode !== undefined && mode !== 'periodic' && mode !== 'low-power-periodic' && mode !== 'single-shot') {
      throw new RangeError(`${CHIP}: mode must be 'periodic', 'low-power-periodic' or 'single-shot'`);
    }
    if (temperatureOffset !== undefined && !(temperatureOffset >= 0 && temperatureOffset < 175)) {
      throw new RangeError(`${CHIP}: temperatureOffset must be from 0 to 175 °C`);
    }
    if (altitude !== undefined && !(Number.isInteger(altitude) && altitude >= 0 && altitude <= 3000)) {
      throw new RangeError(`${CHIP}: altitude must be a whole number of metres from 0 to 3000`);
    }
    if (ambientPressure !== undefined && !(Number.isInteger(ambientPressure) && ambientPressure >= 700 && ambientPressure <= 1200)) {
      throw new RangeError(`${CHIP}: ambientPressure must be a whole number of hPa from 700 to 1200`);
    }
    if (automaticSelfCalibration !== undefined && typeof automaticSelfCalibration !== 'boolean') {
      throw new RangeError(`${CHIP}: automaticSelfCalibration must be a boolean`);
    }
    if (mode !== undefined) this.#mode = mode;
    if (temperatureOffset !== undefined) this.#idleSettings.temperatureOffset = temperatureOffset;
    if (altitude !== undefined) this.#idleSettings.altitude = altitude;
    if (automaticSelfCalibration !== undefined) this.#idleSettings.automaticSelfCalibration = automaticSelfCalibration;
    if (ambientPressure !== undefined) this.#ambientPressure = ambientPressure;
  }

  /**
   * The next fresh measurement. Rejects with `SensorError`: `nack` (no sensor at 0x62, or
   * it stopped answering), `timeout` (no data within two update intervals, or an answer
   * never came), `crc` (three transfers in a row failed their CRC), `id` (implausible serial
   * number, or single shot on a sensor without it), `busy` (a sample is in flight), `closed`.
   */
  async sample(): Promise<SCD4xSample> {
    this.#bus.openDevice();
    if (this.#sampling) throw this.#bus.error('busy', 'a sample is already in flight; sample() does not queue');
    this.#sampling = true;
    try {
      if (this.#state === 'unknown') await this.#initialize();
      const mode = this.#mode;
      const wanted: ChipState = mode === 'single-shot' ? 'idle' : mode;
      if (this.#state !== 'idle' && (this.#state !== wanted || hasSettings(this.#idleSettings))) await this.#stop();
      if (this.#state === 'idle') await this.#writeIdleSettings();
      if (this.#ambientPressure !== undefined) {
        await this.#write(COMMAND.SET_AMBIENT_PRESSURE, this.#ambientPressure); // §3.6.5: hPa, also while measuring
        this.#ambientPressure = undefined;
      }
      if (mode === 'single-shot') return await this.#singleShot();
      let firstWaitMs = 0;
      if (this.#state === 'idle') {
        this.#send(mode === 'periodic' ? COMMAND.START_PERIODIC_MEASUREMENT : COMMAND.START_LOW_POWER_PERIODIC_MEASUREMENT);
        this.#state = mode;
        firstWaitMs = intervalOf(mode); // nothing to poll for before the first interval is over
      }
      return await this.#nextPeriodic(intervalOf(mode), firstWaitMs);
    } finally {
      this.#sampling = false;
    }
  }

  /**
   * Stops a periodic measurement (best effort: the sensor otherwise keeps measuring and
   * drawing current) and releases the bus. A sample in flight rejects with `closed`.
   */
  close(): void {
    if (this.#bus.isOpen && (this.#state === 'periodic' || this.#state === 'low-power-periodic')) {
      try {
        this.#bus.write(encodeCommand(COMMAND.STOP_PERIODIC_MEASUREMENT, this.#tx));
      } catch {
        // Closing anyway; the next driver's initialisation stops it.
      }
    }
    this.#state = 'unknown';
    this.#bus.close();
  }

  /** Wake up, stop, serial number: a known idle state and an identity check. */
  async #initialize(): Promise<void> {
    // §3.10.4: wake_up is never acknowledged, and an awake sensor ignores it; the NACK means nothing.
    try {
      this.#bus.openDevice().write(encodeCommand(COMMAND.WAKE_UP, this.#tx));
    } catch (error) {
      if (!isNack(error)) throw this.#bus.fromBusError(error);
    }
    await this.#bus.wait(EXECUTION_MS.WAKE_UP);
    // §3.1: no answer for 1000 ms after power-up; §3.5.3: stop works while measuring and in idle.
    for (let waitedMs = 0; ; waitedMs += POWER_UP_RETRY_MS) {
      try {
        this.#bus.openDevice().write(encodeCommand(COMMAND.STOP_PERIODIC_MEASUREMENT, this.#tx));
        break;
      } catch (error) {
        if (!isNack(error) || waitedMs >= POWER_UP_MS) throw this.#bus.fromBusError(error);
      }
      await this.#bus.wait(POWER_UP_RETRY_MS);
    }
    await this.#bus.wait(EXECUTION_MS.STOP_PERIODIC_MEASUREMENT);
    this.#state = 'idle';
    await this.#query(COMMAND.GET_SERIAL_NUMBER, 3, 'serial number'); // §3.9.2
    const words = this.#words;
    const serial = words[0] * 2 ** 32 + words[1] * 2 ** 16 + words[2];
    if (serial === 0 || serial === 2 ** 48 - 1) {
      this.#state = 'unknown';
      throw this.#bus.error('id', `serial number 0x${serial.toString(16).padStart(12, '0')} is not a programmed SCD4x serial; is this an SCD4x?`);
    }
    this.#serialNumber = serial;
  }

  async #stop(): Promise<void> {
    this.#send(COMMAND.STOP_PERIODIC_MEASUREMENT); // §3.5.3
    this.#state = 'idle';
    await this.#bus.wait(EXECUTION_MS.STOP_PERIODIC_MEASUREMENT);
  }

  /** §3.6, §3.7.2: each a write sequence with a 1 ms execution time. */
  async #writeIdleSettings(): Promise<void> {
    const settings = this.#idleSettings;
    if (settings.temperatureOffset !== undefined) {
      await this.#write(COMMAND.SET_TEMPERATURE_OFFSET, temperatureOffsetToRaw(settings.temperatureOffset));
      settings.temperatureOffset = undefined;
    }
    if (settings.altitude !== undefined) {
      await this.#write(COMMAND.SET_SENSOR_ALTITUDE, settings.altitude);
      settings.altitude = undefined;
    }
    if (settings.automaticSelfCalibration !== undefined) {
      await this.#write(COMMAND.SET_AUTOMATIC_SELF_CALIBRATION_ENABLED, settings.automaticSelfCalibration ? 1 : 0);
      settings.automaticSelfCalibration = undefined;
    }
  }

  /**
   * Polls data-ready until a measurement is there, then reads it. A CRC failure costs that
   * measurement (the read empties the buffer, §3.5.2), so the retry is the next one.
   */
  async #nextPeriodic(intervalMs: number, firstWaitMs: number): Promise<SCD4xSample> {
    const pollMs = intervalMs / POLLS_PER_INTERVAL;
    const limitMs = 2 * intervalMs;
    if (firstWaitMs > 0) await this.#bus.wait(firstWaitMs);
    let waitedMs = 0;
    for (let attempt = 1; ; ) {
      if (await this.#dataReady()) {
        const reading = await this.#readMeasurement();
        if (reading) return reading;
        if (++attempt > ATTEMPTS) throw this.#bus.error('crc', `CRC mismatch in the measurement after ${ATTEMPTS} attempts`);
        waitedMs = 0;
      }
      if (waitedMs >= limitMs) {
        throw this.#bus.error('timeout', `no new measurement ${waitedMs} ms after asking (update interval ${intervalMs} ms)`);
      }
      await this.#bus.wait(pollMs);
      waitedMs += pollMs;
    }
  }

  /** §3.10.1: trigger, wait the 5 s execution time, then read; a CRC failure triggers again. */
  async #singleShot(): Promise<SCD4xSample> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        this.#bus.openDevice().write(encodeCommand(COMMAND.MEASURE_SINGLE_SHOT, this.#tx));
      } catch (error) {
        throw await this.#singleShotRefused(error);
      }
      await this.#bus.wait(EXECUTION_MS.MEASURE_SINGLE_SHOT);
      for (let waitedMs = 0; !(await this.#singleShotReady()); waitedMs += SINGLE_SHOT_POLL_MS) {
        if (waitedMs >= SINGLE_SHOT_GRACE_MS) {
          throw this.#bus.error('timeout', `single shot not ready ${EXECUTION_MS.MEASURE_SINGLE_SHOT + waitedMs} ms after the command`);
        }
        await this.#bus.wait(SINGLE_SHOT_POLL_MS);
      }
      const reading = await this.#readMeasurement();
      if (reading) return reading;
    }
    throw this.#bus.error('crc', `CRC mismatch in the measurement after ${ATTEMPTS} attempts`);
  }

  /**
   * A NACKed measure_single_shot from a sensor that has just answered: ask for the serial
   * number to tell a sensor without single shot (an SCD40, §3.10 is SCD41 only) from one
   * that has gone away.
   */
  async #singleShotRefused(error: unknown): Promise<unknown> {
    if (!isNack(error)) return this.#bus.fromBusError(error);
    try {
      this.#bus.openDevice().write(encodeCommand(COMMAND.GET_SERIAL_NUMBER, this.#tx));
    } catch {
      return this.#bus.fromBusError(error);
    }
    await this.#bus.wait(EXECUTION_MS.COMMAND); // let the probe finish before anyone sends another command
    return this.#bus.error('id', 'the sensor refuses measure_single_shot: single shot needs an SCD41 (an SCD40 has only periodic modes)', error);
  }

  /**
   * §3.3, §3.10.1: the sensor acknowledges nothing until the single shot is done, so here a
   * NACKed status request means "not yet" rather than "gone".
   */
  async #singleShotReady(): Promise<boolean> {
    try {
      this.#bus.openDevice().write(encodeCommand(COMMAND.GET_DATA_READY_STATUS, this.#tx));
    } catch (error) {
      if (isNack(error)) return false;
      throw this.#bus.fromBusError(error);
    }
    if (!(await this.#receive(COMMAND.GET_DATA_READY_STATUS, 1))) return this.#dataReady(); // corrupt: ask again, with CRC retries
    return (this.#words[0] & DATA_READY_MASK) !== 0;
  }

  /** §3.8.2. */
  async #dataReady(): Promise<boolean> {
    await this.#query(COMMAND.GET_DATA_READY_STATUS, 1, 'data-ready status');
    return (this.#words[0] & DATA_READY_MASK) !== 0;
  }

  /** §3.5.2: one read; undefined when a CRC fails (the data is gone either way). */
  async #readMeasurement(): Promise<SCD4xSample | undefined> {
    if (!(await this.#transact(COMMAND.READ_MEASUREMENT, 3))) return undefined;
    const words = this.#words;
    return {
      carbonDioxideGasSensor: { CO2: words[0] },
      thermometer: { temperature: temperatureFromRaw(words[1]) },
      hygrometer: { humidity: humidityFromRaw(words[2]) },
    };
  }

  /** A read-type command whose answer can be asked for again: retried when its CRC fails. */
  async #query(command: number, count: number, what: string): Promise<void> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      if (await this.#transact(command, count)) return;
    }
    throw this.#bus.error('crc', `CRC mismatch in the ${what} after ${ATTEMPTS} attempts`);
  }

  /**
   * §3.3 "read" sequence: the command, its execution time, then `count` words with CRCs into
   * `#words`. False when a CRC does not match.
   */
  async #transact(command: number, count: number): Promise<boolean> {
    this.#send(command);
    return this.#receive(command, count);
  }

  /** The rest of a "read" sequence once `command` is sent: wait its 1 ms, read, check CRCs. */
  async #receive(command: number, count: number): Promise<boolean> {
    await this.#bus.wait(EXECUTION_MS.COMMAND);
    const length = count * 3;
    const data = await this.#bus.readWhenReady(
      length,
      READ_RETRIES,
      READ_RETRY_DELAY_MS,
      (nacks) => `no answer to command 0x${command.toString(16)} (read NACKed ${nacks} times)`,
    );
    for (let i = 0; i < count; i++) {
      if (!wordCrcMatches(data, i * 3)) return false;
      this.#words[i] = (data[i * 3] << 8) | data[i * 3 + 1];
    }
    return true;
  }

  /** §3.3 "write" sequence: command, argument word, its CRC; then the 1 ms execution time. */
  async #write(command: number, argument: number): Promise<void> {
    const tx = this.#tx;
    encodeCommand(command, tx);
    tx[2] = (argument >> 8) & 0xff;
    tx[3] = argument & 0xff;
    tx[4] = sensirionCrc8(tx, 2, 2);
    this.#bus.write(tx);
    await this.#bus.wait(EXECUTION_MS.COMMAND);
  }

  #send(command: number): void {
    this.#bus.write(encodeCommand(command, this.#tx));
  }
}

function intervalOf(mode: 'periodic' | 'low-power-periodic'): number {
  return mode === 'periodic' ? PERIODIC_INTERVAL_MS : LOW_POWER_PERIODIC_INTERVAL_MS;
}

function hasSettings(settings: IdleSettings): boolean {
  return settings.temperatureOffset !== undefined || settings.altitude !== undefined || settings.automaticSelfCalibration !== undefined;
}
