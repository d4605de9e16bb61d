/**
 * Texas Instruments INA219 current and power monitor driver, in the ECMA-419 sensor-class
 * shape Moddable drivers use: constructor with options, `configure`, `sample`, `close`.
 * Written from SBOS448G (December 2015); sections are cited where each register or formula
 * is used.
 *
 * Sample shape: ECMA-419 defines no sensor class for electrical quantities and the Moddable
 * SDK has no INA219 driver, so this follows the compound-sensor pattern (one property per
 * sensor kind, SI units): `voltmeter` {voltage} is the bus voltage (IN– to GND) in V,
 * `ammeter` {current, shuntVoltage} in A and V, `wattmeter` {power} in W, plus `overflow`.
 *
 * Overflow is a flagged reading, not an error: when the chip's math overflow flag is set
 * (OVF, §8.6.3.2: "current and power data may be meaningless"), or the shunt voltage sits at
 * the PGA's full-scale limit (the ADC clipped, so the current computed from it is wrong),
 * `overflow` is true and `current` and `power` are NaN. The voltages are still reported:
 * they are measured, not computed, and say what happened.
 *
 * Each sample is one triggered conversion of shunt and bus voltage (§8.6.2.1, mode 011):
 * write the configuration, wait the maximum conversion time on a HAL timer, poll CNVR in the
 * bus voltage register a bounded number of times, then read shunt, current and power (reading
 * power clears CNVR, §8.6.3.2). Between samples the chip is idle. The first sample resets the
 * chip (checking it comes back with the INA219's power-on configuration, 0x399F) and
 * programs the calibration register (§8.5.1); see `calibration.ts`.
 *
 * One sample at a time: a call while one is in flight rejects with `busy`.
 * Firmware rules: only the language, typed arrays and the HAL; no busy-waiting.
 */
import type { I2CBus } from '../../../hal/i2c';
import type { Timers } from '../../../hal/timer';
import { I2CSession } from '../driver-support';
import { SensorError } from '../sensor-error';
import { calibrate } from './calibration';
import type { Calibration } from './calibration';
import {
  ADC_CODE,
  BUS_VOLTAGE_LSB,
  BUS_VOLTAGE_SHIFT,
  CONFIGURATION_POWER_ON,
  CONFIGURATION_RESET,
  CONVERSION_MAX_US,
  CONVERSION_READY,
  INA219_FIRST_ADDRESS,
  INA219_LAST_ADDRESS,
  MATH_OVERFLOW,
  MODE,
  REGISTER,
  SHUNT_VOLTAGE_LSB,
  SHUNT_VOLTAGE_RANGES,
  encodeConfiguration,
  shuntFullScaleCode,
} from './registers';
import type { AdcSetting, BusVoltageRange, ShuntVoltageRange } from './registers';

export type { AdcSetting, BusVoltageRange, ShuntVoltageRange } from './registers';

export interface INA219Options {
  i2c: I2CBus;
  timers: Timers;
  /** 0x40 (A0 and A1 to GND, the default) … 0x4F (§8.5.5.1 Table 1). */
  address?: number;
  /** Bus speed; the HAL's default when absent. The INA219 allows up to 2.56 MHz (§8.5.6.1). */
  hz?: number;
  /** Bus number from the board definition. */
  port?: number;
}

export interface INA219Configuration {
  /** Shunt resistance, Ω. Default 0.1, the resistor on the common breakout boards. */
  shuntOhms?: number;
  /**
   * Largest current to measure, A (§8.5.1 "Maximum Expected Current"). Default: what the
   * shunt voltage range allows, range / shuntOhms (3.2 A for 320 mV and 0.1 Ω).
   */
  maxCurrent?: number;
  /** Current_LSB, A per count; default the minimum of §8.5.1 Eq. 2, maxCurrent / 2^15. */
  currentLsb?: number;
  /** Bus full-scale range, V (BRNG). Default 32. */
  busVoltageRange?: BusVoltageRange;
  /**
   * Shunt full-scale range, mV (PGA /1…/8). Default: the smallest that holds
   * maxCurrent × shuntOhms, or 320 when maxCurrent is not given either.
   */
  shuntVoltageRange?: ShuntVoltageRange;
  /** Bus ADC resolution or averaging (BADC). Default 12 bits. */
  busAdc?: AdcSetting;
  /** Shunt ADC resolution or averaging (SADC). Default 12 bits. */
  shuntAdc?: AdcSetting;
}

