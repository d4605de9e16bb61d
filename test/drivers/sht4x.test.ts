/**
 * SHT4x driver against the SHT40 chip model, over the test bench bus and virtual clock.
 * Known answers come from outside both: the datasheet's CRC example and raw-to-physical
 * values worked out by hand from the §4.5 formulas ("Datasheet SHT4x", v6, Feb 2023).
 */
import fc from 'fast-check';
import { sensirionCrc8 } from '../../firmware/drivers/sht3x/crc8';
import { humidityFromRaw, temperatureFromRaw, uncroppedHumidityFromRaw } from '../../firmware/drivers/sht4x/conversion';
import { SHT4x } from '../../firmware/drivers/sht4x/sht4x';
import type { SHT4xOptions } from '../../firmware/drivers/sht4x/sht4x';
import type { I2CTarget } from '../../host-sim/chips/i2c-target';
import { SHT40Model } from '../../host-sim/chips/sht40/model';
import type { SHT40ModelOptions } from '../../host-sim/chips/sht40/model';
import { sampleError } from './support/errors';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

/** Half a raw code in each unit: the most quantisation can move a value (§4.5). */
const TEMPERATURE_HALF_LSB = 175 / 65535 / 2;
const HUMIDITY_HALF_LSB = 125 / 65535 / 2;

function bench(model: I2CTarget, options: Partial<SHT4xOptions> = {}) {
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const sensor = new SHT4x({ i2c: bus, timers: clock, ...options });
  return { clock, bus, sensor };
}

function modelBench(options: SHT40ModelOptions = {}, driver: Partial<SHT4xOptions> = {}) {
  const model = new SHT40Model({ temperature: 25, humidity: 44, ...options });
  return { model, ...bench(model, { address: model.address, ...driver }) };
}

function writes(bus: SimI2CBus, address = 0x44): number[][] {
  return bus.transfersTo(address, 'write').map((t) => Array.from(t.bytes!));
}

