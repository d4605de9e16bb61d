/**
 * Register-level model of a Texas Instruments INA219 current and power monitor on the
 * simulated I2C bus, written from the datasheet, SBOS448G (August 2008, revised December
 * 2015). It sees the bytes of each transfer and the virtual time, and answers as the chip
 * does:
 *
 * - Six 16-bit registers, MSB first (§8.5.6). A write's first byte is the register pointer
 *   (pointers past 05h are NACKed); with two more bytes it writes that register. A write of
 *   the pointer alone selects what reads return; the pointer stays until the next write,
 *   with no auto-increment. A read returns the selected register's two bytes (further bytes
 *   read 0xFF, the released bus; the datasheet does not say). Writes to the read-only data
 *   registers are ignored.
 * - Power-on and RST (§8.6.2.1, §8.6.1 Table 2): configuration 0x399F (32 V, PGA /8, 12-bit,
 *   shunt and bus continuous), calibration, current and power 0, and conversions running.
 * - Conversions (§8.6.2.1 mode and ADC settings): the shunt conversion then the bus
 *   conversion, each taking its BADC / SADC time; triggered modes convert once per write of
 *   the configuration register, continuous modes repeat. Results, and CNVR, appear only when
 *   the conversion is complete. CNVR clears on a configuration write that starts conversions
 *   and on reading the power register (§8.6.3.2). Power-down and ADC-off stop conversions.
 * - Timing: the §7.5 maximum conversion times (93 / 163 / 304 / 586 µs; n × 586 µs when
 *   averaging n samples) by default, so a driver that works against the model works against
 *   every chip; or the typical ones (84 / 148 / 276 / 532 µs, 1.06 … 68.10 ms).
 * - Arithmetic, as the chip does it in integers:
 *   shunt register = round(V_shunt / 10 µV), clamped to the PGA's range (±4000 … ±32000)
 *   and stored in two's complement (§8.6.3.1); bus register = round(V_bus / 4 mV) in bits
 *   15…3, clamped to 0…4095 (16 V range, BD12 always 0) or 0…8191 (32 V) (§8.6.3.2);
 *   current = trunc(shunt × Cal / 4096) (Eq. 4); power = trunc(|current| × bus / 5000)
 *   (Eq. 5; the power register is unsigned). A current outside −32768…32767 sets OVF
 *   (§8.6.3.2) and saturates (power cannot overflow by itself: 32767 × 8191 / 5000 = 53678,
 *   but the check is there). The calibration register's bit 0 is void
 *   (§8.6.4.1). With calibration 0, current and power are 0 (Table 2 note).
 *
 * Not modelled: the SMBus alert response, the general-call reset, high-speed mode, the
 * reduced resolution of 9…11-bit conversions (the model always quantises to the register's
 * LSB), input filtering and the offset and gain errors of §7.5, and the 4 µs register update
 * delay that matters only above 1 MHz (§8.6.1).
 */
import type { I2CTarget } from '../i2c-target';
import { SeededRandom } from '../common/prng';
import { valueAt } from '../common/signal';
import type { Signal } from '../common/signal';

export type { Signal } from '../common/signal';

export interface INA219Faults {
  /** NACK every transfer, as a missing or unpowered chip would. */
  nack: boolean;
  /** Conversions never complete: CNVR stays clear and the data registers keep their values. */
  stuckBusy: boolean;
  /** Every conversion sets OVF, as a calculation out of range would. */
  overflow: boolean;
}

export interface INA219Noise {
  /** Standard deviation added to the bus voltage, V. */
  busVoltage?: number;
  /** Standard deviation added to the current through the shunt, A. */
  current?: number;
  /** PRNG seed; the same seed replays the same noise. */
  seed?: number;
}

export interface INA219ModelOptions {
  /** 0x40 … 0x4F (A0, A1 pins, §8.5.5.1 Table 1). Default 0x40. */
  address?: number;
  /** Bus voltage, IN– to GND (the load side of the shunt), V. Default 5. */
  busVoltage?: Signal;
  /** Current through the shunt, IN+ to IN–, A; negative when it flows back. Default 0.1. */
  current?: Signal;
  /** The shunt resistor on the board, Ω. Default 0.1, as on the common breakout boards. */
  shuntOhms?: number;
  noise?: INA219Noise;
  /** Maximum (default) or typical conversion times. */
  timing?: 'max' | 'typical';
  faults?: Partial<INA219Faults>;
}

/** §8.6.1 Table 2. */
export const POINTER = { CONFIGURATION: 0, SHUNT_VOLTAGE: 1, BUS_VOLTAGE: 2, POWER: 3, CURRENT: 4, CALIBRATION: 5 } as const;
export const POWER_ON_CONFIGURATION = 0x399f;

