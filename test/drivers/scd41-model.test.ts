/**
 * The SCD41 chip model on its own, driven command by command over the test bench bus,
 * checked against "Datasheet SCD4x" (v1.3, Sept 2022): the byte-level examples the datasheet
 * gives for read_measurement, set_temperature_offset, set_sensor_altitude,
 * set_ambient_pressure, perform_forced_recalibration and get_serial_number, the execution
 * times of Table 9, the periodic and single-shot modes, and the fault knobs.
 */
import type { I2CDevice } from '../../hal/i2c';
import { sensirionCrc8 } from '../../firmware/drivers/sht3x/crc8';
import { dailyCo2 } from '../../host-sim/chips/scd41/office-day';
import { COMMAND, DEFAULT_SETTINGS, SCD41Model, rawTemperature } from '../../host-sim/chips/scd41/model';
import type { SCD41ModelOptions } from '../../host-sim/chips/scd41/model';
import { nacks } from './support/errors';
import { words } from './support/sensirion';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

/** The datasheet's read_measurement example (§3.5.2) is these words; 25 °C and 37 %RH are their rounded values. */
const EXAMPLE_TEMPERATURE = -45 + (175 * 0x6667) / 65535; // 25.0027 °C
const EXAMPLE_HUMIDITY = (100 * 0x5eb9) / 65535; // 37.0016 %RH

function chip(options: SCD41ModelOptions = {}) {
  const model = new SCD41Model({ co2: 500, temperature: EXAMPLE_TEMPERATURE, humidity: EXAMPLE_HUMIDITY, poweredAtMs: -1000, ...options });
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const device = bus.open({ address: 0x62 });
  return { model, clock, bus, device };
}

/** A command, with its argument word and CRC when given (§3.3 "write" sequence). */
function send(device: I2CDevice, command: number, argument?: number): void {
  const bytes = [command >> 8, command & 0xff];
  if (argument !== undefined) {
    const word = new Uint8Array([argument >> 8, argument & 0xff]);
    bytes.push(word[0], word[1], sensirionCrc8(word));
  }
  device.write(new Uint8Array(bytes));
}

