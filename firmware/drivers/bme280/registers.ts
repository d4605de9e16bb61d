/**
 * BME280 registers, bit fields and timing the driver uses, from the datasheet (Bosch
 * Sensortec, "BME280 Combined humidity and pressure sensor", BST-BME280-DS002-15,
 * revision 1.6, September 2018). Sections are cited where each value comes from.
 */

/** §6.2: SDO to GND → 0x76, SDO to VDDIO → 0x77. */
export const BME280_ADDRESSES: readonly number[] = [0x76, 0x77];

/** §5.4.1: the "id" register reads 0x60 on a BME280. */
export const BME280_CHIP_ID = 0x60;
/** §5.2 Table 17: a BMP280 (same registers, no humidity) reads 0x56/0x57 (samples) or 0x58. */
export const BMP280_CHIP_IDS: readonly number[] = [0x56, 0x57, 0x58];

/** §5.3 Table 18, memory map. */
export const REGISTER = {
  /** calib00…calib25: dig_T1…dig_P9 at 0x88…0x9F, 0xA0 reserved, dig_H1 at 0xA1 (§4.2.2 Table 16). */
  CALIB_00: 0x88,
  ID: 0xd0,
  RESET: 0xe0,
  /** calib26…calib32: dig_H2…dig_H6 at 0xE1…0xE7 (§4.2.2 Table 16). */
  CALIB_26: 0xe1,
  CTRL_HUM: 0xf2,
  STATUS: 0xf3,
  CTRL_MEAS: 0xf4,
  CONFIG: 0xf5,
  PRESS_MSB: 0xf7,
} as const;

/** 0x88…0xA1: the 26 bytes from dig_T1 to dig_H1. */
export const CALIB_00_LENGTH = 26;
/** 0xE1…0xE7: the 7 bytes from dig_H2 to dig_H6. */
export const CALIB_26_LENGTH = 7;

/** §5.4.2: writing 0xB6 to "reset" runs the complete power-on-reset procedure. */
export const SOFT_RESET_WORD = 0xb6;

/** §5.4.4, "status": measuring[0] is bit 3, im_update[0] is bit 0. */
export const STATUS_MEASURING = 1 << 3;
export const STATUS_IM_UPDATE = 1 << 0;

/** §5.4.5 / §3.3: mode[1:0] of ctrl_meas; 01 and 10 both mean forced. */
export const MODE_SLEEP = 0b00;
export const MODE_FORCED = 0b01;
export const MODE_NORMAL = 0b11;

/**
 * One burst read from "status" to the last data byte: status, ctrl_meas, config, a reserved
 * byte, then press (3), temp (3), hum (2) at 0xF7…0xFE. §4 recommends a burst read of the
 * data registers so that all values come from the same measurement (the chip shadows them
 * during the read); reading status in the same burst tells whether they are new.
 */
export const RESULT_START = REGISTER.STATUS;
export const RESULT_LENGTH = 0xfe - 0xf3 + 1;
/** Offset of press_msb in that burst. */
export const RESULT_DATA_OFFSET = REGISTER.PRESS_MSB - REGISTER.STATUS;

/** Oversampling factors the driver offers (skipping a quantity is not offered: every sample has all three). */
export type Oversampling = 1 | 2 | 4 | 8 | 16;

/** §5.4.3 (osrs_h) and §5.4.5 (osrs_p, osrs_t): 001 ×1 … 101 ×16; 000 skips the measurement. */
export const OVERSAMPLING_CODE: { readonly [O in Oversampling]: number } = { 1: 0b001, 2: 0b010, 4: 0b011, 8: 0b100, 16: 0b101 };

/** IIR filter coefficient; 0 is off (§3.4.4). */
export type FilterCoefficient = 0 | 2 | 4 | 8 | 16;

/** §5.4.6: filter[2:0] codes (§3.4.4 for the filter itself). */
export const FILTER_CODE: { readonly [F in FilterCoefficient]: number } = { 0: 0b000, 2: 0b001, 4: 0b010, 8: 0b011, 16: 0b100 };

/** ctrl_meas (§5.4.5): osrs_t[7:5], osrs_p[4:2], mode[1:0]. */
export function ctrlMeas(temperature: Oversampling, pressure: Oversampling, mode: number): number {
  return (OVERSAMPLING_CODE[temperature] << 5) | (OVERSAMPLING_CODE[pressure] << 2) | (mode & 0b11);
}

/** config (§5.4.6): t_sb[7:5] (0 here: only normal mode uses it), filter[4:2], spi3w_en[0] = 0. */
export function configRegister(filter: FilterCoefficient): number {
  return FILTER_CODE[filter] << 2;
}

/**
 * §9.1 (Appendix B), maximum measurement time in ms:
 *   t_measure,max = 1.25 + [2.3 · osrs_t] + [2.3 · osrs_p + 0.575] + [2.3 · osrs_h + 0.575]
 * where each bracket counts only when that measurement is enabled.
 */
export function measurementTimeMaxMs(temperature: Oversampling, pressure: Oversampling, humidity: Oversampling): number {
  return 1.25 + 2.3 * temperature + (2.3 * pressure + 0.575) + (2.3 * humidity + 0.575);
}

/**
 * §1 Table 1, t_startup: time to first communication after power-on, at most 2 ms. A soft
 * reset runs the same power-on-reset procedure (§5.4.2), so the driver waits as long.
 */
export const STARTUP_MS = 2;
