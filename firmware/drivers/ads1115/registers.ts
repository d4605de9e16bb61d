/**
 * ADS1115 registers, bit fields and timing the driver uses, from the datasheet (Texas
 * Instruments, "ADS111x Ultra-Small, Low-Power, I2C-Compatible, 860-SPS, 16-Bit ADCs With
 * Internal Reference, Oscillator, and Programmable Comparator", SBAS444D, revised January
 * 2018; section numbers are that revision's). Registers are 16-bit, sent MSB first (§9.5.3).
 */

/** §9.5.1.1 / Table 4: the ADDR pin to GND → 0x48, VDD → 0x49, SDA → 0x4A, SCL → 0x4B. */
export const ADS1115_ADDRESSES: readonly number[] = [0x48, 0x49, 0x4a, 0x4b];

/** §9.6.1: the address pointer register selects one of four registers (bits 7:2 are 0). */
export const POINTER = { CONVERSION: 0b00, CONFIG: 0b01, LO_THRESH: 0b10, HI_THRESH: 0b11 } as const;

/** §9.6.3 config register fields. */
export const CONFIG = {
  /** Write 1: start a single conversion (in power-down); read 0: converting, 1: not converting. */
  OS: 1 << 15,
  MUX_SHIFT: 12,
  PGA_SHIFT: 9,
  /** 1: single-shot mode or power-down state (the default); 0: continuous conversion. */
  MODE_SINGLE_SHOT: 1 << 8,
  DR_SHIFT: 5,
  /** COMP_QUE = 11: comparator disabled, ALERT/RDY high impedance (the default). */
  COMP_QUE_DISABLE: 0b11,
} as const;

/**
 * The input pairs MUX[2:0] selects (§9.6.3): four differential pairs (AINP−AINN) and four
 * single-ended inputs (AINx against GND).
 */
export type ADS1115Input = 'ain0-ain1' | 'ain0-ain3' | 'ain1-ain3' | 'ain2-ain3' | 'ain0' | 'ain1' | 'ain2' | 'ain3';

export const MUX_CODE: { readonly [I in ADS1115Input]: number } = {
  'ain0-ain1': 0b000,
  'ain0-ain3': 0b001,
  'ain1-ain3': 0b010,
  'ain2-ain3': 0b011,
  ain0: 0b100,
  ain1: 0b101,
  ain2: 0b110,
  ain3: 0b111,
};

/** Full-scale range ±FSR in volts, the PGA setting (§9.3.3 Table 3). */
export type FullScale = 6.144 | 4.096 | 2.048 | 1.024 | 0.512 | 0.256;

/** §9.6.3 PGA[2:0] (110 and 111 are ±0.256 V too). */
export const PGA_CODE: { readonly [F in FullScale]: number } = {
  6.144: 0b000,
  4.096: 0b001,
  2.048: 0b010,
  1.024: 0b011,
  0.512: 0b100,
  0.256: 0b101,
};

/** Samples per second. */
export type DataRate = 8 | 16 | 32 | 64 | 128 | 250 | 475 | 860;

/** §9.6.3 DR[2:0]. */
export const DR_CODE: { readonly [R in DataRate]: number } = {
  8: 0b000,
  16: 0b001,
  32: 0b010,
  64: 0b011,
  128: 0b100,
  250: 0b101,
  475: 0b110,
  860: 0b111,
};

/** §7.5 Electrical Characteristics: data rate variation, all rates, −10% to +10%. */
export const DATA_RATE_TOLERANCE = 0.1;

/** §9.4.2.1: in single-shot mode the device powers up in about 25 µs before converting. */
export const POWER_UP_MS = 0.025;

/**
 * How long a single-shot conversion can take, in whole ms for the HAL timer: one conversion
 * period (§9.3.6: the data rate is conversions per second) at the slowest the oscillator
 * may run (10% below nominal), plus the power-up.
 */
export function conversionWaitMs(rate: DataRate): number {
  return Math.ceil(1000 / (rate * (1 - DATA_RATE_TOLERANCE)) + POWER_UP_MS);
}

/** The config word for one single-shot conversion with the comparator off (§9.4.2.1, §9.6.3). */
export function singleShotConfig(input: ADS1115Input, fullScale: FullScale, rate: DataRate): number {
  return (
    CONFIG.OS |
    (MUX_CODE[input] << CONFIG.MUX_SHIFT) |
    (PGA_CODE[fullScale] << CONFIG.PGA_SHIFT) |
    CONFIG.MODE_SINGLE_SHOT |
    (DR_CODE[rate] << CONFIG.DR_SHIFT) |
    CONFIG.COMP_QUE_DISABLE
  );
}
