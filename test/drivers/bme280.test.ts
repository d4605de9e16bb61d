/**
 * BME280 driver against the BME280 chip model, over the test bench bus and virtual clock.
 * Known answers come from outside both: Bosch's worked compensation example (BMP280
 * datasheet BST-BMP280-DS001 §3.12, same formulas as BME280 §4.2.3 and §8.1), values
 * worked by hand from the §8.2 formula, and a register dump of a real BME280 with the
 * readings its owner computed (Bosch Sensortec community forum, "BME280 Data to test
 * Calculations", 2019).
 */
import fc from 'fast-check';
import { BME280 } from '../../firmware/drivers/bme280/bme280';
import type { Compensation, Oversampling } from '../../firmware/drivers/bme280/bme280';
import { parseCalibration } from '../../firmware/drivers/bme280/calibration';
import type { BME280Calibration } from '../../firmware/drivers/bme280/calibration';
import {
  fineTemperatureFloat,
  humidityFloat,
  humidityInt32,
  pressureFloat,
  pressureInt32,
  pressureInt64,
  temperatureFloat,
  temperatureInt32,
  tFineFromFloat,
  tFineInt32,
} from '../../firmware/drivers/bme280/compensation';
import { measurementTimeMaxMs } from '../../firmware/drivers/bme280/registers';
import type { I2CTarget } from '../../host-sim/chips/i2c-target';
import { BME280Model } from '../../host-sim/chips/bme280/model';
import type { BME280ModelOptions } from '../../host-sim/chips/bme280/model';
import {
  COMMUNITY_CHIP_CALIBRATION,
  DATASHEET_EXAMPLE_CALIBRATION,
  humidityOf,
  idealAdcH,
  idealAdcP,
  idealAdcT,
  pressureOf,
  temperatureOf,
  tFineOf,
} from '../../host-sim/chips/bme280/physics';
import { sampleError } from './support/errors';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

/** Bosch's worked example: BMP280 datasheet §3.12 (trimming values, raw values, results). */
const EXAMPLE: BME280Calibration = { ...DATASHEET_EXAMPLE_CALIBRATION };
const EXAMPLE_ADC_T = 519888;
const EXAMPLE_ADC_P = 415148;

/** The forum post's registers: 0x88…0xA1 (with 0xA0 between dig_P9 and dig_H1), 0xE1…0xE7, 0xF7…0xFE. */
const FORUM_CALIB_LOW = Uint8Array.of(
  0x6c, 0x6e, 0x77, 0x66, 0x32, 0x00, 0xa8, 0x92, 0x27, 0xd5, 0xd0, 0x0b, 0x6f, 0x18, 0xca, 0xff,
  0xf9, 0xff, 0xac, 0x26, 0x0a, 0xd8, 0xbd, 0x10, 0x00, 0x4b,
);
const FORUM_CALIB_HIGH = Uint8Array.of(0x65, 0x01, 0x00, 0x14, 0x0b, 0x00, 0x1e);
const FORUM_DATA = Uint8Array.of(0x55, 0x33, 0x80, 0x81, 0x7f, 0xb0, 0x79, 0x13);

/**
 * Half a raw LSB in physical units, the most quantisation can move a reading, at ×1
 * oversampling (16-bit temperature and pressure, §3.4.2/§3.4.3); each doubling of the
 * oversampling adds a bit and halves it. Worst case over −40…85 °C and 300…1100 hPa with
 * the example trimming: 8 counts × ≤0.00032 °C/count, 8 counts × ≤0.2 Pa/count. Humidity
 * is always 16-bit: half a count × ≤0.007 %RH/count.
 */
const TEMPERATURE_HALF_LSB_X1 = 0.0026;
const PRESSURE_HALF_LSB_X1 = 1.7;
const HUMIDITY_HALF_LSB = 0.0035;
/**
 * What each integer flavour adds: §4.2.3 gives temperature in 0.01 °C (±0.005) from a t_fine
 * up to 14 units (14/5120 °C) off the double formula's, humidity in 1/1024 %RH from shifts
 * that drop up to half a raw count (within the 0.008 %RH resolution of §1), and its
 * 64-bit pressure within about half a pascal of the double one; §8.2's 32-bit pressure is
 * "typically 1 Pa" off (1σ), up to 5 Pa at the range's corners.
 */
