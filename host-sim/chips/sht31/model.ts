/**
 * Register-level model of a Sensirion SHT31 (SHT3x-DIS family) on the simulated I2C bus,
 * written from "Datasheet SHT3x-DIS" (v5, May 2018). It sees the bytes of each transfer and
 * the virtual time, and answers as the chip does:
 *
 * - Commands are 16-bit, MSB first (§4). Unknown commands and commands that are not 2 bytes
 *   are NACKed and set status bit 1 (§4.11 Table 18).
 * - Single shot (§4.3 Table 9), all six commands. Without clock stretching a read before the
 *   measurement is done is NACKed at the read header; with clock stretching it is answered
 *   (the stretch costs no virtual time: the bus model has no notion of SCL). Each result
 *   can be read once; reading again without a new command is NACKed (§4.4, §4.6).
 * - While a single-shot measurement runs the chip ignores its address: writes are NACKed.
 * - A command less than 1 ms after the previous one is NACKed (§4.3, note to Table 9).
 * - Periodic mode (§4.5 Table 10, ART §4.7 Table 12), Fetch Data 0xE000 (§4.6 Table 11),
 *   Break 0x3093 (§4.8). The datasheet asks for Break before other measurement commands;
 *   the model NACKs a measurement command in periodic mode rather than guess.
 * - Soft reset 0x30A2 (§4.9): everything back to power-up defaults; the chip does not answer
 *   for tSR = 1.5 ms (§2.2 Table 4, max).
 * - Heater 0x306D / 0x3066 (§4.10 Table 16), status 0xF32D and clear status 0x3041 (§4.11).
 * - Outputs: words MSB first, each followed by its CRC (§4.12); raw values from §4.13
 *   inverted, clamped to the representable -45…130 °C and 0…100 %RH and rounded to 16 bits.
 *   Reading more bytes than the chip has returns 0xFF (the released SDA line).
 *
 * Not modelled: alert mode and its limit registers, the nRESET pin, the general-call reset,
 * the 3-bit command checksum (every listed command is valid by construction), self-heating.
 */
import type { I2CTarget } from '../i2c-target';
import { dailyHumidity, dailyTemperature } from '../common/daily-curve';
import { SeededRandom } from '../common/prng';
import { encodeWords, toWord } from '../common/sensirion';
import { valueAt } from '../common/signal';
import type { Signal } from '../common/signal';

export type { Signal } from '../common/signal';

export type Repeatability = 'high' | 'medium' | 'low';

export interface SHT31Faults {
  /** NACK every transfer, as a missing or unpowered chip would. */
  nack: boolean;
  /** Corrupt the CRC byte(s) of the next N reads that carry data, or of every one. */
  crcError: number | 'always';
  /**
   * Which word's CRC to corrupt: the first (temperature, or the status word) or the second
   * (humidity). A status read has only a first word.
   */
  crcErrorWord: 'temperature' | 'humidity' | 'both';
  /** Measurements never complete: reads NACK (and writes, since the chip is busy) forever. */
  stuckBusy: boolean;
}

export interface SHT31Noise {
  /** Standard deviation added to each temperature measurement, °C. */
  temperature?: number;
  /** Standard deviation added to each humidity measurement, %RH. */
  humidity?: number;
  /** PRNG seed; the same seed replays the same noise. */
  seed?: number;
}

export interface SHT31ModelOptions {
  /** 0x44 (ADDR low, default) or 0x45 (ADDR high), §3. */
  address?: number;
  /** Ambient temperature, °C. Default: `dailyTemperature`. */
  temperature?: Signal;
  /** Ambient relative humidity, %RH. Default: `dailyHumidity`. */
  humidity?: Signal;
  noise?: SHT31Noise;
  /**
   * How long measurements take: the datasheet maximum (default; a driver that works
   * against it works against every chip) or the typical value.
   */
  timing?: 'max' | 'typical';
  faults?: Partial<SHT31Faults>;
}

/** §2.2 Table 4: measurement duration per repeatability, ms. */
export const MEASUREMENT_DURATION_MS = {
  max: { high: 15, medium: 6, low: 4 },
  typical: { high: 12.5, medium: 4.5, low: 2.5 },
} as const;
/** §2.2 Table 4: soft reset time, max. */
export const SOFT_RESET_MS = 1.5;
/** §4.3: minimum time between two commands. */
export const COMMAND_GAP_MS = 1;

/** §4.11 Table 18 status bits. */
export const STATUS = {
  ALERT_PENDING: 1 << 15,
  HEATER_ON: 1 << 13,
  RH_TRACKING_ALERT: 1 << 11,
  T_TRACKING_ALERT: 1 << 10,
  RESET_DETECTED: 1 << 4,
  COMMAND_FAILED: 1 << 1,
  WRITE_CHECKSUM_FAILED: 1 << 0,
} as const;
/** After power-up or reset: alert pending and reset detected set (Table 18 defaults). */
const STATUS_AFTER_RESET = STATUS.ALERT_PENDING | STATUS.RESET_DETECTED;
/** §4.11 Table 19: the flags Clear Status clears. */
const STATUS_CLEARABLE =
  STATUS.ALERT_PENDING | STATUS.RH_TRACKING_ALERT | STATUS.T_TRACKING_ALERT | STATUS.RESET_DETECTED;

