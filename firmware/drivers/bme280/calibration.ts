/**
 * The BME280's trimming parameters (BST-BME280-DS002 rev 1.6, §4.2.2 Table 16), as the
 * compensation formulas name them. Programmed at the factory; read once per driver.
 */
export interface BME280Calibration {
  readonly T1: number; // unsigned short
  readonly T2: number; // signed short
  readonly T3: number; // signed short
  readonly P1: number; // unsigned short
  readonly P2: number;
  readonly P3: number;
  readonly P4: number;
  readonly P5: number;
  readonly P6: number;
  readonly P7: number;
  readonly P8: number;
  readonly P9: number; // P2…P9 signed short
  readonly H1: number; // unsigned char
  readonly H2: number; // signed short
  readonly H3: number; // unsigned char
  readonly H4: number; // signed, 12 bits
  readonly H5: number; // signed, 12 bits
  readonly H6: number; // signed char
}

function u16le(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8);
}

function s16le(bytes: Uint8Array, at: number): number {
  return (u16le(bytes, at) << 16) >> 16;
}

function s8(byte: number): number {
  return (byte << 24) >> 24;
}

/**
 * Table 16, from two burst reads: `low` = 0x88…0xA1 (26 bytes), `high` = 0xE1…0xE7 (7 bytes).
 *
 * Words are little-endian (LSB at the lower address). dig_H4 and dig_H5 are 12-bit values
 * that share 0xE5: dig_H4 = 0xE4[7:0] as bits 11:4 and 0xE5[3:0] as bits 3:0; dig_H5 =
 * 0xE5[7:4] as bits 3:0 and 0xE6[7:0] as bits 11:4. Table 16 calls both "signed short";
 * the sign is that of the 8-bit part (0xE4 / 0xE6), as in Bosch's reference driver, so the
 * byte is sign-extended before it is shifted up.
 */
export function parseCalibration(low: Uint8Array, high: Uint8Array): BME280Calibration {
  return {
    T1: u16le(low, 0),
    T2: s16le(low, 2),
    T3: s16le(low, 4),
    P1: u16le(low, 6),
    P2: s16le(low, 8),
    P3: s16le(low, 10),
    P4: s16le(low, 12),
    P5: s16le(low, 14),
    P6: s16le(low, 16),
    P7: s16le(low, 18),
    P8: s16le(low, 20),
    P9: s16le(low, 22),
    // low[24] is 0xA0, reserved
    H1: low[25],
    H2: s16le(high, 0),
    H3: high[2],
    H4: (s8(high[3]) * 16) | (high[4] & 0x0f),
    H5: (s8(high[5]) * 16) | (high[4] >> 4),
    H6: s8(high[6]),
  };
}
