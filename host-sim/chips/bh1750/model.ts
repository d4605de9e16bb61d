/**
 * Register-level model of a ROHM BH1750FVI ambient light sensor on the simulated I2C bus,
 * written from the "BH1750FVI Technical Note" (ROHM, 2009.04 Rev.B):
 *
 * - One opcode per write transfer (p.10 Write Format: "not able to accept plural command
 *   without stop condition"): longer writes are NACKed, as are opcodes not in the
 *   instruction set (p.5).
 * - States (p.5): after power-up the chip is in power down. Power On (0x01) waits for a
 *   measurement command; Power Down (0x00) stops everything. Reset (0x07) clears the data
 *   register, and only in power-on state ("not acceptable in Power Down mode": acknowledged,
 *   ignored). A measurement command is taken in either state.
 * - Measurements (p.5): continuous H / H2 / L (0x10 / 0x11 / 0x13) repeat until told
 *   otherwise, each result replacing the last; one-time H / H2 / L (0x20 / 0x21 / 0x23) measure
 *   once, then power down.
 * - Timing (p.2): H-resolution 120 ms typical, 180 ms maximum (default), scaled by MTreg / 69
 *   (p.11); L-resolution 16 / 24 ms. There is no ready flag: the data register always answers,
 *   with the last finished result (0 after power-up or Reset) until a new one is done.
 * - MTreg (p.5, p.11): Change Measurement time 01000_MT[7:5] and 011_MT[4:0]; default 69. It is
 *   latched by the next measurement command. Values outside 31…254 are taken as written.
 * - Result (p.10, p.11): count = lx × 1.2 × (MTreg / 69), doubled in H-resolution mode2,
 *   rounded and clamped to 16 bits; read high byte first. Reading more than two bytes returns
 *   0xFF for the rest.
 *
 * Not modelled: L-resolution's 4 lx granularity and any MTreg effect on it (the Technical Note
 * gives the MTreg scaling for the H modes), the 0…3 count dark output, spectral response,
 * 50/60 Hz flicker rejection, the DVI reset pin. The chip has no checksum and no ID register,
 * so there are no CRC or wrong-id faults.
 */
import type { I2CTarget } from '../i2c-target';
import { SeededRandom } from '../common/prng';
import { valueAt } from '../common/signal';
import type { Signal } from '../common/signal';
import { dailyIlluminance } from './daylight';

export type { Signal } from '../common/signal';

export type Resolution = 'high' | 'high2' | 'low';

export interface BH1750Faults {
  /** NACK every transfer, as a missing or unpowered chip would. */
  nack: boolean;
  /** Measurements never finish: the data register keeps its last value. */
  stuckBusy: boolean;
}

export interface BH1750Noise {
  /** Standard deviation added to each measurement, lx (the result is clamped at 0). */
  illuminance?: number;
  /** PRNG seed; the same seed replays the same noise. */
  seed?: number;
}

export interface BH1750ModelOptions {
  /** 0x23 (ADDR low, default) or 0x5C (ADDR high), p.10. */
  address?: number;
  /** Illuminance at the sensor, lx. Default: `dailyIlluminance`. */
  illuminance?: Signal;
  noise?: BH1750Noise;
  /** Measurement time: the datasheet maximum (default) or typical value. */
  timing?: 'max' | 'typical';
  /** Counts per lux at MTreg 69, "measurement accuracy" S/A (p.2: 0.96…1.44, typical 1.2). */
  countsPerLux?: number;
  faults?: Partial<BH1750Faults>;
}

/** p.2, at MTreg 69. */
export const MEASUREMENT_DURATION_MS = {
  max: { high: 180, high2: 180, low: 24 },
  typical: { high: 120, high2: 120, low: 16 },
} as const;
export const MTREG_DEFAULT = 69;
/** The opcode log is bounded so that a long fleet simulation does not grow without limit. */
export const OPCODE_LOG_LENGTH = 1000;

const OPCODE = { POWER_DOWN: 0x00, POWER_ON: 0x01, RESET: 0x07 } as const;

interface MeasureCommand {
  continuous: boolean;
  resolution: Resolution;
}

/** p.5. */
const MEASURE: ReadonlyMap<number, MeasureCommand> = new Map([
  [0x10, { continuous: true, resolution: 'high' }],
  [0x11, { continuous: true, resolution: 'high2' }],
  [0x13, { continuous: true, resolution: 'low' }],
  [0x20, { continuous: false, resolution: 'high' }],
  [0x21, { continuous: false, resolution: 'high2' }],
  [0x23, { continuous: false, resolution: 'low' }],
]);

interface Measurement extends MeasureCommand {
  startMs: number;
  durationMs: number;
  mtreg: number;
  /** Continuous: the index of the last cycle already in the data register; -1 before the first. */
  published: number;
}

const DEFAULT_FAULTS: BH1750Faults = { nack: false, stuckBusy: false };

export class BH1750Model implements I2CTarget {
  readonly address: number;
  #illuminance: Signal;
  #noiseSigma = 0;
  #random = new SeededRandom(1);
  readonly #timing: 'max' | 'typical';
  readonly #countsPerLux: number;
  #faults: BH1750Faults = { ...DEFAULT_FAULTS };

  #poweredOn = false;
  #mtreg = MTREG_DEFAULT;
  #register = 0;
  #measurement: Measurement | undefined;
  /** The last `OPCODE_LOG_LENGTH` opcodes the chip accepted, for assertions. */
  readonly opcodes: number[] = [];

