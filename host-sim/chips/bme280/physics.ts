/**
 * The BME280's physics as the simulator sees it: the chip's trimming parameters, and the
 * map from raw ADC codes to physical values that those parameters define. Bosch publishes
 * that map only one way, as the compensation formulas (BST-BME280-DS002 rev 1.6, §8.1,
 * double precision); a real chip's ADC produces whatever raw code the formula maps back to
 * the true value, so the model finds that code numerically, by bisection on the formula.
 *
 * Deliberately not the firmware's code: the forward formulas are rewritten here in a
 * factored form (same algebra, different arithmetic), so that a transcription slip in one
 * is not repeated in the other, and the tests can play them against each other and against
 * Bosch's worked example.
 */

/** Trimming parameters, named as in §4.2.2 Table 16. */
export interface BME280ModelCalibration {
  T1: number;
  T2: number;
  T3: number;
  P1: number;
  P2: number;
  P3: number;
  P4: number;
  P5: number;
  P6: number;
  P7: number;
  P8: number;
  P9: number;
  H1: number;
  H2: number;
  H3: number;
  H4: number;
  H5: number;
  H6: number;
}

/**
 * Humidity parameters read from a real BME280, posted with its raw registers in the Bosch
 * Sensortec community forum ("BME280 Data to test Calculations", September 2019), where the
 * same chip read 24.44 °C and 54.17 %RH. The datasheet gives no humidity example.
 */
export const COMMUNITY_HUMIDITY = { H1: 75, H2: 357, H3: 0, H4: 331, H5: 0, H6: 30 } as const;

/**
 * The model's default chip: the temperature and pressure parameters of Bosch's worked
 * example (BMP280 datasheet BST-BMP280-DS001 §3.12; the BME280 shares those registers and
 * formulas, BME280 datasheet §5.2), with the community chip's humidity parameters.
 */
export const DATASHEET_EXAMPLE_CALIBRATION: Readonly<BME280ModelCalibration> = {
  T1: 27504,
  T2: 26435,
  T3: -1000,
  P1: 36477,
  P2: -10685,
  P3: 3024,
  P4: 2855,
  P5: 140,
  P6: -7,
  P7: 15500,
  P8: -14600,
  P9: 6000,
  ...COMMUNITY_HUMIDITY,
};

/** The whole community chip (see `COMMUNITY_HUMIDITY`), decoded from its register dump. */
export const COMMUNITY_CHIP_CALIBRATION: Readonly<BME280ModelCalibration> = {
  T1: 28268,
  T2: 26231,
  T3: 50,
  P1: 37544,
  P2: -10969,
  P3: 3024,
  P4: 6255,
  P5: -54,
  P6: -7,
  P7: 9900,
  P8: -10230,
  P9: 4285,
  ...COMMUNITY_HUMIDITY,
};

const RANGES: { [K in keyof BME280ModelCalibration]: [number, number] } = {
  T1: [0, 65535],
  T2: [-32768, 32767],
  T3: [-32768, 32767],
  P1: [0, 65535],
  P2: [-32768, 32767],
  P3: [-32768, 32767],
  P4: [-32768, 32767],
  P5: [-32768, 32767],
  P6: [-32768, 32767],
  P7: [-32768, 32767],
  P8: [-32768, 32767],
  P9: [-32768, 32767],
  H1: [0, 255],
  H2: [-32768, 32767],
  H3: [0, 255],
  H4: [-2048, 2047],
  H5: [-2048, 2047],
  H6: [-128, 127],
};

/** Throws unless every parameter fits its register (Table 16 types; dig_H4/H5 are 12-bit). */
export function checkCalibration(calibration: BME280ModelCalibration): void {
  for (const key of Object.keys(RANGES) as (keyof BME280ModelCalibration)[]) {
    const [min, max] = RANGES[key];
    const value = calibration[key];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`BME280 model: dig_${key} = ${value} does not fit its register (${min}…${max})`);
    }
  }
}

/**
 * The calibration as the chip's NVM image: 26 bytes for 0x88…0xA1 and 7 for 0xE1…0xE7
 * (Table 16). Words little-endian; dig_H4 = 0xE4 (bits 11:4) and 0xE5[3:0] (bits 3:0);
 * dig_H5 = 0xE5[7:4] (bits 3:0) and 0xE6 (bits 11:4). 0xA0 is reserved and reads 0.
 */
export function encodeCalibration(c: BME280ModelCalibration): { low: Uint8Array; high: Uint8Array } {
  const low = new Uint8Array(26);
  const words = [c.T1, c.T2, c.T3, c.P1, c.P2, c.P3, c.P4, c.P5, c.P6, c.P7, c.P8, c.P9];
  words.forEach((word, i) => {
    low[2 * i] = word & 0xff;
    low[2 * i + 1] = (word >> 8) & 0xff;
  });
  low[25] = c.H1;
  const high = new Uint8Array(7);
  high[0] = c.H2 & 0xff;
  high[1] = (c.H2 >> 8) & 0xff;
  high[2] = c.H3;
  high[3] = (c.H4 >> 4) & 0xff;
  high[4] = ((c.H5 & 0x0f) << 4) | (c.H4 & 0x0f);
  high[5] = (c.H5 >> 4) & 0xff;
  high[6] = c.H6 & 0xff;
  return { low, high };
}

