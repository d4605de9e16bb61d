/**
 * INA219 driver against the INA219 chip model, over the test bench bus and virtual clock.
 * Known answers come from the datasheet (SBOS448G): the §8.5.1 calibration equations worked
 * by hand, and the worked example of §9.2.2.1 (10 A through 2 mΩ at 12 V; SBOS448F Table 3).
 */
import fc from 'fast-check';
import { calibrate } from '../../firmware/drivers/ina219/calibration';
import { INA219 } from '../../firmware/drivers/ina219/ina219';
import type { AdcSetting, ShuntVoltageRange } from '../../firmware/drivers/ina219/ina219';
import { encodeConfiguration } from '../../firmware/drivers/ina219/registers';
import type { I2CTarget } from '../../host-sim/chips/i2c-target';
import { INA219Model, POINTER } from '../../host-sim/chips/ina219/model';
import type { INA219ModelOptions } from '../../host-sim/chips/ina219/model';
import { sampleError } from './support/errors';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

function bench(model: I2CTarget = new INA219Model(), address = 0x40) {
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const sensor = new INA219({ i2c: bus, timers: clock, address });
  return { clock, bus, sensor };
}

function modelBench(options: INA219ModelOptions = {}) {
  const model = new INA219Model(options);
  return { model, ...bench(model, model.address) };
}

/** Register writes as the bus saw them: [pointer, value] and when. */
function registerWrites(bus: SimI2CBus, address = 0x40): { atMs: number; pointer: number; value: number }[] {
  return bus
    .transfersTo(address, 'write')
    .filter((t) => t.bytes!.length === 3)
    .map((t) => ({ atMs: t.atMs, pointer: t.bytes![0], value: (t.bytes![1] << 8) | t.bytes![2] }));
}

/** Reads as the bus saw them, with the pointer written just before each. */
function registerReads(bus: SimI2CBus, address = 0x40): { atMs: number; pointer: number; acknowledged: boolean }[] {
  const transfers = bus.transfersTo(address);
  const out: { atMs: number; pointer: number; acknowledged: boolean }[] = [];
  transfers.forEach((t, i) => {
    if (t.kind === 'read' && i > 0) out.push({ atMs: t.atMs, pointer: transfers[i - 1].bytes![0], acknowledged: t.acknowledged });
  });
  return out;
}

/** A target that answers only the configuration register, with a fixed value: another chip at 0x40. */
class OtherChip implements I2CTarget {
  readonly address = 0x40;
  #pointer = 0;
  constructor(readonly configuration: number) {}
  write(bytes: Uint8Array): boolean {
    if (bytes.length > 0) this.#pointer = bytes[0];
    return true;
  }
  read(count: number): Uint8Array | null {
    const word = this.#pointer === 0 ? this.configuration : 0;
    return new Uint8Array([word >> 8, word & 0xff, 0, 0].slice(0, count));
  }
}