const COMMAND = {
  FETCH_DATA: 0xe000,
  BREAK: 0x3093,
  ART: 0x2b32,
  SOFT_RESET: 0x30a2,
  HEATER_ENABLE: 0x306d,
  HEATER_DISABLE: 0x3066,
  READ_STATUS: 0xf32d,
  CLEAR_STATUS: 0x3041,
} as const;

interface SingleShotCommand {
  repeatability: Repeatability;
  clockStretching: boolean;
}

/** §4.3 Table 9. */
const SINGLE_SHOT: ReadonlyMap<number, SingleShotCommand> = new Map([
  [0x2c06, { repeatability: 'high', clockStretching: true }],
  [0x2c0d, { repeatability: 'medium', clockStretching: true }],
  [0x2c10, { repeatability: 'low', clockStretching: true }],
  [0x2400, { repeatability: 'high', clockStretching: false }],
  [0x240b, { repeatability: 'medium', clockStretching: false }],
  [0x2416, { repeatability: 'low', clockStretching: false }],
]);

interface PeriodicCommand {
  repeatability: Repeatability;
  measurementsPerSecond: number;
}

/** §4.5 Table 10 (rows: measurements per second; codes for high, medium, low repeatability). */
const PERIODIC_TABLE: ReadonlyArray<readonly [number, number, number, number]> = [
  [0.5, 0x2032, 0x2024, 0x202f],
  [1, 0x2130, 0x2126, 0x212d],
  [2, 0x2236, 0x2220, 0x222b],
  [4, 0x2334, 0x2322, 0x2329],
  [10, 0x2737, 0x2721, 0x272a],
];

const PERIODIC = new Map<number, PeriodicCommand>();
for (const [measurementsPerSecond, high, medium, low] of PERIODIC_TABLE) {
  PERIODIC.set(high, { repeatability: 'high', measurementsPerSecond });
  PERIODIC.set(medium, { repeatability: 'medium', measurementsPerSecond });
  PERIODIC.set(low, { repeatability: 'low', measurementsPerSecond });
}
// ART (§4.7 Table 12) is periodic acquisition at 4 Hz; the datasheet gives no repeatability, so high.
PERIODIC.set(COMMAND.ART, { repeatability: 'high', measurementsPerSecond: 4 });

/** A single-shot measurement started but not yet read. */
interface PendingMeasurement {
  readyAtMs: number;
  clockStretching: boolean;
  output: Uint8Array;
}

interface PeriodicState {
  startMs: number;
  periodMs: number;
  durationMs: number;
  /** Index of the last measurement fetched; -1 before the first. */
  lastFetched: number;
}

const DEFAULT_FAULTS: SHT31Faults = { nack: false, crcError: 0, crcErrorWord: 'both', stuckBusy: false };

export class SHT31Model implements I2CTarget {
  readonly address: number;
  #temperature: Signal;
  #humidity: Signal;
  #temperatureNoise = 0;
  #humidityNoise = 0;
  #random = new SeededRandom(1);
  readonly #timing: 'max' | 'typical';
  #faults: SHT31Faults = { ...DEFAULT_FAULTS };

  #status = STATUS_AFTER_RESET;
  #lastCommandMs = -Infinity;
  #resetUntilMs = -Infinity;
  #measurement: PendingMeasurement | undefined;
  #periodic: PeriodicState | undefined;
  /** Bytes the next read returns (status word, or a fetched periodic result). */
  #output: Uint8Array | undefined;

