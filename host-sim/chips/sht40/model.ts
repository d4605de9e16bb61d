/**
 * Register-level model of a Sensirion SHT40 (SHT4x family: SHT40/41/43/45 speak the same
 * protocol) on the simulated I2C bus, written from "Datasheet SHT4x" (version 6, February
 * 2023). It sees the bytes of each transfer and the virtual time, and answers as the chip does:
 *
 * - Commands are one byte, no checksum (§4.4 "Command Overview"). Unknown commands, and
 *   writes longer than one byte, are NACKed.
 * - Measurements 0xFD / 0xF6 / 0xE0 (high / medium / lowest precision). The SHT4x does not
 *   stretch the clock: a read before the measurement is done is NACKed at the read header
 *   (§4.1), and so is any write meanwhile. Durations from the timing table in §3: maximum
 *   8.3 / 4.5 / 1.6 ms (default) or typical 6.9 / 3.7 / 1.3 ms.
 * - Each result is read once; reading again without a new command is NACKed.
 * - Serial number 0x89 (§4.6): two words, each with its CRC.
 * - Soft reset 0x94 (§4.7): aborts a measurement or heater pulse; the chip does not answer
 *   for tSR = 1 ms (max).
 * - Heater 0x39 / 0x32 / 0x2F / 0x24 / 0x1E / 0x15 (§4.8): 200 / 110 / 20 mW for 1 s or
 *   0.1 s (max 1.1 s / 0.11 s), then a high-precision measurement, returned like one.
 * - Outputs: words MSB first, each followed by its CRC (§4.3: CRC-8, 0x31, init 0xFF;
 *   CRC(0xBEEF) = 0x92). Raw values from §4.5 inverted: S_T = (T + 45) / 175 × 65535,
 *   S_RH = (RH + 6) / 125 × 65535, clamped to 16 bits (-45…130 °C, -6…119 %RH) and rounded.
 *   Reading more bytes than the chip has returns 0xFF (the released SDA line).
 *
 * Not modelled: the heater's warming of the sensor (the measurement after a pulse reports the
 * ambient values), the 10 % heater duty-cycle limit, power-up time, general-call reset,
 * self-heating.
 */
import type { I2CTarget } from '../i2c-target';
import { dailyHumidity, dailyTemperature } from '../common/daily-curve';
import { SeededRandom } from '../common/prng';
import { encodeWords, toWord } from '../common/sensirion';
import { valueAt } from '../common/signal';
import type { Signal } from '../common/signal';

export type { Signal } from '../common/signal';

export type Precision = 'high' | 'medium' | 'low';

export interface SHT40Faults {
  /** NACK every transfer, as a missing or unpowered chip would. */
  nack: boolean;
  /** Corrupt the CRC byte(s) of the next N reads that carry data, or of every one. */
  crcError: number | 'always';
  /** Which word's CRC to corrupt: the first (temperature, or the serial's high word), the second, or both. */
  crcErrorWord: 'temperature' | 'humidity' | 'both';
  /** Measurements never complete: reads and writes NACK forever. */
  stuckBusy: boolean;
  /** The serial-number command answers 0x00000000, as an unprogrammed part would. */
  wrongId: boolean;
}

export interface SHT40Noise {
  /** Standard deviation added to each temperature measurement, °C. */
  temperature?: number;
  /** Standard deviation added to each humidity measurement, %RH. */
  humidity?: number;
  /** PRNG seed; the same seed replays the same noise. */
  seed?: number;
}

export interface SHT40ModelOptions {
  /** 0x44 (SHT4x-A…, default), 0x45 (-B…) or 0x46 (-C…). */
  address?: number;
  /** Ambient temperature, °C. Default: `dailyTemperature` (the models' indoor day). */
  temperature?: Signal;
  /** Ambient relative humidity, %RH. Values above 100 (condensation) come out as the chip would send them. */
  humidity?: Signal;
  noise?: SHT40Noise;
  /** How long measurements take: the datasheet maximum (default) or typical value. */
  timing?: 'max' | 'typical';
  /** The 32-bit serial number §4.6 returns. */
  serialNumber?: number;
  faults?: Partial<SHT40Faults>;
}

