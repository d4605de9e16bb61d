/**
 * Register-level model of a Bosch BME280 on the simulated I2C bus, written from the
 * datasheet (BST-BME280-DS002, revision 1.6, September 2018). It sees the bytes of each
 * transfer and the virtual time, and answers as the chip does:
 *
 * - Registers (§5.3 Table 18): calibration at 0x88…0xA1 and 0xE1…0xE7 (§4.2.2 Table 16,
 *   dig_H4/dig_H5 nibble-packed), id 0xD0 (0x60), reset 0xE0, ctrl_hum 0xF2, status 0xF3,
 *   ctrl_meas 0xF4, config 0xF5, data 0xF7…0xFE with their reset values (0x80 00 00 for
 *   press and temp, 0x80 00 for hum). Reserved registers read 0; writes to read-only ones
 *   are acknowledged and ignored (§5.1).
 * - I2C (§6.2): a write is a register address, optionally followed by data; several
 *   register/data pairs may follow one another in one write (no auto-increment on writes).
 *   A read returns bytes from the last register address written, auto-incrementing (burst
 *   read); the transfer is a snapshot, as the chip's shadowing of the data registers makes
 *   a burst read (§4). Addresses past 0xFF read 0xFF.
 * - Soft reset (§5.4.2): 0xB6 to 0xE0 runs power-on reset; the chip does not answer for
 *   t_startup (§1 Table 1, 2 ms max), then im_update (§5.4.4) stays set while the NVM copy
 *   lasts (`nvmCopyMs`, 0 by default).
 * - ctrl_hum (§5.4.3) takes effect only when ctrl_meas is written next. Forced mode (01 or
 *   10, §3.3.3) measures once and returns to sleep (the mode bits read 00 again); normal
 *   mode (11, §3.3.4) measures every t_measure + t_standby (§5.4.6 t_sb). Measurement time
 *   per §9.1, maximum (default) or typical. While measuring, status bit 3 is set and the
 *   data registers keep the previous result (§5.4.4); the new one lands at the end.
 * - config (§5.4.6) writes are ignored in normal mode, as the datasheet allows.
 * - Oversampling (§3.4): ×1 gives a 16-bit result, each doubling one bit more, up to 20
 *   bits at ×16 (§3.4.2, §3.4.3); a skipped measurement reads 0x80000 (0x8000 for
 *   humidity). The IIR filter (§3.4.4) smooths temperature and pressure, whose output is
 *   then 20 bits; it starts from the first measurement after it is enabled.
 * - Values: physical values (constants or functions of virtual time, plus seeded Gaussian
 *   noise) are turned into the raw codes that the §8.1 compensation maps back to them,
 *   found by bisection (`physics.ts`).
 *
 * Not modelled: SPI and the spi3w_en bit, self-heating, the accuracy tolerances of §1
 * (the model's chip is perfectly calibrated), the brief im_update at every conversion.
 * Normal mode catches up lazily and replays at most the last 512 measurement cycles when
 * it is read after a long gap (older ones no longer affect even a ×16 filter measurably).
 */
import type { I2CTarget } from '../i2c-target';
import { dailyHumidity, dailyTemperature } from '../common/daily-curve';
import { SeededRandom } from '../common/prng';
import { valueAt } from '../common/signal';
import type { Signal } from '../common/signal';
import {
  ADC_16_BIT_MAX,
  DATASHEET_EXAMPLE_CALIBRATION,
  checkCalibration,
  encodeCalibration,
  idealAdcH,
  idealAdcP,
  idealAdcT,
  quantize20,
  tFineOf,
} from './physics';
import type { BME280ModelCalibration } from './physics';
import { dailyPressure } from './weather';

export type { Signal } from '../common/signal';

export interface BME280Faults {
  /** NACK every transfer, as a missing or unpowered chip would. */
  nack: boolean;
  /** Measurements never complete: status keeps the measuring bit, data never update. */
  stuckBusy: boolean;
  /** After a soft reset the NVM copy never completes: im_update stays set. */
  stuckNvmCopy: boolean;
  /** What the id register reads: 0x60 for a BME280; 0x58 plays a BMP280. */
  chipId: number;
}

export interface BME280Noise {
  /** Standard deviation added to each temperature measurement, °C. */
  temperature?: number;
  /** Standard deviation added to each pressure measurement, Pa. */
  pressure?: number;
  /** Standard deviation added to each humidity measurement, %RH. */
  humidity?: number;
  /** PRNG seed; the same seed replays the same noise. */
  seed?: number;
}