/** Answers reset, serial (0x1A2B3C4D) and 0xFD with fixed bytes, the measurement once `busyMs` has passed. */
class ScriptedSHT4x implements I2CTarget {
  readonly address = 0x44;
  #readyAtMs = Infinity;
  #reply: Uint8Array | undefined;
  constructor(
    readonly measurement: Uint8Array,
    readonly busyMs: number,
  ) {}
  write(bytes: Uint8Array, nowMs: number): boolean {
    if (bytes.length !== 1) return false;
    if (bytes[0] === 0x94) return true;
    if (bytes[0] === 0x89) {
      this.#reply = new Uint8Array([0x1a, 0x2b, 0x6d, 0x3c, 0x4d, 0xf6]);
      this.#readyAtMs = nowMs;
      return true;
    }
    if (bytes[0] !== 0xfd) return false;
    this.#reply = this.measurement;
    this.#readyAtMs = nowMs + this.busyMs;
    return true;
  }
  read(count: number, nowMs: number): Uint8Array | null {
    if (nowMs < this.#readyAtMs || !this.#reply) return null;
    const reply = this.#reply;
    this.#reply = undefined;
    return reply.slice(0, count);
  }
}

describe('conversion (§4.5), worked by hand', () => {
  test('end points: raw 0 and 0xFFFF', () => {
    expect(temperatureFromRaw(0)).toBe(-45);
    expect(temperatureFromRaw(0xffff)).toBe(130);
    expect(uncroppedHumidityFromRaw(0)).toBe(-6);
    expect(uncroppedHumidityFromRaw(0xffff)).toBe(119);
  });

  test('humidity is cropped to 0…100 %RH, as §4.5 asks', () => {
    expect(humidityFromRaw(0)).toBe(0);
    expect(humidityFromRaw(3000)).toBe(0); // -6 + 125 × 3000/65535 = -0.28
    expect(humidityFromRaw(0xffff)).toBe(100);
    expect(humidityFromRaw(56000)).toBe(100); // 100.81 before cropping
  });

  test('0x6666 = 26214 = 0.4 × 65535: 25 °C and 44 %RH (not the SHT3x 40 %RH)', () => {
    expect(temperatureFromRaw(0x6666)).toBeCloseTo(25, 10); // -45 + 175 × 0.4
    expect(humidityFromRaw(0x6666)).toBeCloseTo(44, 10); // -6 + 125 × 0.4
  });

  test('0x8000 = 32768: 42.5013 °C and 56.5010 %RH', () => {
    // 32768 / 65535 = 0.5000076; × 175 − 45 = 42.50134; × 125 − 6 = 56.50095
    expect(temperatureFromRaw(0x8000)).toBeCloseTo(42.50134, 4);
    expect(humidityFromRaw(0x8000)).toBeCloseTo(56.50095, 4);
  });

  test('the CRC bytes used below: CRC(0x6666) = 0x93, CRC(0x8000) = 0xA2, CRC(0xBEEF) = 0x92 (§4.3)', () => {
    expect(sensirionCrc8(new Uint8Array([0x66, 0x66]))).toBe(0x93);
    expect(sensirionCrc8(new Uint8Array([0x80, 0x00]))).toBe(0xa2);
    expect(sensirionCrc8(new Uint8Array([0xbe, 0xef]))).toBe(0x92);
  });
});

describe('SHT4x driver', () => {
  test('decodes fixed bytes from a scripted chip: 66 66 93 80 00 A2 → 25 °C, 56.50 %RH', async () => {
    const chip = new ScriptedSHT4x(new Uint8Array([0x66, 0x66, 0x93, 0x80, 0x00, 0xa2]), 6.9);
    const { clock, sensor } = bench(chip);
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(25, 10);
    expect(reading.hygrometer.humidity).toBeCloseTo(56.50095, 4);
    expect(sensor.serialNumber).toBe(0x1a2b3c4d);
  });

  test('reads what the model is set to, within half a raw code, for any temperature and humidity', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: -45, max: 130, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.constantFrom('high' as const, 'medium' as const, 'low' as const),
        async (temperature, humidity, repeatability) => {
          const { clock, sensor } = modelBench({ temperature, humidity });
          sensor.configure({ repeatability });
          const reading = await clock.run(sensor.sample());
          expect(Math.abs(reading.thermometer.temperature - temperature)).toBeLessThanOrEqual(TEMPERATURE_HALF_LSB + 1e-9);
          expect(Math.abs(reading.hygrometer.humidity - humidity)).toBeLessThanOrEqual(HUMIDITY_HALF_LSB + 1e-9);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('condensation and out-of-range conditions read cropped to 0…100 %RH and clamped to -45…130 °C', async () => {
    const { clock, sensor, model } = modelBench({ temperature: 150, humidity: 104 });
    let reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBe(130);
    expect(reading.hygrometer.humidity).toBe(100);
    model.setTemperature(-60);
    model.setHumidity(-3);
    reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBe(-45);
    expect(reading.hygrometer.humidity).toBe(0);
  });

  test('first sample: soft reset, 1 ms, serial number, then the measurement; later samples measure only', async () => {
    const { clock, bus, sensor, model } = modelBench();
    await clock.run(sensor.sample());
    expect(writes(bus)).toEqual([[0x94], [0x89], [0xfd]]);
    expect(bus.transfersTo(0x44, 'write').map((t) => t.atMs)).toEqual([0, 1, 2]);
    expect(sensor.serialNumber).toBe(model.serialNumber);
    await clock.run(sensor.sample());
    expect(writes(bus).slice(3)).toEqual([[0xfd]]);
    expect(bus.transfers.every((t) => t.acknowledged)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  test.each([
    ['high', '0xFD', 0xfd, 9],
    ['medium', '0xF6', 0xf6, 5],
    ['low', '0xE0', 0xe0, 2],
  ] as const)('%s repeatability: sends command %s and reads once, %i ms later (the maximum rounded up)', async (repeatability, _name, command, waitMs) => {
    const { clock, bus, sensor } = modelBench();
    await clock.run(sensor.sample()); // identification out of the way
    sensor.configure({ repeatability });
    const started = clock.now;
    await clock.run(sensor.sample());
    const write = bus.transfersTo(0x44, 'write').at(-1)!;
    const read = bus.transfersTo(0x44, 'read').at(-1)!;
    expect(Array.from(write.bytes!)).toEqual([command]);
    expect(read.atMs - started).toBe(waitMs);
    expect(bus.transfers.every((t) => t.acknowledged)).toBe(true); // never read too early
  });

  test('reading too early is NACKed by the model: a chip slower than the datasheet gets bounded retries', async () => {
    const chip = new ScriptedSHT4x(new Uint8Array([0x66, 0x66, 0x93, 0x66, 0x66, 0x93]), 14);
    const { clock, bus, sensor } = bench(chip);
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(25, 10);
    const measurementReads = bus.transfersTo(0x44, 'read').slice(1);
    expect(measurementReads.map((r) => r.acknowledged)).toEqual([false, false, false, true]);
    expect(measurementReads.map((r) => r.atMs)).toEqual([11, 13, 15, 17]);
  });

  test('CRC errors on two reads: the third measurement succeeds', async () => {
    const { clock, bus, sensor, model } = modelBench();
    await clock.run(sensor.sample());
    model.setFaults({ crcError: 2 });
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(25, 10);
    expect(reading.hygrometer.humidity).toBeCloseTo(44, 10);
    expect(writes(bus).slice(3)).toEqual([[0xfd], [0xfd], [0xfd]]);
  });

  test('CRC errors on every read: three measurements, then SensorError crc naming the word', async () => {
    const { clock, bus, sensor, model } = modelBench();
    await clock.run(sensor.sample());
    model.setFaults({ crcError: 'always', crcErrorWord: 'humidity' });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('crc');
    expect(error.message).toBe('SHT4x at 0x44: CRC mismatch in humidity word after 3 attempts');
    expect(writes(bus).slice(3)).toEqual([[0xfd], [0xfd], [0xfd]]);
  });

  test('a corrupt serial number is retried, then SensorError crc', async () => {
    const { clock, bus, sensor } = modelBench({ faults: { crcError: 'always' } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('crc');
    expect(error.message).toMatch(/serial number after 3 attempts/);
    expect(writes(bus)).toEqual([[0x94], [0x89], [0x89], [0x89]]);
  });

  test('stuck busy: bounded read retries, then SensorError timeout', async () => {
    const { clock, bus, sensor, model } = modelBench();
    await clock.run(sensor.sample());
    model.setFaults({ stuckBusy: true });
    const started = clock.now;
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/^SHT4x at 0x44: result not ready 19 ms after the command/);
    expect(bus.transfersTo(0x44, 'read').slice(2)).toHaveLength(6);
    expect(clock.now - started).toBe(19);
    expect(clock.pendingTimers).toBe(0);
  });

  test('NACK fault: SensorError nack naming chip, address and what to check', async () => {
    const { clock, sensor } = modelBench({ faults: { nack: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('nack');
    expect(error.chip).toBe('SHT4x');
    expect(error.address).toBe(0x44);
    expect(error.message).toMatch(/^SHT4x at 0x44: no acknowledge/);
    expect(error.message).toMatch(/wiring/);
  });

  test('wrong id (serial 0x00000000): SensorError id, and the check runs again on the next sample', async () => {
    const { clock, sensor, model } = modelBench({ faults: { wrongId: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('id');
    expect(error.message).toMatch(/serial number 0x00000000 is not a programmed SHT4x serial/);
    model.setFaults({ wrongId: false });
    await expect(clock.run(sensor.sample())).resolves.toBeDefined();
  });

  test('an expected serial number that does not match: SensorError id', async () => {
    const { clock, sensor } = modelBench({ serialNumber: 0x12345678 }, { serialNumber: 0x12345679 });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('id');
    expect(error.message).toBe('SHT4x at 0x44: serial number 0x12345678, expected 0x12345679');
    const matching = modelBench({ serialNumber: 0x12345678 }, { serialNumber: 0x12345678 });
    await expect(matching.clock.run(matching.sensor.sample())).resolves.toBeDefined();
  });

  test('works at 0x45 and 0x46; a wrong address is a nack naming the address used', async () => {
    for (const address of [0x45, 0x46]) {
      const { clock, sensor } = modelBench({ address, temperature: 30 });
      expect((await clock.run(sensor.sample())).thermometer.temperature).toBeCloseTo(30, 2);
    }
    const { clock, sensor } = bench(new SHT40Model({ address: 0x44 }), { address: 0x45 });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('nack');
    expect(error.message).toMatch(/^SHT4x at 0x45:/);
  });

  test('heat(): heater command, waits the pulse maximum plus a measurement, returns that measurement', async () => {
    const { clock, bus, sensor, model } = modelBench();
    await clock.run(sensor.sample());
    const started = clock.now;
    const pending = sensor.heat({ power: 200, duration: 1000 });
    await Promise.resolve();
    expect(model.heaterOnAt(clock.now)).toBe(true);
    const reading = await clock.run(pending);
    expect(reading.thermometer.temperature).toBeCloseTo(25, 2);
    expect(writes(bus).at(-1)).toEqual([0x39]);
    expect(bus.transfersTo(0x44, 'read').at(-1)!.atMs - started).toBe(1100 + 9);
    expect(bus.transfers.every((t) => t.acknowledged)).toBe(true);
    const short = sensor.heat({ power: 20, duration: 100 });
    await clock.run(short);
    expect(writes(bus).at(-1)).toEqual([0x15]);
    await expect(sensor.heat({ power: 50 as never, duration: 100 })).rejects.toThrow(RangeError);
    await expect(sensor.heat({ power: 20, duration: 500 as never })).rejects.toThrow(RangeError);
  });

  test('a second sample while one is in flight rejects with busy; the first completes', async () => {
    const { clock, sensor } = modelBench({ temperature: 22 });
    const first = sensor.sample();
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('busy');
    expect((await clock.run(first)).thermometer.temperature).toBeCloseTo(22, 2);
    await expect(clock.run(sensor.sample())).resolves.toBeDefined();
  });

  test('configure and the constructor validate their options', () => {
    const { sensor } = modelBench();
    expect(() => sensor.configure({ repeatability: 'extreme' as never })).toThrow(RangeError);
    const clock = new ManualClock();
    const bus = new SimI2CBus(clock);
    expect(() => new SHT4x({ i2c: bus, timers: clock, address: 0x40 })).toThrow(RangeError);
    expect(() => new SHT4x({ i2c: bus, timers: clock, serialNumber: -1 })).toThrow(RangeError);
  });

  test('close during a sample rejects it with closed and cancels its timer', async () => {
    const { clock, sensor } = modelBench();
    const pending = sensor.sample();
    sensor.close();
    expect((await sampleError(clock, pending)).code).toBe('closed');
    expect(clock.pendingTimers).toBe(0);
    expect((await sampleError(clock, sensor.sample())).code).toBe('closed');
    expect(() => sensor.configure({ repeatability: 'low' })).toThrow(expect.objectContaining({ code: 'closed' }));
    sensor.close();
  });

  test('model noise with a seed: identical readings for the same seed, different for another', async () => {
    async function readings(seed: number): Promise<number[]> {
      const { clock, sensor } = modelBench({ temperature: 21, humidity: 50, noise: { temperature: 0.1, humidity: 0.5, seed } });
      const values: number[] = [];
      for (let i = 0; i < 20; i++) {
        const reading = await clock.run(sensor.sample());
        values.push(reading.thermometer.temperature, reading.hygrometer.humidity);
      }
      return values;
    }
    const first = await readings(42);
    expect(await readings(42)).toEqual(first);
    expect(await readings(43)).not.toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(10);
  });
});