/** §3 timing table, ms. */
export const MEASUREMENT_DURATION_MS = {
  max: { high: 8.3, medium: 4.5, low: 1.6 },
  typical: { high: 6.9, medium: 3.7, low: 1.3 },
} as const;
export const HEATER_DURATION_MS = {
  max: { long: 1100, short: 110 },
  typical: { long: 1000, short: 100 },
} as const;
export const SOFT_RESET_MS = 1;
export const DEFAULT_SERIAL_NUMBER = 0x1a2b3c4d;
/** The command log is bounded so that a long fleet simulation does not grow without limit. */
export const COMMAND_LOG_LENGTH = 1000;

const MEASURE: ReadonlyMap<number, Precision> = new Map([
  [0xfd, 'high'],
  [0xf6, 'medium'],
  [0xe0, 'low'],
]);

interface HeaterCommand {
  powerMw: 200 | 110 | 20;
  pulse: 'long' | 'short';
}

/** §4.8. */
const HEATER: ReadonlyMap<number, HeaterCommand> = new Map([
  [0x39, { powerMw: 200, pulse: 'long' }],
  [0x32, { powerMw: 200, pulse: 'short' }],
  [0x2f, { powerMw: 110, pulse: 'long' }],
  [0x24, { powerMw: 110, pulse: 'short' }],
  [0x1e, { powerMw: 20, pulse: 'long' }],
  [0x15, { powerMw: 20, pulse: 'short' }],
]);

const READ_SERIAL = 0x89;
const SOFT_RESET = 0x94;

interface PendingMeasurement {
  /** When the heater (if any) switches off and the measurement starts. */
  measureAtMs: number;
  readyAtMs: number;
  heaterMw: number;
}

const DEFAULT_FAULTS: SHT40Faults = { nack: false, crcError: 0, crcErrorWord: 'both', stuckBusy: false, wrongId: false };

export class SHT40Model implements I2CTarget {
  readonly address: number;
  #temperature: Signal;
  #humidity: Signal;
  #temperatureNoise = 0;
  #humidityNoise = 0;
  #random = new SeededRandom(1);
  readonly #timing: 'max' | 'typical';
  readonly #serialNumber: number;
  #faults: SHT40Faults = { ...DEFAULT_FAULTS };

  #resetUntilMs = -Infinity;
  #measurement: PendingMeasurement | undefined;
  /** Bytes the next read returns (serial number, or a finished measurement). */
  #output: Uint8Array | undefined;
  /** The last `COMMAND_LOG_LENGTH` commands the chip accepted, for assertions. */
  readonly commands: number[] = [];

  constructor(options: SHT40ModelOptions = {}) {
    const address = options.address ?? 0x44;
    if (address !== 0x44 && address !== 0x45 && address !== 0x46) {
      throw new RangeError(`SHT40 address must be 0x44, 0x45 or 0x46, not ${address}`);
    }
    this.address = address;
    this.#temperature = options.temperature ?? dailyTemperature;
    this.#humidity = options.humidity ?? dailyHumidity;
    this.#timing = options.timing ?? 'max';
    this.#serialNumber = (options.serialNumber ?? DEFAULT_SERIAL_NUMBER) >>> 0;
    if (options.noise) this.setNoise(options.noise);
    if (options.faults) this.setFaults(options.faults);
  }

  // ---- knobs -------------------------------------------------------------------------

  setTemperature(celsius: Signal): void {
    this.#temperature = celsius;
  }

  setHumidity(percent: Signal): void {
    this.#humidity = percent;
  }

  /** Changes the noise; a `seed` restarts the random sequence. */
  setNoise(noise: SHT40Noise): void {
    if (noise.temperature !== undefined) this.#temperatureNoise = noise.temperature;
    if (noise.humidity !== undefined) this.#humidityNoise = noise.humidity;
    if (noise.seed !== undefined) this.#random = new SeededRandom(noise.seed);
  }

  /** Sets the given faults; the others stay as they are. */
  setFaults(faults: Partial<SHT40Faults>): void {
    this.#faults = { ...this.#faults, ...faults };
  }

