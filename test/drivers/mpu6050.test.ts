/**
 * MPU-6050 driver against the MPU-6050 chip model, over the test bench bus and virtual clock.
 * Known answers come from the datasheets (PS-MPU-6000A-00 rev 3.4 scale factors and
 * temperature offset, RM-MPU-6000A-00 rev 4.2 temperature formula), worked by hand.
 */
import fc from 'fast-check';
import {
  STANDARD_GRAVITY,
  accelerationFromRaw,
  angularRateFromRaw,
  int16At,
  temperatureFromRaw,
} from '../../firmware/drivers/mpu6050/conversion';
import { MPU6050 } from '../../firmware/drivers/mpu6050/mpu6050';
import type { FullScale } from '../../firmware/drivers/mpu6050/mpu6050';
import { sampleRateHz } from '../../firmware/drivers/mpu6050/registers';
import type { I2CTarget } from '../../host-sim/chips/i2c-target';
import { MPU6050Model, REG } from '../../host-sim/chips/mpu6050/model';
import type { MPU6050ModelOptions } from '../../host-sim/chips/mpu6050/model';
import { sampleError } from './support/errors';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

const DEG = Math.PI / 180;
const ACCEL_LSB_PER_G = [16384, 8192, 4096, 2048];
const GYRO_LSB_PER_DPS = [131, 65.5, 32.8, 16.4];

function bench(model: I2CTarget = new MPU6050Model(), address = 0x68) {
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const sensor = new MPU6050({ i2c: bus, timers: clock, address });
  return { clock, bus, sensor };
}

function modelBench(options: MPU6050ModelOptions = {}) {
  const model = new MPU6050Model(options);
  return { model, ...bench(model, model.address) };
}

/** Writes to a register, as the bus saw them: [register, ...values] and when. */
function writesTo(bus: SimI2CBus, register: number): { atMs: number; bytes: number[] }[] {
  return bus
    .transfersTo(0x68, 'write')
    .filter((t) => t.bytes!.length > 1 && t.bytes![0] === register)
    .map((t) => ({ atMs: t.atMs, bytes: Array.from(t.bytes!) }));
}

/** When the 14-byte burst from ACCEL_XOUT_H was read. */
function burstReads(bus: SimI2CBus): number[] {
  return bus.transfersTo(0x68, 'read').filter((t) => t.bytes?.length === 14).map((t) => t.atMs);
}

describe('conversion, worked by hand from the datasheets', () => {
  test('accelerometer: 16384 LSB is 1 g at ±2 g (PS §6.2), 2048 LSB at ±16 g; in m/s²', () => {
    expect(accelerationFromRaw(16384, 0)).toBe(STANDARD_GRAVITY);
    expect(accelerationFromRaw(-8192, 1)).toBe(-STANDARD_GRAVITY);
    expect(accelerationFromRaw(4096, 2)).toBe(STANDARD_GRAVITY);
    expect(accelerationFromRaw(2048, 3)).toBe(STANDARD_GRAVITY);
    expect(accelerationFromRaw(32767, 3)).toBeCloseTo(15.99951 * 9.80665, 3); // just under 16 g
  });

  test('gyroscope: 131 LSB is 1 °/s at ±250 °/s (PS §6.1), 16.4 LSB at ±2000 °/s; in rad/s', () => {
    expect(angularRateFromRaw(131, 0)).toBeCloseTo(DEG, 12);
    expect(angularRateFromRaw(655, 1)).toBeCloseTo(10 * DEG, 12); // 655 / 65.5 = 10 °/s
    expect(angularRateFromRaw(-328, 2)).toBeCloseTo(-10 * DEG, 12); // -328 / 32.8
    expect(angularRateFromRaw(16400, 3)).toBeCloseTo(1000 * DEG, 9);
    expect(angularRateFromRaw(32767, 0)).toBeCloseTo(4.3656, 4); // 250.13 °/s = 4.3656 rad/s
  });

  test('temperature: raw 0 is 36.53 °C; the PS §6.3 offset, −521 LSB, is 35.00 °C; 340 LSB per °C', () => {
    expect(temperatureFromRaw(0)).toBe(36.53);
    expect(temperatureFromRaw(-521)).toBeCloseTo(34.9976, 4); // −521 / 340 + 36.53
    expect(temperatureFromRaw(340) - temperatureFromRaw(0)).toBeCloseTo(1, 12);
  });

  test('big-endian two\'s complement: 0x8000 = −32768, 0xFFFF = −1, 0x7FFF = 32767', () => {
    const bytes = new Uint8Array([0x80, 0x00, 0xff, 0xff, 0x7f, 0xff]);
    expect([int16At(bytes, 0), int16At(bytes, 2), int16At(bytes, 4)]).toEqual([-32768, -1, 32767]);
  });

  test('sample rate (RM §4.2): 8 kHz / (1 + div) with DLPF off, 1 kHz / (1 + div) with it on', () => {
    expect(sampleRateHz(0, 0)).toBe(8000);
    expect(sampleRateHz(7, 0)).toBe(1000);
    expect(sampleRateHz(9, 3)).toBe(100);
    expect(sampleRateHz(255, 6)).toBeCloseTo(3.90625, 10); // the PS's "down to 3.9 samples per second"
  });
});

