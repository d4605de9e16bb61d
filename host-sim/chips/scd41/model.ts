/**
 * Register-level model of a Sensirion SCD41 (or, with `variant: 'SCD40'`, an SCD40) on the
 * simulated I2C bus, written from "Datasheet SCD4x" (version 1.3, September 2022). It sees
 * the bytes of each transfer and the virtual time, and answers as the chip does:
 *
 * - Power-up (§3.1): nothing is acknowledged until 1000 ms after `poweredAtMs`.
 * - Commands are 16-bit, MSB first (§3.2); a write sequence adds one word and its CRC, which
 *   the chip checks (a wrong CRC, a missing or an unexpected argument: NACK). Unknown
 *   commands are NACKed.
 * - Execution times (§3.4 Table 9): after a command the chip acknowledges nothing, neither a
 *   read header nor a new command, until the execution time has passed (§3.3). A read-type
 *   command's answer can then be read once; a new command discards an unread answer.
 * - Idle and periodic modes (§3.5, §3.8.1): in a periodic mode only read_measurement,
 *   get_data_ready_status, stop_periodic_measurement and set_ambient_pressure are accepted
 *   (Table 9, "During meas." column); the rest are NACKed. Measurements finish every 5 s (or
 *   30 s in low-power mode) after the start; each reports the conditions when it finished.
 * - read_measurement (§3.5.2): the buffer holds the latest measurement and is emptied by the
 *   read; with nothing in it, the read is NACKed. get_data_ready_status (§3.8.2) answers
 *   0x8006 when there is data (least significant 11 bits non-zero) and 0x8000 when not.
 * - Settings (§3.6, §3.7.2): temperature offset (default 4 °C), altitude (0 m), ambient
 *   pressure, automatic self-calibration (on), read back as written; persist_settings
 *   (§3.9.1) copies them to EEPROM, reinit (§3.9.5) reloads them, perform_factory_reset
 *   (§3.9.4) restores the defaults in both.
 * - Outputs: CO2 in ppm; T = -45 + 175 × word / 65535 and RH = 100 × word / 65535 inverted
 *   (§3.5.2), rounded and clamped to 16 bits. The reported temperature is the ambient plus
 *   the sensor's self-heating (default: exactly the default offset) minus the offset set.
 * - SCD41 only (§3.10): measure_single_shot (5000 ms), measure_single_shot_rht_only (50 ms,
 *   CO2 reads 0), power_down and wake_up. Asleep, the chip acknowledges nothing; wake_up is
 *   never acknowledged (§3.10.4) but wakes it, idle 20 ms later. An SCD40 NACKs all four.
 * - perform_forced_recalibration (§3.7.1) answers 0x8000 + (reference − current reading) as
 *   the correction; perform_self_test (§3.9.3) answers 0 (no malfunction) after 10 s.
 *
 * Not modelled: the effect of pressure, altitude, forced recalibration and ASC on the CO2
 * value, the effect of the temperature offset on RH, the sensor's response time and noise
 * spectrum, and discarding the first single shot after waking (§3.10.4).
 */
import type { I2CTarget } from '../i2c-target';
import { dailyHumidity, dailyTemperature } from '../common/daily-curve';
import { SeededRandom } from '../common/prng';
import { encodeWords, toWord, wordCrc } from '../common/sensirion';
import { valueAt } from '../common/signal';
import type { Signal } from '../common/signal';
import { dailyCo2 } from './office-day';

export type { Signal } from '../common/signal';

export type Variant = 'SCD40' | 'SCD41';

export interface SCD41Faults {
  /** NACK every transfer, as a missing or unpowered chip would. */
  nack: boolean;
  /** Corrupt the CRC bytes of the next N answers (of those `crcErrorOn` selects), or of every one. */
  crcError: number | 'always';
  /** Which answers the CRC fault hits: only read_measurement's, or every answer. */
  crcErrorOn: 'measurement' | 'any';
  /** Measurements never finish: data never becomes ready, and a single shot keeps the chip busy. */
  stuckBusy: boolean;
  /** get_serial_number answers all zeros, as an unprogrammed part would. */
  wrongId: boolean;
}

