/**
 * BH1750 driver against the BH1750 chip model, over the test bench bus and virtual clock.
 * Known answers come from the "BH1750FVI Technical Note" (ROHM, 2009.04 Rev.B): the p.10
 * example (1000_0011 1001_0000 → 28067 lx) and the p.11 MTreg scaling worked by hand.
 */
import fc from 'fast-check';
import { BH1750 } from '../../firmware/drivers/bh1750/bh1750';
import { measurementWaitMs, mtregHighCommand, mtregLowCommand } from '../../firmware/drivers/bh1750/commands';
import { illuminanceFromCount } from '../../firmware/drivers/bh1750/conversion';
import type { I2CTarget } from '../../host-sim/chips/i2c-target';
import { BH1750Model } from '../../host-sim/chips/bh1750/model';
import type { BH1750ModelOptions } from '../../host-sim/chips/bh1750/model';
import { sampleError } from './support/errors';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

function bench(model: I2CTarget, address = 0x23) {
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const sensor = new BH1750({ i2c: bus, timers: clock, address });
  return { clock, bus, sensor };
}

function modelBench(options: BH1750ModelOptions = {}) {
  const model = new BH1750Model({ illuminance: 1000, ...options });
  return { model, ...bench(model, model.address) };
}

function writes(bus: SimI2CBus, address = 0x23): number[] {
  return bus.transfersTo(address, 'write').map((t) => t.bytes![0]);
}

/** A chip that answers every read with fixed bytes and accepts every opcode. */
class ScriptedBH1750 implements I2CTarget {
  readonly address = 0x23;
  constructor(readonly reply: Uint8Array) {}
  write(): boolean {
    return true;
  }
  read(count: number): Uint8Array | null {
    return this.reply.slice(0, count);
  }
}

describe('conversion (p.10, p.11), worked by hand', () => {
  test('the p.10 example: (2^15 + 2^9 + 2^8 + 2^7 + 2^4) / 1.2 = 33680 / 1.2 ≈ 28067 lx', () => {
    expect(2 ** 15 + 2 ** 9 + 2 ** 8 + 2 ** 7 + 2 ** 4).toBe(0x8390);
    expect(illuminanceFromCount(0x8390)).toBeCloseTo(28066.67, 2);
    expect(Math.round(illuminanceFromCount(0x8390))).toBe(28067);
  });

  test('MTreg and mode2 (p.11): lx = count / 1.2 × 69 / MTreg, halved in mode2', () => {
    expect(illuminanceFromCount(1200)).toBe(1000);
    expect(illuminanceFromCount(2400, 138)).toBe(1000); // twice the sensitivity
    expect(illuminanceFromCount(1200, 31)).toBeCloseTo(2225.81, 2); // 1000 × 69/31
    expect(illuminanceFromCount(2400, 69, 'high2')).toBe(1000);
    expect(illuminanceFromCount(0xffff)).toBe(54612.5); // full scale at the default MTreg
    expect(illuminanceFromCount(0xffff, 31)).toBeCloseTo(121_556.85, 2); // 54612.5 × 69/31: past the 100 000 lx the note promises
    expect(illuminanceFromCount(1, 254, 'high2')).toBeCloseTo(0.1132, 4); // ~0.11 lx resolution
  });

  test('MTreg opcodes (p.5): 69 → 0x42 0x65, 138 → 0x44 0x6A, 31 → 0x40 0x7F, 254 → 0x47 0x7E', () => {
    expect([69, 138, 31, 254].map((m) => [mtregHighCommand(m), mtregLowCommand(m)])).toEqual([
      [0x42, 0x65],
      [0x44, 0x6a],
      [0x40, 0x7f],
      [0x47, 0x7e],
    ]);
  });

  test('measurement wait: 180 ms × MTreg / 69, rounded up to whole ms', () => {
    expect([69, 138, 31, 254].map(measurementWaitMs)).toEqual([180, 360, 81, 663]);
  });
});