export interface INA219Sample {
  /** Bus voltage, IN– to GND, V. */
  voltmeter: { voltage: number };
  /** Current through the shunt, A (NaN on overflow); shunt voltage IN+ to IN–, V. */
  ammeter: { current: number; shuntVoltage: number };
  /** Power delivered, W (NaN on overflow). The chip reports it unsigned. */
  wattmeter: { power: number };
  /** The chip's OVF flag, or the shunt voltage clipped at the PGA's full scale. */
  overflow: boolean;
}

const CHIP = 'INA219';
const NACK_DETAIL = 'no acknowledge from the sensor; check wiring and power, and that the address matches the A0/A1 pins (0x40 to 0x4f)';
/** Extra CNVR polls after the first, 1 ms apart, before a sample fails with `timeout`. */
const CONVERSION_RETRIES = 5;
const CONVERSION_RETRY_DELAY_MS = 1;

interface Settings {
  shuntOhms: number;
  maxCurrent: number | undefined;
  currentLsb: number | undefined;
  busVoltageRange: BusVoltageRange;
  shuntVoltageRange: ShuntVoltageRange | undefined;
  busAdc: AdcSetting;
  shuntAdc: AdcSetting;
}

/** The settings with every default filled in and the calibration worked out. */
interface Resolved {
  settings: Settings;
  shuntVoltageRange: ShuntVoltageRange;
  calibration: Calibration;
}

export class INA219 {
  readonly address: number;
  readonly #bus: I2CSession;
  #resolved: Resolved;
  /** True once the chip has been reset, identified and calibrated. */
  #ready = false;
  #sampling = false;
  /** Reused for every transfer: no allocation per sample beyond what the bus returns. */
  readonly #pointer = new Uint8Array(1);
  readonly #registerWrite = new Uint8Array(3);