export interface SCD41Noise {
  /** Standard deviation added to each CO2 measurement, ppm. */
  co2?: number;
  temperature?: number;
  humidity?: number;
  seed?: number;
}

export interface SCD41ModelOptions {
  variant?: Variant;
  /** CO2 concentration, ppm. Default: `dailyCo2`, an office day. */
  co2?: Signal;
  /** Ambient temperature, °C. Default: the models' indoor day (`common/daily-curve`). */
  temperature?: Signal;
  /** Ambient relative humidity, %RH. Default: the models' indoor day (`common/daily-curve`). */
  humidity?: Signal;
  noise?: SCD41Noise;
  /** 48-bit serial number (§3.9.2). Default: the datasheet's example, 0xF896_9F07_3BBE. */
  serialNumber?: number;
  /** Virtual time the supply came up; the chip answers from 1000 ms later (§3.1). Default 0. */
  poweredAtMs?: number;
  /** How much warmer than the room the sensor runs, °C. Default: the default offset (4 °C). */
  selfHeating?: number;
  faults?: Partial<SCD41Faults>;
}

export const COMMAND = {
  START_PERIODIC_MEASUREMENT: 0x21b1,
  READ_MEASUREMENT: 0xec05,
  STOP_PERIODIC_MEASUREMENT: 0x3f86,
  SET_TEMPERATURE_OFFSET: 0x241d,
  GET_TEMPERATURE_OFFSET: 0x2318,
  SET_SENSOR_ALTITUDE: 0x2427,
  GET_SENSOR_ALTITUDE: 0x2322,
  SET_AMBIENT_PRESSURE: 0xe000,
  PERFORM_FORCED_RECALIBRATION: 0x362f,
  SET_AUTOMATIC_SELF_CALIBRATION_ENABLED: 0x2416,
  GET_AUTOMATIC_SELF_CALIBRATION_ENABLED: 0x2313,
  START_LOW_POWER_PERIODIC_MEASUREMENT: 0x21ac,
  GET_DATA_READY_STATUS: 0xe4b8,
  PERSIST_SETTINGS: 0x3615,
  GET_SERIAL_NUMBER: 0x3682,
  PERFORM_SELF_TEST: 0x3639,
  PERFORM_FACTORY_RESET: 0x3632,
  REINIT: 0x3646,
  MEASURE_SINGLE_SHOT: 0x219d,
  MEASURE_SINGLE_SHOT_RHT_ONLY: 0x2196,
  POWER_DOWN: 0x36e0,
  WAKE_UP: 0x36f6,
} as const;

/** §3.4 Table 9, ms. */
export const EXECUTION_MS: { readonly [command: number]: number } = {
  [COMMAND.START_PERIODIC_MEASUREMENT]: 0,
  [COMMAND.READ_MEASUREMENT]: 1,
  [COMMAND.STOP_PERIODIC_MEASUREMENT]: 500,
  [COMMAND.SET_TEMPERATURE_OFFSET]: 1,
  [COMMAND.GET_TEMPERATURE_OFFSET]: 1,
  [COMMAND.SET_SENSOR_ALTITUDE]: 1,
  [COMMAND.GET_SENSOR_ALTITUDE]: 1,
  [COMMAND.SET_AMBIENT_PRESSURE]: 1,
  [COMMAND.PERFORM_FORCED_RECALIBRATION]: 400,
  [COMMAND.SET_AUTOMATIC_SELF_CALIBRATION_ENABLED]: 1,
  [COMMAND.GET_AUTOMATIC_SELF_CALIBRATION_ENABLED]: 1,
  [COMMAND.START_LOW_POWER_PERIODIC_MEASUREMENT]: 0,
  [COMMAND.GET_DATA_READY_STATUS]: 1,
  [COMMAND.PERSIST_SETTINGS]: 800,
  [COMMAND.GET_SERIAL_NUMBER]: 1,
  [COMMAND.PERFORM_SELF_TEST]: 10_000,
  [COMMAND.PERFORM_FACTORY_RESET]: 1200,
  [COMMAND.REINIT]: 20,
  [COMMAND.MEASURE_SINGLE_SHOT]: 5000,
  [COMMAND.MEASURE_SINGLE_SHOT_RHT_ONLY]: 50,
  [COMMAND.POWER_DOWN]: 1,
  [COMMAND.WAKE_UP]: 20,
};