export interface BME280ModelOptions {
  /** 0x76 (SDO to GND, default) or 0x77 (SDO to VDDIO), §6.2. */
  address?: number;
  /** Ambient temperature, °C. Default: `dailyTemperature` (17…25 °C). */
  temperature?: Signal;
  /** Ambient pressure, Pa. Default: `dailyPressure` (101325 Pa ± the atmospheric tide). */
  pressure?: Signal;
  /** Ambient relative humidity, %RH. Default: `dailyHumidity` (38…62 %RH). */
  humidity?: Signal;
  /** Trimming parameters; the ones given replace those of `DATASHEET_EXAMPLE_CALIBRATION`. */
  calibration?: Partial<BME280ModelCalibration>;
  noise?: BME280Noise;
  /** Measurement time: the §9.1 maximum (default) or the typical value. */
  timing?: 'max' | 'typical';
  /** How long im_update stays set after t_startup following a soft reset, ms. Default 0. */
  nvmCopyMs?: number;
  faults?: Partial<BME280Faults>;
}

export const BME280_CHIP_ID = 0x60;
/** §1 Table 1: t_startup, max. */
export const STARTUP_MS = 2;

const REG = {
  CALIB_00: 0x88,
  ID: 0xd0,
  RESET: 0xe0,
  CALIB_26: 0xe1,
  CTRL_HUM: 0xf2,
  STATUS: 0xf3,
  CTRL_MEAS: 0xf4,
  CONFIG: 0xf5,
  PRESS_MSB: 0xf7,
} as const;

/** §5.4.4 status bits. */
export const STATUS = { MEASURING: 1 << 3, IM_UPDATE: 1 << 0 } as const;

/** §5.4.6: t_sb[2:0] → standby time in normal mode, ms (BME280 values, §5.2 Table 17). */
export const STANDBY_MS: readonly number[] = [0.5, 62.5, 125, 250, 500, 1000, 10, 20];

/** osrs code (§5.4.3, §5.4.5) → oversampling factor; 0 skips; 101 and above are ×16. */
export function oversamplingOf(code: number): number {
  return code === 0 ? 0 : 2 ** (Math.min(code, 5) - 1);
}

/** filter[2:0] (§5.4.6) → IIR coefficient; 1 means off. */
export function filterCoefficientOf(code: number): number {
  return code === 0 ? 1 : 2 ** Math.min(code, 4);
}

/**
 * §9.1 measurement time in ms for oversampling factors (0 = skipped):
 *   typical  1    + [2 · osrs_t]   + [2 · osrs_p + 0.5]     + [2 · osrs_h + 0.5]
 *   maximum  1.25 + [2.3 · osrs_t] + [2.3 · osrs_p + 0.575] + [2.3 · osrs_h + 0.575]
 */
export function measurementTimeMs(osrsT: number, osrsP: number, osrsH: number, timing: 'max' | 'typical'): number {
  const [base, perSample, settle] = timing === 'max' ? [1.25, 2.3, 0.575] : [1, 2, 0.5];
  return base + (osrsT ? perSample * osrsT : 0) + (osrsP ? perSample * osrsP + settle : 0) + (osrsH ? perSample * osrsH + settle : 0);
}

/** The oversampling and filter a measurement runs with, fixed when it starts. */
interface Settings {
  osrsT: number;
  osrsP: number;
  osrsH: number;
  filter: number;
}

/** A measurement's ADC results, before the IIR filter; undefined for a skipped quantity. */
interface AdcResult {
  adcT: number | undefined;
  adcP: number | undefined;
  adcH: number | undefined;
}

interface ForcedMeasurement {
  endMs: number;
  settings: Settings;
  result: AdcResult;
}

interface NormalMode {
  startMs: number;
  cycleMs: number;
  durationMs: number;
  settings: Settings;
  /** Index of the last measurement committed to the data registers; -1 before the first. */
  lastDone: number;
}

const NORMAL_MODE_HISTORY = 512;
const SKIPPED_20 = 0x80000;
const SKIPPED_16 = 0x8000;
const DEFAULT_FAULTS: BME280Faults = { nack: false, stuckBusy: false, stuckNvmCopy: false, chipId: BME280_CHIP_ID };