  constructor(options: INA219Options) {
    const address = options.address ?? INA219_FIRST_ADDRESS;
    if (!Number.isInteger(address) || address < INA219_FIRST_ADDRESS || address > INA219_LAST_ADDRESS) {
      throw new RangeError(`${CHIP}: address must be 0x40 to 0x4f, not ${address}`);
    }
    this.address = address;
    this.#resolved = resolve({
      shuntOhms: 0.1,
      maxCurrent: undefined,
      currentLsb: undefined,
      busVoltageRange: 32,
      shuntVoltageRange: undefined,
      busAdc: 'bits12',
      shuntAdc: 'bits12',
    });
    this.#bus = new I2CSession(CHIP, address, options, NACK_DETAIL);
  }

  /** The calibration in use: Cal register value and what a current / power count is worth. */
  get calibration(): Readonly<Calibration> {
    return { ...this.#resolved.calibration };
  }

  /**
   * Changes shunt, ranges, calibration and ADC settings; options not given keep their
   * values. Synchronous, as in ECMA-419: once the chip is calibrated a new calibration is
   * written at once; the rest goes out with the next sample's configuration write. Throws
   * RangeError for values the chip cannot do (including a maximum current whose shunt
   * voltage exceeds the chosen range), `busy` while a sample is in flight.
   */
  configure(options: INA219Configuration = {}): void {
    this.#bus.openDevice();
    const settings: Settings = { ...this.#resolved.settings };
    if (options.shuntOhms !== undefined) settings.shuntOhms = options.shuntOhms;
    if (options.maxCurrent !== undefined) settings.maxCurrent = options.maxCurrent;
    if (options.currentLsb !== undefined) settings.currentLsb = options.currentLsb;
    if (options.busVoltageRange !== undefined) {
      if (options.busVoltageRange !== 16 && options.busVoltageRange !== 32) {
        throw new RangeError(`${CHIP}: busVoltageRange must be 16 or 32, not ${options.busVoltageRange}`);
      }
      settings.busVoltageRange = options.busVoltageRange;
    }
    if (options.shuntVoltageRange !== undefined) {
      if (SHUNT_VOLTAGE_RANGES.indexOf(options.shuntVoltageRange) < 0) {
        throw new RangeError(`${CHIP}: shuntVoltageRange must be 40, 80, 160 or 320 (mV), not ${options.shuntVoltageRange}`);
      }
      settings.shuntVoltageRange = options.shuntVoltageRange;
    }
    if (options.busAdc !== undefined) settings.busAdc = adcSetting(options.busAdc, 'busAdc');
    if (options.shuntAdc !== undefined) settings.shuntAdc = adcSetting(options.shuntAdc, 'shuntAdc');
    const resolved = resolve(settings);
    if (this.#sampling) throw this.#bus.error('busy', 'cannot configure while a sample is in flight');
    const calibrationChanged = resolved.calibration.calibration !== this.#resolved.calibration.calibration;
    this.#resolved = resolved;
    if (this.#ready && calibrationChanged) {
      try {
        this.#writeRegister(REGISTER.CALIBRATION, resolved.calibration.calibration);
      } catch (error) {
        this.#ready = false; // start from a reset next time
        throw error;
      }
    }
  }

  /**
   * Measures once. Rejects with `SensorError`: `nack` (no chip at the address), `id` (the
   * chip does not come out of reset as an INA219 does), `timeout` (the conversion never
   * finished), `busy` (a sample is already in flight), `closed`. Overflow is not an error:
   * see `INA219Sample.overflow`. After `nack`, `id` or `timeout` the next sample starts again
   * from a reset.
   */
  async sample(): Promise<INA219Sample> {
    this.#bus.openDevice();
    if (this.#sampling) throw this.#bus.error('busy', 'a sample is already in flight; sample() does not queue');
    this.#sampling = true;
    try {
      if (!this.#ready) this.#start();
      const { settings, shuntVoltageRange, calibration } = this.#resolved;
      // §8.6.2.1: writing the mode bits with a triggered mode starts one conversion and clears CNVR.
      this.#writeRegister(
        REGISTER.CONFIGURATION,
        encodeConfiguration({
          busVoltageRange: settings.busVoltageRange,
          shuntVoltageRange,
          busAdc: settings.busAdc,
          shuntAdc: settings.shuntAdc,
          mode: MODE.SHUNT_AND_BUS_TRIGGERED,
        }),
      );
      const conversionMs = Math.ceil((CONVERSION_MAX_US[settings.shuntAdc] + CONVERSION_MAX_US[settings.busAdc]) / 1000);
      await this.#bus.wait(conversionMs);
      const bus = await this.#waitForConversion(conversionMs);
      const shunt = toInt16(this.#readRegister(REGISTER.SHUNT_VOLTAGE)); // §8.6.3.1, two's complement
      const current = toInt16(this.#readRegister(REGISTER.CURRENT)); // §8.6.3.4, two's complement
      const power = this.#readRegister(REGISTER.POWER); // §8.6.3.3, unsigned; this read clears CNVR
      const overflow = (bus & MATH_OVERFLOW) !== 0 || Math.abs(shunt) >= shuntFullScaleCode(shuntVoltageRange);
      return {
        voltmeter: { voltage: (bus >> BUS_VOLTAGE_SHIFT) * BUS_VOLTAGE_LSB },
        ammeter: {
          current: overflow ? NaN : current * calibration.effectiveCurrentLsb,
          shuntVoltage: shunt * SHUNT_VOLTAGE_LSB,
        },
        wattmeter: { power: overflow ? NaN : power * calibration.powerLsb },
        overflow,
      };
    } catch (error) {
      if (error instanceof SensorError && error.code !== 'busy' && error.code !== 'closed') this.#ready = false;
      throw error;
    } finally {
      this.#sampling = false;
    }
  }

  /**
   * Powers the chip down if it was set up (best effort: a chip that does not answer is not an
   * error here), and releases the bus. A sample in flight rejects with `closed`. Closing
   * twice is harmless.
   */
  close(): void {
    if (this.#ready && this.#bus.isOpen) {
      try {
        const { settings, shuntVoltageRange } = this.#resolved;
        this.#writeRegister(
          REGISTER.CONFIGURATION,
          encodeConfiguration({ ...settings, shuntVoltageRange, mode: MODE.POWER_DOWN }), // §8.4 power-down; §7.5: 6 µA typical
        );
      } catch {
        // Closing must not fail because the chip is gone.
      }
    }
    this.#ready = false;
    this.#bus.close();
  }

  /** Reset (§8.6.2.1 RST), check the power-on configuration, program calibration (§8.5.1). */
  #start(): void {
    this.#writeRegister(REGISTER.CONFIGURATION, CONFIGURATION_RESET);
    const configuration = this.#readRegister(REGISTER.CONFIGURATION);
    if (configuration !== CONFIGURATION_POWER_ON) {
      throw this.#bus.error(
        'id',
        `configuration reads 0x${configuration.toString(16).padStart(4, '0')} after reset, not 0x399f: not an INA219 (an INA226 or INA260 would read 0x4127 or 0x6127)`,
      );
    }
    this.#writeRegister(REGISTER.CALIBRATION, this.#resolved.calibration.calibration);
    this.#ready = true;
  }

  /** §8.6.3.2: poll CNVR in the bus voltage register; returns that register. */
  async #waitForConversion(waitedMs: number): Promise<number> {
    for (let retry = 0; ; retry++) {
      const bus = this.#readRegister(REGISTER.BUS_VOLTAGE);
      if (bus & CONVERSION_READY) return bus;
      if (retry === CONVERSION_RETRIES) {
        throw this.#bus.error('timeout', `conversion not ready ${waitedMs} ms after it was triggered (CNVR never set)`);
      }
      await this.#bus.wait(CONVERSION_RETRY_DELAY_MS);
      waitedMs += CONVERSION_RETRY_DELAY_MS;
    }
  }

  /** §8.5.6: pointer byte, then two bytes MSB first with a repeated START. */
  #readRegister(register: number): number {
    this.#pointer[0] = register;
    const data = this.#bus.writeRead(this.#pointer, 2);
    return (data[0] << 8) | data[1];
  }

  /** §8.5.6: pointer byte, then the 16-bit value MSB first. */
  #writeRegister(register: number, value: number): void {
    const bytes = this.#registerWrite;
    bytes[0] = register;
    bytes[1] = (value >> 8) & 0xff;
    bytes[2] = value & 0xff;
    this.#bus.write(bytes);
  }
}

