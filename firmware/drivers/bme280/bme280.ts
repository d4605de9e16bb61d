/**
 * Bosch BME280 temperature, pressure and humidity driver, in the ECMA-419 sensor-class shape
 * Moddable drivers use: constructor with options, `configure`, `sample`, `close`. Written
 * from the datasheet (BST-BME280-DS002, revision 1.6, September 2018); sections are cited
 * where each register, formula or time is used.
 *
 * `sample()` is asynchronous, like the SHT3x driver's: it runs one forced-mode measurement
 * (§3.3.3) and waits for it on a HAL timer for the datasheet's maximum measurement time
 * (§9.1), so neither the bus nor the event loop is held meanwhile. The first sample also
 * checks the chip id, soft-resets the chip and reads its calibration (§4.2.2).
 *
 * The sample has Moddable's property names for its sensor kinds: `thermometer.temperature`
 * in °C, `barometer.pressure` in Pa (as Moddable's BMP280 driver and the Bosch formulas
 * give it; divide by 100 for hPa), `hygrometer.humidity` in %RH.
 *
 * One sample at a time: a call while one is in flight rejects with `SensorError` `busy`.
 * Firmware rules: only the language, typed arrays and the HAL; no busy-waiting.
 */
import type { I2CBus } from '../../../hal/i2c';
import type { Timers } from '../../../hal/timer';
import { I2CSession, isNack } from '../driver-support';
import { parseCalibration } from './calibration';
import type { BME280Calibration } from './calibration';
import {
  fineTemperatureFloat,
  humidityFloat,
  humidityInt32,
  pressureFloat,
  pressureInt32,
  pressureInt64,
  temperatureFloat,
  temperatureInt32,
  tFineFromFloat,
  tFineInt32,
} from './compensation';
import {
  BME280_ADDRESSES,
  BME280_CHIP_ID,
  BMP280_CHIP_IDS,
  CALIB_00_LENGTH,
  CALIB_26_LENGTH,
  MODE_FORCED,
  OVERSAMPLING_CODE,
  REGISTER,
  RESULT_DATA_OFFSET,
  RESULT_LENGTH,
  RESULT_START,
  SOFT_RESET_WORD,
  STARTUP_MS,
  STATUS_IM_UPDATE,
  STATUS_MEASURING,
  configRegister,
  ctrlMeas,
  measurementTimeMaxMs,
} from './registers';
import type { FilterCoefficient, Oversampling } from './registers';

export type { BME280Calibration } from './calibration';
export type { FilterCoefficient, Oversampling } from './registers';

export interface BME280Options {
  i2c: I2CBus;
  timers: Timers;
  /** 0x76 (SDO to GND, the default, as in Moddable's BMP280 driver) or 0x77 (SDO to VDDIO), §6.2. */
  address?: number;
  /** Bus speed; the HAL's default when absent. The BME280 allows up to 3.4 MHz (§6.2). */
  hz?: number;
  /** Bus number from the board definition. */
  port?: number;
}

/**
 * Which of the datasheet's formulas turn raw values into physical ones:
 * - `float`: §8.1, double precision (the default: XS numbers are doubles anyway).
 * - `integer`: §4.2.3, 32-bit temperature and humidity, 64-bit pressure (BigInt here).
 * - `integer32`: §4.2.3 temperature and humidity with the §8.2 32-bit pressure formula,
 *   whole pascals, typically within 1 Pa of the others.
 */
export type Compensation = 'float' | 'integer' | 'integer32';

export interface BME280Configuration {
  /**
   * Oversampling per quantity (§3.4, §5.4.3, §5.4.5): more samples, less noise, longer
   * measurement. Default ×1 for all three, Bosch's "weather monitoring" setting (§3.5.1).
   */
  oversampling?: { temperature?: Oversampling; pressure?: Oversampling; humidity?: Oversampling };
  /** IIR filter coefficient for temperature and pressure (§3.4.4); 0 (the default) is off. */
  filter?: FilterCoefficient;
  /** Default `float`. */
  compensation?: Compensation;
}

export interface BME280Sample {
  thermometer: { temperature: number };
  barometer: { pressure: number };
  hygrometer: { humidity: number };
}

const CHIP = 'BME280';
const NACK_DETAIL = 'no acknowledge from the sensor; check wiring and power, and that the address matches the SDO pin (0x76 low, 0x77 high)';
const OVERSAMPLINGS: readonly number[] = [1, 2, 4, 8, 16];
const FILTERS: readonly number[] = [0, 2, 4, 8, 16];
/**
 * Extra reads after the first one finds the chip still measuring, `RETRY_DELAY_MS` apart.
 * The first read already comes after the datasheet maximum, so these only cover a slow or
 * stuck chip: 5 × 2 ms of grace before the sample fails with `timeout`.
 */