export class BME280Model implements I2CTarget {
  readonly address: number;
  #temperature: Signal;
  #pressure: Signal;
  #humidity: Signal;
  #noise = { temperature: 0, pressure: 0, humidity: 0 };
  #random = new SeededRandom(1);
  readonly #timing: 'max' | 'typical';
  readonly #nvmCopyMs: number;
  #faults: BME280Faults = { ...DEFAULT_FAULTS };
  #calibration: BME280ModelCalibration;
  #nvm: { low: Uint8Array; high: Uint8Array };

  // Registers and state; `#powerOnReset` sets them.
  #pointer = 0;
  #ctrlHum = 0;
  #ctrlMeas = 0;
  #config = 0;
  /** osrs_h as latched by the last ctrl_meas write (§5.4.3). */
  #latchedOsrsH = 0;
  /** Raw values in the data registers. */
  #outT = SKIPPED_20;
  #outP = SKIPPED_20;
  #outH = SKIPPED_16;
  /** IIR filter memory for temperature and pressure (§3.4.4); undefined until initialised. */
  #filterT: number | undefined;
  #filterP: number | undefined;
  #forced: ForcedMeasurement | undefined;
  #normal: NormalMode | undefined;
  #silentUntilMs = -Infinity;
  #imUpdateUntilMs = -Infinity;
  #measurements = 0;