describe('calibration (§8.5.1, Eq. 1–3), worked by hand', () => {
  test('the datasheet example: 2 mΩ, Current_LSB 1 mA → Cal = trunc(0.04096 / (0.001 × 0.002)) = 20480, Power_LSB 20 mW', () => {
    const c = calibrate(0.002, 10, 0.001);
    expect(c.calibration).toBe(20480);
    expect(c.currentLsb).toBe(0.001);
    expect(c.effectiveCurrentLsb).toBeCloseTo(0.001, 15);
    expect(c.powerLsb).toBeCloseTo(0.02, 15);
  });

  test('0.1 Ω, up to 2 A, Current_LSB rounded up to 100 µA: Cal = 4096, Power_LSB = 2 mW', () => {
    // Eq. 2: the minimum LSB would be 2 / 32768 = 61.04 µA; 100 µA is the round value above it.
    const c = calibrate(0.1, 2, 100e-6);
    expect(c.calibration).toBe(4096);
    expect(c.effectiveCurrentLsb).toBeCloseTo(100e-6, 15);
    expect(c.powerLsb).toBeCloseTo(0.002, 15);
  });

  test('0.1 Ω, up to 2 A, minimum LSB (Eq. 2): 61.035 µA → Cal = trunc(6710.886) = 6710', () => {
    const c = calibrate(0.1, 2);
    expect(c.currentLsb).toBeCloseTo(2 / 32768, 15);
    expect(c.calibration).toBe(6710);
    expect(c.effectiveCurrentLsb).toBeCloseTo(0.04096 / (6710 * 0.1), 15); // 61.043 µA: a hair more, because of trunc
    expect(c.powerLsb).toBeCloseTo(20 * c.effectiveCurrentLsb, 15);
  });

  test('Cal bit 0 is void: an odd result is rounded down to even, and the effective LSB follows', () => {
    const c = calibrate(0.1, 3.2); // 0.04096 / (3.2 / 32768 × 0.1) = 4194.304 → 4194
    expect(c.calibration).toBe(4194);
    const odd = calibrate(0.1, 1, 0.04096 / (4195 * 0.1)); // exactly 4195 → 4194
    expect(odd.calibration).toBe(4194);
    expect(odd.effectiveCurrentLsb).toBeCloseTo(0.04096 / 419.4, 15);
  });

  test('a minimum LSB that would need Cal > 0xFFFE is raised to fit the register', () => {
    const c = calibrate(0.002, 10); // 10 / 32768 = 305 µA would need Cal 67108
    expect(c.calibration).toBe(0xfffe);
    expect(c.effectiveCurrentLsb).toBeCloseTo(0.04096 / (0xfffe * 0.002), 15);
  });

  test('impossible requests are RangeErrors', () => {
    expect(() => calibrate(0, 1)).toThrow(RangeError);
    expect(() => calibrate(0.1, -1)).toThrow(RangeError);
    expect(() => calibrate(0.1, 2, 10e-6)).toThrow(/below the minimum/);
    expect(() => calibrate(0.1, 2, 1)).toThrow(/calibration would be 0/);
  });

  test('configuration encoding: 16 V, /1, 12-bit, continuous is the datasheet\'s 019Fh; power-on is 399Fh', () => {
    const fields = { busAdc: 'bits12' as const, shuntAdc: 'bits12' as const, mode: 0b111 };
    expect(encodeConfiguration({ ...fields, busVoltageRange: 16, shuntVoltageRange: 40 })).toBe(0x019f);
    expect(encodeConfiguration({ ...fields, busVoltageRange: 32, shuntVoltageRange: 320 })).toBe(0x399f);
    expect(
      encodeConfiguration({ busVoltageRange: 32, shuntVoltageRange: 80, busAdc: 'bits9', shuntAdc: 'average128', mode: 0b011 }),
    ).toBe(0x2000 | (1 << 11) | (0 << 7) | (0b1111 << 3) | 0b011);
  });
});