export const POWER_UP_MS = 1000;
export const PERIODIC_INTERVAL_MS = 5000;
export const LOW_POWER_PERIODIC_INTERVAL_MS = 30_000;
/** The datasheet's get_serial_number example (§3.9.2): 0xf896 0x9f07 0x3bbe. */
export const DEFAULT_SERIAL_NUMBER = 0xf8969f073bbe;
export const DATA_READY = 0x8006;
export const DATA_NOT_READY = 0x8000;
/** The command log is bounded so that a long fleet simulation does not grow without limit. */
export const COMMAND_LOG_LENGTH = 1000;

/** Commands Table 9 allows while a periodic measurement runs. */
const ALLOWED_WHILE_MEASURING: ReadonlySet<number> = new Set([
  COMMAND.READ_MEASUREMENT,
  COMMAND.GET_DATA_READY_STATUS,
  COMMAND.STOP_PERIODIC_MEASUREMENT,
  COMMAND.SET_AMBIENT_PRESSURE,
]);

/** Write sequences: the commands that take an argument word. */
const TAKES_ARGUMENT: ReadonlySet<number> = new Set([
  COMMAND.SET_TEMPERATURE_OFFSET,
  COMMAND.SET_SENSOR_ALTITUDE,
  COMMAND.SET_AMBIENT_PRESSURE,
  COMMAND.PERFORM_FORCED_RECALIBRATION,
  COMMAND.SET_AUTOMATIC_SELF_CALIBRATION_ENABLED,
]);

/** §3.10: SCD41 only. */
const SCD41_ONLY: ReadonlySet<number> = new Set([
  COMMAND.MEASURE_SINGLE_SHOT,
  COMMAND.MEASURE_SINGLE_SHOT_RHT_ONLY,
  COMMAND.POWER_DOWN,
  COMMAND.WAKE_UP,
]);

export interface SCD41Settings {
  /** Raw word of §3.6.1: offset °C × 65535 / 175. */
  temperatureOffset: number;
  /** Metres. */
  altitude: number;
  /** 1 on, 0 off. */
  automaticSelfCalibration: number;
}

/** Defaults: 4 °C offset (round(4 × 65535 / 175) = 1498), 0 m, ASC on. */
export const DEFAULT_SETTINGS: Readonly<SCD41Settings> = {
  temperatureOffset: Math.round((4 * 65535) / 175),
  altitude: 0,
  automaticSelfCalibration: 1,
};

type Mode = 'idle' | 'periodic' | 'low-power-periodic' | 'sleep';

interface Periodic {
  startMs: number;
  intervalMs: number;
  /** Index of the last measurement read out (or dropped); -1 before the first. */
  consumed: number;
}

interface SingleShot {
  readyAtMs: number;
  rhtOnly: boolean;
}

interface Answer {
  bytes: Uint8Array;
  measurement: boolean;
}

const DEFAULT_FAULTS: SCD41Faults = { nack: false, crcError: 0, crcErrorOn: 'any', stuckBusy: false, wrongId: false };

export class SCD41Model implements I2CTarget {
  readonly address = 0x62;
  readonly variant: Variant;
  #co2: Signal;
  #temperature: Signal;
  #humidity: Signal;
  #co2Noise = 0;
  #temperatureNoise = 0;
  #humidityNoise = 0;
  #random = new SeededRandom(1);
  readonly #serialNumber: number;
  readonly #poweredAtMs: number;
  readonly #selfHeating: number;
  #faults: SCD41Faults = { ...DEFAULT_FAULTS };

