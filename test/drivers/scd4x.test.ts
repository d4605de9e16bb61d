/**
 * SCD4x driver against the SCD41 chip model, over the test bench bus and virtual clock.
 * Known answers come from "Datasheet SCD4x" (v1.3, Sept 2022): the read_measurement example
 * (01f4 6667 5eb9 → 500 ppm, 25 °C, 37 %RH), the serial number and set_temperature_offset
 * examples, and conversions worked by hand. The model refuses any command sent before the
 * previous one's execution time is over, so a driver that did not wait would fail here.
 */
import fc from 'fast-check';
import { sensirionCrc8 } from '../../firmware/drivers/sht3x/crc8';
import { humidityFromRaw, temperatureFromRaw, temperatureOffsetToRaw } from '../../firmware/drivers/scd4x/conversion';
import { SCD4x } from '../../firmware/drivers/scd4x/scd4x';
import { COMMAND, SCD41Model } from '../../host-sim/chips/scd41/model';
import type { SCD41ModelOptions } from '../../host-sim/chips/scd41/model';
import { sampleError } from './support/errors';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

const EXAMPLE_TEMPERATURE = -45 + (175 * 0x6667) / 65535;
const EXAMPLE_HUMIDITY = (100 * 0x5eb9) / 65535;
const TEMPERATURE_HALF_LSB = 175 / 65535 / 2;
const HUMIDITY_HALF_LSB = 100 / 65535 / 2;

/** A chip that has been powered for a while (answers at once) unless the test says otherwise. */
function modelBench(options: SCD41ModelOptions = {}) {
  const model = new SCD41Model({ co2: 500, temperature: EXAMPLE_TEMPERATURE, humidity: EXAMPLE_HUMIDITY, poweredAtMs: -1000, ...options });
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const sensor = new SCD4x({ i2c: bus, timers: clock });
  return { model, clock, bus, sensor };
}

/** The commands the chip accepted, by name. */
function accepted(model: SCD41Model, from = 0): string[] {
  const names = new Map(Object.entries(COMMAND).map(([name, code]) => [code as number, name]));
  return model.commands.slice(from).map((c) => names.get(c.command)!);
}

/** Every transfer after `afterMs` was acknowledged: the driver never talked to a busy chip. */
function allAcknowledgedAfter(bus: SimI2CBus, afterMs: number): boolean {
  return bus.transfers.filter((t) => t.atMs > afterMs).every((t) => t.acknowledged);
}

describe('conversion (§3.5.2, §3.6.1), worked by hand', () => {
  test('the datasheet example words: 0x6667 → 25.0027 °C, 0x5EB9 → 37.0016 %RH', () => {
    expect(temperatureFromRaw(0x6667)).toBeCloseTo(25.00267, 5); // -45 + 175 × 26215 / 65535
    expect(humidityFromRaw(0x5eb9)).toBeCloseTo(37.0016, 4); // 100 × 24249 / 65535
    expect(temperatureFromRaw(0)).toBe(-45);
    expect(humidityFromRaw(0xffff)).toBe(100);
  });

  test('temperature offset word: 5.4 °C → 2022 = 0x07E6 (§3.6.1 example), 4 °C → 1498', () => {
    expect(temperatureOffsetToRaw(5.4)).toBe(0x07e6);
    expect(temperatureOffsetToRaw(4)).toBe(1498);
  });

  test('the example CRCs: 01f4 → 33, 6667 → a2, 5eb9 → 3c, f896 → 31, 07e6 → 48 (§3.11)', () => {
    const crc = (word: number) => sensirionCrc8(new Uint8Array([word >> 8, word & 0xff]));
    expect([0x01f4, 0x6667, 0x5eb9, 0xf896, 0x07e6].map(crc)).toEqual([0x33, 0xa2, 0x3c, 0x31, 0x48]);
  });
});