const INTEGER_EXTRA = { temperature: 0.005 + 14 / 5120 + 1e-9, pressure: { integer: 0.6, integer32: 5.5 }, humidity: 0.008 } as const;

function bench(model: I2CTarget = new BME280Model({ temperature: 21, pressure: 100000, humidity: 50 }), address = 0x76) {
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const sensor = new BME280({ i2c: bus, timers: clock, address });
  return { clock, bus, sensor };
}

function modelBench(options: BME280ModelOptions) {
  const model = new BME280Model(options);
  return { model, ...bench(model) };
}

/** A chip slower than the datasheet: each measurement starts `lagMs` after ctrl_meas asks for it. */
class SlowChip implements I2CTarget {
  constructor(
    readonly model: BME280Model,
    readonly lagMs: number,
  ) {}
  get address(): number {
    return this.model.address;
  }
  write(bytes: Uint8Array, nowMs: number): boolean {
    const startsMeasurement = bytes.some((byte, i) => i % 2 === 0 && byte === 0xf4 && i + 1 < bytes.length);
    return this.model.write(bytes, startsMeasurement ? nowMs + this.lagMs : nowMs);
  }
  read(count: number, nowMs: number): Uint8Array | null {
    return this.model.read(count, nowMs);
  }
}

describe('compensation formulas: Bosch worked example (BMP280 datasheet §3.12)', () => {
  test('§8.1 double precision: var1 + var2 = 128793.1787 − 370.8917, 25.08 °C, t_fine 128422, 100653.27 Pa', () => {
    const fine = fineTemperatureFloat(EXAMPLE, EXAMPLE_ADC_T);
    expect(fine).toBeCloseTo(128793.1787 - 370.8917, 3);
    expect(temperatureFloat(fine)).toBeCloseTo(25.08, 2);
    expect(tFineFromFloat(fine)).toBe(128422);
    // The example prints 100653.27 Pa; the double formula gives 100653.258.
    expect(Math.abs(pressureFloat(EXAMPLE, EXAMPLE_ADC_P, 128422) - 100653.27)).toBeLessThan(0.05);
  });

  test('§4.2.3 integer: t_fine 128422, 2508 (25.08 °C), Q24.8 pressure 100653.25 Pa', () => {
    const tFine = tFineInt32(EXAMPLE, EXAMPLE_ADC_T);
    expect(tFine).toBe(128422);
    expect(temperatureInt32(tFine)).toBe(2508);
    const q24_8 = pressureInt64(EXAMPLE, EXAMPLE_ADC_P, tFine);
    expect(Number.isInteger(q24_8)).toBe(true);
    expect(Math.abs(q24_8 / 256 - 100653.27)).toBeLessThan(0.05);
  });

  test('§8.2 32-bit pressure, worked by hand: 100656 Pa', () => {
    // var1 = 128422/2 − 64000 = 211; var2 = ((52·52)>>11)·(−7) + (211·140)<<1 = 59073,
    // then (59073>>2) + (2855<<16) = 187120048; var1 = ((0 + (−10685·211)>>1)>>18 = −5,
    // ((32768 − 5)·36477)>>15 = 36471; p = (633428 − 45683)·3125 = 1836703125 < 2^31, so
    // p = 3673406250 / 36471 = 100721; var1 = (6000·((12590²)>>13))>>12 = 28343;
    // var2 = (25180·(−14600))>>13 = −44877; p = 100721 + ((28343 − 44877 + 15500)>>4) = 100656.
    expect(pressureInt32(EXAMPLE, EXAMPLE_ADC_P, 128422)).toBe(100656);
  });

  test('a zero dig_P1 takes the datasheet division guard: pressure 0 in every flavour', () => {
    const broken = { ...EXAMPLE, P1: 0 };
    expect(pressureFloat(broken, EXAMPLE_ADC_P, 128422)).toBe(0);
    expect(pressureInt64(broken, EXAMPLE_ADC_P, 128422)).toBe(0);
    expect(pressureInt32(broken, EXAMPLE_ADC_P, 128422)).toBe(0);
  });
});