  constructor(options: SHT31ModelOptions = {}) {
    const address = options.address ?? 0x44;
    if (address !== 0x44 && address !== 0x45) throw new RangeError(`SHT31 address must be 0x44 or 0x45, not ${address}`);
    this.address = address;
    this.#temperature = options.temperature ?? dailyTemperature;
    this.#humidity = options.humidity ?? dailyHumidity;
    this.#timing = options.timing ?? 'max';
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
  setNoise(noise: SHT31Noise): void {
    if (noise.temperature !== undefined) this.#temperatureNoise = noise.temperature;
    if (noise.humidity !== undefined) this.#humidityNoise = noise.humidity;
    if (noise.seed !== undefined) this.#random = new SeededRandom(noise.seed);
  }

  /** Sets the given faults; the others stay as they are. */
  setFaults(faults: Partial<SHT31Faults>): void {
    this.#faults = { ...this.#faults, ...faults };
  }

  get faults(): Readonly<SHT31Faults> {
    return { ...this.#faults };
  }

  /** The status register (§4.11), for assertions without going through the bus. */
  get status(): number {
    return this.#status;
  }

  get heaterOn(): boolean {
    return (this.#status & STATUS.HEATER_ON) !== 0;
  }

  get mode(): 'single-shot' | 'periodic' {
    return this.#periodic ? 'periodic' : 'single-shot';
  }

  // ---- I2CTarget ---------------------------------------------------------------------

  write(bytes: Uint8Array, nowMs: number): boolean {
    if (!this.#answersAt(nowMs)) return false;
    if (this.#measuring(nowMs)) return false;
    if (bytes.length === 0) return true; // address probe, as a bus scan sends
    if (nowMs < this.#lastCommandMs + COMMAND_GAP_MS) return false;
    if (bytes.length !== 2 || !this.#execute((bytes[0] << 8) | bytes[1], nowMs)) {
      this.#status |= STATUS.COMMAND_FAILED;
      return false;
    }
    this.#status &= ~STATUS.COMMAND_FAILED;
    this.#lastCommandMs = nowMs;
    return true;
  }

  read(count: number, nowMs: number): Uint8Array | null {
    if (!this.#answersAt(nowMs)) return null;
    const measurement = this.#measurement;
    if (measurement) {
      if (this.#faults.stuckBusy) return null;
      if (nowMs < measurement.readyAtMs && !measurement.clockStretching) return null;
      this.#measurement = undefined;
      this.#output = measurement.output;
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

  #measuring(nowMs: number): boolean {
    const measurement = this.#measurement;
    return measurement !== undefined && (this.#faults.stuckBusy || nowMs < measurement.readyAtMs);
  }

  /** Runs a command; false means the chip does not accept it (NACK). */
  #execute(command: number, nowMs: number): boolean {
    const singleShot = SINGLE_SHOT.get(command);
    if (singleShot) {
      if (this.#periodic) return false;
      this.#output = undefined;
      this.#measurement = {
        readyAtMs: nowMs + MEASUREMENT_DURATION_MS[this.#timing][singleShot.repeatability],
        clockStretching: singleShot.clockStretching,
        output: this.#measure(nowMs),
      };
      return true;
    }
    const periodic = PERIODIC.get(command);
    if (periodic) {
      if (this.#periodic) return false;
      this.#output = undefined;
      this.#measurement = undefined;
      this.#periodic = {
        startMs: nowMs,
        periodMs: 1000 / periodic.measurementsPerSecond,
        durationMs: MEASUREMENT_DURATION_MS[this.#timing][periodic.repeatability],
        lastFetched: -1,
      };
      return true;
    }
    switch (command) {
      case COMMAND.FETCH_DATA:
        return this.#fetch(nowMs);
      case COMMAND.BREAK:
        this.#periodic = undefined;
        this.#output = undefined;
        return true;
      case COMMAND.SOFT_RESET:
        this.#status = STATUS_AFTER_RESET;
        this.#measurement = undefined;
        this.#periodic = undefined;
        this.#output = undefined;
        this.#resetUntilMs = nowMs + SOFT_RESET_MS;
        return true;
      case COMMAND.HEATER_ENABLE:
        this.#status |= STATUS.HEATER_ON;
        return true;
      case COMMAND.HEATER_DISABLE:
        this.#status &= ~STATUS.HEATER_ON;
        return true;
      case COMMAND.READ_STATUS:
        // Bit 1 in the reply is about the command before this one, which is why it is read.
        this.#output = encodeWords([this.#status]);
        return true;
      case COMMAND.CLEAR_STATUS:
        this.#status &= ~STATUS_CLEARABLE;
        return true;
      default:
        return false;
    }
  }

  /** §4.6: Fetch Data is always accepted; if no new result is there, the read is NACKed. */
  #fetch(nowMs: number): boolean {
    const periodic = this.#periodic;
    if (!periodic) return false;
    const latest = Math.floor((nowMs - periodic.startMs - periodic.durationMs) / periodic.periodMs);
    if (latest >= 0 && latest > periodic.lastFetched) {
      periodic.lastFetched = latest;
      this.#output = this.#measure(periodic.startMs + latest * periodic.periodMs);
    } else {
      this.#output = undefined;
    }
    return true;
  }

  /** One measurement taken at `atMs`: temperature word + CRC, humidity word + CRC (§4.4). */
  #measure(atMs: number): Uint8Array {
    const temperature = valueAt(this.#temperature, atMs, 'SHT31', 'temperature') + this.#random.noise(this.#temperatureNoise);
    const humidity = valueAt(this.#humidity, atMs, 'SHT31', 'humidity') + this.#random.noise(this.#humidityNoise);
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

/**
 * §4.13 inverted: S_T = (T + 45) / 175 * (2^16 - 1), S_RH = RH / 100 * (2^16 - 1), clamped
 * to what 16 bits can say and rounded to the nearest code.
 */
export function rawTemperature(celsius: number): number {
  return toWord(((celsius + 45) / 175) * 65535);
}

export function rawHumidity(percent: number): number {
  return toWord((percent / 100) * 65535);
}