/** §7.5 ADC timing, µs, for ADC codes 0X00, 0X01, 0X10, 0X11 (9, 10, 11, 12 bits). */
const SINGLE_US = { max: [93, 163, 304, 586], typical: [84, 148, 276, 532] } as const;
/** §8.6.2.1 ADC settings, typical µs for codes 1000 … 1111 (1 … 128 samples). */
const AVERAGED_TYPICAL_US = [532, 1060, 2130, 4260, 8510, 17020, 34050, 68100] as const;

/** Conversion time in ms for a 4-bit BADC / SADC code. */
export function conversionTimeMs(adcCode: number, timing: 'max' | 'typical'): number {
  if ((adcCode & 0b1000) === 0) return SINGLE_US[timing][adcCode & 0b11] / 1000;
  const exponent = adcCode & 0b111;
  return (timing === 'max' ? (1 << exponent) * SINGLE_US.max[3] : AVERAGED_TYPICAL_US[exponent]) / 1000;
}

interface Conversion {
  startMs: number;
  durationMs: number;
  continuous: boolean;
  shunt: boolean;
  bus: boolean;
  /** Continuous mode: how many conversions have been latched. */
  latched: number;
}

const DEFAULT_FAULTS: INA219Faults = { nack: false, stuckBusy: false, overflow: false };

export class INA219Model implements I2CTarget {
  readonly address: number;
  #busVoltage: Signal;
  #current: Signal;
  #shuntOhms: number;
  #busVoltageNoise = 0;
  #currentNoise = 0;
  #random = new SeededRandom(1);
  readonly #timing: 'max' | 'typical';
  #faults: INA219Faults = { ...DEFAULT_FAULTS };

  #pointer = 0;
  #configuration = POWER_ON_CONFIGURATION;
  /** Signed shunt code, and the 13-bit bus code. */
  #shunt = 0;
  #bus = 0;
  /** Signed current register, unsigned power register. */
  #currentRegister = 0;
  #powerRegister = 0;
  #calibration = 0;
  #conversionReady = false;
  #mathOverflow = false;
  #conversion: Conversion | undefined;
  #conversions = 0;

  constructor(options: INA219ModelOptions = {}) {
    const address = options.address ?? 0x40;
    if (!Number.isInteger(address) || address < 0x40 || address > 0x4f) {
      throw new RangeError(`INA219 address must be 0x40 to 0x4f, not ${address}`);
    }
    this.address = address;
    this.#busVoltage = options.busVoltage ?? 5;
    this.#current = options.current ?? 0.1;
    this.#shuntOhms = positive(options.shuntOhms ?? 0.1, 'shuntOhms');
    this.#timing = options.timing ?? 'max';
    if (options.noise) this.setNoise(options.noise);
    if (options.faults) this.setFaults(options.faults);
    this.#reset(0);
  }

  // ---- knobs -------------------------------------------------------------------------

  setBusVoltage(volts: Signal): void {
    this.#busVoltage = volts;
  }

  setCurrent(amperes: Signal): void {
    this.#current = amperes;
  }

  setShuntOhms(ohms: number): void {
    this.#shuntOhms = positive(ohms, 'shuntOhms');
  }

  /** Changes the noise; a `seed` restarts the random sequence. */
  setNoise(noise: INA219Noise): void {
    if (noise.busVoltage !== undefined) this.#busVoltageNoise = noise.busVoltage;
    if (noise.current !== undefined) this.#currentNoise = noise.current;
    if (noise.seed !== undefined) this.#random = new SeededRandom(noise.seed);
  }

  /** Sets the given faults; the others stay as they are. */
  setFaults(faults: Partial<INA219Faults>): void {
    this.#faults = { ...this.#faults, ...faults };
  }