  #mode: Mode = 'idle';
  #settings: SCD41Settings = { ...DEFAULT_SETTINGS };
  #eeprom: SCD41Settings = { ...DEFAULT_SETTINGS };
  #ambientPressure: number | undefined;
  #busyUntilMs = -Infinity;
  #answer: Answer | undefined;
  #periodic: Periodic | undefined;
  #singleShot: SingleShot | undefined;
  /** A finished single shot waiting to be read. */
  #buffer: Uint8Array | undefined;
  /** The last `COMMAND_LOG_LENGTH` commands the chip accepted, with when, for assertions. */
  readonly commands: { atMs: number; command: number; argument?: number }[] = [];

  constructor(options: SCD41ModelOptions = {}) {
    this.variant = options.variant ?? 'SCD41';
    this.#co2 = options.co2 ?? dailyCo2;
    this.#temperature = options.temperature ?? dailyTemperature;
    this.#humidity = options.humidity ?? dailyHumidity;
    this.#serialNumber = options.serialNumber ?? DEFAULT_SERIAL_NUMBER;
    this.#poweredAtMs = options.poweredAtMs ?? 0;
    this.#selfHeating = options.selfHeating ?? (DEFAULT_SETTINGS.temperatureOffset * 175) / 65535;
    if (options.noise) this.setNoise(options.noise);
    if (options.faults) this.setFaults(options.faults);
  }

  // ---- knobs -------------------------------------------------------------------------

  setCo2(ppm: Signal): void {
    this.#co2 = ppm;
  }

  setTemperature(celsius: Signal): void {
    this.#temperature = celsius;
  }

  setHumidity(percent: Signal): void {
    this.#humidity = percent;
  }

  setNoise(noise: SCD41Noise): void {
    if (noise.co2 !== undefined) this.#co2Noise = noise.co2;
    if (noise.temperature !== undefined) this.#temperatureNoise = noise.temperature;
    if (noise.humidity !== undefined) this.#humidityNoise = noise.humidity;
    if (noise.seed !== undefined) this.#random = new SeededRandom(noise.seed);
  }

  setFaults(faults: Partial<SCD41Faults>): void {
    this.#faults = { ...this.#faults, ...faults };
  }

