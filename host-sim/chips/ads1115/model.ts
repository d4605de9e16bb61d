/**
 * Register-level model of a Texas Instruments ADS1115 on the simulated I2C bus, written
 * from the datasheet (SBAS444D, January 2018; section numbers are that revision's). It sees
 * the bytes of each transfer and the virtual time, and answers as the chip does:
 *
 * - Four 16-bit registers behind the address pointer (§9.6.1): conversion (read-only,
 *   0x0000 after power-up), config (0x8583), Lo_thresh (0x8000), Hi_thresh (0x7FFF).
 *   A write is the pointer byte, optionally followed by a register value MSB first (§9.5.3);
 *   a read returns the register the pointer selects, MSB first, and the pointer stays
 *   (there is no auto-increment). The model NACKs a pointer byte with bits 7:2 set (the
 *   datasheet says they are always 0) so that a driver bug shows; bytes read past the
 *   two of a register are 0xFF (the released SDA line); data bytes after the second of a
 *   write are ignored.
 * - Single-shot mode (§9.4.2.1): writing OS = 1 in power-down starts one conversion: about
 *   25 µs of power-up, then one conversion period (1/DR, §9.3.6), during which OS reads 0;
 *   then the result lands in the conversion register, OS reads 1 and the device powers
 *   down. OS = 1 written during a conversion has no effect (§9.6.3).
 * - Continuous mode (§9.4.2.2): MODE = 0 converts back to back, one result per period.
 *   OS reads 0 throughout (a conversion is always in progress). A config write in this mode
 *   restarts the sequence with the new settings; MODE = 1 stops it at once.
 * - Conversion (§9.3.3, §9.5.4): AINP − AINN as MUX selects (§9.6.3), plus seeded noise, in
 *   units of FSR/2^15, rounded, two's complement, clipped to 0x7FFF / 0x8000. Inputs are
 *   clamped to GND − 0.3 V … VDD + 0.3 V, where the ESD diodes conduct (§7.1).
 * - Data rate: nominal, or off by `dataRateError` (the datasheet allows ±10%, §7.5).
 * - Comparator and ALERT/RDY (§9.3.7, §9.3.8): traditional and window modes, polarity,
 *   latching (cleared by reading the conversion register), the 1/2/4-conversion queue, the
 *   conversion-ready mode (Hi_thresh MSB 1, Lo_thresh MSB 0), and COMP_QUE = 11 (disabled,
 *   pin high impedance, so pulled high). The pin is not on the bus: `alertPinHigh()` reads it.
 *
 * Not modelled: the general-call reset (the bus model addresses targets one by one), the
 * SMBus alert response, Hs mode, input impedance, offset and gain errors, the partial
 * conversion in flight when continuous mode is left or reconfigured. Continuous mode catches
 * up lazily and evaluates at most the last 8 conversions when it is read after a long gap.
 */
import type { I2CTarget } from '../i2c-target';
import { SeededRandom } from '../common/prng';
import { valueAt } from '../common/signal';
import type { Signal } from '../common/signal';
import { GROUNDED_VOLTS, MID_SUPPLY_VOLTS, daylightVolts, slowSineVolts } from './signals';

export type { Signal } from '../common/signal';

export type AnalogInput = 'ain0' | 'ain1' | 'ain2' | 'ain3';

export interface ADS1115Faults {
  /** NACK every transfer, as a missing or unpowered chip would. */
  nack: boolean;
  /** Conversions never finish: OS keeps reading 0 and the conversion register never changes. */
  stuckBusy: boolean;
  /** Every conversion clips, as an input driven beyond the full-scale range does. */
  saturate: 'positive' | 'negative' | false;
  /** Something else answers at the address: writes are acknowledged and ignored, every byte reads 0x00. */
  wrongChip: boolean;
}

