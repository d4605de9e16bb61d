/**
 * SHT3x driver against the SHT31 chip model, over the test bench bus and virtual clock.
 * Known answers come from outside both: the datasheet's CRC example, raw-to-physical values
 * worked out by hand from the §4.13 formulas, and bytes captured from a real SHT31.
 */
import fc from 'fast-check';
import { humidityFromRaw, temperatureFromRaw } from '../../firmware/drivers/sht3x/conversion';
import { sensirionCrc8 } from '../../firmware/drivers/sht3x/crc8';
import { SHT3x } from '../../firmware/drivers/sht3x/sht3x';
import type { I2CTarget } from '../../host-sim/chips/i2c-target';
import { wordCrc } from '../../host-sim/chips/common/sensirion';
import { SHT31Model } from '../../host-sim/chips/sht31/model';
import type { SHT31ModelOptions } from '../../host-sim/chips/sht31/model';
import { sampleError } from './support/errors';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

/** Half a raw code in each unit: the most quantisation can move a value (§4.13). */
const TEMPERATURE_HALF_LSB = 175 / 65535 / 2;
const HUMIDITY_HALF_LSB = 100 / 65535 / 2;

function bench(model: I2CTarget = new SHT31Model({ temperature: 21, humidity: 50 }), address = 0x44) {
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const sensor = new SHT3x({ i2c: bus, timers: clock, address });
  return { clock, bus, sensor };
}

function modelBench(options: SHT31ModelOptions) {
  const model = new SHT31Model(options);
  return { model, ...bench(model) };
}