  constructor(options: BH1750ModelOptions = {}) {
    const address = options.address ?? 0x23;
    if (address !== 0x23 && address !== 0x5c) throw new RangeError(`BH1750 address must be 0x23 or 0x5c, not ${address}`);
    this.address = address;
    this.#illuminance = options.illuminance ?? dailyIlluminance;
    this.#timing = options.timing ?? 'max';
    this.#countsPerLux = options.countsPerLux ?? 1.2;
    if (options.noise) this.setNoise(options.noise);
    if (options.faults) this.setFaults(options.faults);
  }

  // ---- knobs -------------------------------------------------------------------------

  setIlluminance(lux: Signal): void {
    this.#illuminance = lux;
  }

  setNoise(noise: BH1750Noise): void {
    if (noise.illuminance !== undefined) this.#noiseSigma = noise.illuminance;
    if (noise.seed !== undefined) this.#random = new SeededRandom(noise.seed);
  }

  setFaults(faults: Partial<BH1750Faults>): void {
    this.#faults = { ...this.#faults, ...faults };
  }

  get faults(): Readonly<BH1750Faults> {
    return { ...this.#faults };
  }

  /** 'power-down', 'power-on' (idle) or 'measuring', for assertions (p.5 state diagram). */
  stateAt(nowMs: number): 'power-down' | 'power-on' | 'measuring' {
    this.#advance(nowMs);
    return this.#measurement ? 'measuring' : this.#poweredOn ? 'power-on' : 'power-down';
  }

  get mtreg(): number {
    return this.#mtreg;
  }

  // ---- I2CTarget ---------------------------------------------------------------------

  write(bytes: Uint8Array, nowMs: number): boolean {
    if (this.#faults.nack) return false;
    if (bytes.length === 0) return true;
    if (bytes.length !== 1) return false; // one opcode per transfer; the second byte is NACKed
    this.#advance(nowMs);
    if (!this.#execute(bytes[0], nowMs)) return false;
    if (this.opcodes.length === OPCODE_LOG_LENGTH) this.opcodes.shift();
    this.opcodes.push(bytes[0]);
    return true;
  }

  read(count: number, nowMs: number): Uint8Array | null {
    if (this.#faults.nack) return null;
    this.#advance(nowMs);
    const bytes = new Uint8Array(count).fill(0xff);
    if (count > 0) bytes[0] = this.#register >> 8;
    if (count > 1) bytes[1] = this.#register & 0xff;
    return bytes;
  }

  // ---- internals ---------------------------------------------------------------------

  #execute(opcode: number, nowMs: number): boolean {
    const measure = MEASURE.get(opcode);
    if (measure) {
      this.#poweredOn = true;
      this.#measurement = {
        ...measure,
        startMs: nowMs,
        durationMs: this.#durationMs(measure.resolution),
        mtreg: this.#mtreg,
        published: -1,
      };
      return true;
    }
    if ((opcode & 0xf8) === 0x40) {
      this.#mtreg = (this.#mtreg & 0x1f) | ((opcode & 0x07) << 5);
      return true;
    }
    if ((opcode & 0xe0) === 0x60) {
      this.#mtreg = (this.#mtreg & 0xe0) | (opcode & 0x1f);
      return true;
    }
    switch (opcode) {
      case OPCODE.POWER_DOWN:
        this.#poweredOn = false;
        this.#measurement = undefined;
        return true;
      case OPCODE.POWER_ON:
        this.#poweredOn = true;
        return true;
      case OPCODE.RESET:
        if (this.#poweredOn) this.#register = 0;
        return true;
      default:
        return false;
    }
  }

  #durationMs(resolution: Resolution): number {
    const base = MEASUREMENT_DURATION_MS[this.#timing][resolution];
    return resolution === 'low' ? base : (base * this.#mtreg) / MTREG_DEFAULT;
  }

  /** Publishes the results that have finished by `nowMs` into the data register. */
  #advance(nowMs: number): void {
    const measurement = this.#measurement;
    if (!measurement || this.#faults.stuckBusy) return;
    const finished = Math.floor((nowMs - measurement.startMs) / measurement.durationMs); // whole cycles done
    if (finished < 1) return;
    if (!measurement.continuous) {
      this.#register = this.#count(measurement, measurement.startMs);
      this.#measurement = undefined;
      this.#poweredOn = false; // p.5: one-time modes power down after the measurement
      return;
    }
    const latest = finished - 1;
    if (latest > measurement.published) {
      measurement.published = latest;
      this.#register = this.#count(measurement, measurement.startMs + latest * measurement.durationMs);
    }
  }

  /** p.10, p.11: count = lx × 1.2 × MTreg / 69, doubled in mode2, for the light at the start of the cycle. */
  #count(measurement: Measurement, atMs: number): number {
    const value = valueAt(this.#illuminance, atMs, 'BH1750', 'illuminance');
    const lux = Math.max(0, value + this.#random.noise(this.#noiseSigma));
    const scale = measurement.resolution === 'low' ? 1 : measurement.mtreg / MTREG_DEFAULT;
    const counts = lux * this.#countsPerLux * scale * (measurement.resolution === 'high2' ? 2 : 1);
    return Math.round(Math.min(65535, counts));
  }
}
