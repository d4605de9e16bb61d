/**
 * Half-precision floats (IEEE 754 binary16, RFC 8949 §3.3 and Appendix D), which JavaScript
 * lacks: DataView has float32 and float64 only.
 */

const TWO_POW_MINUS_24 = 5.960464477539063e-8; // the smallest subnormal half
const TWO_POW_MINUS_14 = 0.00006103515625; // the smallest normal half
const MAX_HALF = 65504;

/** The value of a binary16 bit pattern (RFC 8949 Appendix D). */
export function halfToNumber(bits: number): number {
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  let value: number;
  if (exponent === 0) value = mantissa * TWO_POW_MINUS_24;
  else if (exponent === 31) value = mantissa === 0 ? Infinity : NaN;
  else value = (1024 + mantissa) * Math.pow(2, exponent - 25);
  return bits & 0x8000 ? -value : value;
}

const scratch = new DataView(new ArrayBuffer(8));

/**
 * The binary16 bit pattern that holds `value` exactly, or -1 when none does. NaN gives the
 * canonical quiet NaN 0x7e00 (its payload is not kept).
 */
export function numberToHalf(value: number): number {
  if (value !== value) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (magnitude === 0) return sign;
  if (magnitude === Infinity) return sign | 0x7c00;
  if (magnitude < TWO_POW_MINUS_24 || magnitude > MAX_HALF) return -1;
  if (magnitude < TWO_POW_MINUS_14) {
    const steps = magnitude / TWO_POW_MINUS_24; // exact: a division by a power of two
    return Number.isInteger(steps) ? sign | steps : -1;
  }
  scratch.setFloat64(0, magnitude);
  const exponent = ((scratch.getUint16(0) >> 4) & 0x7ff) - 1023; // -14 .. 15 here
  const significand = (magnitude / Math.pow(2, exponent)) * 1024; // 1024 .. 2047.x, exact
  if (!Number.isInteger(significand)) return -1;
  return sign | ((exponent + 15) << 10) | (significand - 1024);
}
