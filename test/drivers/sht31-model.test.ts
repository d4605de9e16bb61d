/**
 * The SHT31 chip model on its own, driven byte by byte over the test bench bus, checked
 * against the datasheet: raw values from the §4.13 formulas worked by hand, timing, status
 * register, periodic mode and the fault knobs.
 */
import type { I2CDevice } from '../../hal/i2c';
import { sensirionCrc8 } from '../../firmware/drivers/sht3x/crc8';
import { SHT31Model, STATUS, rawHumidity, rawTemperature } from '../../host-sim/chips/sht31/model';
import type { SHT31ModelOptions } from '../../host-sim/chips/sht31/model';
import { nacks } from './support/errors';
import { words } from './support/sensirion';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

function chip(options: SHT31ModelOptions = {}) {
  const model = new SHT31Model({ temperature: 25, humidity: 40, ...options });
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const device = bus.open({ address: model.address });
  return { model, clock, bus, device };
}

function command(device: I2CDevice, code: number): void {
  device.write(new Uint8Array([code >> 8, code & 0xff]));
}

function readStatus(device: I2CDevice): number {
  command(device, 0xf32d);
  return words(device.read(3))[0];
}

/** Single shot, high repeatability, no clock stretching, read after 15 ms: [S_T, S_RH]. */
function measure(device: I2CDevice, clock: ManualClock): number[] {
  command(device, 0x2400);
  clock.advance(15);
  return words(device.read(6));
}

describe('SHT31 model: values (§4.13 inverted)', () => {
  test('25 °C and 40 %RH are both raw 0x6666 (0.4 × 65535 = 26214)', () => {
    const { device, clock } = chip({ temperature: 25, humidity: 40 });
    command(device, 0x2400);
    clock.advance(15);
    const bytes = device.read(6);
    expect(Array.from(bytes.subarray(0, 2))).toEqual([0x66, 0x66]);
    expect(Array.from(bytes.subarray(3, 5))).toEqual([0x66, 0x66]);
    expect(bytes[2]).toBe(sensirionCrc8(new Uint8Array([0x66, 0x66])));
    expect(bytes[5]).toBe(bytes[2]);
  });

  test('0 °C → 45/175 × 65535 = 16851.86 → 16852; 75 %RH → 49151.25 → 49151', () => {
    const { device, clock } = chip({ temperature: 0, humidity: 75 });
    expect(measure(device, clock)).toEqual([16852, 49151]);
    expect(rawTemperature(0)).toBe(16852);
    expect(rawHumidity(75)).toBe(49151);
  });

  test('clamps to what 16 bits can say: -45…130 °C, 0…100 %RH', () => {
    const { device, clock, model } = chip({ temperature: -60, humidity: 104 });
    expect(measure(device, clock)).toEqual([0, 0xffff]);
    model.setTemperature(150);
    model.setHumidity(-3);
    clock.advance(1);
    expect(measure(device, clock)).toEqual([0xffff, 0]);
  });

  test('values can be functions of virtual time, sampled when the measurement starts', () => {
    const { device, clock } = chip({ temperature: (ms) => ms / 1000, humidity: 50 });
    clock.advance(5000);
    expect(measure(device, clock)[0]).toBe(rawTemperature(5));
  });

  test('noise is deterministic for a seed and has roughly the asked standard deviation', () => {
    function series(seed: number): number[] {
      const { device, clock } = chip({ temperature: 20, humidity: 50, noise: { temperature: 0.2, humidity: 1, seed } });
      const out: number[] = [];
      for (let i = 0; i < 2000; i++) {
        out.push(...measure(device, clock));
        clock.advance(1);
      }
      return out;
    }
    const a = series(7);
    expect(series(7)).toEqual(a);
    expect(series(8)).not.toEqual(a);
    const temperatures = a.filter((_, i) => i % 2 === 0).map((raw) => -45 + (175 * raw) / 65535);
    const mean = temperatures.reduce((s, t) => s + t, 0) / temperatures.length;
    const sd = Math.sqrt(temperatures.reduce((s, t) => s + (t - mean) ** 2, 0) / temperatures.length);
    expect(mean).toBeCloseTo(20, 1);
    expect(sd).toBeGreaterThan(0.17);
    expect(sd).toBeLessThan(0.23);
  });
});

