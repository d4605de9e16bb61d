/**
 * ADS1115 driver against the ADS1115 chip model, over the test bench bus and virtual clock.
 * Known answers come from the datasheet (SBAS444D): the config register's power-up value
 * (§9.6.3), the ideal output codes (§9.5.4) and the LSB sizes (§9.3.3 Table 3).
 */
import fc from 'fast-check';
import { ADS1115 } from '../../firmware/drivers/ads1115/ads1115';
import type { ADS1115Input, DataRate, FullScale } from '../../firmware/drivers/ads1115/ads1115';
import { isClipped, signedWord, voltsFromRaw } from '../../firmware/drivers/ads1115/conversion';
import { conversionWaitMs, singleShotConfig } from '../../firmware/drivers/ads1115/registers';
import type { I2CTarget } from '../../host-sim/chips/i2c-target';
import { ADS1115Model } from '../../host-sim/chips/ads1115/model';
import type { ADS1115ModelOptions } from '../../host-sim/chips/ads1115/model';
import { sampleError } from './support/errors';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

const INPUTS: ADS1115Input[] = ['ain0-ain1', 'ain0-ain3', 'ain1-ain3', 'ain2-ain3', 'ain0', 'ain1', 'ain2', 'ain3'];
const FULL_SCALES: FullScale[] = [6.144, 4.096, 2.048, 1.024, 0.512, 0.256];
const RATES: DataRate[] = [8, 16, 32, 64, 128, 250, 475, 860];

function bench(model: I2CTarget = new ADS1115Model({ inputs: { ain0: 1, ain1: 0.5, ain2: 0.25, ain3: 0 } }), address = 0x48) {
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const adc = new ADS1115({ i2c: bus, timers: clock, address });
  return { clock, bus, adc };
}

function modelBench(options: ADS1115ModelOptions) {
  const model = new ADS1115Model(options);
  return { model, ...bench(model) };
}

/** The voltage an input pair sees, from the four input voltages. */
function difference(input: ADS1115Input, volts: number[]): number {
  const [p, n] = input.split('-').map((name) => volts[Number(name.slice(3))]);
  return p - (n ?? 0);
}

describe('datasheet known answers', () => {
  test('the single-shot config for AIN0−AIN1, ±2.048 V, 128 SPS is the power-up value 0x8583 (§9.6.3)', () => {
    // OS 1, MUX 000, PGA 010, MODE 1, DR 100, COMP_MODE 0, COMP_POL 0, COMP_LAT 0, COMP_QUE 11
    expect(singleShotConfig('ain0-ain1', 2.048, 128)).toBe(0x8583);
  });

  test('single-ended AIN0, ±4.096 V, 128 SPS: 0xC383; AIN3, ±0.256 V, 860 SPS: 0xFBE3', () => {
    expect(singleShotConfig('ain0', 4.096, 128)).toBe(0b1_100_001_1_100_0_0_0_11);
    expect(singleShotConfig('ain0', 4.096, 128)).toBe(0xc383);
    expect(singleShotConfig('ain3', 0.256, 860)).toBe(0b1_111_101_1_111_0_0_0_11);
  });

  test('§9.5.4 ideal output codes: 7FFFh = +FS·(2^15−1)/2^15, 0001h = +FS/2^15, FFFFh = −FS/2^15, 8000h = −FS', () => {
    expect(voltsFromRaw(signedWord(0x7f, 0xff), 2.048)).toBeCloseTo((2.048 * 32767) / 32768, 12);
    expect(voltsFromRaw(signedWord(0x00, 0x01), 2.048)).toBeCloseTo(62.5e-6, 12);
    expect(voltsFromRaw(signedWord(0x00, 0x00), 2.048)).toBe(0);
    expect(voltsFromRaw(signedWord(0xff, 0xff), 2.048)).toBeCloseTo(-62.5e-6, 12);
    expect(voltsFromRaw(signedWord(0x80, 0x00), 2.048)).toBe(-2.048);
    expect([isClipped(32767), isClipped(-32768), isClipped(32766), isClipped(0)]).toEqual([true, true, false, false]);
  });

  test('§9.3.3 Table 3 LSB sizes: 187.5, 125, 62.5, 31.25, 15.625, 7.8125 µV', () => {
    expect(FULL_SCALES.map((fs) => voltsFromRaw(1, fs) * 1e6)).toEqual([187.5, 125, 62.5, 31.25, 15.625, 7.8125]);
  });

  test('conversion wait: one period at 10% below the nominal rate (§7.5), plus 25 µs power-up, whole ms', () => {
    expect(RATES.map(conversionWaitMs)).toEqual([139, 70, 35, 18, 9, 5, 3, 2]);
  });
});