// ---- forward: raw code → physical value (§8.1, refactored) ---------------------------

/**
 * §8.1 temperature, factored: with u = adc_T/2^17 − T1/2^13, the datasheet's var1 is
 * 8·u·T2 and var2 is u²·T3. Returns the fine temperature var1 + var2 (°C × 5120).
 */
export function fineTemperature(c: BME280ModelCalibration, adcT: number): number {
  const u = adcT / 131072 - c.T1 / 8192;
  return u * (8 * c.T2 + u * c.T3);
}

export function temperatureOf(c: BME280ModelCalibration, adcT: number): number {
  return fineTemperature(c, adcT) / 5120;
}

/** The integer t_fine the datasheet's double formula hands on: var1 + var2 truncated. */
export function tFineOf(c: BME280ModelCalibration, adcT: number): number {
  return Math.trunc(fineTemperature(c, adcT));
}

/**
 * §8.1 pressure, factored: d = t_fine/2 − 64000 sets an offset B (the datasheet's final
 * var2) and a sensitivity A (its final var1); the first-order pressure is
 * (2^20 − adc_P − B/2^12)·6250/A, and P7…P9 add a quadratic correction.
 */
export function pressureOf(c: BME280ModelCalibration, adcP: number, tFine: number): number {
  const d = tFine / 2 - 64000;
  const offset = (d * ((c.P6 * d) / 32768 + 2 * c.P5)) / 4 + 65536 * c.P4;
  const sensitivity = c.P1 * (1 + (d * ((c.P3 * d) / 524288 + c.P2)) / 524288 / 32768);
  if (sensitivity === 0) return 0;
  const p = ((1048576 - adcP - offset / 4096) * 6250) / sensitivity;
  return p + ((p * ((c.P9 * p) / 2147483648 + c.P8 / 32768)) + c.P7) / 16;
}

/** §8.1 humidity before its clamp to 0…100 %RH, factored the same way. */
export function humidityUnclampedOf(c: BME280ModelCalibration, adcH: number, tFine: number): number {
  const v = tFine - 76800;
  const gain = (c.H2 / 65536) * (1 + ((c.H6 * v) / 67108864) * (1 + (c.H3 * v) / 67108864));
  const linear = (adcH - 64 * c.H4 - (c.H5 * v) / 16384) * gain;
  return linear - (c.H1 * linear * linear) / 524288;
}

export function humidityOf(c: BME280ModelCalibration, adcH: number, tFine: number): number {
  return Math.min(100, Math.max(0, humidityUnclampedOf(c, adcH, tFine)));
}

// ---- inverse: physical value → raw code, numerically ---------------------------------

export const ADC_20_BIT_MAX = 0xfffff;
export const ADC_16_BIT_MAX = 0xffff;

/**
 * The real `x` in [lo, hi] with f(x) = target, for f monotonic on [lo, hi], by bisection;
 * the nearer end when the target is out of f's range there (the ADC saturates).
 */
export function solveMonotonic(f: (x: number) => number, target: number, lo: number, hi: number): number {
  const atLo = f(lo);
  const atHi = f(hi);
  const increasing = atHi >= atLo;
  if (increasing ? target <= atLo : target >= atLo) return lo;
  if (increasing ? target >= atHi : target <= atHi) return hi;
  for (let i = 0; i < 80 && hi - lo > 1e-7; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) < target === increasing) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** The ideal (unquantised) 20-bit temperature code for `celsius`. */
export function idealAdcT(c: BME280ModelCalibration, celsius: number): number {
  return solveMonotonic((x) => temperatureOf(c, x), celsius, 0, ADC_20_BIT_MAX);
}

/** The ideal 20-bit pressure code for `pascals` at fine temperature `tFine`. */
export function idealAdcP(c: BME280ModelCalibration, pascals: number, tFine: number): number {
  return solveMonotonic((x) => pressureOf(c, x, tFine), pascals, 0, ADC_20_BIT_MAX);
}

/** The ideal 16-bit humidity code for `percent` at fine temperature `tFine`. */
export function idealAdcH(c: BME280ModelCalibration, percent: number, tFine: number): number {
  return solveMonotonic((x) => humidityUnclampedOf(c, x, tFine), percent, 0, ADC_16_BIT_MAX);
}

/**
 * Rounds an ideal 20-bit code to what an ADC of `bits` resolution (16…20) delivers: a
 * multiple of 2^(20 − bits), in range (§3.4.2, §3.4.3: without the IIR filter, osrs ×1
 * gives 16 bits, each doubling one more, up to 20 bits at ×16).
 */
export function quantize20(ideal: number, bits: number): number {
  const step = 2 ** (20 - bits);
  const code = Math.round(ideal / step) * step;
  return Math.min(ADC_20_BIT_MAX + 1 - step, Math.max(0, code));
}
