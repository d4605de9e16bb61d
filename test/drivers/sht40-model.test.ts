/**
 * The SHT40 chip model on its own, driven byte by byte over the test bench bus, checked
 * against "Datasheet SHT4x" (v6, Feb 2023): raw values from the §4.5 formulas worked by
 * hand, the §4.3 CRC example, timing from §3, the command set of §4.4–§4.8 and the fault
 * knobs.
 */
import type { I2CDevice } from '../../hal/i2c';
import { sensirionCrc8 } from '../../firmware/drivers/sht3x/crc8';
import { wordCrc } from '../../host-sim/chips/common/sensirion';
import { DEFAULT_SERIAL_NUMBER, SHT40Model, rawHumidity, rawTemperature } from '../../host-sim/chips/sht40/model';
import type { SHT40ModelOptions } from '../../host-sim/chips/sht40/model';
import { nacks } from './support/errors';
import { words } from './support/sensirion';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

function chip(options: SHT40ModelOptions = {}) {
  const model = new SHT40Model({ temperature: 25, humidity: 44, ...options });
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const device = bus.open({ address: model.address });
  return { model, clock, bus, device };
}

function command(device: I2CDevice, code: number): void {
  device.write(new Uint8Array([code]));
}

/** High precision (0xFD), read after the 8.3 ms maximum: [S_T, S_RH]. */
function measure(device: I2CDevice, clock: ManualClock): number[] {
  command(device, 0xfd);
  clock.advance(8.3);
  return words(device.read(6));
}

describe('SHT40 model: checksum (§4.3)', () => {
  test('datasheet example CRC(0xBEEF) = 0x92, and the model puts that CRC after every word', () => {
    expect(wordCrc(0xbeef)).toBe(0x92);
    const { device } = chip({ serialNumber: 0xbeefbeef });
    command(device, 0x89);
    expect(Array.from(device.read(6))).toEqual([0xbe, 0xef, 0x92, 0xbe, 0xef, 0x92]);
  });
});