/** A "read" sequence: command, execution time, `count` words. */
function query(device: I2CDevice, clock: ManualClock, command: number, count: number, executionMs = 1): number[] {
  send(device, command);
  clock.advance(executionMs);
  return words(device.read(count * 3));
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

describe('SCD41 model: the datasheet examples, byte for byte', () => {
  test('§3.11: CRC(0xBEEF) = 0x92', () => {
    expect(sensirionCrc8(new Uint8Array([0xbe, 0xef]))).toBe(0x92);
  });

  test('§3.5.2 read_measurement: 500 ppm, 25 °C, 37 %RH read as 01f4 33 6667 a2 5eb9 3c', () => {
    const { device, clock } = chip();
    send(device, COMMAND.START_PERIODIC_MEASUREMENT);
    clock.advance(5000);
    send(device, COMMAND.READ_MEASUREMENT);
    clock.advance(1);
    expect(hex(device.read(9))).toBe('01 f4 33 66 67 a2 5e b9 3c');
  });

  test('§3.9.2 get_serial_number: f896 31 9f07 c2 3bbe 89, serial 273 325 796 834 238', () => {
    const { device, clock } = chip();
    send(device, COMMAND.GET_SERIAL_NUMBER);
    clock.advance(1);
    const bytes = device.read(9);
    expect(hex(bytes)).toBe('f8 96 31 9f 07 c2 3b be 89');
    const [a, b, c] = words(bytes);
    expect(a * 2 ** 32 + b * 2 ** 16 + c).toBe(273_325_796_834_238);
  });

  test('§3.6.1 set_temperature_offset 5.4 °C: 241d 07e6 48; get reads it back; T drops by 1.4 °C', () => {
    const { device, clock, model } = chip({ temperature: 25 });
    expect(DEFAULT_SETTINGS.temperatureOffset).toBe(1498); // 4 °C × 65535 / 175 = 1497.94
    expect(query(device, clock, COMMAND.GET_TEMPERATURE_OFFSET, 1)).toEqual([1498]);
    device.write(new Uint8Array([0x24, 0x1d, 0x07, 0xe6, 0x48]));
    clock.advance(1);
    expect(model.settings.temperatureOffset).toBe(0x07e6);
    send(device, COMMAND.GET_TEMPERATURE_OFFSET);
    clock.advance(1);
    expect(hex(device.read(3))).toBe('07 e6 48');
    expect((0x07e6 * 175) / 65535).toBeCloseTo(5.4, 2); // 2022 × 175 / 65535 = 5.3994: one code is 0.0027 °C
    send(device, COMMAND.START_PERIODIC_MEASUREMENT);
    clock.advance(5000);
    const [, t] = query(device, clock, COMMAND.READ_MEASUREMENT, 3);
    expect(t).toBe(rawTemperature(25 + (1498 * 175) / 65535 - (0x07e6 * 175) / 65535)); // 23.6 °C
  });

  test('§3.6.3 set_sensor_altitude 1950 m: 2427 079e 09; get_sensor_altitude reads 079e 09', () => {
    const { device, clock } = chip();
    device.write(new Uint8Array([0x24, 0x27, 0x07, 0x9e, 0x09]));
    clock.advance(1);
    send(device, COMMAND.GET_SENSOR_ALTITUDE);
    clock.advance(1);
    expect(hex(device.read(3))).toBe('07 9e 09');
  });

  test('§3.6.5 set_ambient_pressure 987 hPa: e000 03db 42, accepted while measuring', () => {
    const { device, clock, model } = chip();
    send(device, COMMAND.START_PERIODIC_MEASUREMENT);
    device.write(new Uint8Array([0xe0, 0x00, 0x03, 0xdb, 0x42]));
    expect(model.ambientPressure).toBe(987);
    clock.advance(1);
  });

  test('§3.7.1 perform_forced_recalibration to 480 ppm (01e0 b4) while reading 530: 7fce 7b, a -50 ppm correction, after 400 ms', () => {
    const { device, clock } = chip({ co2: 530 });
    device.write(new Uint8Array([0x36, 0x2f, 0x01, 0xe0, 0xb4]));
    clock.advance(399);
    expect(nacks(() => device.read(3))).toBe(true);
    clock.advance(1);
    const bytes = device.read(3);
    expect(hex(bytes)).toBe('7f ce 7b');
    expect(words(bytes)[0] - 0x8000).toBe(-50);
  });
});

describe('SCD41 model: the I2C sequences (§3.1–§3.3)', () => {
  test('power-up: nothing is acknowledged for 1000 ms after the supply comes up', () => {
    const { device, clock } = chip({ poweredAtMs: 0 });
    clock.advance(999);
    expect(nacks(() => device.write(new Uint8Array(0)))).toBe(true);
    expect(nacks(() => send(device, COMMAND.GET_SERIAL_NUMBER))).toBe(true);
    clock.advance(1);
    send(device, COMMAND.GET_SERIAL_NUMBER);
  });

  test('execution time: no ACK to the read header, nor to a new command, until it has passed', () => {
    const { device, clock } = chip();
    send(device, COMMAND.GET_SERIAL_NUMBER);
    clock.advance(0.5);
    expect(nacks(() => device.read(9))).toBe(true);
    expect(nacks(() => send(device, COMMAND.GET_DATA_READY_STATUS))).toBe(true);
    clock.advance(0.5);
    expect(device.read(9)).toHaveLength(9);
    expect(nacks(() => device.read(9))).toBe(true); // read once
  });

  test('stop_periodic_measurement: the chip answers nothing for 500 ms', () => {
    const { device, clock, model } = chip();
    send(device, COMMAND.START_PERIODIC_MEASUREMENT);
    send(device, COMMAND.STOP_PERIODIC_MEASUREMENT);
    expect(model.mode).toBe('idle');
    clock.advance(499);
    expect(nacks(() => send(device, COMMAND.GET_SERIAL_NUMBER))).toBe(true);
    clock.advance(1);
    send(device, COMMAND.GET_SERIAL_NUMBER);
  });

  test('write sequences: a wrong CRC, a missing argument or an unexpected one is NACKed; so is an unknown command', () => {
    const { device, model } = chip();
    expect(nacks(() => device.write(new Uint8Array([0x24, 0x1d, 0x07, 0xe6, 0x49])))).toBe(true);
    expect(nacks(() => send(device, COMMAND.SET_TEMPERATURE_OFFSET))).toBe(true);
    expect(nacks(() => send(device, COMMAND.GET_SERIAL_NUMBER, 1))).toBe(true);
    expect(nacks(() => send(device, 0x1234))).toBe(true);
    expect(nacks(() => device.write(new Uint8Array([0x36])))).toBe(true);
    expect(model.commands).toEqual([]);
  });
});

describe('SCD41 model: periodic measurement (§3.5, §3.8)', () => {
  test('data ready after 5 s (status 0x8006; 0x8000 before); read_measurement with no data is NACKed', () => {
    const { device, clock } = chip();
    send(device, COMMAND.START_PERIODIC_MEASUREMENT);
    expect(query(device, clock, COMMAND.GET_DATA_READY_STATUS, 1)).toEqual([0x8000]);
    send(device, COMMAND.READ_MEASUREMENT);
    clock.advance(1);
    expect(nacks(() => device.read(9))).toBe(true);
    clock.advance(4998);
    expect(query(device, clock, COMMAND.GET_DATA_READY_STATUS, 1)).toEqual([0x8006]);
    expect(query(device, clock, COMMAND.READ_MEASUREMENT, 3)[0]).toBe(500);
    expect(query(device, clock, COMMAND.GET_DATA_READY_STATUS, 1)).toEqual([0x8000]); // the read emptied the buffer
  });

  test('each result is the conditions when it finished; an unread one is replaced by the next', () => {
    const { device, clock } = chip({ co2: (ms) => 400 + ms / 100 });
    send(device, COMMAND.START_PERIODIC_MEASUREMENT);
    clock.advance(5000);
    expect(query(device, clock, COMMAND.READ_MEASUREMENT, 3)[0]).toBe(450);
    clock.advance(9999); // now 15000: results at 10 s and 15 s finished; only the latest is there
    expect(query(device, clock, COMMAND.READ_MEASUREMENT, 3)[0]).toBe(550);
  });

  test('low-power periodic: every 30 s', () => {
    const { device, clock, model } = chip();
    send(device, COMMAND.START_LOW_POWER_PERIODIC_MEASUREMENT);
    expect(model.mode).toBe('low-power-periodic');
    clock.advance(29_998);
    expect(query(device, clock, COMMAND.GET_DATA_READY_STATUS, 1)).toEqual([0x8000]);
    clock.advance(1);
    expect(query(device, clock, COMMAND.GET_DATA_READY_STATUS, 1)).toEqual([0x8006]);
  });

  test('while measuring only the four commands of Table 9 are accepted', () => {
    const { device, clock } = chip();
    send(device, COMMAND.START_PERIODIC_MEASUREMENT);
    expect(nacks(() => send(device, COMMAND.GET_SERIAL_NUMBER))).toBe(true);
    expect(nacks(() => send(device, COMMAND.SET_TEMPERATURE_OFFSET, 100))).toBe(true);
    expect(nacks(() => send(device, COMMAND.START_PERIODIC_MEASUREMENT))).toBe(true);
    expect(nacks(() => send(device, COMMAND.MEASURE_SINGLE_SHOT))).toBe(true);
    send(device, COMMAND.SET_AMBIENT_PRESSURE, 1000);
    clock.advance(1);
    send(device, COMMAND.GET_DATA_READY_STATUS);
    clock.advance(1);
    send(device, COMMAND.STOP_PERIODIC_MEASUREMENT);
  });
});

describe('SCD41 model: settings and advanced commands (§3.6, §3.7, §3.9)', () => {
  test('persist_settings, reinit and perform_factory_reset move settings between RAM and EEPROM', () => {
    const { device, clock, model } = chip();
    send(device, COMMAND.SET_SENSOR_ALTITUDE, 500);
    clock.advance(1);
    send(device, COMMAND.PERSIST_SETTINGS);
    clock.advance(799);
    expect(nacks(() => send(device, COMMAND.REINIT))).toBe(true);
    clock.advance(1);
    expect(model.persistedSettings.altitude).toBe(500);
    send(device, COMMAND.SET_SENSOR_ALTITUDE, 900);
    clock.advance(1);
    send(device, COMMAND.REINIT);
    clock.advance(20);
    expect(query(device, clock, COMMAND.GET_SENSOR_ALTITUDE, 1)).toEqual([500]);
    send(device, COMMAND.PERFORM_FACTORY_RESET);
    clock.advance(1200);
    expect(model.settings).toEqual(DEFAULT_SETTINGS);
    expect(model.persistedSettings).toEqual(DEFAULT_SETTINGS);
  });

  test('automatic self-calibration: on by default, off when set to 0', () => {
    const { device, clock } = chip();
    expect(query(device, clock, COMMAND.GET_AUTOMATIC_SELF_CALIBRATION_ENABLED, 1)).toEqual([1]);
    send(device, COMMAND.SET_AUTOMATIC_SELF_CALIBRATION_ENABLED, 0);
    clock.advance(1);
    expect(query(device, clock, COMMAND.GET_AUTOMATIC_SELF_CALIBRATION_ENABLED, 1)).toEqual([0]);
  });

  test('perform_self_test answers 0 (no malfunction) after 10 s', () => {
    const { device, clock } = chip();
    send(device, COMMAND.PERFORM_SELF_TEST);
    clock.advance(9999);
    expect(nacks(() => device.read(3))).toBe(true);
    clock.advance(1);
    expect(words(device.read(3))).toEqual([0]);
  });
});

describe('SCD41 model: single shot and sleep (§3.10)', () => {
  test('measure_single_shot: the chip is busy for 5 s, then data is ready in idle mode', () => {
    const { device, clock } = chip({ co2: 800 });
    send(device, COMMAND.MEASURE_SINGLE_SHOT);
    clock.advance(4999);
    expect(nacks(() => send(device, COMMAND.GET_DATA_READY_STATUS))).toBe(true);
    clock.advance(1);
    expect(query(device, clock, COMMAND.GET_DATA_READY_STATUS, 1)).toEqual([0x8006]);
    expect(query(device, clock, COMMAND.READ_MEASUREMENT, 3)[0]).toBe(800);
    expect(query(device, clock, COMMAND.GET_DATA_READY_STATUS, 1)).toEqual([0x8000]);
  });

  test('measure_single_shot_rht_only: 50 ms, CO2 reads 0', () => {
    const { device, clock } = chip();
    send(device, COMMAND.MEASURE_SINGLE_SHOT_RHT_ONLY);
    clock.advance(50);
    expect(query(device, clock, COMMAND.READ_MEASUREMENT, 3)).toEqual([0, 0x6667, 0x5eb9]);
  });

  test('power_down: nothing is heard; wake_up is NACKed but wakes the chip, idle 20 ms later', () => {
    const { device, clock, model } = chip();
    send(device, COMMAND.POWER_DOWN);
    clock.advance(1);
    expect(model.mode).toBe('sleep');
    expect(nacks(() => send(device, COMMAND.GET_SERIAL_NUMBER))).toBe(true);
    expect(nacks(() => send(device, COMMAND.WAKE_UP))).toBe(true);
    expect(model.mode).toBe('idle');
    clock.advance(19);
    expect(nacks(() => send(device, COMMAND.GET_SERIAL_NUMBER))).toBe(true);
    clock.advance(1);
    send(device, COMMAND.GET_SERIAL_NUMBER);
    clock.advance(1);
    expect(nacks(() => send(device, COMMAND.WAKE_UP))).toBe(true); // awake: no effect, no ACK
  });

  test('an SCD40 NACKs the SCD41-only commands', () => {
    const { device } = chip({ variant: 'SCD40' });
    for (const command of [COMMAND.MEASURE_SINGLE_SHOT, COMMAND.MEASURE_SINGLE_SHOT_RHT_ONLY, COMMAND.POWER_DOWN, COMMAND.WAKE_UP]) {
      expect(nacks(() => send(device, command))).toBe(true);
    }
    send(device, COMMAND.START_PERIODIC_MEASUREMENT);
  });
});

describe('SCD41 model: values, noise and faults', () => {
  test('values clamp to 16 bits; CO2 is rounded to whole ppm', () => {
    const { device, clock } = chip({ co2: 70_000, temperature: 200, humidity: -5 });
    send(device, COMMAND.MEASURE_SINGLE_SHOT);
    clock.advance(5000);
    expect(query(device, clock, COMMAND.READ_MEASUREMENT, 3)).toEqual([0xffff, 0xffff, 0]);
  });

  test('the default office day: 420 ppm at 03:00 (plus the evening tail), near 1120 ppm at 18:00', () => {
    expect(dailyCo2(7.99 * 3_600_000)).toBeCloseTo(420.6, 1);
    expect(dailyCo2(18 * 3_600_000)).toBeCloseTo(1119.1, 1);
    expect(dailyCo2(12 * 3_600_000)).toBeGreaterThan(900);
  });

  test('noise is deterministic for a seed', () => {
    function series(seed: number): number[] {
      const { device, clock } = chip({ noise: { co2: 10, temperature: 0.1, humidity: 0.5, seed } });
      send(device, COMMAND.START_PERIODIC_MEASUREMENT);
      const out: number[] = [];
      for (let i = 0; i < 20; i++) {
        clock.advance(5000);
        out.push(...query(device, clock, COMMAND.READ_MEASUREMENT, 3));
      }
      return out;
    }
    expect(series(5)).toEqual(series(5));
    expect(series(5)).not.toEqual(series(6));
  });

  test('nack: nothing is acknowledged', () => {
    const { device, model } = chip({ faults: { nack: true } });
    expect(nacks(() => device.write(new Uint8Array(0)))).toBe(true);
    expect(nacks(() => device.read(3))).toBe(true);
    model.setFaults({ nack: false });
    send(device, COMMAND.GET_SERIAL_NUMBER);
  });

  test('crcError on measurements only: data-ready answers stay good, the next N measurements are corrupt', () => {
    const { device, clock } = chip({ faults: { crcError: 1, crcErrorOn: 'measurement' } });
    send(device, COMMAND.START_PERIODIC_MEASUREMENT);
    clock.advance(5000);
    expect(query(device, clock, COMMAND.GET_DATA_READY_STATUS, 1)).toEqual([0x8006]);
    send(device, COMMAND.READ_MEASUREMENT);
    clock.advance(1);
    const bad = device.read(9);
    expect([0, 3, 6].every((i) => sensirionCrc8(bad, i, 2) !== bad[i + 2])).toBe(true);
    clock.advance(5000);
    expect(query(device, clock, COMMAND.READ_MEASUREMENT, 3)[0]).toBe(500);
  });

  test('stuckBusy: periodic data never becomes ready; a single shot keeps the chip busy', () => {
    const periodic = chip({ faults: { stuckBusy: true } });
    send(periodic.device, COMMAND.START_PERIODIC_MEASUREMENT);
    periodic.clock.advance(60_000);
    expect(query(periodic.device, periodic.clock, COMMAND.GET_DATA_READY_STATUS, 1)).toEqual([0x8000]);
    const single = chip({ faults: { stuckBusy: true } });
    send(single.device, COMMAND.MEASURE_SINGLE_SHOT);
    single.clock.advance(60_000);
    expect(nacks(() => send(single.device, COMMAND.GET_DATA_READY_STATUS))).toBe(true);
    single.model.setFaults({ stuckBusy: false });
    expect(query(single.device, single.clock, COMMAND.GET_DATA_READY_STATUS, 1)).toEqual([0x8006]);
  });

  test('wrongId: the serial number reads as zero', () => {
    const { device, clock } = chip({ faults: { wrongId: true } });
    expect(query(device, clock, COMMAND.GET_SERIAL_NUMBER, 3)).toEqual([0, 0, 0]);
  });
});