  get faults(): Readonly<INA219Faults> {
    return { ...this.#faults };
  }

  /** A register as the chip would return it, without a read's side effects (CNVR). */
  register(pointer: number): number {
    return this.#word(pointer);
  }

  /** How many conversions have completed since power-on. */
  get conversions(): number {
    return this.#conversions;
  }

  // ---- I2CTarget ---------------------------------------------------------------------

  write(bytes: Uint8Array, nowMs: number): boolean {
    if (this.#faults.nack) return false;
    this.#advance(nowMs);
    if (bytes.length === 0) return true; // address probe
    if (bytes[0] > POINTER.CALIBRATION) return false;
    this.#pointer = bytes[0];
    if (bytes.length >= 3) this.#writeRegister(this.#pointer, (bytes[1] << 8) | bytes[2], nowMs);
    return true;
  }

  read(count: number, nowMs: number): Uint8Array | null {
    if (this.#faults.nack) return null;
    this.#advance(nowMs);
    const word = this.#word(this.#pointer);
    const bytes = new Uint8Array(count).fill(0xff);
    if (count > 0) bytes[0] = word >> 8;
    if (count > 1) bytes[1] = word & 0xff;
    if (count > 0 && this.#pointer === POINTER.POWER) this.#conversionReady = false; // §8.6.3.2
    return bytes;
  }

  // ---- internals ---------------------------------------------------------------------

  #word(pointer: number): number {
    switch (pointer) {
      case POINTER.CONFIGURATION:
        return this.#configuration;
      case POINTER.SHUNT_VOLTAGE:
        return this.#shunt & 0xffff;
      case POINTER.BUS_VOLTAGE:
        return (this.#bus << 3) | (this.#conversionReady ? 0b10 : 0) | (this.#mathOverflow ? 0b01 : 0);
      case POINTER.POWER:
        return this.#powerRegister;
      case POINTER.CURRENT:
        return this.#currentRegister & 0xffff;
      default:
        return this.#calibration;
    }
  }

  #writeRegister(pointer: number, value: number, nowMs: number): void {
    if (pointer === POINTER.CALIBRATION) {
      this.#calibration = value & 0xfffe; // §8.6.4.1: FS0 is void
      return;
    }
    if (pointer !== POINTER.CONFIGURATION) return; // the data registers are read-only
    if (value & 0x8000) {
      this.#reset(nowMs); // RST: same as power-on; the bit self-clears
      return;
    }
    this.#configuration = value & 0x3fff; // bit 14 is reserved
    this.#startConversions(nowMs);
  }

  #reset(nowMs: number): void {
    this.#pointer = 0;
    this.#configuration = POWER_ON_CONFIGURATION;
    this.#shunt = 0;
    this.#bus = 0;
    this.#currentRegister = 0;
    this.#powerRegister = 0;
    this.#calibration = 0;
    this.#conversionReady = false;
    this.#mathOverflow = false;
    this.#startConversions(nowMs);
  }

  /** §8.6.2.1 MODE: what to convert, once or continuously; power-down and ADC-off stop. */
  #startConversions(nowMs: number): void {
    const mode = this.#configuration & 0b111;
    if (mode === 0b000 || mode === 0b100) {
      this.#conversion = undefined;
      return;
    }
    const shunt = (mode & 0b001) !== 0;
    const bus = (mode & 0b010) !== 0;
    const durationMs =
      (shunt ? conversionTimeMs((this.#configuration >> 3) & 0xf, this.#timing) : 0) +
      (bus ? conversionTimeMs((this.#configuration >> 7) & 0xf, this.#timing) : 0);
    this.#conversionReady = false;
    this.#conversion = { startMs: nowMs, durationMs, continuous: (mode & 0b100) !== 0, shunt, bus, latched: 0 };
  }

  /** Completes whatever conversion is due by `nowMs` (only the latest, as the registers would hold). */
  #advance(nowMs: number): void {
    const conversion = this.#conversion;
    if (conversion === undefined || this.#faults.stuckBusy) return;
    // The allowance keeps a read exactly at the end of a conversion from missing it by a rounding error.
    const done = Math.floor((nowMs - conversion.startMs) / conversion.durationMs + 1e-9);
    if (done < 1 || done <= conversion.latched) return;
    this.#complete(conversion, conversion.startMs + done * conversion.durationMs);
    if (conversion.continuous) conversion.latched = done;
    else this.#conversion = undefined;
  }

  #complete(conversion: Conversion, atMs: number): void {
    if (conversion.shunt) {
      const amperes = valueAt(this.#current, atMs, 'INA219', 'current') + this.#random.noise(this.#currentNoise);
      const fullScale = 4000 << ((this.#configuration >> 11) & 0b11); // PGA /1 … /8: ±40 … ±320 mV
      this.#shunt = clamp(Math.round((amperes * this.#shuntOhms) / 10e-6), -fullScale, fullScale);
    }
    if (conversion.bus) {
      const volts = valueAt(this.#busVoltage, atMs, 'INA219', 'bus voltage') + this.#random.noise(this.#busVoltageNoise);
      const fullScale = this.#configuration & 0x2000 ? 8191 : 4095; // BRNG: 32 V, or 16 V with BD12 = 0
      this.#bus = clamp(Math.round(volts / 4e-3), 0, fullScale);
    }
    // Eq. 4 and Eq. 5, in the chip's integer arithmetic.
    const current = Math.trunc((this.#shunt * this.#calibration) / 4096);
    this.#currentRegister = clamp(current, -32768, 32767);
    const power = Math.trunc((Math.abs(this.#currentRegister) * this.#bus) / 5000);
    this.#powerRegister = Math.min(power, 0xffff);
    this.#mathOverflow = this.#faults.overflow || current !== this.#currentRegister || power > 0xffff;
    this.#conversionReady = true;
    this.#conversions++;
  }

}

function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}

function positive(value: number, what: string): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`INA219 model: ${what} must be positive, not ${value}`);
  return value;
}
