/**
 * The CRC-8 that Sensirion puts after every 16-bit word on I2C (SHT3x-DIS datasheet §4.12,
 * Table 20; the SHT4x and SCD4x use the same one): polynomial 0x31 (x^8 + x^5 + x^4 + 1),
 * initial value 0xFF, no reflection, no final XOR. Known answer: CRC(0xBEEF) = 0x92.
 *
 * Bitwise rather than table-driven: words are checked a few at a time, and 256 bytes of
 * table are worth more than the microseconds on a device with ~100 KB of heap.
 */
export const SENSIRION_CRC8_POLYNOMIAL = 0x31;
export const SENSIRION_CRC8_INIT = 0xff;

/** CRC of `length` bytes of `bytes` starting at `offset` (a Sensirion word is 2 bytes). */
export function sensirionCrc8(bytes: Uint8Array, offset = 0, length = bytes.length - offset): number {
  let crc = SENSIRION_CRC8_INIT;
  for (let i = offset; i < offset + length; i++) {
    crc ^= bytes[i];
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x80 ? ((crc << 1) ^ SENSIRION_CRC8_POLYNOMIAL) & 0xff : (crc << 1) & 0xff;
    }
  }
  return crc;
}

/** True when the byte after the 16-bit word at `offset` is that word's CRC. */
export function wordCrcMatches(bytes: Uint8Array, offset: number): boolean {
  return sensirionCrc8(bytes, offset, 2) === bytes[offset + 2];
}