describe('SHT31 model: single shot timing (§4.3, §4.4, §2.2)', () => {
  test.each([
    [0x2400, 15],
    [0x240b, 6],
    [0x2416, 4],
  ])('command 0x%s: read NACKed before %i ms, answered at it, NACKed when read again', (code, maxMs) => {
    const { device, clock } = chip();
    command(device, code);
    clock.advance(maxMs - 0.5);
    expect(nacks(() => device.read(6))).toBe(true);
    clock.advance(0.5);
    expect(device.read(6)).toHaveLength(6);
    expect(nacks(() => device.read(6))).toBe(true);
  });

  test('typical timing answers at 12.5 ms for high repeatability', () => {
    const { device, clock } = chip({ timing: 'typical' });
    command(device, 0x2400);
    clock.advance(12);
    expect(nacks(() => device.read(6))).toBe(true);
    clock.advance(0.5);
    expect(device.read(6)).toHaveLength(6);
  });

  test('clock-stretching commands answer an early read (the stretch takes no virtual time)', () => {
    const { device } = chip();
    command(device, 0x2c06);
    expect(words(device.read(6))).toEqual([0x6666, 0x6666]);
  });

  test('while measuring the chip NACKs writes too', () => {
    const { device, clock } = chip();
    command(device, 0x2400);
    clock.advance(5);
    expect(nacks(() => command(device, 0xf32d))).toBe(true);
    expect(nacks(() => device.write(new Uint8Array(0)))).toBe(true);
  });

  test('a partial read ends the transfer; reading past the data gives 0xFF', () => {
    const { device, clock } = chip();
    command(device, 0x2400);
    clock.advance(15);
    expect(Array.from(device.read(2))).toEqual([0x66, 0x66]);
    expect(nacks(() => device.read(6))).toBe(true);
    clock.advance(1);
    command(device, 0xf32d);
    expect(Array.from(device.read(5)).slice(3)).toEqual([0xff, 0xff]);
  });

  test('a command less than 1 ms after the previous one is NACKed', () => {
    const { device, clock } = chip();
    command(device, 0x306d);
    expect(nacks(() => command(device, 0x3066))).toBe(true);
    clock.advance(1);
    command(device, 0x3066);
  });
});

describe('SHT31 model: commands and status register (§4.9–§4.11)', () => {
  test('power-up status: alert pending and reset detected (0x8010)', () => {
    const { device } = chip();
    expect(readStatus(device)).toBe(0x8010);
  });

  test('unknown command: NACK, and status bit 1 says the last command failed', () => {
    const { device, clock } = chip();
    expect(nacks(() => command(device, 0x1234))).toBe(true);
    expect(nacks(() => device.write(new Uint8Array([0x24])))).toBe(true); // half a command
    clock.advance(1);
    expect(readStatus(device) & STATUS.COMMAND_FAILED).toBeTruthy();
    clock.advance(1);
    expect(readStatus(device) & STATUS.COMMAND_FAILED).toBe(0);
  });

  test('heater on/off shows in status bit 13; clear status keeps it', () => {
    const { device, clock, model } = chip();
    command(device, 0x306d);
    expect(model.heaterOn).toBe(true);
    clock.advance(1);
    command(device, 0x3041);
    clock.advance(1);
    expect(readStatus(device)).toBe(STATUS.HEATER_ON);
    clock.advance(1);
    command(device, 0x3066);
    clock.advance(1);
    expect(readStatus(device)).toBe(0);
  });

  test('soft reset: no answer for 1.5 ms, then power-up state', () => {
    const { device, clock, model } = chip();
    command(device, 0x306d);
    clock.advance(1);
    command(device, 0x3041);
    clock.advance(1);
    command(device, 0x30a2);
    clock.advance(1);
    expect(nacks(() => command(device, 0xf32d))).toBe(true);
    clock.advance(0.5);
    expect(readStatus(device)).toBe(0x8010);
    expect(model.heaterOn).toBe(false);
  });

  test('a status word can be read once per command', () => {
    const { device } = chip();
    command(device, 0xf32d);
    device.read(3);
    expect(nacks(() => device.read(3))).toBe(true);
  });
});

