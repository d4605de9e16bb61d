/**
 * ADS1115 output codes to volts (SBAS444D §9.5.4 and §9.3.3): the conversion register holds
 * a 16-bit two's complement number; +FS · (2^15 − 1)/2^15 reads 0x7FFF, −FS reads 0x8000,
 * and inputs beyond the full-scale range clip at those codes. One LSB is FSR / 2^15.
 */

/** The signed value of a big-endian 16-bit two's complement word. */
export function signedWord(msb: number, lsb: number): number {
  return (((msb << 8) | lsb) << 16) >> 16;
}

/** Volts for a raw code at full-scale range ±`fullScale` V: raw · FSR / 32768. */
export function voltsFromRaw(raw: number, fullScale: number): number {
  return (raw * fullScale) / 32768;
}

/** True for the two codes an over-range input clips to (§9.5.4). */
export function isClipped(raw: number): boolean {
  return raw === 32767 || raw === -32768;
}
