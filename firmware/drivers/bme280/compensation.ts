/**
 * The BME280's compensation formulas, transcribed from the datasheet (BST-BME280-DS002,
 * rev 1.6, code revision 1.1), in the three flavours it gives:
 *
 * - §8.1, double precision floating point: temperature, pressure, humidity.
 * - §4.2.3, integer: temperature and humidity in 32-bit, pressure in 64-bit (Q24.8 Pa).
 * - §8.2, pressure in 32-bit fixed point (whole Pa), for MCUs without 64-bit integers.
 *
 * The 32-bit formulas are emulated exactly, wrap-around included: products go through
 * `Math.imul`, sums through `| 0` (signed) or `>>> 0` (unsigned), and `>>` is the
 * arithmetic shift C compilers use for signed values. The 64-bit pressure formula uses
 * BigInt (part of the language on XS too); it allocates a few small BigInts per call, which
 * is why the driver defaults to the floating-point formulas.
 *
 * Temperature is computed first: it yields `t_fine`, the fine temperature the pressure and
 * humidity formulas take (the datasheet keeps it in a global; here it is passed along).
 * Raw values: pressure and temperature are 20-bit, humidity 16-bit, all positive.
 */
import type { BME280Calibration } from './calibration';

// ---- §8.1: double precision ---------------------------------------------------------

/**
 * §8.1 BME280_compensate_T_double, first half: var1 + var2, the fine temperature before the
 * datasheet truncates it into `t_fine`. Temperature in °C is this / 5120.
 */
export function fineTemperatureFloat(cal: BME280Calibration, adcT: number): number {
  const var1 = (adcT / 16384.0 - cal.T1 / 1024.0) * cal.T2;
  const d = adcT / 131072.0 - cal.T1 / 8192.0;
  const var2 = d * d * cal.T3;
  return var1 + var2;
}

/** §8.1: temperature in °C. */
export function temperatureFloat(fine: number): number {
  return fine / 5120.0;
}

/** §8.1: `t_fine = (BME280_S32_t)(var1 + var2)`, a truncation toward zero. */
export function tFineFromFloat(fine: number): number {
  return Math.trunc(fine);
}

/** §8.1 BME280_compensate_P_double: pressure in Pa; 0 when dig_P1 is 0 (the datasheet's division guard). */
export function pressureFloat(cal: BME280Calibration, adcP: number, tFine: number): number {
  let var1 = tFine / 2.0 - 64000.0;
  let var2 = (var1 * var1 * cal.P6) / 32768.0;
  var2 = var2 + var1 * cal.P5 * 2.0;
  var2 = var2 / 4.0 + cal.P4 * 65536.0;
  var1 = ((cal.P3 * var1 * var1) / 524288.0 + cal.P2 * var1) / 524288.0;
  var1 = (1.0 + var1 / 32768.0) * cal.P1;
  if (var1 === 0.0) return 0;
  let p = 1048576.0 - adcP;
  p = ((p - var2 / 4096.0) * 6250.0) / var1;
  var1 = (cal.P9 * p * p) / 2147483648.0;
  var2 = (p * cal.P8) / 32768.0;
  return p + (var1 + var2 + cal.P7) / 16.0;
}

/** §8.1 bme280_compensate_H_double: relative humidity in %RH, clamped to 0…100. */
export function humidityFloat(cal: BME280Calibration, adcH: number, tFine: number): number {
  let h = tFine - 76800.0;
  h =
    (adcH - (cal.H4 * 64.0 + (cal.H5 / 16384.0) * h)) *
    ((cal.H2 / 65536.0) * (1.0 + (cal.H6 / 67108864.0) * h * (1.0 + (cal.H3 / 67108864.0) * h)));
  h = h * (1.0 - (cal.H1 * h) / 524288.0);
  if (h > 100.0) return 100.0;
  if (h < 0.0) return 0.0;
  return h;
}

// ---- §4.2.3: 32-bit temperature and humidity, 64-bit pressure ----------------------

/** §4.2.3 BME280_compensate_T_int32, first half: `t_fine`. */
export function tFineInt32(cal: BME280Calibration, adcT: number): number {
  const var1 = Math.imul(((adcT >> 3) - (cal.T1 << 1)) | 0, cal.T2) >> 11;
  const d = ((adcT >> 4) - cal.T1) | 0;
  const var2 = Math.imul(Math.imul(d, d) >> 12, cal.T3) >> 14;
  return (var1 + var2) | 0;
}

/** §4.2.3: temperature in hundredths of °C ("5123" is 51.23 °C). */
export function temperatureInt32(tFine: number): number {
  return (Math.imul(tFine, 5) + 128) >> 8;
}