describe('ADS1115 driver', () => {
  test('reads what the model’s inputs are, within half an LSB, for any input pair, range and rate', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.double({ min: 0, max: 3.3, noNaN: true }), { minLength: 4, maxLength: 4 }),
        fc.constantFrom(...INPUTS),
        fc.constantFrom(...FULL_SCALES),
        fc.constantFrom(...RATES),
        async (volts, input, fullScale, rate) => {
          const { clock, adc } = modelBench({ inputs: { ain0: volts[0], ain1: volts[1], ain2: volts[2], ain3: volts[3] } });
          adc.configure({ input, fullScale, rate });
          const reading = await clock.run(adc.sample());
          const expected = difference(input, volts);
          const lsb = fullScale / 32768;
          if (expected >= fullScale - lsb / 2 || expected <= -fullScale) {
            expect(reading.clipped).toBe(true);
            expect(Math.abs(reading.voltage)).toBeCloseTo(expected > 0 ? fullScale - lsb : fullScale, 9);
          } else if (expected < fullScale - lsb) {
            expect(Math.abs(reading.voltage - expected)).toBeLessThanOrEqual(lsb / 2 + 1e-12);
            expect(reading.raw).toBe(Math.round(reading.voltage / lsb));
          }
          expect(reading.readings).toEqual([{ input, voltage: reading.voltage, raw: reading.raw, clipped: reading.clipped }]);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('one conversion: config write, a wait of one slow period, OS check, conversion read', async () => {
    const { clock, bus, adc } = modelBench({ inputs: { ain0: 1.0 } });
    const reading = await clock.run(adc.sample());
    expect(reading.voltage).toBeCloseTo(1.0, 4);
    expect(reading.raw).toBe(8000); // 1.0 V / 125 µV
    expect(bus.transfersTo(0x48).map((t) => [t.atMs, t.kind, Array.from(t.bytes ?? [])])).toEqual([
      [0, 'write', [0x01, 0xc3, 0x83]],
      [9, 'write', [0x01]],
      [9, 'read', [0xc3, 0x83]], // OS = 1: done; the rest reads back as written
      [9, 'write', [0x00]],
      [9, 'read', [0x1f, 0x40]], // 8000
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  test.each(RATES.map((rate) => [rate, conversionWaitMs(rate)]))('%i SPS: the conversion is read after %i ms, first time', async (rate, waitMs) => {
    const { clock, bus, adc } = modelBench({ inputs: { ain0: 0.5 } });
    adc.configure({ rate: rate as DataRate });
    await clock.run(adc.sample());
    const reads = bus.transfersTo(0x48, 'read');
    expect(reads.map((r) => r.atMs)).toEqual([waitMs, waitMs]);
  });

  test('a chip slower than the datasheet allows: OS is polled again until it reads 1', async () => {
    // 15% slow: 1000 / (128 · 0.85) + 0.025 = 9.22 ms, just past the 9 ms wait
    const { clock, bus, adc } = modelBench({ inputs: { ain0: 2.0 }, dataRateError: -0.15 });
    const reading = await clock.run(adc.sample());
    expect(reading.voltage).toBeCloseTo(2.0, 4);
    const configReads = bus.transfersTo(0x48, 'read').slice(0, -1);
    expect(configReads.map((r) => [r.atMs, r.bytes![0] >> 7])).toEqual([
      [9, 0],
      [10, 1],
    ]);
  });

  test('several inputs: converted in order, one config each, readings in that order', async () => {
    const { clock, bus, adc } = modelBench({ inputs: { ain0: 3.0, ain1: 1.0, ain2: 0.5, ain3: 0.25 } });
    adc.configure({ inputs: ['ain0-ain1', 'ain2', 'ain3', 'ain2-ain3'], fullScale: 4.096, rate: 860 });
    const sample = await clock.run(adc.sample());
    expect(sample.readings.map((r) => [r.input, Number(r.voltage.toFixed(3))])).toEqual([
      ['ain0-ain1', 2.0],
      ['ain2', 0.5],
      ['ain3', 0.25],
      ['ain2-ain3', 0.25],
    ]);
    expect(sample.voltage).toBe(sample.readings[0].voltage);
    const configWrites = bus.transfersTo(0x48, 'write').filter((w) => w.bytes!.length === 3);
    expect(configWrites.map((w) => (w.bytes![1] >> 4) & 0b111)).toEqual([0b000, 0b110, 0b111, 0b011]);
    expect(configWrites.map((w) => w.atMs)).toEqual([0, 2, 4, 6]);
  });

  test('an input beyond the range clips, and the reading says so', async () => {
    const { clock, adc, model } = modelBench({ inputs: { ain0: 3.0, ain1: 0 } });
    adc.configure({ input: 'ain0', fullScale: 2.048 });
    let reading = await clock.run(adc.sample());
    expect(reading).toMatchObject({ raw: 32767, clipped: true });
    expect(reading.voltage).toBeCloseTo(2.048, 3);
    model.setInput('ain1', 3.0);
    adc.configure({ input: 'ain0-ain1' });
    model.setInput('ain0', 0);
    reading = await clock.run(adc.sample());
    expect(reading).toMatchObject({ raw: -32768, voltage: -2.048, clipped: true });
  });

  test('saturated-input fault: full-scale codes, reported as clipped readings, not errors', async () => {
    const { clock, adc, model } = modelBench({ faults: { saturate: 'positive' } });
    let reading = await clock.run(adc.sample());
    expect(reading).toMatchObject({ raw: 32767, clipped: true });
    expect(reading.voltage).toBeCloseTo((4.096 * 32767) / 32768, 12);
    model.setFaults({ saturate: 'negative' });
    reading = await clock.run(adc.sample());
    expect(reading).toMatchObject({ raw: -32768, voltage: -4.096, clipped: true });
  });

  test('stuck busy: bounded OS polls, then SensorError timeout', async () => {
    const { clock, bus, adc } = modelBench({ faults: { stuckBusy: true } });
    const error = await sampleError(clock, adc.sample());
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('ADS1115 at 0x48: conversion not finished 13 ms after it was started (OS still 0)');
    expect(bus.transfersTo(0x48, 'read')).toHaveLength(5);
    expect(clock.pendingTimers).toBe(0);
  });

  test('a different chip at the address (config does not read back): SensorError id', async () => {
    const { clock, adc } = modelBench({ faults: { wrongChip: true } });
    const error = await sampleError(clock, adc.sample());
    expect(error.code).toBe('id');
    expect(error.message).toBe('ADS1115 at 0x48: config reads 0x0000 after 0xc383 was written; is this an ADS1115?');
  });

  test('NACK fault: SensorError nack naming chip, address and the ADDR pin', async () => {
    const { clock, adc } = modelBench({ faults: { nack: true } });
    const error = await sampleError(clock, adc.sample());
    expect(error.code).toBe('nack');
    expect(error.chip).toBe('ADS1115');
    expect(error.message).toMatch(/^ADS1115 at 0x48: no acknowledge.*wiring.*ADDR pin/);
  });

  test('works at 0x4b; the wrong address is a nack naming the address used', async () => {
    const { clock, adc } = bench(new ADS1115Model({ address: 0x4b, inputs: { ain0: 0.75 } }), 0x4b);
    expect((await clock.run(adc.sample())).voltage).toBeCloseTo(0.75, 4);
    const wrong = bench(new ADS1115Model({ address: 0x4b }), 0x49);
    const error = await sampleError(wrong.clock, wrong.adc.sample());
    expect(error.code).toBe('nack');
    expect(error.message).toMatch(/^ADS1115 at 0x49:/);
  });

  test('the model’s default inputs: daylight on AIN0, 1.65 V on AIN1, ground on AIN3', async () => {
    const { clock, adc } = modelBench({});
    adc.configure({ inputs: ['ain0', 'ain1', 'ain3'] });
    const night = await clock.run(adc.sample());
    clock.advance(12 * 3_600_000);
    const noon = await clock.run(adc.sample());
    expect(night.readings.map((r) => Number(r.voltage.toFixed(3)))).toEqual([0.2, 1.65, 0]);
    expect(noon.voltage).toBeCloseTo(2.5, 3);
  });

  test('model noise with a seed: identical readings for the same seed, different for another', async () => {
    async function readings(seed: number): Promise<number[]> {
      const { clock, adc } = modelBench({ inputs: { ain0: 1 }, noise: { volts: 0.001, seed } });
      const values: number[] = [];
      for (let i = 0; i < 20; i++) values.push((await clock.run(adc.sample())).raw);
      return values;
    }
    const first = await readings(5);
    expect(await readings(5)).toEqual(first);
    expect(await readings(6)).not.toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(5);
  });

  test('a second sample while one is in flight rejects with busy; the first completes', async () => {
    const { clock, adc } = modelBench({ inputs: { ain0: 1.25 } });
    const first = adc.sample();
    const error = await sampleError(clock, adc.sample());
    expect(error.code).toBe('busy');
    expect((await clock.run(first)).voltage).toBeCloseTo(1.25, 4);
  });

  test('configure validates its options', () => {
    const { adc } = modelBench({});
    expect(() => adc.configure({ input: 'ain4' as never })).toThrow(RangeError);
    expect(() => adc.configure({ inputs: ['ain0', 'toString' as never] })).toThrow(RangeError);
    expect(() => adc.configure({ inputs: [] })).toThrow(RangeError);
    expect(() => adc.configure({ inputs: Array(9).fill('ain0') })).toThrow(RangeError);
    expect(() => adc.configure({ input: 'ain0', inputs: ['ain1'] })).toThrow(RangeError);
    expect(() => adc.configure({ fullScale: 5 as never })).toThrow(RangeError);
    expect(() => adc.configure({ rate: 100 as never })).toThrow(RangeError);
  });

  test('the constructor refuses addresses an ADS1115 cannot have', () => {
    const clock = new ManualClock();
    expect(() => new ADS1115({ i2c: new SimI2CBus(clock), timers: clock, address: 0x47 })).toThrow(RangeError);
  });

  test('close during a sample rejects it with closed and cancels its timer', async () => {
    const { clock, adc } = modelBench({});
    const pending = adc.sample();
    adc.close();
    const error = await sampleError(clock, pending);
    expect(error.code).toBe('closed');
    expect(clock.pendingTimers).toBe(0);
    expect((await sampleError(clock, adc.sample())).code).toBe('closed');
    expect(() => adc.configure({ rate: 8 })).toThrow(expect.objectContaining({ code: 'closed' }));
    adc.close();
  });
});