const READ_RETRIES = 5;
const RETRY_DELAY_MS = 2;

export class BME280 {
  readonly address: number;
  readonly #bus: I2CSession;
  #temperatureOversampling: Oversampling = 1;
  #pressureOversampling: Oversampling = 1;
  #humidityOversampling: Oversampling = 1;
  #filter: FilterCoefficient = 0;
  #compensation: Compensation = 'float';
  /** Read once, on the first sample, after the id check and soft reset. */
  #calibration: BME280Calibration | undefined;
  #sampling = false;
  /** Reused for every register write: config, ctrl_hum and ctrl_meas in one transfer. */
  readonly #settings = new Uint8Array(6);
  readonly #pointer = new Uint8Array(1);

  constructor(options: BME280Options) {
    const address = options.address ?? BME280_ADDRESSES[0];
    if (BME280_ADDRESSES.indexOf(address) < 0) {
      throw new RangeError(`${CHIP}: address must be 0x76 or 0x77, not ${address}`);
    }
    this.address = address;
    this.#bus = new I2CSession(CHIP, address, options, NACK_DETAIL);
  }

  /**
   * Changes oversampling, filter and compensation. Synchronous and without bus traffic:
   * the settings go to the chip with the next sample, which writes them before it starts the
   * measurement (the chip sleeps between samples, so they always take effect, §5.4.6).
   */
  configure(options: BME280Configuration = {}): void {
    this.#bus.openDevice();
    const { oversampling, filter, compensation } = options;
    const temperature = oversampling?.temperature;
    const pressure = oversampling?.pressure;
    const humidity = oversampling?.humidity;
    for (const [name, value] of [
      ['temperature', temperature],
      ['pressure', pressure],
      ['humidity', humidity],
    ] as const) {
      if (value !== undefined && OVERSAMPLINGS.indexOf(value) < 0) {
        throw new RangeError(`${CHIP}: ${name} oversampling must be 1, 2, 4, 8 or 16`);
      }
    }
    if (filter !== undefined && FILTERS.indexOf(filter) < 0) {
      throw new RangeError(`${CHIP}: filter must be 0 (off), 2, 4, 8 or 16`);
    }
    if (compensation !== undefined && compensation !== 'float' && compensation !== 'integer' && compensation !== 'integer32') {
      throw new RangeError(`${CHIP}: compensation must be 'float', 'integer' or 'integer32'`);
    }
    if (temperature !== undefined) this.#temperatureOversampling = temperature;
    if (pressure !== undefined) this.#pressureOversampling = pressure;
    if (humidity !== undefined) this.#humidityOversampling = humidity;
    if (filter !== undefined) this.#filter = filter;
    if (compensation !== undefined) this.#compensation = compensation;
  }

  /** The chip's trimming parameters, once the first sample has read them. */
  get calibration(): BME280Calibration | undefined {
    return this.#calibration;
  }