const I64 = (value: bigint): bigint => BigInt.asIntN(64, value);

/**
 * §4.2.3 BME280_compensate_P_int64: pressure in Pa as unsigned Q24.8 ("24674867" is
 * 24674867 / 256 = 96386.2 Pa); 0 when the divisor is 0.
 */
export function pressureInt64(cal: BME280Calibration, adcP: number, tFine: number): number {
  let var1 = BigInt(tFine) - 128000n;
  let var2 = I64(var1 * var1 * BigInt(cal.P6));
  var2 = I64(var2 + I64(I64(var1 * BigInt(cal.P5)) << 17n));
  var2 = I64(var2 + (BigInt(cal.P4) << 35n));
  var1 = I64((I64(var1 * var1 * BigInt(cal.P3)) >> 8n) + (I64(var1 * BigInt(cal.P2)) << 12n));
  var1 = I64(((1n << 47n) + var1) * BigInt(cal.P1)) >> 33n;
  if (var1 === 0n) return 0;
  let p = 1048576n - BigInt(adcP);
  p = I64(I64((p << 31n) - var2) * 3125n) / var1; // BigInt division truncates toward zero, as C's does
  var1 = I64(BigInt(cal.P9) * (p >> 13n) * (p >> 13n)) >> 25n;
  var2 = I64(BigInt(cal.P8) * p) >> 19n;
  p = ((p + var1 + var2) >> 8n) + (BigInt(cal.P7) << 4n);
  return Number(BigInt.asUintN(32, p));
}

/**
 * §4.2.3 bme280_compensate_H_int32: relative humidity in %RH as unsigned Q22.10 ("47445"
 * is 47445 / 1024 = 46.333 %RH), clamped to 0…100 %RH.
 */
export function humidityInt32(cal: BME280Calibration, adcH: number, tFine: number): number {
  let v = (tFine - 76800) | 0;
  // (((adc_H << 14) − (dig_H4 << 20) − dig_H5 · v) + 16384) >> 15
  const offset = ((((adcH << 14) - (cal.H4 << 20)) | 0) - Math.imul(cal.H5, v) + 16384) >> 15;
  // ((((((v · dig_H6) >> 10) · (((v · dig_H3) >> 11) + 32768)) >> 10) + 2097152) · dig_H2 + 8192) >> 14
  const curvature = Math.imul(Math.imul(v, cal.H6) >> 10, ((Math.imul(v, cal.H3) >> 11) + 32768) | 0) >> 10;
  const gain = (Math.imul((curvature + 2097152) | 0, cal.H2) + 8192) >> 14;
  v = Math.imul(offset, gain);
  v = (v - (Math.imul(Math.imul(v >> 15, v >> 15) >> 7, cal.H1) >> 4)) | 0;
  if (v < 0) v = 0;
  if (v > 419430400) v = 419430400;
  return v >>> 12;
}

// ---- §8.2: 32-bit pressure -----------------------------------------------------------

/** §8.2 BME280_compensate_P_int32: pressure in whole Pa ("96386" is 963.86 hPa); 0 when the divisor is 0. */
export function pressureInt32(cal: BME280Calibration, adcP: number, tFine: number): number {
  let var1 = ((tFine >> 1) - 64000) | 0;
  const q = Math.imul(var1 >> 2, var1 >> 2);
  let var2 = Math.imul(q >> 11, cal.P6);
  var2 = (var2 + (Math.imul(var1, cal.P5) << 1)) | 0;
  var2 = ((var2 >> 2) + (cal.P4 << 16)) | 0;
  var1 = (((Math.imul(cal.P3, q >> 13) >> 3) + (Math.imul(cal.P2, var1) >> 1)) | 0) >> 18;
  var1 = Math.imul((32768 + var1) | 0, cal.P1) >> 15;
  if (var1 === 0) return 0;
  const divisor = var1 >>> 0;
  // (BME280_U32_t)(1048576 - adc_P) - (var2 >> 12), times 3125, all modulo 2^32
  let p = Math.imul((((1048576 - adcP) >>> 0) - (var2 >> 12)) >>> 0, 3125) >>> 0;
  // Both operands are below 2^32, so the double quotient floors to the exact integer quotient.
  p = p < 0x80000000 ? Math.floor(((p << 1) >>> 0) / divisor) : Math.floor(p / divisor) * 2;
  p = p >>> 0;
  var1 = Math.imul(cal.P9, (Math.imul(p >>> 3, p >>> 3) >>> 13) | 0) >> 12;
  var2 = Math.imul((p >>> 2) | 0, cal.P8) >> 13;
  return ((p | 0) + ((var1 + var2 + cal.P7) >> 4)) >>> 0;
}