describe('SCD4x driver: periodic mode', () => {
  test('the datasheet example measurement: 500 ppm, 25.0027 °C, 37.0016 %RH', async () => {
    const { clock, sensor } = modelBench();
    const reading = await clock.run(sensor.sample());
    expect(reading.carbonDioxideGasSensor.CO2).toBe(500);
    expect(reading.thermometer.temperature).toBeCloseTo(25.00267, 5);
    expect(reading.hygrometer.humidity).toBeCloseTo(37.0016, 4);
    expect(sensor.serialNumber).toBe(0xf8969f073bbe);
  });

  test('reads what the model is set to, within the resolution, for any CO2, temperature and humidity', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0, max: 40_000, noNaN: true }),
        fc.double({ min: -10, max: 60, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        async (co2, temperature, humidity) => {
          const { clock, sensor } = modelBench({ co2, temperature, humidity });
          const reading = await clock.run(sensor.sample());
          expect(Math.abs(reading.carbonDioxideGasSensor.CO2 - co2)).toBeLessThanOrEqual(0.5);
          expect(Math.abs(reading.thermometer.temperature - temperature)).toBeLessThanOrEqual(TEMPERATURE_HALF_LSB + 1e-9);
          expect(Math.abs(reading.hygrometer.humidity - humidity)).toBeLessThanOrEqual(HUMIDITY_HALF_LSB + 1e-9);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('start-up right after power-on: retries through the 1000 ms power-up, then stop, serial, start, poll, read', async () => {
    const { clock, bus, model, sensor } = modelBench({ poweredAtMs: 0 });
    await clock.run(sensor.sample());
    expect(accepted(model)).toEqual([
      'STOP_PERIODIC_MEASUREMENT',
      'GET_SERIAL_NUMBER',
      'START_PERIODIC_MEASUREMENT',
      'GET_DATA_READY_STATUS',
      'READ_MEASUREMENT',
    ]);
    const [stop, serial, start, ready, read] = model.commands.map((c) => c.atMs);
    expect(stop).toBe(1020); // wake_up at 0, 20 ms, then stop every 100 ms until the chip answers
    expect(serial - stop).toBe(500); // §3.5.3: 500 ms after stop
    expect(start - serial).toBe(1);
    expect(ready - start).toBe(5000); // the first result is due one interval after the start
    expect(read - ready).toBe(1);
    expect(allAcknowledgedAfter(bus, 1000)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  test('a sensor a previous firmware left measuring, or asleep, is brought back to a known state', async () => {
    for (const left of [COMMAND.START_PERIODIC_MEASUREMENT, COMMAND.POWER_DOWN]) {
      const { clock, model, sensor } = modelBench();
      const other = new SimI2CBus(clock, [model]).open({ address: 0x62 });
      other.write(new Uint8Array([left >> 8, left & 0xff]));
      expect(model.mode).toBe(left === COMMAND.POWER_DOWN ? 'sleep' : 'periodic');
      clock.advance(1);
      const reading = await clock.run(sensor.sample());
      expect(reading.carbonDioxideGasSensor.CO2).toBe(500);
      expect(model.mode).toBe('periodic');
    }
  });

  test('later samples poll data-ready on a timer and return the next fresh measurement', async () => {
    const { clock, bus, model, sensor } = modelBench({ co2: (ms) => 400 + Math.floor(ms / 1000) });
    const first = await clock.run(sensor.sample());
    const firstAt = clock.now;
    const second = await clock.run(sensor.sample());
    expect(second.carbonDioxideGasSensor.CO2 - first.carbonDioxideGasSensor.CO2).toBe(5); // 5 s later
    expect(clock.now - firstAt).toBeGreaterThanOrEqual(4500);
    expect(clock.now - firstAt).toBeLessThanOrEqual(5600);
    const polls = model.commands.filter((c) => c.command === COMMAND.GET_DATA_READY_STATUS && c.atMs > firstAt);
    expect(polls.length).toBeGreaterThan(5);
    expect(polls.length).toBeLessThanOrEqual(12);
    expect(allAcknowledgedAfter(bus, 0)).toBe(true);
  });

  test('low-power periodic: the first result comes 30 s after the start', async () => {
    const { clock, model, sensor } = modelBench();
    sensor.configure({ mode: 'low-power-periodic' });
    await clock.run(sensor.sample());
    expect(model.mode).toBe('low-power-periodic');
    const start = model.commands.find((c) => c.command === COMMAND.START_LOW_POWER_PERIODIC_MEASUREMENT)!.atMs;
    expect(clock.now - start).toBe(30_002);
  });

  test('settings are written in idle before the start, as the datasheet words', async () => {
    const { clock, model, sensor } = modelBench({ temperature: 25 });
    sensor.configure({ temperatureOffset: 5.4, altitude: 1950, automaticSelfCalibration: false, ambientPressure: 987 });
    const reading = await clock.run(sensor.sample());
    expect(accepted(model).slice(0, 7)).toEqual([
      'STOP_PERIODIC_MEASUREMENT',
      'GET_SERIAL_NUMBER',
      'SET_TEMPERATURE_OFFSET',
      'SET_SENSOR_ALTITUDE',
      'SET_AUTOMATIC_SELF_CALIBRATION_ENABLED',
      'SET_AMBIENT_PRESSURE',
      'START_PERIODIC_MEASUREMENT',
    ]);
    expect(model.settings).toEqual({ temperatureOffset: 0x07e6, altitude: 1950, automaticSelfCalibration: 0 });
    expect(model.ambientPressure).toBe(987);
    expect(reading.thermometer.temperature).toBeCloseTo(25 + 4 - 5.4, 2); // the model's self-heating is the default 4 °C
  });

  test('a setting change while measuring: stop, 500 ms, write, start again; pressure alone needs no stop', async () => {
    const { clock, model, sensor } = modelBench();
    await clock.run(sensor.sample());
    const before = model.commands.length;
    sensor.configure({ ambientPressure: 1013 });
    await clock.run(sensor.sample());
    expect(accepted(model, before)[0]).toBe('SET_AMBIENT_PRESSURE');
    expect(accepted(model, before)).not.toContain('STOP_PERIODIC_MEASUREMENT');
    expect(model.ambientPressure).toBe(1013);
    const next = model.commands.length;
    sensor.configure({ altitude: 300 });
    await clock.run(sensor.sample());
    expect(accepted(model, next).slice(0, 3)).toEqual(['STOP_PERIODIC_MEASUREMENT', 'SET_SENSOR_ALTITUDE', 'START_PERIODIC_MEASUREMENT']);
    const [stop, set] = model.commands.slice(next).map((c) => c.atMs);
    expect(set - stop).toBe(500);
    expect(model.settings.altitude).toBe(300);
  });

  test('never reads too early: the chip NACKs read_measurement without data, and the driver only sends it after data-ready said yes', async () => {
    const { clock, bus, model, sensor } = modelBench();
    await clock.run(sensor.sample());
    // Every read_measurement the driver sent came after a data-ready answer that said "ready".
    const reads = model.commands.filter((c) => c.command === COMMAND.READ_MEASUREMENT);
    expect(reads).toHaveLength(1);
    expect(bus.transfers.every((t) => t.acknowledged || t.atMs < 20)).toBe(true);
  });
});

describe('SCD4x driver: single shot (SCD41)', () => {
  test('each sample triggers measure_single_shot and reads after its 5 s', async () => {
    const { clock, model, sensor } = modelBench({ co2: 750 });
    sensor.configure({ mode: 'single-shot' });
    const reading = await clock.run(sensor.sample());
    expect(reading.carbonDioxideGasSensor.CO2).toBe(750);
    expect(accepted(model)).toEqual(['STOP_PERIODIC_MEASUREMENT', 'GET_SERIAL_NUMBER', 'MEASURE_SINGLE_SHOT', 'GET_DATA_READY_STATUS', 'READ_MEASUREMENT']);
    const [, , shot, ready] = model.commands.map((c) => c.atMs);
    expect(ready - shot).toBe(5000);
    expect(model.mode).toBe('idle');
  });

  test('switching from periodic to single shot stops the periodic measurement first', async () => {
    const { clock, model, sensor } = modelBench();
    await clock.run(sensor.sample());
    const before = model.commands.length;
    sensor.configure({ mode: 'single-shot' });
    await clock.run(sensor.sample());
    expect(accepted(model, before).slice(0, 2)).toEqual(['STOP_PERIODIC_MEASUREMENT', 'MEASURE_SINGLE_SHOT']);
  });

  test('an SCD40 refuses single shot: SensorError id, while periodic mode works', async () => {
    const { clock, sensor } = modelBench({ variant: 'SCD40' });
    sensor.configure({ mode: 'single-shot' });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('id');
    expect(error.message).toMatch(/single shot needs an SCD41/);
    sensor.configure({ mode: 'periodic' });
    await expect(clock.run(sensor.sample())).resolves.toBeDefined();
  });
});

describe('SCD4x driver: faults', () => {
  test('NACK: retried through the power-up time, then SensorError nack naming chip and address', async () => {
    const { clock, sensor } = modelBench({ faults: { nack: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('nack');
    expect(error.chip).toBe('SCD4x');
    expect(error.address).toBe(0x62);
    expect(error.message).toMatch(/^SCD4x at 0x62: no acknowledge/);
    expect(clock.now).toBe(1020);
  });

  test('a CRC error in one measurement: that one is lost, the next is returned', async () => {
    const { clock, model, sensor } = modelBench({ co2: (ms) => 400 + Math.floor(ms / 1000), faults: { crcError: 1, crcErrorOn: 'measurement' } });
    const reading = await clock.run(sensor.sample());
    expect(model.commands.filter((c) => c.command === COMMAND.READ_MEASUREMENT)).toHaveLength(2);
    expect(reading.carbonDioxideGasSensor.CO2).toBe(400 + 10); // started at 0.52 s: the 10.52 s result
  });

  test('CRC errors in every measurement: three measurements, then SensorError crc', async () => {
    const { clock, model, sensor } = modelBench({ faults: { crcError: 'always', crcErrorOn: 'measurement' } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('crc');
    expect(error.message).toBe('SCD4x at 0x62: CRC mismatch in the measurement after 3 attempts');
    expect(model.commands.filter((c) => c.command === COMMAND.READ_MEASUREMENT)).toHaveLength(3);
  });

  test('CRC errors in every answer: the serial number is asked three times, then SensorError crc', async () => {
    const { clock, model, sensor } = modelBench({ faults: { crcError: 'always' } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('crc');
    expect(error.message).toMatch(/serial number after 3 attempts/);
    expect(model.commands.filter((c) => c.command === COMMAND.GET_SERIAL_NUMBER)).toHaveLength(3);
  });

  test('stuck busy: data never ready, SensorError timeout after two update intervals of polling', async () => {
    const { clock, sensor } = modelBench({ faults: { stuckBusy: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/^SCD4x at 0x62: no new measurement 10000 ms after asking/);
    expect(clock.pendingTimers).toBe(0);
  });

  test('stuck busy in single shot: the chip keeps NACKing, SensorError timeout after a second of grace', async () => {
    const { clock, model, sensor } = modelBench({ faults: { stuckBusy: true } });
    sensor.configure({ mode: 'single-shot' });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('SCD4x at 0x62: single shot not ready 6000 ms after the command');
    expect(clock.pendingTimers).toBe(0);
    model.setFaults({ stuckBusy: false });
    await expect(clock.run(sensor.sample())).resolves.toBeDefined();
  });

  test('wrong id (serial all zeros): SensorError id', async () => {
    const { clock, sensor } = modelBench({ faults: { wrongId: true } });
    const error = await sampleError(clock, sensor.sample());
    expect(error.code).toBe('id');
    expect(error.message).toMatch(/serial number 0x000000000000 is not a programmed SCD4x serial/);
  });

  test('after a NACK mid-run the next sample initialises again', async () => {
    const { clock, model, sensor } = modelBench();
    await clock.run(sensor.sample());
    model.setFaults({ nack: true });
    expect((await sampleError(clock, sensor.sample())).code).toBe('nack');
    model.setFaults({ nack: false });
    const before = model.commands.length;
    await clock.run(sensor.sample());
    expect(accepted(model, before).slice(0, 3)).toEqual(['STOP_PERIODIC_MEASUREMENT', 'GET_SERIAL_NUMBER', 'START_PERIODIC_MEASUREMENT']);
  });
});

describe('SCD4x driver: API', () => {
  test('a second sample while one is in flight rejects with busy', async () => {
    const { clock, sensor } = modelBench();
    const first = sensor.sample();
    expect((await sampleError(clock, sensor.sample())).code).toBe('busy');
    await clock.run(first);
  });

  test('configure and the constructor validate their options', () => {
    const { sensor } = modelBench();
    expect(() => sensor.configure({ mode: 'fast' as never })).toThrow(RangeError);
    expect(() => sensor.configure({ temperatureOffset: -1 })).toThrow(RangeError);
    expect(() => sensor.configure({ altitude: 3001 })).toThrow(RangeError);
    expect(() => sensor.configure({ altitude: 10.5 })).toThrow(RangeError);
    expect(() => sensor.configure({ ambientPressure: 600 })).toThrow(RangeError);
    expect(() => sensor.configure({ automaticSelfCalibration: 1 as never })).toThrow(RangeError);
    const clock = new ManualClock();
    expect(() => new SCD4x({ i2c: new SimI2CBus(clock), timers: clock, address: 0x61 })).toThrow(RangeError);
  });

  test('close stops the periodic measurement; close during a sample rejects it with closed', async () => {
    const { clock, model, sensor } = modelBench();
    await clock.run(sensor.sample());
    expect(model.mode).toBe('periodic');
    sensor.close();
    expect(model.mode).toBe('idle');
    expect((await sampleError(clock, sensor.sample())).code).toBe('closed');
    const second = modelBench();
    const pending = second.sensor.sample();
    second.sensor.close();
    expect((await sampleError(second.clock, pending)).code).toBe('closed');
    expect(second.clock.pendingTimers).toBe(0);
    second.sensor.close();
  });
});