describe('INA219 driver', () => {
  test('the datasheet example end to end: 11.98 V, 20 mV, 10.0 A, 119.8 W', async () => {
    const { clock, sensor, model } = modelBench({ busVoltage: 11.98, current: 10, shuntOhms: 0.002 });
    sensor.configure({ shuntOhms: 0.002, maxCurrent: 10, currentLsb: 0.001, busVoltageRange: 16 });
    const reading = await clock.run(sensor.sample());
    expect(model.register(POINTER.CALIBRATION)).toBe(0x5000);
    expect(model.register(POINTER.CONFIGURATION)).toBe(0x019b); // the example's 019Fh, triggered instead of continuous
    expect(reading.voltmeter.voltage).toBeCloseTo(11.98, 12);
    expect(reading.ammeter.shuntVoltage).toBeCloseTo(0.02, 12);
    expect(reading.ammeter.current).toBeCloseTo(10.0, 12);
    expect(reading.wattmeter.power).toBeCloseTo(119.8, 12);
    expect(reading.overflow).toBe(false);
  });

  test('defaults (0.1 Ω, 32 V, ±320 mV, 3.2 A): the power-on configuration with a triggered mode', async () => {
    const { clock, sensor, model } = modelBench({ busVoltage: 5, current: 0.5 });
    expect(sensor.calibration.calibration).toBe(4194);
    const reading = await clock.run(sensor.sample());
    expect(model.register(POINTER.CONFIGURATION)).toBe(0x399b);
    expect(reading.voltmeter.voltage).toBeCloseTo(5, 12);
    expect(reading.ammeter.current).toBeCloseTo(0.5, 3);
    expect(reading.wattmeter.power).toBeCloseTo(2.5, 2);
  });

  test('first sample: reset, identify, calibrate, trigger, wait the maximum conversion time, read', async () => {
    const { clock, bus, sensor } = modelBench();
    await clock.run(sensor.sample());
    expect(registerWrites(bus)).toEqual([
      { atMs: 0, pointer: POINTER.CONFIGURATION, value: 0x8000 },
      { atMs: 0, pointer: POINTER.CALIBRATION, value: 4194 },
      { atMs: 0, pointer: POINTER.CONFIGURATION, value: 0x399b },
    ]);
    expect(registerReads(bus)).toEqual([
      { atMs: 0, pointer: POINTER.CONFIGURATION, acknowledged: true }, // 0x399F: an INA219
      { atMs: 2, pointer: POINTER.BUS_VOLTAGE, acknowledged: true }, // ceil(2 × 586 µs) = 2 ms: CNVR set
      { atMs: 2, pointer: POINTER.SHUNT_VOLTAGE, acknowledged: true },
      { atMs: 2, pointer: POINTER.CURRENT, acknowledged: true },
      { atMs: 2, pointer: POINTER.POWER, acknowledged: true },
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  test('later samples: trigger and read only', async () => {
    const { clock, bus, sensor } = modelBench();
    await clock.run(sensor.sample());
    const before = registerWrites(bus).length;
    await clock.run(sensor.sample());
    expect(registerWrites(bus).slice(before).map((w) => w.pointer)).toEqual([POINTER.CONFIGURATION]);
  });

  test.each([
    ['bits9', 'bits9', 1], // 2 × 93 µs
    ['bits12', 'bits12', 2], // 2 × 586 µs
    ['average16', 'bits12', 10], // 16 × 586 + 586 µs = 9.962 ms
    ['average128', 'average128', 151], // 2 × 128 × 586 µs = 150.016 ms
  ] as const)('shunt %s, bus %s: waits %i ms, and the first CNVR poll finds the conversion done', async (shuntAdc, busAdc, ms) => {
    const { clock, bus, sensor } = modelBench();
    sensor.configure({ shuntAdc, busAdc });
    await clock.run(sensor.sample());
    const polls = registerReads(bus).filter((r) => r.pointer === POINTER.BUS_VOLTAGE);
    expect(polls.map((r) => r.atMs)).toEqual([ms]);
  });

  test('reads back what the model is set to, within the chip\'s resolution, for any values and ranges', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0.001, 0.01, 0.1, 0.5),
        fc.constantFrom<ShuntVoltageRange>(40, 80, 160, 320),
        fc.constantFrom<16 | 32>(16, 32),
        fc.double({ min: -0.999, max: 0.999, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom<AdcSetting>('bits9', 'bits12', 'average8'),
        async (shuntOhms, shuntVoltageRange, busVoltageRange, currentShare, busShare, adc) => {
          const maxCurrent = shuntVoltageRange / 1000 / shuntOhms;
          const current = currentShare * maxCurrent;
          const busVoltage = busShare * (busVoltageRange === 16 ? 16 : 26); // never more than 26 V (§7.5 note)
          const { clock, sensor } = modelBench({ busVoltage, current, shuntOhms });
          sensor.configure({ shuntOhms, shuntVoltageRange, busVoltageRange, maxCurrent, shuntAdc: adc, busAdc: adc });
          const reading = await clock.run(sensor.sample());
          const { effectiveCurrentLsb, powerLsb } = sensor.calibration;
          expect(reading.overflow).toBe(false);
          // Bus: 4 mV steps, rounded. Shunt: 10 µV steps, rounded.
          expect(Math.abs(reading.voltmeter.voltage - busVoltage)).toBeLessThanOrEqual(0.002 + 1e-9);
          expect(Math.abs(reading.ammeter.shuntVoltage - current * shuntOhms)).toBeLessThanOrEqual(5e-6 + 1e-12);
          // Current: the shunt's half step, plus one count lost to truncation in Eq. 4.
          const currentTolerance = 5e-6 / shuntOhms + effectiveCurrentLsb + 1e-12;
          expect(Math.abs(reading.ammeter.current - current)).toBeLessThanOrEqual(currentTolerance);
          // Power (unsigned): from the truncated current and the rounded bus voltage, then truncated itself.
          const powerTolerance = currentTolerance * busVoltage + Math.abs(current) * 0.002 + powerLsb + 1e-9;
          expect(Math.abs(reading.wattmeter.power - Math.abs(current) * busVoltage)).toBeLessThanOrEqual(powerTolerance);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('current flowing back reads negative; power stays positive, as the chip reports it', async () => {
    const { clock, sensor } = modelBench({ busVoltage: 12, current: -1.5 });
    const reading = await clock.run(sensor.sample());
    expect(reading.ammeter.current).toBeCloseTo(-1.5, 3);
    expect(reading.ammeter.shuntVoltage).toBeCloseTo(-0.15, 12);
    expect(reading.wattmeter.power).toBeCloseTo(18, 1);
  });

  test('the chip\'s overflow flag is a flagged reading: current and power NaN, voltages kept', async () => {
    const { clock, sensor } = modelBench({ busVoltage: 12, current: 1, faults: { overflow: true } });
    const reading = await clock.run(sensor.sample());
    expect(reading.overflow).toBe(true);
    expect(reading.ammeter.current).toBeNaN();
    expect(reading.wattmeter.power).toBeNaN();
    expect(reading.voltmeter.voltage).toBeCloseTo(12, 12);
    expect(reading.ammeter.shuntVoltage).toBeCloseTo(0.1, 12);
  });

  test('a current beyond the shunt range clips the ADC: flagged as overflow too', async () => {
    const { clock, sensor } = modelBench({ busVoltage: 5, current: 0.5 });
    sensor.configure({ shuntVoltageRange: 40, maxCurrent: 0.4 }); // ±40 mV = ±0.4 A at 0.1 Ω; 0.5 A is 50 mV
    const reading = await clock.run(sensor.sample());
    expect(reading.overflow).toBe(true);
    expect(reading.ammeter.shuntVoltage).toBeCloseTo(0.04, 12); // clipped at full scale
    expect(reading.ammeter.current).toBeNaN();
  });

  test('and once the current is back in range the reading is clean again', async () => {
    const { clock, sensor, model } = modelBench({ busVoltage: 5, current: 0.5 });
    sensor.configure({ shuntVoltageRange: 40, maxCurrent: 0.4 });
    expect((await clock.run(sensor.sample())).overflow).toBe(true);
    model.setCurrent(0.3);
    const reading = await clock.run(sensor.sample());
    expect(reading.overflow).toBe(false);
    expect(reading.ammeter.current).toBeCloseTo(0.3, 4);
  });

  test('configure picks the smallest PGA range that holds maxCurrent × shuntOhms', async () => {
    const { clock, sensor, model } = modelBench({ shuntOhms: 0.01, current: 2 });
    sensor.configure({ shuntOhms: 0.01, maxCurrent: 5 }); // 50 mV → ±80 mV, PGA /2
    const reading = await clock.run(sensor.sample());
    expect((model.register(POINTER.CONFIGURATION) >> 11) & 3).toBe(1);
    expect(reading.ammeter.current).toBeCloseTo(2, 3);
  });

  test('a new calibration after the first sample is written at once and used from then on', async () => {
    const { clock, bus, sensor, model } = modelBench({ current: 1 });
    await clock.run(sensor.sample());
    sensor.configure({ maxCurrent: 2, currentLsb: 100e-6 });
    expect(model.register(POINTER.CALIBRATION)).toBe(4096);
    expect(registerWrites(bus).filter((w) => w.pointer === POINTER.CALIBRATION).map((w) => w.value)).toEqual([4194, 4096]);
    const reading = await clock.run(sensor.sample());
    expect(reading.ammeter.current).toBeCloseTo(1, 12); // 10000 counts × 100 µA exactly
  });

  test('configure validates its options', () => {
    const { sensor } = modelBench();
    expect(() => sensor.configure({ shuntOhms: -1 })).toThrow(RangeError);
    expect(() => sensor.configure({ busVoltageRange: 24 as 32 })).toThrow(RangeError);
    expect(() => sensor.configure({ shuntVoltageRange: 100 as 80 })).toThrow(RangeError);
    expect(() => sensor.configure({ busAdc: 'bits13' as AdcSetting })).toThrow(RangeError);
    expect(() => sensor.configure({ shuntAdc: 'toString' as AdcSetting })).toThrow(RangeError);
    expect(() => sensor.configure({ maxCurrent: 4 })).toThrow(/beyond the ±320 mV shunt range/); // 400 mV at 0.1 Ω
    expect(sensor.calibration.calibration).toBe(4194); // nothing changed by the refused calls
    // Without an explicit maxCurrent the range sets it: ±40 mV at 0.1 Ω is 0.4 A, Cal = trunc(33554.432).
    sensor.configure({ shuntVoltageRange: 40 });
    expect(sensor.calibration.calibration).toBe(33554);
    expect(() => sensor.configure({ maxCurrent: 1 })).toThrow(/100 mV, beyond the ±40 mV shunt range/);
  });

  test('NACK fault: SensorError nack naming chip, address, and the address pins', async () => {
    const { clock, sensor } = modelBench({ faults: { nack: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('nack');
    expect(error.chip).toBe('INA219');
    expect(error.message).toMatch(/^INA219 at 0x40: no acknowledge.*wiring.*A0\/A1/);
  });

  test('the wrong address is a nack naming the address the driver used', async () => {
    const { clock, sensor } = bench(new INA219Model({ address: 0x40 }), 0x41);
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('nack');
    expect(error.message).toMatch(/^INA219 at 0x41:/);
  });

  test('works at 0x4F when the chip is there', async () => {
    const { clock, sensor } = modelBench({ address: 0x4f, busVoltage: 3.3 });
    const reading = await clock.run(sensor.sample());
    expect(reading.voltmeter.voltage).toBeCloseTo(3.3, 12);
  });

  test('stuck busy: bounded CNVR polls, then SensorError timeout', async () => {
    const { clock, bus, sensor } = modelBench({ faults: { stuckBusy: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('INA219 at 0x40: conversion not ready 7 ms after it was triggered (CNVR never set)');
    expect(registerReads(bus).filter((r) => r.pointer === POINTER.BUS_VOLTAGE).map((r) => r.atMs)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(clock.pendingTimers).toBe(0);
  });

  test('not an INA219: a chip whose configuration after reset is not 0x399F (an INA226: 0x4127) is SensorError id', async () => {
    const { clock, bus, sensor } = bench(new OtherChip(0x4127));
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('id');
    expect(error.message).toMatch(/^INA219 at 0x40: configuration reads 0x4127 after reset, not 0x399f/);
    expect(registerWrites(bus).map((w) => w.pointer)).toEqual([POINTER.CONFIGURATION]); // the reset only
  });

  test('a chip that lost its calibration (power cycle) is set up again after a failed sample', async () => {
    const { clock, sensor, model } = modelBench({ current: 1 });
    await clock.run(sensor.sample());
    model.setFaults({ nack: true });
    expect((await sampleError(clock, sensor.sample())).code).toBe('nack');
    model.setFaults({ nack: false });
    const reading = await clock.run(sensor.sample());
    expect(reading.ammeter.current).toBeCloseTo(1, 3);
  });

  test('a second sample while one is in flight rejects with busy; the first completes', async () => {
    const { clock, sensor } = modelBench({ current: 1 });
    const first = sensor.sample();
    expect((await sampleError(clock, sensor.sample())).code).toBe('busy');
    expect(() => sensor.configure({ maxCurrent: 1 })).toThrow(expect.objectContaining({ code: 'busy' }));
    const reading = await clock.run(first);
    expect(reading.ammeter.current).toBeCloseTo(1, 3);
  });

  test('the constructor refuses addresses an INA219 cannot have', () => {
    const clock = new ManualClock();
    expect(() => new INA219({ i2c: new SimI2CBus(clock), timers: clock, address: 0x3f })).toThrow(RangeError);
    expect(() => new INA219({ i2c: new SimI2CBus(clock), timers: clock, address: 0x50 })).toThrow(RangeError);
  });

  test('close during a conversion rejects the sample with closed, cancels its timer, powers the chip down', async () => {
    const { clock, sensor, model } = modelBench();
    const pending = sensor.sample();
    sensor.close();
    expect((await sampleError(clock, pending)).code).toBe('closed');
    expect(clock.pendingTimers).toBe(0);
    expect(model.register(POINTER.CONFIGURATION) & 0b111).toBe(0b000); // power-down
    expect((await sampleError(clock, sensor.sample())).code).toBe('closed');
    expect(() => sensor.configure({})).toThrow(expect.objectContaining({ code: 'closed' }));
    sensor.close(); // twice is harmless
  });

  test('close does not throw when the chip has gone', async () => {
    const { clock, sensor, model } = modelBench();
    await clock.run(sensor.sample());
    model.setFaults({ nack: true });
    expect(() => sensor.close()).not.toThrow();
  });

  test('model noise with a seed: identical readings for the same seed, different for another', async () => {
    async function readings(seed: number): Promise<number[]> {
      const { clock, sensor } = modelBench({ current: 1, busVoltage: 12, noise: { current: 0.01, busVoltage: 0.05, seed } });
      const values: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await clock.run(sensor.sample());
        values.push(r.ammeter.current, r.voltmeter.voltage);
      }
      return values;
    }
    const first = await readings(42);
    expect(await readings(42)).toEqual(first);
    expect(await readings(43)).not.toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(10);
  });
});