describe('BH1750 driver', () => {
  test('decodes the p.10 example bytes from a scripted chip: 0x83 0x90 → 28066.7 lx', async () => {
    const { clock, sensor } = bench(new ScriptedBH1750(new Uint8Array([0x83, 0x90])));
    const reading = await clock.run(sensor.sample());
    expect(reading.lightmeter.illuminance).toBeCloseTo(28066.67, 2);
  });

  test('reads what the model is set to, within half a count, for any light, MTreg and resolution', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 31, max: 254 }),
        fc.constantFrom('high' as const, 'high2' as const),
        fc.constantFrom('one-time' as const, 'continuous' as const),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (mtreg, resolution, mode, fraction) => {
          const fullScale = illuminanceFromCount(0xffff, mtreg, resolution);
          const lux = fraction * fullScale;
          const { clock, sensor } = modelBench({ illuminance: lux });
          sensor.configure({ mtreg, resolution, mode });
          const reading = await clock.run(sensor.sample());
          const halfCount = illuminanceFromCount(0.5, mtreg, resolution);
          expect(Math.abs(reading.lightmeter.illuminance - lux)).toBeLessThanOrEqual(halfCount + 1e-9);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('saturation: above full scale the reading stops at 65535 counts (54612.5 lx at MTreg 69)', async () => {
    const { clock, sensor } = modelBench({ illuminance: 100_000 });
    expect((await clock.run(sensor.sample())).lightmeter.illuminance).toBe(54612.5);
  });

  test('one-time mode: Power On and MTreg once, then each sample sends One Time H and reads 180 ms later', async () => {
    const { clock, bus, sensor, model } = modelBench({ illuminance: 1000 });
    let reading = await clock.run(sensor.sample());
    expect(reading.lightmeter.illuminance).toBe(1000);
    expect(writes(bus)).toEqual([0x01, 0x42, 0x65, 0x20]);
    expect(bus.transfersTo(0x23, 'read').map((r) => r.atMs)).toEqual([180]);
    expect(model.stateAt(clock.now)).toBe('power-down'); // the chip powered itself down (p.5)
    model.setIlluminance(250);
    clock.advance(1000);
    reading = await clock.run(sensor.sample());
    expect(reading.lightmeter.illuminance).toBe(250);
    expect(writes(bus).slice(4)).toEqual([0x20]);
    expect(bus.transfersTo(0x23, 'read').map((r) => r.atMs)).toEqual([180, 1360]);
    expect(clock.pendingTimers).toBe(0);
  });

  test('never reads too early: the model would return the stale value, and the driver gets the fresh one', async () => {
    const { clock, bus, sensor, model } = modelBench({ illuminance: 1000 });
    await clock.run(sensor.sample());
    model.setIlluminance(10);
    const started = clock.now;
    const reading = await clock.run(sensor.sample());
    expect(reading.lightmeter.illuminance).toBe(10); // a read at 179 ms would still say 1000
    expect(bus.transfersTo(0x23, 'read').at(-1)!.atMs - started).toBe(180);
  });

  test('continuous mode: the first sample waits for a result, later ones read the latest at once', async () => {
    const { clock, bus, sensor, model } = modelBench({ illuminance: 1000 });
    sensor.configure({ mode: 'continuous' });
    expect((await clock.run(sensor.sample())).lightmeter.illuminance).toBe(1000);
    expect(writes(bus)).toEqual([0x01, 0x42, 0x65, 0x10]);
    model.setIlluminance(400);
    clock.advance(400); // two more cycles
    const started = clock.now;
    expect((await clock.run(sensor.sample())).lightmeter.illuminance).toBe(400);
    expect(clock.now).toBe(started); // no wait
    expect(writes(bus)).toHaveLength(4); // nothing sent
    expect(model.stateAt(clock.now)).toBe('measuring');
  });

  test('changing MTreg or resolution restarts the measurement and waits for the new time', async () => {
    const { clock, bus, sensor } = modelBench({ illuminance: 1000 });
    sensor.configure({ mode: 'continuous' });
    await clock.run(sensor.sample());
    sensor.configure({ mtreg: 138 });
    const started = clock.now;
    expect((await clock.run(sensor.sample())).lightmeter.illuminance).toBe(1000);
    expect(writes(bus).slice(4)).toEqual([0x44, 0x6a, 0x10]);
    expect(clock.now - started).toBe(360);
    sensor.configure({ resolution: 'high2' });
    expect((await clock.run(sensor.sample())).lightmeter.illuminance).toBe(1000);
    expect(writes(bus).slice(7)).toEqual([0x11]);
  });

  test('NACK fault: SensorError nack naming chip, address and the ADDR pin', async () => {
    const { clock, sensor } = modelBench({ faults: { nack: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('nack');
    expect(error.chip).toBe('BH1750');
    expect(error.address).toBe(0x23);
    expect(error.message).toMatch(/^BH1750 at 0x23: no acknowledge.*ADDR pin/);
  });

  test('after a failed transfer the driver starts again from Power On and MTreg', async () => {
    const { clock, bus, sensor, model } = modelBench({ illuminance: 1000 });
    sensor.configure({ mode: 'continuous', mtreg: 138 });
    await clock.run(sensor.sample());
    model.setFaults({ nack: true });
    expect((await sampleError(clock, sensor.sample())).code).toBe('nack');
    model.setFaults({ nack: false });
    expect((await clock.run(sensor.sample())).lightmeter.illuminance).toBe(1000);
    expect(writes(bus).slice(-4)).toEqual([0x01, 0x44, 0x6a, 0x10]);
  });

  test('stuck busy cannot be detected: the BH1750 has no ready flag, so the driver reads the stale register', async () => {
    // The data register still holds its power-up 0: the reading is 0 lx, indistinguishable from darkness.
    const { clock, sensor } = modelBench({ illuminance: 1000, faults: { stuckBusy: true } });
    expect((await clock.run(sensor.sample())).lightmeter.illuminance).toBe(0);
  });

  test('works at 0x5C; a wrong address is a nack naming the address used', async () => {
    const { clock, sensor } = modelBench({ address: 0x5c, illuminance: 50 });
    expect((await clock.run(sensor.sample())).lightmeter.illuminance).toBe(50);
    const wrong = bench(new BH1750Model({ address: 0x23 }), 0x5c);
    const error = await sampleError(wrong.clock, wrong.sensor.sample());
    expect(error.message).toMatch(/^BH1750 at 0x5c:/);
  });

  test('a second sample while one is in flight rejects with busy; the first completes', async () => {
    const { clock, sensor } = modelBench({ illuminance: 1000 });
    const first = sensor.sample();
    expect((await sampleError(clock, sensor.sample())).code).toBe('busy');
    expect((await clock.run(first)).lightmeter.illuminance).toBe(1000);
  });

  test('configure and the constructor validate their options', () => {
    const { sensor } = modelBench();
    expect(() => sensor.configure({ mode: 'sometimes' as never })).toThrow(RangeError);
    expect(() => sensor.configure({ resolution: 'low' as never })).toThrow(RangeError);
    expect(() => sensor.configure({ mtreg: 30 })).toThrow(RangeError);
    expect(() => sensor.configure({ mtreg: 255 })).toThrow(RangeError);
    expect(() => sensor.configure({ mtreg: 69.5 })).toThrow(RangeError);
    const clock = new ManualClock();
    expect(() => new BH1750({ i2c: new SimI2CBus(clock), timers: clock, address: 0x24 })).toThrow(RangeError);
  });

  test('close powers the chip down; close during a sample rejects it with closed and cancels its timer', async () => {
    const { clock, bus, sensor, model } = modelBench();
    sensor.configure({ mode: 'continuous' });
    await clock.run(sensor.sample());
    expect(model.stateAt(clock.now)).toBe('measuring');
    sensor.close();
    expect(writes(bus).at(-1)).toBe(0x00);
    expect(model.stateAt(clock.now)).toBe('power-down');
    const second = modelBench();
    const inFlight = second.sensor.sample();
    second.sensor.close();
    expect((await sampleError(second.clock, inFlight)).code).toBe('closed');
    expect(second.clock.pendingTimers).toBe(0);
    expect((await sampleError(second.clock, second.sensor.sample())).code).toBe('closed');
    second.sensor.close();
  });
});