  constructor(options: BME280ModelOptions = {}) {
    const address = options.address ?? 0x76;
    if (address !== 0x76 && address !== 0x77) throw new RangeError(`BME280 address must be 0x76 or 0x77, not ${address}`);
    this.address = address;
    this.#temperature = options.temperature ?? dailyTemperature;
    this.#pressure = options.pressure ?? dailyPressure;
    this.#humidity = options.humidity ?? dailyHumidity;
    this.#timing = options.timing ?? 'max';
    this.#nvmCopyMs = options.nvmCopyMs ?? 0;
    this.#calibration = { ...DATASHEET_EXAMPLE_CALIBRATION, ...options.calibration };
    checkCalibration(this.#calibration);
    this.#nvm = encodeCalibration(this.#calibration);
    if (options.noise) this.setNoise(options.noise);
    if (options.faults) this.setFaults(options.faults);
    this.#powerOnReset();
  }

  // ---- knobs -------------------------------------------------------------------------

  setTemperature(celsius: Signal): void {
    this.#temperature = celsius;
  }

  setPressure(pascals: Signal): void {
    this.#pressure = pascals;
  }

  setHumidity(percent: Signal): void {
    this.#humidity = percent;
  }

  /** Changes the noise; a `seed` restarts the random sequence. */
  setNoise(noise: BME280Noise): void {
    if (noise.temperature !== undefined) this.#noise.temperature = noise.temperature;
    if (noise.pressure !== undefined) this.#noise.pressure = noise.pressure;
    if (noise.humidity !== undefined) this.#noise.humidity = noise.humidity;
    if (noise.seed !== undefined) this.#random = new SeededRandom(noise.seed);
  }

  /** Sets the given faults; the others stay as they are. */
  setFaults(faults: Partial<BME280Faults>): void {
    this.#faults = { ...this.#faults, ...faults };
  }

  get faults(): Readonly<BME280Faults> {
    return { ...this.#faults };
  }

  get calibration(): Readonly<BME280ModelCalibration> {
    return { ...this.#calibration };
  }

  /** The power mode, from ctrl_meas as it reads back now. */
  modeAt(nowMs: number): 'sleep' | 'forced' | 'normal' {
    this.#advance(nowMs);
    const mode = this.#ctrlMeas & 0b11;
    return mode === 0 ? 'sleep' : mode === 0b11 ? 'normal' : 'forced';
  }

  /** Measurements completed by `nowMs` since power-on (normal mode counts the replayed ones only). */
  measurementsAt(nowMs: number): number {
    this.#advance(nowMs);
    return this.#measurements;
  }

  // ---- I2CTarget ---------------------------------------------------------------------

  write(bytes: Uint8Array, nowMs: number): boolean {
    if (!this.#answersAt(nowMs)) return false;
    this.#advance(nowMs);
    for (let i = 0; i < bytes.length; i += 2) {
      const register = bytes[i];
      this.#pointer = register;
      if (i + 1 >= bytes.length) break; // a lone address sets the read pointer
      if (this.#writeRegister(register, bytes[i + 1], nowMs) === 'reset') break;
    }
    return true;
  }

  read(count: number, nowMs: number): Uint8Array | null {
    if (!this.#answersAt(nowMs)) return null;
    this.#advance(nowMs);
    const bytes = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const address = this.#pointer + i;
      bytes[i] = address > 0xff ? 0xff : this.#readRegister(address, nowMs);
    }
    this.#pointer = Math.min(0x100, this.#pointer + count);
    return bytes;
  }

  // ---- registers ---------------------------------------------------------------------

  #readRegister(address: number, nowMs: number): number {
    if (address >= REG.CALIB_00 && address < REG.CALIB_00 + 26) return this.#nvm.low[address - REG.CALIB_00];
    if (address >= REG.CALIB_26 && address < REG.CALIB_26 + 7) return this.#nvm.high[address - REG.CALIB_26];
    switch (address) {
      case REG.ID:
        return this.#faults.chipId & 0xff;
      case REG.RESET:
        return 0x00; // §5.4.2: always reads 0
      case REG.CTRL_HUM:
        return this.#ctrlHum;
      case REG.STATUS:
        return (this.#measuring(nowMs) ? STATUS.MEASURING : 0) | (this.#updatingNvm(nowMs) ? STATUS.IM_UPDATE : 0);
      case REG.CTRL_MEAS:
        return this.#ctrlMeas;
      case REG.CONFIG:
        return this.#config;
      case 0xf7:
        return this.#outP >> 12;
      case 0xf8:
        return (this.#outP >> 4) & 0xff;
      case 0xf9:
        return (this.#outP & 0x0f) << 4;
      case 0xfa:
        return this.#outT >> 12;
      case 0xfb:
        return (this.#outT >> 4) & 0xff;
      case 0xfc:
        return (this.#outT & 0x0f) << 4;
      case 0xfd:
        return this.#outH >> 8;
      case 0xfe:
        return this.#outH & 0xff;
      default:
        return 0x00; // reserved
    }
  }

  #writeRegister(address: number, value: number, nowMs: number): 'reset' | undefined {
    switch (address) {
      case REG.RESET:
        if (value === 0xb6) {
          this.#powerOnReset();
          this.#silentUntilMs = nowMs + STARTUP_MS;
          this.#imUpdateUntilMs = nowMs + STARTUP_MS + this.#nvmCopyMs;
          return 'reset';
        }
        return undefined; // §5.4.2: other values have no effect
      case REG.CTRL_HUM:
        this.#ctrlHum = value & 0b111;
        return undefined;
      case REG.CONFIG:
        if (this.#normal) return undefined; // §5.4.6: may be ignored in normal mode
        if (((value >> 2) & 0b111) !== ((this.#config >> 2) & 0b111)) this.#resetFilter();
        this.#config = value & 0b1111_1101; // bit 1 reserved
        return undefined;
      case REG.CTRL_MEAS:
        this.#writeCtrlMeas(value, nowMs);
        return undefined;
      default:
        return undefined; // read-only or reserved: acknowledged, ignored
    }
  }

  /** §5.4.5: osrs and mode; writing it also latches ctrl_hum (§5.4.3). */
  #writeCtrlMeas(value: number, nowMs: number): void {
    this.#latchedOsrsH = this.#ctrlHum;
    const mode = value & 0b11;
    this.#ctrlMeas = value;
    if (mode === 0) {
      this.#normal = undefined;
      return;
    }
    const settings: Settings = {
      osrsT: oversamplingOf((value >> 5) & 0b111),
      osrsP: oversamplingOf((value >> 2) & 0b111),
      osrsH: oversamplingOf(this.#latchedOsrsH),
      filter: filterCoefficientOf((this.#config >> 2) & 0b111),
    };
    const durationMs = measurementTimeMs(settings.osrsT, settings.osrsP, settings.osrsH, this.#timing);
    if (mode === 0b11) {
      this.#forced = undefined;
      const standbyMs = STANDBY_MS[(this.#config >> 5) & 0b111];
      this.#normal = { startMs: nowMs, cycleMs: durationMs + standbyMs, durationMs, settings, lastDone: -1 };
      return;
    }
    // Forced (01 or 10). A request while a forced measurement runs does not restart it.
    this.#normal = undefined;
    if (this.#forced) return;
    this.#forced = { endMs: nowMs + durationMs, settings, result: this.#measure(nowMs, settings) };
  }

  // ---- time --------------------------------------------------------------------------

  #answersAt(nowMs: number): boolean {
    return !this.#faults.nack && nowMs >= this.#silentUntilMs;
  }

  #updatingNvm(nowMs: number): boolean {
    return nowMs < this.#imUpdateUntilMs || (this.#faults.stuckNvmCopy && this.#imUpdateUntilMs > -Infinity);
  }

  #measuring(nowMs: number): boolean {
    if (this.#forced) return true; // `#advance` has already retired a finished one
    const normal = this.#normal;
    if (!normal) return false;
    if (this.#faults.stuckBusy) return true;
    const phase = (nowMs - normal.startMs) % normal.cycleMs;
    return phase < normal.durationMs;
  }

  /** Completes whatever measurements have finished by `nowMs`. */
  #advance(nowMs: number): void {
    if (this.#faults.stuckBusy) return;
    const forced = this.#forced;
    if (forced && nowMs >= forced.endMs) {
      this.#forced = undefined;
      this.#commit(forced.result, forced.settings);
      this.#ctrlMeas &= ~0b11; // §3.3.3: back to sleep
    }
    const normal = this.#normal;
    if (normal) {
      const latest = Math.floor((nowMs - normal.startMs - normal.durationMs) / normal.cycleMs);
      if (latest > normal.lastDone) {
        for (let i = Math.max(normal.lastDone + 1, latest - NORMAL_MODE_HISTORY + 1); i <= latest; i++) {
          this.#commit(this.#measure(normal.startMs + i * normal.cycleMs, normal.settings), normal.settings);
        }
        normal.lastDone = latest;
      }
    }
  }

  // ---- measurement -------------------------------------------------------------------

  /** The raw codes the ADC produces for the conditions at `atMs` (§3.4, §8.1 inverted). */
  #measure(atMs: number, settings: Settings): AdcResult {
    const c = this.#calibration;
    const celsius = valueAt(this.#temperature, atMs, 'BME280', 'temperature') + this.#random.noise(this.#noise.temperature);
    const pascals = valueAt(this.#pressure, atMs, 'BME280', 'pressure') + this.#random.noise(this.#noise.pressure);
    const percent = valueAt(this.#humidity, atMs, 'BME280', 'humidity') + this.#random.noise(this.#noise.humidity);
    const idealT = idealAdcT(c, celsius);
    // Pressure and humidity compensation take the fine temperature of this measurement.
    const adcT = settings.osrsT ? quantize20(idealT, resolutionBits(settings.osrsT)) : undefined;
    const tFine = tFineOf(c, adcT ?? idealT);
    const adcP = settings.osrsP ? quantize20(idealAdcP(c, pascals, tFine), resolutionBits(settings.osrsP)) : undefined;
    const adcH = settings.osrsH ? Math.min(ADC_16_BIT_MAX, Math.round(idealAdcH(c, percent, tFine))) : undefined;
    return { adcT, adcP, adcH };
  }

  /** The end of a measurement: through the IIR filter (§3.4.4) into the data registers. */
  #commit(result: AdcResult, settings: Settings): void {
    this.#measurements++;
    const coefficient = settings.filter;
    if (result.adcT === undefined) this.#outT = SKIPPED_20;
    else {
      this.#filterT = filterStep(this.#filterT, result.adcT, coefficient);
      this.#outT = Math.round(this.#filterT);
    }
    if (result.adcP === undefined) this.#outP = SKIPPED_20;
    else {
      this.#filterP = filterStep(this.#filterP, result.adcP, coefficient);
      this.#outP = Math.round(this.#filterP);
    }
    this.#outH = result.adcH ?? SKIPPED_16; // §3.4.4: humidity has no filter
  }

  #resetFilter(): void {
    this.#filterT = undefined;
    this.#filterP = undefined;
  }

  #powerOnReset(): void {
    this.#pointer = 0;
    this.#ctrlHum = 0;
    this.#ctrlMeas = 0;
    this.#config = 0;
    this.#latchedOsrsH = 0;
    this.#outT = SKIPPED_20;
    this.#outP = SKIPPED_20;
    this.#outH = SKIPPED_16;
    this.#forced = undefined;
    this.#normal = undefined;
    this.#resetFilter();
  }

}

/** §3.4.2/§3.4.3: ×1 → 16 bits … ×16 → 20 bits. */
function resolutionBits(oversampling: number): number {
  return 15 + Math.log2(oversampling) + 1;
}

/**
 * §3.4.4: data_filtered = (data_filtered_old · (c − 1) + data_ADC) / c; with the filter off
 * (c = 1) the ADC value passes through. An uninitialised filter starts from the ADC value.
 */
function filterStep(memory: number | undefined, adc: number, coefficient: number): number {
  if (coefficient <= 1 || memory === undefined) return adc;
  return (memory * (coefficient - 1) + adc) / coefficient;
}