/** Fills in the defaults and works out the calibration; RangeError if the combination cannot work. */
function resolve(settings: Settings): Resolved {
  const { shuntOhms, maxCurrent } = settings;
  if (!(shuntOhms > 0) || !Number.isFinite(shuntOhms)) throw new RangeError(`${CHIP}: shuntOhms must be positive, not ${shuntOhms}`);
  let range = settings.shuntVoltageRange;
  if (range === undefined) {
    if (maxCurrent === undefined) {
      range = 320;
    } else {
      const needed = maxCurrent * shuntOhms * 1000;
      range = SHUNT_VOLTAGE_RANGES.find((r) => r >= needed) ?? 320;
    }
  }
  const current = maxCurrent ?? range / 1000 / shuntOhms;
  if (current * shuntOhms * 1000 > range * (1 + 1e-9)) {
    throw new RangeError(
      `${CHIP}: ${current} A through ${shuntOhms} Ω is ${current * shuntOhms * 1000} mV, beyond the ±${range} mV shunt range`,
    );
  }
  return { settings, shuntVoltageRange: range, calibration: calibrate(shuntOhms, current, settings.currentLsb) };
}

function adcSetting(value: AdcSetting, name: string): AdcSetting {
  if (!Object.prototype.hasOwnProperty.call(ADC_CODE, value)) {
    throw new RangeError(`${CHIP}: ${name} must be one of ${Object.keys(ADC_CODE).join(', ')}, not ${value}`);
  }
  return value;
}

function toInt16(word: number): number {
  return (word << 16) >> 16;
}