describe('a real BME280 (Bosch community forum register dump)', () => {
  const calibration = parseCalibration(FORUM_CALIB_LOW, FORUM_CALIB_HIGH);
  const adcP = (FORUM_DATA[0] << 12) | (FORUM_DATA[1] << 4) | (FORUM_DATA[2] >> 4);
  const adcT = (FORUM_DATA[3] << 12) | (FORUM_DATA[4] << 4) | (FORUM_DATA[5] >> 4);
  const adcH = (FORUM_DATA[6] << 8) | FORUM_DATA[7];

  test('calibration parses as the chip documents it (Table 16), dig_H4/dig_H5 from the shared nibble', () => {
    expect(calibration).toEqual(COMMUNITY_CHIP_CALIBRATION);
    expect(calibration.H4).toBe((0x14 << 4) | 0x0b); // 0xE4 bits 11:4, 0xE5[3:0] bits 3:0
    expect(calibration.H5).toBe((0x00 << 4) | 0x0); // 0xE6 bits 11:4, 0xE5[7:4] bits 3:0
  });

  test('raw 0x817FB / 0x7913 read as the poster computed: 24.44 °C and 54.17 %RH', () => {
    expect([adcT, adcP, adcH]).toEqual([0x817fb, 0x55338, 0x7913]);
    const fine = fineTemperatureFloat(calibration, adcT);
    expect(temperatureFloat(fine)).toBeCloseTo(24.44, 2);
    expect(humidityFloat(calibration, adcH, tFineFromFloat(fine))).toBeCloseTo(54.17, 2);
    const tFine = tFineInt32(calibration, adcT);
    expect(temperatureInt32(tFine)).toBe(2444);
    expect(humidityInt32(calibration, adcH, tFine) / 1024).toBeCloseTo(54.17, 1);
  });
});

describe('calibration parsing (§4.2.2 Table 16)', () => {
  test('negative 12-bit dig_H4 and dig_H5 sign-extend from their 8-bit halves', () => {
    // dig_H4 = −245 = 0xF0B: 0xE4 = 0xF0, 0xE5[3:0] = 0xB; dig_H5 = −24 = 0xFE8: 0xE6 = 0xFE, 0xE5[7:4] = 0x8.
    const high = Uint8Array.of(0x00, 0x80, 0xff, 0xf0, 0x8b, 0xfe, 0x80);
    const cal = parseCalibration(new Uint8Array(26), high);
    expect(cal.H2).toBe(-32768);
    expect(cal.H3).toBe(255); // unsigned char
    expect(cal.H4).toBe(-245);
    expect(cal.H5).toBe(-24);
    expect(cal.H6).toBe(-128); // signed char
  });

  test('words are little-endian, T1 and P1 unsigned, the rest signed', () => {
    const low = new Uint8Array(26);
    low.set([0xff, 0xff, 0xff, 0xff], 0); // T1 = 65535, T2 = −1
    low.set([0xff, 0xff, 0x00, 0x80], 6); // P1 = 65535, P2 = −32768
    low[25] = 0xc8; // H1 = 200
    const cal = parseCalibration(low, new Uint8Array(7));
    expect([cal.T1, cal.T2, cal.P1, cal.P2, cal.H1]).toEqual([65535, -1, 65535, -32768, 200]);
  });
});