  get faults(): Readonly<SHT40Faults> {
    return { ...this.#faults };
  }

  get serialNumber(): number {
    return this.#serialNumber;
  }

  /** True while a heater pulse runs (§4.8). */
  heaterOnAt(nowMs: number): boolean {
    const measurement = this.#measurement;
    return measurement !== undefined && measurement.heaterMw > 0 && nowMs < measurement.measureAtMs;
  }

  // ---- I2CTarget ---------------------------------------------------------------------

  write(bytes: Uint8Array, nowMs: number): boolean {
    if (!this.#answersAt(nowMs)) return false;
    if (this.#busy(nowMs)) return false;
    if (bytes.length === 0) return true; // address probe, as a bus scan sends
    if (bytes.length !== 1) return false; // §4.4: every command is one byte; the second is NACKed
    if (!this.#execute(bytes[0], nowMs)) return false;
    if (this.commands.length === COMMAND_LOG_LENGTH) this.commands.shift();
    this.commands.push(bytes[0]);
    return true;
  }

  read(count: number, nowMs: number): Uint8Array | null {
    if (!this.#answersAt(nowMs)) return null;
    const measurement = this.#measurement;
    if (measurement) {
      if (this.#busy(nowMs)) return null; // §4.1: read header NACKed while measuring
      this.#measurement = undefined;
      this.#output = this.#measure(measurement.measureAtMs);
    }
    const output = this.#output;
    if (!output) return null;
    this.#output = undefined; // each result is read once
    const bytes = new Uint8Array(count).fill(0xff);
    bytes.set(output.subarray(0, count));
    this.#corruptCrcs(bytes);
    return bytes;
  }

  // ---- internals ---------------------------------------------------------------------

  #answersAt(nowMs: number): boolean {
    return !this.#faults.nack && nowMs >= this.#resetUntilMs;
  }

  #busy(nowMs: number): boolean {
    const measurement = this.#measurement;
    return measurement !== undefined && (this.#faults.stuckBusy || nowMs < measurement.readyAtMs);
  }

  /** Runs a command; false means the chip does not accept it (NACK). */
  #execute(command: number, nowMs: number): boolean {
    const precision = MEASURE.get(command);
    if (precision) {
      this.#start(nowMs, 0, precision);
      return true;
    }
    const heater = HEATER.get(command);
    if (heater) {
      this.#start(nowMs + HEATER_DURATION_MS[this.#timing][heater.pulse], heater.powerMw, 'high');
      return true;
    }
    switch (command) {
      case READ_SERIAL: {
        const serial = this.#faults.wrongId ? 0 : this.#serialNumber;
        this.#output = encodeWords([serial >>> 16, serial & 0xffff]);
        return true;
      }
      case SOFT_RESET:
        this.#measurement = undefined;
        this.#output = undefined;
        this.#resetUntilMs = nowMs + SOFT_RESET_MS;
        return true;
      default:
        return false;
    }
  }

  #start(measureAtMs: number, heaterMw: number, precision: Precision): void {
    this.#output = undefined;
    this.#measurement = {
      measureAtMs,
      readyAtMs: measureAtMs + MEASUREMENT_DURATION_MS[this.#timing][precision],
      heaterMw,
    };
  }

  /** One measurement taken at `atMs`: temperature word + CRC, humidity word + CRC (§4.2). */
  #measure(atMs: number): Uint8Array {
    const temperature = valueAt(this.#temperature, atMs, 'SHT40', 'temperature') + this.#random.noise(this.#temperatureNoise);
    const humidity = valueAt(this.#humidity, atMs, 'SHT40', 'humidity') + this.#random.noise(this.#humidityNoise);
    return encodeWords([rawTemperature(temperature), rawHumidity(humidity)]);
  }

  #corruptCrcs(bytes: Uint8Array): void {
    const { crcError, crcErrorWord } = this.#faults;
    if (crcError !== 'always' && crcError <= 0) return;
    if (crcErrorWord !== 'humidity' && bytes.length > 2) bytes[2] ^= 0xff;
    if (crcErrorWord !== 'temperature' && bytes.length > 5) bytes[5] ^= 0xff;
    if (crcError !== 'always') this.#faults.crcError = crcError - 1;
  }
}

/** §4.5 inverted, clamped to what 16 bits can say and rounded to the nearest code. */
export function rawTemperature(celsius: number): number {
  return toWord(((celsius + 45) / 175) * 65535);
}

export function rawHumidity(percent: number): number {
  return toWord(((percent + 6) / 125) * 65535);
}