describe('SHT40 model: values (§4.5 inverted)', () => {
  test('25 °C and 44 %RH are both raw 0x6666 (0.4 × 65535 = 26214), CRC 0x93', () => {
    // T: (25 + 45) / 175 = 0.4; RH: (44 + 6) / 125 = 0.4
    const { device, clock } = chip({ temperature: 25, humidity: 44 });
    command(device, 0xfd);
    clock.advance(8.3);
    expect(Array.from(device.read(6))).toEqual([0x66, 0x66, 0x93, 0x66, 0x66, 0x93]);
  });

  test('0 °C → 45/175 × 65535 = 16851.86 → 16852; 75 %RH → 81/125 × 65535 = 42466.68 → 42467', () => {
    const { device, clock } = chip({ temperature: 0, humidity: 75 });
    expect(measure(device, clock)).toEqual([16852, 42467]);
    expect(rawTemperature(0)).toBe(16852);
    expect(rawHumidity(75)).toBe(42467);
  });

  test('0 and 100 %RH are raw 3146 and 55574, not 0 and 65535: the SHT4x formula spans -6…119 %RH', () => {
    // 6/125 × 65535 = 3145.68; 106/125 × 65535 = 55573.68
    expect(rawHumidity(0)).toBe(3146);
    expect(rawHumidity(100)).toBe(55574);
  });

  test('condensation (103 %RH) is sent as the chip measures it; only 16 bits clamp: -6…119 %RH, -45…130 °C', () => {
    const { device, clock, model } = chip({ temperature: 150, humidity: 103 });
    expect(measure(device, clock)).toEqual([0xffff, rawHumidity(103)]);
    expect(rawHumidity(103)).toBeGreaterThan(rawHumidity(100));
    model.setTemperature(-60);
    model.setHumidity(130);
    expect(measure(device, clock)).toEqual([0, 0xffff]);
    model.setHumidity(-10);
    expect(measure(device, clock)[1]).toBe(0);
  });

  test('values can be functions of virtual time, sampled when the measurement starts', () => {
    const { device, clock } = chip({ temperature: (ms) => ms / 1000 });
    clock.advance(5000);
    expect(measure(device, clock)[0]).toBe(rawTemperature(5));
  });

  test('noise is deterministic for a seed and has roughly the asked standard deviation', () => {
    function series(seed: number): number[] {
      const { device, clock } = chip({ temperature: 20, humidity: 50, noise: { temperature: 0.2, humidity: 1, seed } });
      const out: number[] = [];
      for (let i = 0; i < 2000; i++) out.push(...measure(device, clock));
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

  test('the default day comes from the SHT31 model: 17 °C / 62 %RH at 03:00', () => {
    const model = new SHT40Model();
    const clock = new ManualClock();
    const device = new SimI2CBus(clock, [model]).open({ address: 0x44 });
    clock.advance(3 * 3_600_000);
    const [t, rh] = measure(device, clock);
    expect(-45 + (175 * t) / 65535).toBeCloseTo(17, 2);
    expect(-6 + (125 * rh) / 65535).toBeCloseTo(62, 2);
  });
});

describe('SHT40 model: measurement timing (§4.1, §3 timing table)', () => {
  test.each([
    ['0xFD', 0xfd, 8.3],
    ['0xF6', 0xf6, 4.5],
    ['0xE0', 0xe0, 1.6],
  ])('command %s: read NACKed before %f ms, answered at it, NACKed when read again', (_name, code, maxMs) => {
    const { device, clock } = chip();
    command(device, code);
    clock.advance(maxMs - 0.1);
    expect(nacks(() => device.read(6))).toBe(true);
    clock.advance(0.1);
    expect(words(device.read(6))).toEqual([0x6666, 0x6666]);
    expect(nacks(() => device.read(6))).toBe(true);
  });

  test.each([
    ['0xFD', 0xfd, 6.9],
    ['0xF6', 0xf6, 3.7],
    ['0xE0', 0xe0, 1.3],
  ])('typical timing: command %s answers at %f ms', (_name, code, typicalMs) => {
    const { device, clock } = chip({ timing: 'typical' });
    command(device, code);
    clock.advance(typicalMs - 0.1);
    expect(nacks(() => device.read(6))).toBe(true);
    clock.advance(0.1);
    expect(device.read(6)).toHaveLength(6);
  });

  test('while measuring the chip NACKs writes too, even an address probe', () => {
    const { device, clock } = chip();
    command(device, 0xfd);
    clock.advance(5);
    expect(nacks(() => command(device, 0x89))).toBe(true);
    expect(nacks(() => device.write(new Uint8Array(0)))).toBe(true);
  });

  test('a partial read ends the transfer; reading past the data gives 0xFF', () => {
    const { device, clock } = chip();
    command(device, 0xfd);
    clock.advance(8.3);
    expect(Array.from(device.read(2))).toEqual([0x66, 0x66]);
    expect(nacks(() => device.read(6))).toBe(true);
    command(device, 0x89);
    expect(Array.from(device.read(8)).slice(6)).toEqual([0xff, 0xff]);
  });
});

describe('SHT40 model: command set (§4.4, §4.6–§4.8)', () => {
  test('serial number: 0x89 answers two words with their CRCs, once', () => {
    const { device } = chip();
    command(device, 0x89);
    const [high, low] = words(device.read(6));
    expect(high * 0x10000 + low).toBe(DEFAULT_SERIAL_NUMBER);
    expect(nacks(() => device.read(6))).toBe(true);
  });

  test('commands are one byte: unknown codes and two-byte writes (an SHT3x command) are NACKed', () => {
    const { device } = chip();
    expect(nacks(() => command(device, 0x12))).toBe(true);
    expect(nacks(() => device.write(new Uint8Array([0x24, 0x00])))).toBe(true);
    expect(nacks(() => device.read(6))).toBe(true); // nothing to read
  });

  test('soft reset 0x94: aborts a measurement, no answer for 1 ms, then ready for commands', () => {
    const { device, clock, model } = chip();
    command(device, 0x39);
    expect(model.heaterOnAt(clock.now)).toBe(true);
    clock.advance(500);
    expect(nacks(() => command(device, 0x94))).toBe(true); // busy heating: even reset is NACKed
    const stuck = chip();
    command(stuck.device, 0x89);
    command(stuck.device, 0x94);
    stuck.clock.advance(0.9);
    expect(nacks(() => command(stuck.device, 0x89))).toBe(true);
    stuck.clock.advance(0.1);
    expect(nacks(() => stuck.device.read(6))).toBe(true); // the serial answer was dropped by the reset
    command(stuck.device, 0x89);
    expect(stuck.device.read(6)).toHaveLength(6);
  });

  test.each([
    ['0x39', 0x39, 200, 1100],
    ['0x32', 0x32, 200, 110],
    ['0x2F', 0x2f, 110, 1100],
    ['0x24', 0x24, 110, 110],
    ['0x1E', 0x1e, 20, 1100],
    ['0x15', 0x15, 20, 110],
  ])('heater %s (%i mW): heats for up to %i ms, then answers a high-precision measurement', (_name, code, _mw, heatMs) => {
    const { device, clock, model } = chip();
    command(device, code);
    clock.advance(heatMs - 1);
    expect(model.heaterOnAt(clock.now)).toBe(true);
    expect(nacks(() => device.read(6))).toBe(true);
    clock.advance(1);
    expect(model.heaterOnAt(clock.now)).toBe(false);
    clock.advance(8.2);
    expect(nacks(() => device.read(6))).toBe(true); // the measurement after the pulse: 8.3 ms
    clock.advance(0.1);
    expect(words(device.read(6))).toEqual([0x6666, 0x6666]);
  });
});

describe('SHT40 model: faults', () => {
  test('nack: nothing is acknowledged, not even an address probe', () => {
    const { device, model } = chip({ faults: { nack: true } });
    expect(nacks(() => device.write(new Uint8Array(0)))).toBe(true);
    expect(nacks(() => command(device, 0xfd))).toBe(true);
    expect(nacks(() => device.read(6))).toBe(true);
    model.setFaults({ nack: false });
    command(device, 0xfd);
  });

  test('crcError N corrupts the CRCs of the next N reads only; crcErrorWord picks the word', () => {
    const { device, clock, model } = chip({ faults: { crcError: 2 } });
    const corrupt = (bytes: Uint8Array) => [sensirionCrc8(bytes, 0, 2) !== bytes[2], sensirionCrc8(bytes, 3, 2) !== bytes[5]];
    const read = () => {
      command(device, 0xfd);
      clock.advance(8.3);
      return corrupt(device.read(6));
    };
    expect(read()).toEqual([true, true]);
    expect(read()).toEqual([true, true]);
    expect(read()).toEqual([false, false]);
    model.setFaults({ crcError: 1, crcErrorWord: 'humidity' });
    expect(read()).toEqual([false, true]);
  });

  test('stuckBusy: the measurement never completes until the fault is cleared', () => {
    const { device, clock, model } = chip({ faults: { stuckBusy: true } });
    command(device, 0xfd);
    clock.advance(10_000);
    expect(nacks(() => device.read(6))).toBe(true);
    expect(nacks(() => command(device, 0x94))).toBe(true);
    model.setFaults({ stuckBusy: false });
    expect(words(device.read(6))).toEqual([0x6666, 0x6666]);
  });

  test('wrongId: the serial number reads as zero, with valid CRCs', () => {
    const { device } = chip({ faults: { wrongId: true } });
    command(device, 0x89);
    expect(Array.from(device.read(6))).toEqual([0, 0, 0x81, 0, 0, 0x81]);
  });

  test('addresses 0x45 and 0x46 answer only there; others are refused', () => {
    for (const address of [0x45, 0x46]) {
      const model = new SHT40Model({ address });
      const bus = new SimI2CBus(new ManualClock(), [model]);
      expect(nacks(() => command(bus.open({ address: 0x44 }), 0xfd))).toBe(true);
      command(bus.open({ address }), 0xfd);
    }
    expect(() => new SHT40Model({ address: 0x47 })).toThrow(RangeError);
  });
});
