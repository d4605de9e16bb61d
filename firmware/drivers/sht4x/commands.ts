/**
 * SHT4x (SHT40, SHT41, SHT43, SHT45) commands and timing the driver uses, from Sensirion's
 * "Datasheet SHT4x" (version 6, February 2023). Unlike the SHT3x, every SHT4x command is a
 * single byte with no checksum (§4.4 "Command Overview"), and the sensor never stretches the
 * clock: while it measures, it NACKs the read header (§4.1 "I2C communication").
 */
export type Repeatability = 'high' | 'medium' | 'low';

/** §4.4, command overview: measure T & RH with high / medium / lowest precision (repeatability). */
export const MEASURE_COMMAND: { readonly [R in Repeatability]: number } = {
  high: 0xfd,
  medium: 0xf6,
  low: 0xe0,
};

/**
 * §3 "system timing specifications": maximum measurement duration per repeatability, in ms
 * (typical 6.9 / 3.7 / 1.3).
 */
export const MEASUREMENT_MAX_MS: { readonly [R in Repeatability]: number } = {
  high: 8.3,
  medium: 4.5,
  low: 1.6,
};

/**
 * What the driver waits before reading: the maximum rounded up to whole milliseconds, because
 * Moddable's `Timer` counts whole milliseconds.
 */
export const MEASUREMENT_WAIT_MS: { readonly [R in Repeatability]: number } = {
  high: Math.ceil(MEASUREMENT_MAX_MS.high),
  medium: Math.ceil(MEASUREMENT_MAX_MS.medium),
  low: Math.ceil(MEASUREMENT_MAX_MS.low),
};

/** §4.6 "Serial number": answered with two words, each followed by its CRC. */
export const READ_SERIAL_COMMAND = 0x89;
/** §4.7 "Reset & Abort": soft reset; the sensor is back after tSR ≤ 1 ms (§3 timing table). */
export const SOFT_RESET_COMMAND = 0x94;
export const SOFT_RESET_MAX_MS = 1;

/** Heater power levels (mW) and pulse lengths (ms), §4.8 "Heater Operation". */
export type HeaterPower = 200 | 110 | 20;
export type HeaterDuration = 1000 | 100;

/**
 * §4.4 / §4.8: activate the heater at a power for a time, then take a high-precision
 * measurement, which the heater command returns like a measurement command does.
 */
export const HEATER_COMMAND: { readonly [P in HeaterPower]: { readonly [D in HeaterDuration]: number } } = {
  200: { 1000: 0x39, 100: 0x32 },
  110: { 1000: 0x2f, 100: 0x24 },
  20: { 1000: 0x1e, 100: 0x15 },
};

/** §3 timing table: heater-on duration 1 s is 0.9…1.1 s, 0.1 s is 0.09…0.11 s; maxima in ms. */
export const HEATER_MAX_MS: { readonly [D in HeaterDuration]: number } = { 1000: 1100, 100: 110 };

/** §4.2 "Data type & length": temperature word + CRC, then humidity word + CRC. */
export const MEASUREMENT_RESULT_LENGTH = 6;
/** §4.6: serial number as two words, each + CRC. */
export const SERIAL_RESULT_LENGTH = 6;

/** The order codes fix the address (§4.1, product list): SHT4x-A… 0x44, -B… 0x45, -C… 0x46. */
export const SHT4X_ADDRESSES: readonly number[] = [0x44, 0x45, 0x46];