export interface ADS1115ModelOptions {
  /** 0x48 (ADDR to GND, default), 0x49, 0x4A, 0x4B (§9.5.1.1). */
  address?: number;
  /**
   * Voltages on AIN0…AIN3 against GND. Defaults: AIN0 a daylight sensor (0.2…2.5 V over the
   * day), AIN1 1.65 V, AIN2 a 0.1 Hz sine of 1.0 ± 0.5 V, AIN3 grounded.
   */
  inputs?: Partial<Record<AnalogInput, Signal>>;
  /** VDD in volts (2.0…5.5 V, §7.3); inputs are clamped to −0.3 V … VDD + 0.3 V. Default 3.3. */
  supply?: number;
  noise?: ADS1115Noise;
  /** Actual data rate = nominal × (1 + dataRateError); the datasheet allows −0.1…+0.1. Default 0. */
  dataRateError?: number;
  faults?: Partial<ADS1115Faults>;
}

export interface ADS1115Noise {
  /** Standard deviation of the noise added to each conversion's input, volts. */
  volts?: number;
  /** PRNG seed; the same seed replays the same noise. */
  seed?: number;
}

/** §9.6: power-up values. */
export const RESET_CONFIG = 0x8583;
export const RESET_LO_THRESH = 0x8000;
export const RESET_HI_THRESH = 0x7fff;

/** §9.6.3 PGA[2:0] → ±FSR in volts. */
export const FULL_SCALE_VOLTS: readonly number[] = [6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256];
/** §9.6.3 DR[2:0] → samples per second. */
export const DATA_RATES: readonly number[] = [8, 16, 32, 64, 128, 250, 475, 860];
/** §9.6.3 MUX[2:0] → [AINP, AINN]; undefined AINN is GND. */
export const MUX_INPUTS: ReadonlyArray<readonly [AnalogInput, AnalogInput | undefined]> = [
  ['ain0', 'ain1'],
  ['ain0', 'ain3'],
  ['ain1', 'ain3'],
  ['ain2', 'ain3'],
  ['ain0', undefined],
  ['ain1', undefined],
  ['ain2', undefined],
  ['ain3', undefined],
];
/** §9.4.2.1: power-up before a single-shot conversion, about 25 µs. */
export const POWER_UP_MS = 0.025;

const OS = 0x8000;
const MODE_SINGLE_SHOT = 0x0100;
const CONTINUOUS_HISTORY = 8;

interface SingleShot {
  endMs: number;
  config: number;
  code: number;
}

interface Continuous {
  startMs: number;
  periodMs: number;
  config: number;
  /** Conversions completed so far. */
  done: number;
}

const DEFAULT_FAULTS: ADS1115Faults = { nack: false, stuckBusy: false, saturate: false, wrongChip: false };

export class ADS1115Model implements I2CTarget {
  readonly address: number;
  readonly #inputs: Record<AnalogInput, Signal>;
  readonly #supply: number;
  #noiseVolts = 0;
  #random = new SeededRandom(1);
  readonly #rateFactor: number;
  #faults: ADS1115Faults = { ...DEFAULT_FAULTS };

  #pointer = 0;
  /** Config bits 14:0 as written; OS is computed when read. */
  #config = RESET_CONFIG & 0x7fff;
  #loThresh = RESET_LO_THRESH;
  #hiThresh = RESET_HI_THRESH;
  /** The conversion register, as a signed value. */
  #conversion = 0;
  #single: SingleShot | undefined;
  #continuous: Continuous | undefined;
  #alert = false;
  #outOfRangeCount = 0;
  #readyPulses = 0;
  #conversions = 0;

  constructor(options: ADS1115ModelOptions = {}) {
    const address = options.address ?? 0x48;
    if (address < 0x48 || address > 0x4b) throw new RangeError(`ADS1115 address must be 0x48…0x4b, not ${address}`);
    this.address = address;
    this.#inputs = { ain0: daylightVolts, ain1: MID_SUPPLY_VOLTS, ain2: slowSineVolts, ain3: GROUNDED_VOLTS, ...options.inputs };
    this.#supply = options.supply ?? 3.3;
    const error = options.dataRateError ?? 0;
    if (!(error > -1)) throw new RangeError(`ADS1115 model: dataRateError must be above -1, not ${error}`);
    this.#rateFactor = 1 + error;
    if (options.noise) this.setNoise(options.noise);
    if (options.faults) this.setFaults(options.faults);
  }