  /**
   * Measures once. Rejects with `SensorError`: `nack` (no sensor at the address), `id` (a
   * chip that is not a BME280 answered), `timeout` (the chip never finished resetting or
   * measuring), `bus` (calibration unreadable, or a bus fault), `busy`, `closed`.
   */
  async sample(): Promise<BME280Sample> {
    this.#bus.openDevice();
    if (this.#sampling) throw this.#bus.error('busy', 'a sample is already in flight; sample() does not queue');
    this.#sampling = true;
    try {
      const calibration = this.#calibration ?? (await this.#initialize());
      const osrsT = this.#temperatureOversampling;
      const osrsP = this.#pressureOversampling;
      const osrsH = this.#humidityOversampling;
      // §5.4.3: ctrl_hum only takes effect once ctrl_meas is written, so it goes first;
      // §6.2.1: one write transfer may carry several register/value pairs.
      const settings = this.#settings;
      settings[0] = REGISTER.CONFIG;
      settings[1] = configRegister(this.#filter); // §5.4.6, written in sleep mode
      settings[2] = REGISTER.CTRL_HUM;
      settings[3] = OVERSAMPLING_CODE[osrsH];
      settings[4] = REGISTER.CTRL_MEAS;
      settings[5] = ctrlMeas(osrsT, osrsP, MODE_FORCED); // §3.3.3: one measurement, then sleep
      this.#bus.write(settings);
      const waitMs = Math.ceil(measurementTimeMaxMs(osrsT, osrsP, osrsH)); // §9.1
      await this.#bus.wait(waitMs);
      const data = await this.#readResult(waitMs);
      return this.#compensate(calibration, data);
    } finally {
      this.#sampling = false;
    }
  }

  /** Releases the bus. A sample in flight rejects with `closed`. Closing twice is harmless. */
  close(): void {
    this.#bus.close();
  }

  /** Id check (§5.4.1), soft reset (§5.4.2), wait for the NVM copy (§5.4.4), calibration (§4.2.2). */
  async #initialize(): Promise<BME280Calibration> {
    const id = this.#readRegisters(REGISTER.ID, 1)[0];
    if (id !== BME280_CHIP_ID) {
      const what = BMP280_CHIP_IDS.indexOf(id) >= 0 ? ', a BMP280 (pressure and temperature only)' : '';
      throw this.#bus.error('id', `chip id is 0x${hex(id)}${what}, not the BME280's 0x60`);
    }
    this.#bus.write(Uint8Array.of(REGISTER.RESET, SOFT_RESET_WORD));
    await this.#bus.wait(STARTUP_MS); // §1 Table 1, t_startup
    let waitedMs = STARTUP_MS;
    for (let retry = 0; ; retry++) {
      let status: number | undefined;
      try {
        status = this.#bus.openDevice().writeRead(this.#pointerTo(REGISTER.STATUS), 1)[0];
      } catch (error) {
        if (!isNack(error)) throw this.#bus.fromBusError(error);
      }
      // im_update: the chip is still copying its NVM into the calibration registers.
      if (status !== undefined && (status & STATUS_IM_UPDATE) === 0) break;
      if (retry === READ_RETRIES) {
        throw this.#bus.error('timeout', `still ${status === undefined ? 'not answering' : 'copying calibration (im_update)'} ${waitedMs} ms after the soft reset`);
      }
      await this.#bus.wait(RETRY_DELAY_MS);
      waitedMs += RETRY_DELAY_MS;
    }
    const calibration = parseCalibration(
      this.#readRegisters(REGISTER.CALIB_00, CALIB_00_LENGTH),
      this.#readRegisters(REGISTER.CALIB_26, CALIB_26_LENGTH),
    );
    if (calibration.T1 === 0 || calibration.P1 === 0) {
      // An all-zero NVM image is what a stuck-low SDA line reads; the formulas would divide by zero.
      throw this.#bus.error('bus', 'calibration reads as zero (dig_T1 or dig_P1); check the bus');
    }
    this.#calibration = calibration;
    return calibration;
  }

  /**
   * One burst from "status" to the last data byte (§4, §5.4.4): the data belong to the
   * measurement that has just ended only if the measuring bit is clear. The first read comes
   * after t_measure,max; a set bit then means a slow or stuck chip, so read again a bounded
   * number of times.
   */
  async #readResult(waitedMs: number): Promise<Uint8Array> {
    for (let retry = 0; ; retry++) {
      const data = this.#readRegisters(RESULT_START, RESULT_LENGTH);
      if ((data[0] & STATUS_MEASURING) === 0) return data;
      if (retry === READ_RETRIES) {
        throw this.#bus.error('timeout', `measurement not finished ${waitedMs} ms after it was started (status measuring bit still set)`);
      }
      await this.#bus.wait(RETRY_DELAY_MS);
      waitedMs += RETRY_DELAY_MS;
    }
  }

  /** §5.4.7–§5.4.9: press and temp are 20 bits (msb, lsb, xlsb[7:4]), hum 16 bits. */
  #compensate(cal: BME280Calibration, data: Uint8Array): BME280Sample {
    const at = RESULT_DATA_OFFSET;
    const adcP = (data[at] << 12) | (data[at + 1] << 4) | (data[at + 2] >> 4);
    const adcT = (data[at + 3] << 12) | (data[at + 4] << 4) | (data[at + 5] >> 4);
    const adcH = (data[at + 6] << 8) | data[at + 7];
    let temperature: number;
    let pressure: number;
    let humidity: number;
    if (this.#compensation === 'float') {
      const fine = fineTemperatureFloat(cal, adcT); // §8.1
      const tFine = tFineFromFloat(fine);
      temperature = temperatureFloat(fine);
      pressure = pressureFloat(cal, adcP, tFine);
      humidity = humidityFloat(cal, adcH, tFine);
    } else {
      const tFine = tFineInt32(cal, adcT); // §4.2.3
      temperature = temperatureInt32(tFine) / 100;
      pressure = this.#compensation === 'integer' ? pressureInt64(cal, adcP, tFine) / 256 : pressureInt32(cal, adcP, tFine); // §4.2.3 / §8.2
      humidity = humidityInt32(cal, adcH, tFine) / 1024;
    }
    return { thermometer: { temperature }, barometer: { pressure }, hygrometer: { humidity } };
  }

  #readRegisters(register: number, count: number): Uint8Array {
    return this.#bus.writeRead(this.#pointerTo(register), count);
  }

  #pointerTo(register: number): Uint8Array {
    this.#pointer[0] = register;
    return this.#pointer;
  }
}

function hex(byte: number): string {
  return (byte < 16 ? '0' : '') + byte.toString(16);
}