describe('MPU-6050 driver', () => {
  test('flat, still, 25 °C: (0, 0, 9.80665) m/s², no rotation, 25.0 °C within a code', async () => {
    const { clock, sensor } = modelBench();
    const reading = await clock.run(sensor.sample());
    expect(reading.accelerometer).toEqual({ x: 0, y: 0, z: STANDARD_GRAVITY });
    expect(reading.gyroscope).toEqual({ x: 0, y: 0, z: 0 });
    expect(reading.thermometer.temperature).toBeCloseTo(25, 2); // -3920 / 340 + 36.53 = 25.0006
  });

  test('first sample: WHO_AM_I, reset, 100 ms, wake on the gyro clock, configure, 30 ms, then data', async () => {
    const { clock, bus, sensor } = modelBench();
    await clock.run(sensor.sample());
    const reads = bus.transfersTo(0x68, 'read');
    expect(Array.from(bus.transfersTo(0x68, 'write')[0].bytes!)).toEqual([REG.WHO_AM_I]);
    expect(reads[0].bytes![0]).toBe(0x68);
    expect(writesTo(bus, REG.PWR_MGMT_1)).toEqual([
      { atMs: 0, bytes: [0x6b, 0x80] },
      { atMs: 100, bytes: [0x6b, 0x01] },
    ]);
    expect(writesTo(bus, REG.SMPLRT_DIV)).toEqual([{ atMs: 100, bytes: [0x19, 0, 0, 0, 0] }]);
    expect(writesTo(bus, REG.INT_ENABLE)).toEqual([{ atMs: 100, bytes: [0x38, 0x01] }]);
    // At 130 ms INT_STATUS is read once to drop anything sampled while the gyroscope settled (here
    // the sample due exactly 30 ms after waking: DATA_RDY 1), then polled (0: nothing new yet); the
    // one burst is of the next sample, one 1 ms poll later.
    expect(bus.transfersTo(0x68, 'read').filter((t) => t.atMs === 130).map((t) => t.bytes![0])).toEqual([0x01, 0x00]);
    expect(burstReads(bus)).toEqual([131]);
    expect(clock.pendingTimers).toBe(0);
  });

  test('later samples need no bring-up: one INT_STATUS poll and one burst when data is ready', async () => {
    const { clock, bus, sensor } = modelBench();
    await clock.run(sensor.sample());
    const before = bus.transfers.length;
    clock.advance(50);
    await clock.run(sensor.sample());
    const transfers = bus.transfers.slice(before);
    expect(transfers.map((t) => [t.kind, t.bytes!.length])).toEqual([
      ['write', 1],
      ['read', 1], // INT_STATUS: DATA_RDY
      ['write', 1],
      ['read', 14],
    ]);
  });

  test('each sample is a new one: back to back, the second waits for the next DATA_RDY', async () => {
    const { clock, bus, sensor } = modelBench();
    sensor.configure({ sampleRateDivider: 9, lowPassFilter: 3 }); // 100 Hz
    await clock.run(sensor.sample());
    await clock.run(sensor.sample());
    const [first, second] = burstReads(bus);
    expect(second - first).toBeGreaterThanOrEqual(10);
    expect(second - first).toBeLessThanOrEqual(20);
  });

  test('reads what the model is set to, within half a code, for any values and ranges', async () => {
    const fraction = fc.double({ min: -0.999, max: 0.999, noNaN: true });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<FullScale>(0, 1, 2, 3),
        fc.constantFrom<FullScale>(0, 1, 2, 3),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 6 }),
        fc.tuple(fraction, fraction, fraction),
        fc.tuple(fraction, fraction, fraction),
        fc.double({ min: -40, max: 85, noNaN: true }),
        async (range, gyroRange, sampleRateDivider, lowPassFilter, accelerationShare, angularRateShare, temperature) => {
          // Fractions of full scale, so every range is exercised across its whole span.
          const g = accelerationShare.map((f) => f * (2 << range));
          const dps = angularRateShare.map((f) => f * (250 << gyroRange));
          const { clock, sensor } = modelBench({
            accelerationG: { x: g[0], y: g[1], z: g[2] },
            angularRateDps: { x: dps[0], y: dps[1], z: dps[2] },
            temperature,
          });
          sensor.configure({ range, gyroRange, sampleRateDivider, lowPassFilter });
          const reading = await clock.run(sensor.sample());
          const accelerationTolerance = (0.5 / ACCEL_LSB_PER_G[range]) * STANDARD_GRAVITY + 1e-9;
          const angularRateTolerance = (0.5 / GYRO_LSB_PER_DPS[gyroRange]) * DEG + 1e-9;
          const { accelerometer: a, gyroscope: w } = reading;
          expect(Math.abs(a.x - g[0] * STANDARD_GRAVITY)).toBeLessThanOrEqual(accelerationTolerance);
          expect(Math.abs(a.y - g[1] * STANDARD_GRAVITY)).toBeLessThanOrEqual(accelerationTolerance);
          expect(Math.abs(a.z - g[2] * STANDARD_GRAVITY)).toBeLessThanOrEqual(accelerationTolerance);
          expect(Math.abs(w.x - dps[0] * DEG)).toBeLessThanOrEqual(angularRateTolerance);
          expect(Math.abs(w.y - dps[1] * DEG)).toBeLessThanOrEqual(angularRateTolerance);
          expect(Math.abs(w.z - dps[2] * DEG)).toBeLessThanOrEqual(angularRateTolerance);
          expect(Math.abs(reading.thermometer.temperature - temperature)).toBeLessThanOrEqual(0.5 / 340 + 1e-9);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('beyond full scale the chip saturates, and so does the reading', async () => {
    const { clock, sensor } = modelBench({ accelerationG: { x: 5, y: -5, z: 1 }, angularRateDps: { x: 400, y: 0, z: 0 } });
    const reading = await clock.run(sensor.sample());
    expect(reading.accelerometer.x).toBeCloseTo((32767 / 16384) * STANDARD_GRAVITY, 9);
    expect(reading.accelerometer.y).toBeCloseTo((-32767 / 16384) * STANDARD_GRAVITY, 9);
    expect(reading.gyroscope.x).toBeCloseTo((32767 / 131) * DEG, 9);
  });

  test('configure after the first sample writes the registers at once, and the next sample uses the new scale', async () => {
    const { clock, bus, sensor, model } = modelBench({ accelerationG: { x: 0, y: 0, z: 1 }, angularRateDps: { x: 1000, y: 0, z: 0 } });
    let reading = await clock.run(sensor.sample());
    expect(reading.gyroscope.x).toBeCloseTo((32767 / 131) * DEG, 9); // saturated at ±250 °/s
    sensor.configure({ range: 3, gyroRange: 3 });
    expect(model.register(REG.GYRO_CONFIG)).toBe(0x18);
    expect(model.register(REG.ACCEL_CONFIG)).toBe(0x18);
    expect(writesTo(bus, REG.SMPLRT_DIV)).toHaveLength(2);
    reading = await clock.run(sensor.sample());
    expect(reading.gyroscope.x).toBeCloseTo(1000 * DEG, 9); // 16400 / 16.4
    expect(reading.accelerometer.z).toBe(STANDARD_GRAVITY); // 2048 / 2048
  });

  test('configure before the first sample is kept and written after the reset', async () => {
    const { clock, sensor, model } = modelBench();
    sensor.configure({ range: 2, gyroRange: 1, sampleRateDivider: 4, lowPassFilter: 2 });
    expect(model.register(REG.ACCEL_CONFIG)).toBe(0); // nothing written yet
    await clock.run(sensor.sample());
    expect([0x19, 0x1a, 0x1b, 0x1c].map((r) => model.register(r))).toEqual([4, 2, 0x08, 0x10]);
  });

  test('the slowest sample rate (3.9 Hz) still samples: polls once per 257 ms period, within bounds', async () => {
    const { clock, sensor } = modelBench();
    sensor.configure({ sampleRateDivider: 255, lowPassFilter: 6 });
    const reading = await clock.run(sensor.sample(), 5_000);
    expect(reading.accelerometer.z).toBe(STANDARD_GRAVITY);
  });

  test('wrong chip: an MPU-6500 (WHO_AM_I 0x70) is SensorError id, and nothing is written', async () => {
    const { clock, bus, sensor } = modelBench({ faults: { whoAmI: 0x70 } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('id');
    expect(error.message).toBe('MPU-6050 at 0x68: WHO_AM_I reads 0x70, not 0x68: not an MPU-6050 (0x70 is what an MPU-6500 answers)');
    expect(bus.transfersTo(0x68, 'write').filter((t) => t.bytes!.length > 1)).toEqual([]);
  });

  test('NACK fault: SensorError nack naming chip, address, and what to check', async () => {
    const { clock, sensor } = modelBench({ faults: { nack: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('nack');
    expect(error.chip).toBe('MPU-6050');
    expect(error.message).toMatch(/^MPU-6050 at 0x68: no acknowledge.*wiring.*AD0/);
  });

  test('the wrong address is a nack naming the address the driver used', async () => {
    const { clock, sensor } = bench(new MPU6050Model({ address: 0x68 }), 0x69);
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('nack');
    expect(error.message).toMatch(/^MPU-6050 at 0x69:/);
  });

  test('works at 0x69 when the chip is there', async () => {
    const { clock, sensor } = modelBench({ address: 0x69, accelerationG: { x: 1, y: 0, z: 0 } });
    const reading = await clock.run(sensor.sample());
    expect(reading.accelerometer.x).toBe(STANDARD_GRAVITY);
  });

  test('stuck not ready: bounded DATA_RDY polls, then SensorError timeout; the next sample starts over from a reset', async () => {
    const { clock, bus, sensor, model } = modelBench({ faults: { stuckNotReady: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('MPU-6050 at 0x68: no new data after 5 ms (DATA_RDY never set; is the chip asleep?)');
    expect(clock.now).toBe(135); // 100 ms reset + 30 ms start-up + 5 polls 1 ms apart
    expect(clock.pendingTimers).toBe(0);
    model.setFaults({ stuckNotReady: false });
    const reading = await clock.run(sensor.sample());
    expect(reading.accelerometer.z).toBe(STANDARD_GRAVITY);
    expect(writesTo(bus, REG.PWR_MGMT_1).filter((w) => w.bytes[1] === 0x80)).toHaveLength(2);
  });

  test('stuck reset: bounded re-reads of PWR_MGMT_1, then SensorError timeout', async () => {
    const { clock, sensor } = modelBench({ faults: { stuckReset: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('MPU-6050 at 0x68: device reset not finished 150 ms after DEVICE_RESET');
    expect(clock.pendingTimers).toBe(0);
  });

  test('a chip that lost power (asleep again) times out once, then is brought back up from a reset', async () => {
    const { clock, bus, sensor, model } = modelBench();
    await clock.run(sensor.sample());
    model.powerCycle();
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('timeout');
    const reading = await clock.run(sensor.sample());
    expect(reading.accelerometer.z).toBe(STANDARD_GRAVITY);
    expect(writesTo(bus, REG.PWR_MGMT_1).filter((w) => w.bytes[1] === 0x80)).toHaveLength(2);
  });

  test('a chip that stops answering fails with nack; once it answers again it is reset and sampled', async () => {
    const { clock, sensor, model } = modelBench();
    await clock.run(sensor.sample());
    model.setFaults({ nack: true });
    expect((await sampleError(clock, sensor.sample())).code).toBe('nack');
    model.setFaults({ nack: false });
    const reading = await clock.run(sensor.sample());
    expect(reading.accelerometer.z).toBe(STANDARD_GRAVITY);
  });

  test('a second sample while one is in flight rejects with busy; the first completes', async () => {
    const { clock, sensor } = modelBench();
    const first = sensor.sample();
    expect((await sampleError(clock, sensor.sample())).code).toBe('busy');
    expect(() => sensor.configure({ range: 1 })).toThrow(expect.objectContaining({ code: 'busy' }));
    const reading = await clock.run(first);
    expect(reading.accelerometer.z).toBe(STANDARD_GRAVITY);
  });

  test('configure validates its options', () => {
    const { sensor } = modelBench();
    expect(() => sensor.configure({ range: 4 as FullScale })).toThrow(RangeError);
    expect(() => sensor.configure({ gyroRange: -1 as FullScale })).toThrow(RangeError);
    expect(() => sensor.configure({ sampleRateDivider: 256 })).toThrow(RangeError);
    expect(() => sensor.configure({ sampleRateDivider: 1.5 })).toThrow(RangeError);
    expect(() => sensor.configure({ lowPassFilter: 7 })).toThrow(RangeError); // DLPF_CFG 7 is reserved
  });

  test('the constructor refuses addresses an MPU-6050 cannot have', () => {
    const clock = new ManualClock();
    expect(() => new MPU6050({ i2c: new SimI2CBus(clock), timers: clock, address: 0x6a })).toThrow(RangeError);
  });

  test('close during bring-up rejects the sample with closed and cancels its timer', async () => {
    const { clock, sensor } = modelBench();
    const pending = sensor.sample();
    sensor.close();
    expect((await sampleError(clock, pending)).code).toBe('closed');
    expect(clock.pendingTimers).toBe(0);
    expect((await sampleError(clock, sensor.sample())).code).toBe('closed');
    expect(() => sensor.configure({ range: 1 })).toThrow(expect.objectContaining({ code: 'closed' }));
    sensor.close(); // twice is harmless
  });

  test('close after sampling puts the chip back to sleep', async () => {
    const { clock, sensor, model } = modelBench();
    await clock.run(sensor.sample());
    expect(model.asleep).toBe(false);
    sensor.close();
    expect(model.asleep).toBe(true);
  });

  test('close does not throw when the chip has gone', async () => {
    const { clock, sensor, model } = modelBench();
    await clock.run(sensor.sample());
    model.setFaults({ nack: true });
    expect(() => sensor.close()).not.toThrow();
  });

  test('model noise with a seed: identical readings for the same seed, different for another', async () => {
    async function readings(seed: number): Promise<number[]> {
      const { clock, sensor } = modelBench({ noise: { acceleration: 0.01, angularRate: 0.2, temperature: 0.1, seed } });
      const values: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await clock.run(sensor.sample());
        values.push(r.accelerometer.x, r.gyroscope.z, r.thermometer.temperature);
      }
      return values;
    }
    const first = await readings(42);
    expect(await readings(42)).toEqual(first);
    expect(await readings(43)).not.toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(10);
  });
});