  get faults(): Readonly<SCD41Faults> {
    return { ...this.#faults };
  }

  get mode(): Mode {
    return this.#mode;
  }

  /** The settings in RAM (§3.6), as raw words. */
  get settings(): Readonly<SCD41Settings> {
    return { ...this.#settings };
  }

  /** The settings in EEPROM (§3.9.1). */
  get persistedSettings(): Readonly<SCD41Settings> {
    return { ...this.#eeprom };
  }

  /** hPa, once set (§3.6.5). */
  get ambientPressure(): number | undefined {
    return this.#ambientPressure;
  }

  // ---- I2CTarget ---------------------------------------------------------------------

  write(bytes: Uint8Array, nowMs: number): boolean {
    if (!this.#answersAt(nowMs)) return false;
    this.#settle(nowMs);
    if (this.#busy(nowMs)) return false;
    if (this.#mode === 'sleep') {
      // §3.10.4: wake_up is not acknowledged, but wakes the chip; asleep, nothing else is heard.
      if (bytes.length === 2 && ((bytes[0] << 8) | bytes[1]) === COMMAND.WAKE_UP) {
        this.#mode = 'idle';
        this.#busyUntilMs = nowMs + EXECUTION_MS[COMMAND.WAKE_UP];
      }
      return false;
    }
    if (bytes.length === 0) return true; // address probe
    if (bytes.length !== 2 && bytes.length !== 5) return false;
    const command = (bytes[0] << 8) | bytes[1];
    let argument: number | undefined;
    if (bytes.length === 5) {
      argument = (bytes[2] << 8) | bytes[3];
      if (wordCrc(argument) !== bytes[4]) return false; // §3.2: the chip checks the written CRC
    }
    if (TAKES_ARGUMENT.has(command) !== (argument !== undefined)) return false;
    if (!this.#execute(command, argument, nowMs)) return false;
    if (this.commands.length === COMMAND_LOG_LENGTH) this.commands.shift();
    this.commands.push(argument === undefined ? { atMs: nowMs, command } : { atMs: nowMs, command, argument });
    return true;
  }

  read(count: number, nowMs: number): Uint8Array | null {
    if (!this.#answersAt(nowMs)) return null;
    this.#settle(nowMs);
    if (this.#busy(nowMs) || this.#mode === 'sleep') return null;
    const answer = this.#answer;
    if (!answer) return null;
    this.#answer = undefined; // each answer is read once
    const bytes = new Uint8Array(count).fill(0xff);
    bytes.set(answer.bytes.subarray(0, count));
    this.#corruptCrcs(bytes, answer.measurement);
    return bytes;
  }

  // ---- internals ---------------------------------------------------------------------

  #answersAt(nowMs: number): boolean {
    return !this.#faults.nack && nowMs >= this.#poweredAtMs + POWER_UP_MS;
  }

  #busy(nowMs: number): boolean {
    if (this.#singleShot && this.#faults.stuckBusy) return true;
    return nowMs < this.#busyUntilMs;
  }

  /** Finishes a single shot whose time has come. */
  #settle(nowMs: number): void {
    const shot = this.#singleShot;
    if (!shot || this.#faults.stuckBusy || nowMs < shot.readyAtMs) return;
    this.#singleShot = undefined;
    this.#buffer = this.#measure(shot.readyAtMs, shot.rhtOnly);
  }

  /** Index of the latest finished periodic measurement that has not been read; undefined if none. */
  #unreadPeriodic(nowMs: number): number | undefined {
    const periodic = this.#periodic;
    if (!periodic || this.#faults.stuckBusy) return undefined;
    const latest = Math.floor((nowMs - periodic.startMs) / periodic.intervalMs) - 1;
    return latest >= 0 && latest > periodic.consumed ? latest : undefined;
  }

  #execute(command: number, argument: number | undefined, nowMs: number): boolean {
    const measuring = this.#mode === 'periodic' || this.#mode === 'low-power-periodic';
    if (measuring && !ALLOWED_WHILE_MEASURING.has(command)) return false;
    if (SCD41_ONLY.has(command) && this.variant !== 'SCD41') return false;
    const execution = EXECUTION_MS[command];
    if (execution === undefined) return false;
    let answer: number[] | undefined;
    let measurement: Uint8Array | undefined;
    switch (command) {
      case COMMAND.START_PERIODIC_MEASUREMENT:
      case COMMAND.START_LOW_POWER_PERIODIC_MEASUREMENT: {
        const lowPower = command === COMMAND.START_LOW_POWER_PERIODIC_MEASUREMENT;
        this.#mode = lowPower ? 'low-power-periodic' : 'periodic';
        this.#periodic = { startMs: nowMs, intervalMs: lowPower ? LOW_POWER_PERIODIC_INTERVAL_MS : PERIODIC_INTERVAL_MS, consumed: -1 };
        this.#buffer = undefined;
        break;
      }
      case COMMAND.READ_MEASUREMENT: {
        const periodic = this.#periodic;
        const unread = this.#unreadPeriodic(nowMs);
        if (periodic && unread !== undefined) {
          periodic.consumed = unread;
          measurement = this.#measure(periodic.startMs + (unread + 1) * periodic.intervalMs, false);
        } else if (!periodic && this.#buffer) {
          measurement = this.#buffer;
          this.#buffer = undefined;
        }
        break;
      }
      case COMMAND.STOP_PERIODIC_MEASUREMENT:
        this.#mode = 'idle';
        this.#periodic = undefined;
        break;
      case COMMAND.SET_TEMPERATURE_OFFSET:
        this.#settings.temperatureOffset = argument!;
        break;
      case COMMAND.GET_TEMPERATURE_OFFSET:
        answer = [this.#settings.temperatureOffset];
        break;
      case COMMAND.SET_SENSOR_ALTITUDE:
        this.#settings.altitude = argument!;
        break;
      case COMMAND.GET_SENSOR_ALTITUDE:
        answer = [this.#settings.altitude];
        break;
      case COMMAND.SET_AMBIENT_PRESSURE:
        this.#ambientPressure = argument!;
        break;
      case COMMAND.PERFORM_FORCED_RECALIBRATION: {
        const current = Math.round(valueAt(this.#co2, nowMs, 'SCD41', 'co2'));
        answer = [(0x8000 + argument! - current) & 0xffff];
        break;
      }
      case COMMAND.SET_AUTOMATIC_SELF_CALIBRATION_ENABLED:
        this.#settings.automaticSelfCalibration = argument!;
        break;
      case COMMAND.GET_AUTOMATIC_SELF_CALIBRATION_ENABLED:
        answer = [this.#settings.automaticSelfCalibration];
        break;
      case COMMAND.GET_DATA_READY_STATUS: {
        const ready = this.#unreadPeriodic(nowMs) !== undefined || (!this.#periodic && this.#buffer !== undefined);
        answer = [ready ? DATA_READY : DATA_NOT_READY];
        break;
      }
      case COMMAND.PERSIST_SETTINGS:
        this.#eeprom = { ...this.#settings };
        break;
      case COMMAND.GET_SERIAL_NUMBER: {
        const serial = this.#faults.wrongId ? 0 : this.#serialNumber;
        answer = [Math.floor(serial / 2 ** 32) & 0xffff, Math.floor(serial / 2 ** 16) & 0xffff, serial % 2 ** 16];
        break;
      }
      case COMMAND.PERFORM_SELF_TEST:
        answer = [0];
        break;
      case COMMAND.PERFORM_FACTORY_RESET:
        this.#settings = { ...DEFAULT_SETTINGS };
        this.#eeprom = { ...DEFAULT_SETTINGS };
        this.#ambientPressure = undefined;
        break;
      case COMMAND.REINIT:
        this.#settings = { ...this.#eeprom };
        break;
      case COMMAND.MEASURE_SINGLE_SHOT:
      case COMMAND.MEASURE_SINGLE_SHOT_RHT_ONLY:
        this.#buffer = undefined;
        this.#singleShot = { readyAtMs: nowMs + execution, rhtOnly: command === COMMAND.MEASURE_SINGLE_SHOT_RHT_ONLY };
        break;
      case COMMAND.POWER_DOWN:
        this.#mode = 'sleep';
        break;
      default:
        return false; // wake_up while awake
    }
    this.#answer = answer ? { bytes: encodeWords(answer), measurement: false } : measurement ? { bytes: measurement, measurement: true } : undefined;
    this.#busyUntilMs = nowMs + execution;
    return true;
  }

  /** One measurement reported at `atMs`: CO2, T, RH words with CRCs (§3.5.2). */
  #measure(atMs: number, rhtOnly: boolean): Uint8Array {
    const co2 = rhtOnly ? 0 : valueAt(this.#co2, atMs, 'SCD41', 'co2') + this.#random.noise(this.#co2Noise);
    const offset = (this.#settings.temperatureOffset * 175) / 65535;
    const temperature = valueAt(this.#temperature, atMs, 'SCD41', 'temperature') + this.#selfHeating - offset + this.#random.noise(this.#temperatureNoise);
    const humidity = valueAt(this.#humidity, atMs, 'SCD41', 'humidity') + this.#random.noise(this.#humidityNoise);
    return encodeWords([toWord(co2), rawTemperature(temperature), rawHumidity(humidity)]);
  }

  #corruptCrcs(bytes: Uint8Array, measurement: boolean): void {
    const { crcError, crcErrorOn } = this.#faults;
    if (crcError !== 'always' && crcError <= 0) return;
    if (crcErrorOn === 'measurement' && !measurement) return;
    for (let i = 2; i < bytes.length; i += 3) bytes[i] ^= 0xff;
    if (crcError !== 'always') this.#faults.crcError = crcError - 1;
  }
}

/** §3.5.2 inverted, clamped to 16 bits and rounded. */
export function rawTemperature(celsius: number): number {
  return toWord(((celsius + 45) / 175) * 65535);
}

export function rawHumidity(percent: number): number {
  return toWord((percent / 100) * 65535);
}