  // ---- knobs -------------------------------------------------------------------------

  /** Sets one input's voltage against GND. */
  setInput(input: AnalogInput, volts: Signal): void {
    this.#inputs[input] = volts;
  }

  /** Changes the noise; a `seed` restarts the random sequence. */
  setNoise(noise: ADS1115Noise): void {
    if (noise.volts !== undefined) this.#noiseVolts = noise.volts;
    if (noise.seed !== undefined) this.#random = new SeededRandom(noise.seed);
  }

  /** Sets the given faults; the others stay as they are. */
  setFaults(faults: Partial<ADS1115Faults>): void {
    this.#faults = { ...this.#faults, ...faults };
  }

  get faults(): Readonly<ADS1115Faults> {
    return { ...this.#faults };
  }

  /** The config register as a read at `nowMs` would return it. */
  configAt(nowMs: number): number {
    this.#advance(nowMs);
    return this.#configValue(nowMs);
  }

  /** Whether the comparator (or conversion-ready function) holds ALERT/RDY active. */
  alertAsserted(nowMs: number): boolean {
    this.#advance(nowMs);
    return this.#alert;
  }

  /** The ALERT/RDY pin level: active low unless COMP_POL = 1; high (pulled up) when inactive or disabled. */
  alertPinHigh(nowMs: number): boolean {
    const activeHigh = (this.#config & 0x0008) !== 0;
    return this.alertAsserted(nowMs) ? activeHigh : true;
  }

  /** Conversion-ready pulses in continuous mode (§9.3.8: about 8 µs each, too short to hold as a level). */
  get readyPulses(): number {
    return this.#readyPulses;
  }

  /** Conversions completed since power-on. */
  get conversions(): number {
    return this.#conversions;
  }

  // ---- I2CTarget ---------------------------------------------------------------------

  write(bytes: Uint8Array, nowMs: number): boolean {
    if (this.#faults.nack) return false;
    if (this.#faults.wrongChip || bytes.length === 0) return true;
    if ((bytes[0] & 0xfc) !== 0) return false;
    this.#advance(nowMs);
    this.#pointer = bytes[0] & 0b11;
    if (bytes.length >= 3) this.#writeRegister(this.#pointer, (bytes[1] << 8) | bytes[2], nowMs);
    return true;
  }

  read(count: number, nowMs: number): Uint8Array | null {
    if (this.#faults.nack) return null;
    const bytes = new Uint8Array(count).fill(0xff);
    if (this.#faults.wrongChip) return bytes.fill(0x00);
    this.#advance(nowMs);
    let value: number;
    switch (this.#pointer) {
      case 0:
        value = this.#conversion & 0xffff;
        if ((this.#config & 0x0004) !== 0 && !this.#readyMode()) this.#alert = false; // latched alert cleared by a read (§9.3.7)
        break;
      case 1:
        value = this.#configValue(nowMs);
        break;
      case 2:
        value = this.#loThresh;
        break;
      default:
        value = this.#hiThresh;
    }
    if (count > 0) bytes[0] = value >> 8;
    if (count > 1) bytes[1] = value & 0xff;
    return bytes;
  }

  // ---- registers ---------------------------------------------------------------------

  #configValue(nowMs: number): number {
    return (this.#converting(nowMs) ? 0 : OS) | this.#config;
  }

  #writeRegister(pointer: number, value: number, nowMs: number): void {
    switch (pointer) {
      case 0:
        return; // conversion register: read-only
      case 2:
        this.#loThresh = value;
        return;
      case 3:
        this.#hiThresh = value;
        return;
      default:
        this.#writeConfig(value, nowMs);
    }
  }

  #writeConfig(value: number, nowMs: number): void {
    const wasContinuous = this.#continuous !== undefined;
    this.#config = value & 0x7fff;
    if ((value & 0b11) === 0b11) {
      this.#alert = false; // comparator disabled: pin released
      this.#outOfRangeCount = 0;
    }
    if ((value & MODE_SINGLE_SHOT) === 0) {
      this.#single = undefined;
      this.#continuous = { startMs: nowMs, periodMs: this.#periodMs(this.#config), config: this.#config, done: 0 };
      return;
    }
    if (wasContinuous) this.#continuous = undefined; // leaves continuous mode at once (simplified)
    if ((value & OS) === 0 || this.#single) return; // OS has no effect while converting
    if (this.#readyMode()) this.#alert = false; // a new conversion clears conversion-ready
    this.#single = {
      endMs: nowMs + POWER_UP_MS + this.#periodMs(this.#config),
      config: this.#config,
      code: this.#convert(nowMs, this.#config),
    };
  }

  // ---- time --------------------------------------------------------------------------

  #converting(nowMs: number): boolean {
    if (this.#continuous) return true;
    const single = this.#single;
    return single !== undefined && (this.#faults.stuckBusy || nowMs < single.endMs);
  }

  #periodMs(config: number): number {
    return 1000 / (DATA_RATES[(config >> 5) & 0b111] * this.#rateFactor);
  }

  /** Completes the conversions that have finished by `nowMs`. */
  #advance(nowMs: number): void {
    if (this.#faults.stuckBusy) return;
    const single = this.#single;
    if (single && nowMs >= single.endMs) {
      this.#single = undefined;
      this.#complete(single.code, single.config, false);
    }
    const continuous = this.#continuous;
    if (continuous) {
      const completed = Math.floor((nowMs - continuous.startMs) / continuous.periodMs);
      for (let i = Math.max(continuous.done, completed - CONTINUOUS_HISTORY); i < completed; i++) {
        this.#complete(this.#convert(continuous.startMs + i * continuous.periodMs, continuous.config), continuous.config, true);
      }
      continuous.done = Math.max(continuous.done, completed);
    }
  }

  /** A conversion's result reaches the conversion register and the comparator (§9.3.7, §9.3.8). */
  #complete(code: number, config: number, continuous: boolean): void {
    this.#conversion = code;
    this.#conversions++;
    if ((config & 0b11) === 0b11) return; // comparator disabled
    if (this.#readyMode()) {
      if (continuous) this.#readyPulses++;
      else this.#alert = true;
      return;
    }
    const window = (config & 0x0010) !== 0;
    const latching = (config & 0x0004) !== 0;
    const queue = [1, 2, 4][config & 0b11];
    const lo = signed16(this.#loThresh);
    const hi = signed16(this.#hiThresh);
    const tripped = code > hi || (window && code < lo);
    this.#outOfRangeCount = tripped ? this.#outOfRangeCount + 1 : 0;
    if (this.#outOfRangeCount >= queue) this.#alert = true;
    else if (!latching && (window ? !tripped : code < lo)) this.#alert = false;
  }

  /** §9.3.8: Hi_thresh MSB 1 and Lo_thresh MSB 0 turn ALERT/RDY into a conversion-ready signal. */
  #readyMode(): boolean {
    return (this.#hiThresh & 0x8000) !== 0 && (this.#loThresh & 0x8000) === 0;
  }

  /** The code the ADC produces for the inputs at `atMs` under `config` (§9.3.3, §9.5.4). */
  #convert(atMs: number, config: number): number {
    const saturate = this.#faults.saturate;
    if (saturate === 'positive') return 32767;
    if (saturate === 'negative') return -32768;
    const [positive, negative] = MUX_INPUTS[(config >> 12) & 0b111];
    const difference = this.#inputAt(positive, atMs) - (negative ? this.#inputAt(negative, atMs) : 0);
    const noisy = difference + this.#random.noise(this.#noiseVolts);
    const fullScale = FULL_SCALE_VOLTS[(config >> 9) & 0b111];
    return Math.min(32767, Math.max(-32768, Math.round((noisy / fullScale) * 32768)));
  }

  #inputAt(input: AnalogInput, atMs: number): number {
    const volts = valueAt(this.#inputs[input], atMs, 'ADS1115', input);
    return Math.min(this.#supply + 0.3, Math.max(-0.3, volts));
  }
}

function signed16(word: number): number {
  return (word << 16) >> 16;
}