describe('firmware and model formulas: independent transcriptions agree', () => {
  test('on every raw code in range, for the example chip and the forum chip', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(EXAMPLE, COMMUNITY_CHIP_CALIBRATION),
        fc.integer({ min: 350000, max: 650000 }),
        fc.integer({ min: 200000, max: 900000 }),
        fc.integer({ min: 15000, max: 50000 }),
        (cal, adcT, adcP, adcH) => {
          const fine = fineTemperatureFloat(cal, adcT);
          expect(temperatureFloat(fine)).toBeCloseTo(temperatureOf(cal, adcT), 9);
          const tFine = tFineFromFloat(fine);
          expect(tFine).toBe(tFineOf(cal, adcT));
          expect(pressureFloat(cal, adcP, tFine)).toBeCloseTo(pressureOf(cal, adcP, tFine), 6);
          expect(humidityFloat(cal, adcH, tFine)).toBeCloseTo(humidityOf(cal, adcH, tFine), 9);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('float and integer flavours agree within the integer formulas’ resolution, over the operating range', () => {
    // Raw codes for −40…85 °C, 300…1100 hPa, 0…100 %RH (§1), found with the model's physics.
    fc.assert(
      fc.property(
        fc.double({ min: -40, max: 85, noNaN: true }),
        fc.double({ min: 30000, max: 110000, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        (celsius, pascals, percent) => {
          const adcT = Math.round(idealAdcT(EXAMPLE, celsius));
          const adcP = Math.round(idealAdcP(EXAMPLE, pascals, tFineOf(EXAMPLE, adcT)));
          const adcH = Math.round(idealAdcH(EXAMPLE, percent, tFineOf(EXAMPLE, adcT)));
          const fine = fineTemperatureFloat(EXAMPLE, adcT);
          const tFineF = tFineFromFloat(fine);
          const tFineI = tFineInt32(EXAMPLE, adcT);
          // The 32-bit formula drops adc_T's low 3 bits before scaling by dig_T2/2^11 (up to
          // 0.875 · 26435 / 2048 = 11.3) and floors twice more: t_fine may differ by up to 14.
          expect(Math.abs(tFineI - tFineF)).toBeLessThanOrEqual(14);
          expect(Math.abs(temperatureInt32(tFineI) / 100 - temperatureFloat(fine))).toBeLessThanOrEqual(INTEGER_EXTRA.temperature);
          const pFloat = pressureFloat(EXAMPLE, adcP, tFineF);
          expect(Math.abs(pressureInt64(EXAMPLE, adcP, tFineI) / 256 - pFloat)).toBeLessThanOrEqual(INTEGER_EXTRA.pressure.integer);
          expect(Math.abs(pressureInt32(EXAMPLE, adcP, tFineI) - pFloat)).toBeLessThanOrEqual(INTEGER_EXTRA.pressure.integer32);
          const hFloat = humidityFloat(EXAMPLE, adcH, tFineF);
          expect(Math.abs(humidityInt32(EXAMPLE, adcH, tFineI) / 1024 - hFloat)).toBeLessThanOrEqual(INTEGER_EXTRA.humidity);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('measurement time (§9.1)', () => {
  test('t_measure,max = 1.25 + 2.3·osrs_t + (2.3·osrs_p + 0.575) + (2.3·osrs_h + 0.575)', () => {
    expect(measurementTimeMaxMs(1, 1, 1)).toBeCloseTo(9.3, 10);
    expect(measurementTimeMaxMs(16, 16, 16)).toBeCloseTo(112.8, 10); // 1.25 + 36.8 + 37.375 + 37.375
    expect(measurementTimeMaxMs(2, 16, 1)).toBeCloseTo(1.25 + 4.6 + 37.375 + 2.875, 10);
  });
});

describe('BME280 driver', () => {
  test('reads what the model is set to, within the resolution, for any conditions, oversampling and formula', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: -40, max: 85, noNaN: true }),
        fc.double({ min: 30000, max: 110000, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.constantFrom<Oversampling>(1, 2, 4, 8, 16),
        fc.constantFrom<Compensation>('float', 'integer', 'integer32'),
        async (temperature, pressure, humidity, oversampling, compensation) => {
          const { clock, sensor } = modelBench({ temperature, pressure, humidity });
          sensor.configure({ oversampling: { temperature: oversampling, pressure: oversampling, humidity: oversampling }, compensation });
          const reading = await clock.run(sensor.sample());
          const integer = compensation !== 'float';
          const tolerance = {
            temperature: TEMPERATURE_HALF_LSB_X1 / oversampling + (integer ? INTEGER_EXTRA.temperature : 1e-9),
            pressure: PRESSURE_HALF_LSB_X1 / oversampling + (integer ? INTEGER_EXTRA.pressure[compensation] : 1e-6),
            humidity: HUMIDITY_HALF_LSB + (integer ? INTEGER_EXTRA.humidity : 1e-9),
          };
          expect(Math.abs(reading.thermometer.temperature - temperature)).toBeLessThanOrEqual(tolerance.temperature);
          expect(Math.abs(reading.barometer.pressure - pressure)).toBeLessThanOrEqual(tolerance.pressure);
          expect(Math.abs(reading.hygrometer.humidity - humidity)).toBeLessThanOrEqual(tolerance.humidity);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('the example chip reproduces Bosch’s example through the whole stack', async () => {
    const { clock, sensor } = modelBench({
      temperature: temperatureOf(EXAMPLE, EXAMPLE_ADC_T),
      pressure: pressureOf(EXAMPLE, EXAMPLE_ADC_P, tFineOf(EXAMPLE, EXAMPLE_ADC_T)),
    });
    sensor.configure({ oversampling: { temperature: 16, pressure: 16 } }); // 20-bit codes, as in the example
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(25.08, 2);
    expect(Math.abs(reading.barometer.pressure - 100653.27)).toBeLessThan(0.05);
    sensor.configure({ compensation: 'integer' });
    const integer = await clock.run(sensor.sample());
    expect(integer.thermometer.temperature).toBe(25.08);
    expect(Math.abs(integer.barometer.pressure - 100653.27)).toBeLessThan(0.05);
    sensor.configure({ compensation: 'integer32' });
    expect((await clock.run(sensor.sample())).barometer.pressure).toBe(100656);
  });

  test('first sample: id, soft reset, 2 ms start-up, status, calibration; then one forced measurement', async () => {
    const { clock, bus, sensor } = modelBench({ temperature: 20, pressure: 100000, humidity: 40 });
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(20, 2);
    const transfers = bus.transfersTo(0x76).map((t) => [t.atMs, t.kind, Array.from(t.bytes ?? [])]);
    expect(transfers).toEqual([
      [0, 'write', [0xd0]],
      [0, 'read', [0x60]],
      [0, 'write', [0xe0, 0xb6]],
      [2, 'write', [0xf3]],
      [2, 'read', [0x00]],
      [2, 'write', [0x88]],
      [2, 'read', expect.any(Array)],
      [2, 'write', [0xe1]],
      [2, 'read', expect.any(Array)],
      // config (filter off), then ctrl_hum (×1), then ctrl_meas (×1, ×1, forced) in one write
      [2, 'write', [0xf5, 0x00, 0xf2, 0x01, 0xf4, 0x25]],
      [12, 'write', [0xf3]], // after ceil(9.3) ms
      [12, 'read', expect.any(Array)],
    ]);
    expect(sensor.calibration).toEqual(DATASHEET_EXAMPLE_CALIBRATION);
    expect(clock.pendingTimers).toBe(0);
  });

  test.each([
    [1, 1, 1, 10],
    [2, 16, 1, 47], // 1.25 + 4.6 + 37.375 + 2.875 = 46.1
    [16, 16, 16, 113],
  ] as const)('osrs_t ×%i, osrs_p ×%i, osrs_h ×%i: the result is read %i ms after the measurement starts, once', async (t, p, h, waitMs) => {
    const { clock, bus, sensor } = modelBench({ temperature: 20, pressure: 100000, humidity: 40 });
    await clock.run(sensor.sample()); // initialisation out of the way
    const before = bus.transfers.length;
    sensor.configure({ oversampling: { temperature: t, pressure: p, humidity: h } });
    await clock.run(sensor.sample());
    const [start, ...rest] = bus.transfers.slice(before);
    const code = (factor: number) => Math.log2(factor) + 1; // §5.4.3/§5.4.5: ×1 → 001 … ×16 → 101
    expect(Array.from(start.bytes!)).toEqual([0xf5, 0x00, 0xf2, code(h), 0xf4, (code(t) << 5) | (code(p) << 2) | 0b01]);
    expect(rest.map((r) => r.atMs - start.atMs)).toEqual([waitMs, waitMs]); // pointer write, burst read
  });

  test('a chip slower than the datasheet: bounded re-reads while the measuring bit is set', async () => {
    // 3 ms late: the measurement runs from +3 to +12.3 ms, so the reads at +10 and +12 find it still measuring.
    const { clock, bus, sensor } = bench(new SlowChip(new BME280Model({ temperature: 22, pressure: 99000, humidity: 45 }), 3));
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(22, 2);
    const reads = bus.transfersTo(0x76, 'read').slice(-3);
    expect(reads.map((r) => (r.bytes![0] & 0x08) !== 0)).toEqual([true, true, false]);
    expect(reads.map((r) => r.atMs - reads[0].atMs)).toEqual([0, 2, 4]);
  });

  test('stuck busy: bounded re-reads, then SensorError timeout', async () => {
    const { clock, bus, model, sensor } = modelBench({ temperature: 20, pressure: 100000, humidity: 40 });
    await clock.run(sensor.sample());
    model.setFaults({ stuckBusy: true });
    const readsBefore = bus.transfersTo(0x76, 'read').length;
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/^BME280 at 0x76: measurement not finished 20 ms after it was started/);
    expect(bus.transfersTo(0x76, 'read').length - readsBefore).toBe(6);
    expect(clock.pendingTimers).toBe(0);
  });

  test('a BMP280 (chip id 0x58) is refused with SensorError id', async () => {
    const { clock, bus, sensor } = modelBench({ faults: { chipId: 0x58 } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('id');
    expect(error.message).toBe("BME280 at 0x76: chip id is 0x58, a BMP280 (pressure and temperature only), not the BME280's 0x60");
    expect(bus.transfersTo(0x76, 'write')).toHaveLength(1); // no reset sent to a chip we do not know
  });

  test('an unknown chip id is refused too', async () => {
    const { clock, sensor } = modelBench({ faults: { chipId: 0x61 } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('id');
    expect(error.message).toMatch(/chip id is 0x61, not/);
  });

  test('NACK fault: SensorError nack naming chip, address and what to check', async () => {
    const { clock, sensor } = modelBench({ faults: { nack: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('nack');
    expect(error.chip).toBe('BME280');
    expect(error.address).toBe(0x76);
    expect(error.message).toMatch(/^BME280 at 0x76: no acknowledge.*wiring.*SDO/);
  });

  test('the NVM copy never finishing after the reset: SensorError timeout', async () => {
    const { clock, sensor } = modelBench({ faults: { stuckNvmCopy: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/still copying calibration \(im_update\) 12 ms after the soft reset/);
  });

  test('a slow NVM copy is waited for', async () => {
    const { clock, bus, sensor } = modelBench({ nvmCopyMs: 3, temperature: 20 });
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(20, 2);
    const statusReads = bus.transfersTo(0x76, 'read').filter((r) => r.bytes?.length === 1).slice(1);
    expect(statusReads.map((r) => [r.atMs, r.bytes![0]])).toEqual([
      [2, 0x01],
      [4, 0x01],
      [6, 0x00],
    ]);
  });

  test('calibration that reads as zero is a bus problem, not a reading', async () => {
    const { clock, sensor } = modelBench({ calibration: { T1: 0 } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('bus');
  });

  test('after a failed start the next sample starts over', async () => {
    const { clock, model, sensor } = modelBench({ temperature: 30, faults: { nack: true } });
    expect((await sampleError(clock, sensor.sample())).code).toBe('nack');
    model.setFaults({ nack: false });
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(30, 2);
  });

  test('a chip that loses power between samples is simply set up again by the next sample', async () => {
    const { clock, model, sensor } = modelBench({ temperature: 30 });
    sensor.configure({ filter: 4, oversampling: { humidity: 8 } });
    await clock.run(sensor.sample());
    model.write(Uint8Array.of(0xe0, 0xb6), clock.now); // as good as a power cycle
    clock.advance(5);
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(30, 2);
  });

  test('works at 0x77, and the wrong address is a nack naming it', async () => {
    const { clock, sensor } = bench(new BME280Model({ address: 0x77, temperature: 5 }), 0x77);
    expect((await clock.run(sensor.sample())).thermometer.temperature).toBeCloseTo(5, 2);
    const wrong = bench(new BME280Model({ address: 0x77 }), 0x76);
    const error = await sampleError(wrong.clock, wrong.sensor.sample());
    expect(error.code).toBe('nack');
    expect(error.message).toMatch(/^BME280 at 0x76:/);
  });

  test('IIR filter: a temperature step comes through in steps of 1/coefficient (§3.4.4)', async () => {
    const { clock, model, sensor } = modelBench({ temperature: 20, pressure: 100000, humidity: 50 });
    sensor.configure({ filter: 4, oversampling: { temperature: 16 } });
    await clock.run(sensor.sample()); // initialises the filter at 20 °C
    model.setTemperature(28);
    const after: number[] = [];
    for (let i = 0; i < 3; i++) after.push((await clock.run(sensor.sample())).thermometer.temperature);
    // filtered = (old · 3 + new) / 4 on the raw code, which is nearly linear in °C
    expect(after[0]).toBeCloseTo(22, 1);
    expect(after[1]).toBeCloseTo(23.5, 1);
    expect(after[2]).toBeCloseTo(24.625, 1);
  });

  test('IIR filter on noisy pressure: less scatter than without', async () => {
    async function spread(filter: 0 | 16): Promise<number> {
      const { clock, sensor } = modelBench({ temperature: 20, pressure: 100000, humidity: 50, noise: { pressure: 5, seed: 3 } });
      sensor.configure({ filter, oversampling: { pressure: 16 } });
      const values: number[] = [];
      for (let i = 0; i < 60; i++) values.push((await clock.run(sensor.sample())).barometer.pressure);
      const tail = values.slice(20);
      const mean = tail.reduce((s, v) => s + v, 0) / tail.length;
      return Math.sqrt(tail.reduce((s, v) => s + (v - mean) ** 2, 0) / tail.length);
    }
    const unfiltered = await spread(0);
    const filtered = await spread(16);
    expect(unfiltered).toBeGreaterThan(3);
    expect(filtered).toBeLessThan(unfiltered / 3);
  });

  test('model noise with a seed: identical readings for the same seed, different for another', async () => {
    async function readings(seed: number): Promise<number[]> {
      const { clock, sensor } = modelBench({ temperature: 21, pressure: 100000, humidity: 50, noise: { temperature: 0.1, pressure: 3, humidity: 0.5, seed } });
      const values: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await clock.run(sensor.sample());
        values.push(r.thermometer.temperature, r.barometer.pressure, r.hygrometer.humidity);
      }
      return values;
    }
    const first = await readings(42);
    expect(await readings(42)).toEqual(first);
    expect(await readings(43)).not.toEqual(first);
  });

  test('the model default day: warmer at 15:00 than at 03:00, pressure tide high at 10:00 and low at 16:00', async () => {
    const { clock, sensor } = modelBench({});
    clock.advance(3 * 3_600_000);
    const night = await clock.run(sensor.sample());
    clock.advance(7 * 3_600_000);
    const morning = await clock.run(sensor.sample());
    clock.advance(5 * 3_600_000);
    const afternoon = await clock.run(sensor.sample());
    clock.advance(1 * 3_600_000);
    const evening = await clock.run(sensor.sample());
    expect(night.thermometer.temperature).toBeCloseTo(17, 1);
    expect(afternoon.thermometer.temperature).toBeCloseTo(25, 1);
    expect(night.hygrometer.humidity).toBeCloseTo(62, 1);
    expect(morning.barometer.pressure).toBeCloseTo(101405, -1);
    expect(evening.barometer.pressure).toBeCloseTo(101245, -1);
  });

  test('a second sample while one is in flight rejects with busy; the first completes', async () => {
    const { clock, sensor } = modelBench({ temperature: 22 });
    const first = sensor.sample();
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('busy');
    expect((await clock.run(first)).thermometer.temperature).toBeCloseTo(22, 2);
  });

  test('configure validates its options', () => {
    const { sensor } = modelBench({});
    expect(() => sensor.configure({ oversampling: { temperature: 3 as never } })).toThrow(RangeError);
    expect(() => sensor.configure({ oversampling: { humidity: 0 as never } })).toThrow(RangeError);
    expect(() => sensor.configure({ filter: 1 as never })).toThrow(RangeError);
    expect(() => sensor.configure({ compensation: 'fixed' as never })).toThrow(RangeError);
  });

  test('the constructor refuses addresses a BME280 cannot have', () => {
    const clock = new ManualClock();
    expect(() => new BME280({ i2c: new SimI2CBus(clock), timers: clock, address: 0x44 })).toThrow(RangeError);
  });

  test('close during a sample rejects it with closed and cancels its timer', async () => {
    const { clock, sensor } = modelBench({});
    const pending = sensor.sample();
    sensor.close();
    const error = await sampleError(clock, pending);
    expect(error.code).toBe('closed');
    expect(clock.pendingTimers).toBe(0);
    expect((await sampleError(clock, sensor.sample())).code).toBe('closed');
    expect(() => sensor.configure({ filter: 2 })).toThrow(expect.objectContaining({ code: 'closed' }));
    sensor.close();
  });
});