describe('SHT31 model: periodic mode (§4.5–§4.8)', () => {
  test('fetch returns each new measurement once; no data means a NACKed read', () => {
    const { device, clock, model } = chip({ temperature: (ms) => ms / 100 });
    command(device, 0x2130); // 1 mps, high repeatability
    expect(model.mode).toBe('periodic');
    clock.advance(10);
    command(device, 0xe000);
    expect(nacks(() => device.read(6))).toBe(true); // first result due at 15 ms
    clock.advance(10);
    command(device, 0xe000);
    expect(words(device.read(6))[0]).toBe(rawTemperature(0)); // measured at 0 ms
    clock.advance(10);
    command(device, 0xe000);
    expect(nacks(() => device.read(6))).toBe(true); // already fetched
    clock.advance(1000);
    command(device, 0xe000);
    expect(words(device.read(6))[0]).toBe(rawTemperature(10)); // measured at 1000 ms
  });

  test('single shot is refused until Break', () => {
    const { device, clock, model } = chip();
    command(device, 0x2737);
    clock.advance(1);
    expect(nacks(() => command(device, 0x2400))).toBe(true);
    clock.advance(1);
    command(device, 0x3093);
    expect(model.mode).toBe('single-shot');
    clock.advance(1);
    command(device, 0x2400);
  });

  test('fetch outside periodic mode is NACKed', () => {
    const { device } = chip();
    expect(nacks(() => command(device, 0xe000))).toBe(true);
  });
});

describe('SHT31 model: faults', () => {
  test('nack: nothing is acknowledged, not even an address probe', () => {
    const { device, model } = chip({ faults: { nack: true } });
    expect(nacks(() => device.write(new Uint8Array(0)))).toBe(true);
    expect(nacks(() => command(device, 0x2400))).toBe(true);
    expect(nacks(() => device.read(6))).toBe(true);
    model.setFaults({ nack: false });
    command(device, 0x2400);
  });

  test('crcError N corrupts the CRCs of the next N reads only', () => {
    const { device, clock } = chip({ faults: { crcError: 2 } });
    const corrupt = (bytes: Uint8Array) =>
      sensirionCrc8(bytes, 0, 2) !== bytes[2] && sensirionCrc8(bytes, 3, 2) !== bytes[5];
    for (const expected of [true, true, false]) {
      command(device, 0x2400);
      clock.advance(15);
      expect(corrupt(device.read(6))).toBe(expected);
    }
  });

  test('stuckBusy: the measurement never completes until the fault is cleared', () => {
    const { device, clock, model } = chip({ faults: { stuckBusy: true } });
    command(device, 0x2400);
    clock.advance(10_000);
    expect(nacks(() => device.read(6))).toBe(true);
    expect(nacks(() => command(device, 0x30a2))).toBe(true);
    model.setFaults({ stuckBusy: false });
    expect(words(device.read(6))).toEqual([0x6666, 0x6666]);
  });

  test('address 0x45 answers only there', () => {
    const model = new SHT31Model({ address: 0x45 });
    const clock = new ManualClock();
    const bus = new SimI2CBus(clock, [model]);
    expect(nacks(() => command(bus.open({ address: 0x44 }), 0x2400))).toBe(true);
    command(bus.open({ address: 0x45 }), 0x2400);
    expect(() => new SHT31Model({ address: 0x46 })).toThrow(RangeError);
  });
});