/** A target that answers the high-repeatability single shot with fixed bytes, once ready. */
class ScriptedSHT3x implements I2CTarget {
  readonly address = 0x44;
  #readyAtMs = Infinity;
  constructor(
    readonly reply: Uint8Array,
    readonly busyMs: number,
  ) {}
  write(bytes: Uint8Array, nowMs: number): boolean {
    if (bytes.length !== 2 || bytes[0] !== 0x24 || bytes[1] !== 0x00) return false;
    this.#readyAtMs = nowMs + this.busyMs;
    return true;
  }
  read(count: number, nowMs: number): Uint8Array | null {
    if (nowMs < this.#readyAtMs) return null;
    this.#readyAtMs = Infinity;
    return this.reply.slice(0, count);
  }
}

describe('Sensirion CRC-8 (§4.12)', () => {
  test('datasheet example: CRC(0xBEEF) = 0x92, in the driver and in the model', () => {
    expect(sensirionCrc8(new Uint8Array([0xbe, 0xef]))).toBe(0x92);
    expect(wordCrc(0xbeef)).toBe(0x92);
  });

  test('checksums captured from a real SHT31 (64 B3 BB 3E E3 CC)', () => {
    // Bytes read from an SHT31-DIS after 0x2400, published at cnblogs.com/wenkon/p/16648813.html
    expect(sensirionCrc8(new Uint8Array([0x64, 0xb3]))).toBe(0xbb);
    expect(sensirionCrc8(new Uint8Array([0x3e, 0xe3]))).toBe(0xcc);
  });

  test('the two independent implementations agree on every 16-bit word', () => {
    const word = new Uint8Array(2);
    for (let value = 0; value <= 0xffff; value++) {
      word[0] = value >> 8;
      word[1] = value & 0xff;
      if (sensirionCrc8(word) !== wordCrc(value)) throw new Error(`differ at 0x${value.toString(16)}`);
    }
  });

  test('offset and length select one word out of a 6-byte result', () => {
    const result = new Uint8Array([0x64, 0xb3, 0xbb, 0x3e, 0xe3, 0xcc]);
    expect(sensirionCrc8(result, 3, 2)).toBe(0xcc);
  });
});

describe('conversion (§4.13), worked by hand', () => {
  test('end points: raw 0 and 0xFFFF', () => {
    expect(temperatureFromRaw(0)).toBe(-45);
    expect(temperatureFromRaw(0xffff)).toBe(130);
    expect(humidityFromRaw(0)).toBe(0);
    expect(humidityFromRaw(0xffff)).toBe(100);
  });

  test('0x6666 = 26214 = 0.4 × 65535: 25 °C and 40 %RH', () => {
    expect(temperatureFromRaw(0x6666)).toBeCloseTo(25, 10); // -45 + 175 × 0.4
    expect(humidityFromRaw(0x6666)).toBeCloseTo(40, 10); // 100 × 0.4
  });

  test('0x8000 = 32768: 42.5013 °C and 50.0008 %RH', () => {
    // 32768 / 65535 = 0.5000076; × 175 − 45 = 42.50134; × 100 = 50.00076
    expect(temperatureFromRaw(0x8000)).toBeCloseTo(42.50134, 4);
    expect(humidityFromRaw(0x8000)).toBeCloseTo(50.00076, 4);
  });

  test('the real capture: 25779 → 23.84 °C, 16099 → 24.57 %RH', () => {
    // 25779 / 65535 × 175 − 45 = 23.8384; 16099 / 65535 × 100 = 24.5655
    expect(temperatureFromRaw(25779)).toBeCloseTo(23.8384, 3);
    expect(humidityFromRaw(16099)).toBeCloseTo(24.5655, 3);
  });
});

describe('SHT3x driver', () => {
  test('decodes the bytes captured from a real SHT31', async () => {
    const chip = new ScriptedSHT3x(new Uint8Array([0x64, 0xb3, 0xbb, 0x3e, 0xe3, 0xcc]), 12.5);
    const { clock, sensor } = bench(chip);
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(23.8384, 3);
    expect(reading.hygrometer.humidity).toBeCloseTo(24.5655, 3);
  });

  test('reads what the model is set to, within a raw code, for any temperature and humidity', async () => {
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

  test('out-of-range conditions read as the chip clamps them', async () => {
    const { clock, sensor, model } = modelBench({ temperature: 150, humidity: -5 });
    let reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBe(130);
    expect(reading.hygrometer.humidity).toBe(0);
    model.setTemperature(-60);
    model.setHumidity(110);
    reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBe(-45);
    expect(reading.hygrometer.humidity).toBe(100);
  });

  test.each([
    ['high', 0x2400, 15],
    ['medium', 0x240b, 6],
    ['low', 0x2416, 4],
  ] as const)('%s repeatability: sends command %d and reads once, after the datasheet maximum of %i ms', async (repeatability, command, maxMs) => {
    const { clock, bus, sensor } = modelBench({ temperature: 20, humidity: 50 });
    sensor.configure({ repeatability });
    const started = clock.now;
    await clock.run(sensor.sample());
    const [write] = bus.transfersTo(0x44, 'write');
    const reads = bus.transfersTo(0x44, 'read');
    expect(Array.from(write.bytes!)).toEqual([command >> 8, command & 0xff]);
    expect(reads).toHaveLength(1); // waited long enough: no NACKed read first
    expect(reads[0].atMs - started).toBe(maxMs);
    expect(clock.pendingTimers).toBe(0);
  });

  test('a chip slower than the datasheet gets bounded read retries, then is read', async () => {
    const chip = new ScriptedSHT3x(new Uint8Array([0x64, 0xb3, 0xbb, 0x3e, 0xe3, 0xcc]), 20);
    const { clock, bus, sensor } = bench(chip);
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(23.8384, 3);
    const reads = bus.transfersTo(0x44, 'read');
    expect(reads.map((r) => r.acknowledged)).toEqual([false, false, false, true]);
    expect(reads.map((r) => r.atMs)).toEqual([15, 17, 19, 21]);
  });

  test('CRC errors on two reads: the third measurement succeeds', async () => {
    const { clock, bus, sensor } = modelBench({ temperature: 25, humidity: 40, faults: { crcError: 2 } });
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(25, 10);
    expect(reading.hygrometer.humidity).toBeCloseTo(40, 10);
    expect(bus.transfersTo(0x44, 'write')).toHaveLength(3);
  });

  test('CRC errors on every read: three measurements, then SensorError crc', async () => {
    const { clock, bus, sensor } = modelBench({ faults: { crcError: 'always', crcErrorWord: 'temperature' } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('crc');
    expect(error.message).toBe('SHT3x at 0x44: CRC mismatch in temperature word after 3 attempts');
    expect(bus.transfersTo(0x44, 'write')).toHaveLength(3);
    expect(bus.transfersTo(0x44, 'read')).toHaveLength(3);
  });

  test('the CRC error names the humidity word when only that one is bad', async () => {
    const { clock, sensor } = modelBench({ faults: { crcError: 'always', crcErrorWord: 'humidity' } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.message).toBe('SHT3x at 0x44: CRC mismatch in humidity word after 3 attempts');
  });

  test('stuck busy: bounded read retries, then SensorError timeout', async () => {
    const { clock, bus, sensor } = modelBench({ faults: { stuckBusy: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/^SHT3x at 0x44: measurement not ready 25 ms after the command/);
    const reads = bus.transfersTo(0x44, 'read');
    expect(reads).toHaveLength(6);
    expect(reads.every((r) => !r.acknowledged)).toBe(true);
    expect(clock.now).toBe(25);
    expect(clock.pendingTimers).toBe(0);
  });

  test('NACK fault: SensorError nack naming chip and address and what to check', async () => {
    const { clock, sensor } = modelBench({ faults: { nack: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('nack');
    expect(error.chip).toBe('SHT3x');
    expect(error.address).toBe(0x44);
    expect(error.message).toMatch(/^SHT3x at 0x44: no acknowledge/);
    expect(error.message).toMatch(/wiring/);
    expect(error.message).toMatch(/address/);
  });

  test('the wrong address is a nack naming the address the driver used', async () => {
    const { clock, sensor } = bench(new SHT31Model({ address: 0x44 }), 0x45);
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('nack');
    expect(error.message).toMatch(/^SHT3x at 0x45:/);
  });

  test('works at 0x45 when the chip is there', async () => {
    const { clock, sensor } = bench(new SHT31Model({ address: 0x45, temperature: 30, humidity: 60 }), 0x45);
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(30, 2);
  });

  test('a second sample while one is in flight rejects with busy; the first completes', async () => {
    const { clock, sensor } = modelBench({ temperature: 22, humidity: 45 });
    const first = sensor.sample();
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('busy');
    const reading = await clock.run(first);
    expect(reading.thermometer.temperature).toBeCloseTo(22, 2);
    // and once it is done, sampling again is fine
    await expect(clock.run(sensor.sample())).resolves.toBeDefined();
  });

  test('heater: configure sends the command, and the next sample keeps the 1 ms command gap', async () => {
    const { clock, bus, model, sensor } = modelBench({ temperature: 22, humidity: 45 });
    sensor.configure({ heater: true });
    expect(model.heaterOn).toBe(true);
    // The model NACKs a command less than 1 ms after the previous one, so this only passes if the driver waited.
    const reading = await clock.run(sensor.sample());
    expect(reading.thermometer.temperature).toBeCloseTo(22, 2);
    const writes = bus.transfersTo(0x44, 'write');
    expect(writes.map((w) => Array.from(w.bytes!))).toEqual([
      [0x30, 0x6d],
      [0x24, 0x00],
    ]);
    expect(writes[1].atMs - writes[0].atMs).toBe(1);
    sensor.configure({ heater: false });
    expect(model.heaterOn).toBe(false);
  });

  test('heater: a second change within 1 ms throws busy; after 1 ms it goes through', () => {
    const { clock, model, sensor } = modelBench({});
    sensor.configure({ heater: true });
    expect(() => sensor.configure({ heater: false })).toThrow(expect.objectContaining({ code: 'busy' }));
    clock.advance(1);
    sensor.configure({ heater: false });
    expect(model.heaterOn).toBe(false);
  });

  test('heater: changing it while sampling throws busy', async () => {
    const { clock, sensor } = modelBench({});
    const pending = sensor.sample();
    expect(() => sensor.configure({ heater: true })).toThrow(expect.objectContaining({ code: 'busy' }));
    await clock.run(pending);
  });

  test('configure validates its options', () => {
    const { sensor } = modelBench({});
    expect(() => sensor.configure({ repeatability: 'extreme' as never })).toThrow(RangeError);
    expect(() => sensor.configure({ repeatability: 'toString' as never })).toThrow(RangeError);
  });

  test('the constructor refuses addresses an SHT3x cannot have', () => {
    const clock = new ManualClock();
    expect(() => new SHT3x({ i2c: new SimI2CBus(clock), timers: clock, address: 0x40 })).toThrow(RangeError);
  });

  test('close during a sample rejects it with closed and cancels its timer', async () => {
    const { clock, sensor } = modelBench({});
    const pending = sensor.sample();
    sensor.close();
    const error = await sampleError(clock, pending);
    expect(error.code).toBe('closed');
    expect(clock.pendingTimers).toBe(0);
    const after = await sampleError(clock, sensor.sample());
    expect(after.code).toBe('closed');
    expect(() => sensor.configure({ heater: true })).toThrow(expect.objectContaining({ code: 'closed' }));
    sensor.close(); // twice is harmless
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
    expect(new Set(first).size).toBeGreaterThan(10); // noise is really there
  });

  test('the model default day: warmer and drier at 15:00 than at 03:00', async () => {
    const { clock, sensor } = modelBench({});
    clock.advance(3 * 3_600_000);
    const night = await clock.run(sensor.sample());
    clock.advance(12 * 3_600_000);
    const afternoon = await clock.run(sensor.sample());
    expect(night.thermometer.temperature).toBeCloseTo(17, 2);
    expect(afternoon.thermometer.temperature).toBeCloseTo(25, 2);
    expect(night.hygrometer.humidity).toBeCloseTo(62, 2);
    expect(afternoon.hygrometer.humidity).toBeCloseTo(38, 2);
  });
});
