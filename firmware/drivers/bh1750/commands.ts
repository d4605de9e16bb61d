/**
 * ROHM BH1750FVI instructions and timing the driver uses, from the "BH1750FVI Technical Note"
 * (ROHM, 2009.04 Rev.B). Every instruction is a single opcode byte, one per write transfer
 * ("BH1750FVI is not able to accept plural command without stop condition", p.10 "I2C Bus
 * Access", Write Format). The chip has no status register, no ready flag, no checksum and no
 * identification register.
 */

/** p.5 "Instruction Set Architecture". */
export const POWER_DOWN = 0x00;
export const POWER_ON = 0x01;
/** Resets the data register to 0; not accepted in power-down mode (p.5). */
export const RESET = 0x07;

/** How the chip measures: continuously, or once and then back to power down (p.5). */
export type BH1750Mode = 'continuous' | 'one-time';
/** H-resolution mode (1 lx resolution) and H-resolution mode2 (0.5 lx), both 120 ms typical. */
export type BH1750Resolution = 'high' | 'high2';

/** p.5: Continuously H-Resolution Mode 0001_0000, Mode2 0001_0001; One Time 0010_0000, 0010_0001. */
export const MEASURE_COMMAND: { readonly [M in BH1750Mode]: { readonly [R in BH1750Resolution]: number } } = {
  continuous: { high: 0x10, high2: 0x11 },
  'one-time': { high: 0x20, high2: 0x21 },
};

/**
 * p.2 "Electrical Characteristics": H-resolution mode measurement time tHR 120 ms typical,
 * 180 ms maximum, at the default MTreg. The time scales with MTreg (p.11).
 */
export const H_RESOLUTION_MAX_MS = 180;

/**
 * p.11 "Adjust measurement result for influence of optical window": the Measurement Time
 * register (MTreg) sets the sensitivity; default 69 (0100_0101), range 31 (0001_1111) to 254
 * (1111_1110).
 */
export const MTREG_DEFAULT = 69;
export const MTREG_MIN = 31;
export const MTREG_MAX = 254;

/** p.5: Change Measurement time (High bit) 01000_MT[7,6,5]. */
export function mtregHighCommand(mtreg: number): number {
  return 0x40 | ((mtreg >> 5) & 0x07);
}

/** p.5: Change Measurement time (Low bit) 011_MT[4,3,2,1,0]. */
export function mtregLowCommand(mtreg: number): number {
  return 0x60 | (mtreg & 0x1f);
}

/** Maximum measurement time for an MTreg, whole milliseconds (Moddable's `Timer` counts whole ms). */
export function measurementWaitMs(mtreg: number): number {
  return Math.ceil((H_RESOLUTION_MAX_MS * mtreg) / MTREG_DEFAULT);
}

/** p.10 "Slave Address": ADDR low → 0100011 (0x23), ADDR high → 1011100 (0x5C). */
export const BH1750_ADDRESSES: readonly number[] = [0x23, 0x5c];

/** p.10 Read Format: high byte [15:8], then low byte [7:0]. */
export const RESULT_LENGTH = 2;
