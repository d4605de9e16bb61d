/**
 * The BME280 chip model on its own, driven byte by byte over the test bench bus, checked
 * against the datasheet (BST-BME280-DS002 rev 1.6): register map and reset values, the
 * calibration image, I2C framing, forced and normal mode timing (§9.1), oversampling
 * resolution, the IIR filter, soft reset and the fault knobs. Raw values are checked
 * against Bosch's worked example without going through the driver.
 */
import type { I2CDevice } from '../../hal/i2c';
import { BME280Model, STATUS, measurementTimeMs } from '../../host-sim/chips/bme280/model';
import type { BME280ModelOptions } from '../../host-sim/chips/bme280/model';
import {
  COMMUNITY_CHIP_CALIBRATION,
  DATASHEET_EXAMPLE_CALIBRATION,
  encodeCalibration,
  idealAdcT,
  pressureOf,
  temperatureOf,
  tFineOf,
} from '../../host-sim/chips/bme280/physics';
import { nacks } from './support/errors';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

const EXAMPLE = DATASHEET_EXAMPLE_CALIBRATION;

function chip(options: BME280ModelOptions = {}) {
  const model = new BME280Model({ temperature: 25, pressure: 100000, humidity: 40, ...options });
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const device = bus.open({ address: model.address });
  return { model, clock, bus, device };
}

function read(device: I2CDevice, register: number, count: number): number[] {
  return Array.from(device.writeRead(Uint8Array.of(register), count));
}

function write(device: I2CDevice, ...pairs: number[]): void {
  device.write(Uint8Array.from(pairs));
}

/** Moves the clock to exactly `ms` (repeated small steps would accumulate rounding). */
function advanceTo(clock: ManualClock, ms: number): void {
  clock.advance(ms - clock.now);
}

interface Raw {
  adcP: number;
  adcT: number;
  adcH: number;
}

function data(device: I2CDevice): Raw {
  const [p0, p1, p2, t0, t1, t2, h0, h1] = read(device, 0xf7, 8);
  return { adcP: (p0 << 12) | (p1 << 4) | (p2 >> 4), adcT: (t0 << 12) | (t1 << 4) | (t2 >> 4), adcH: (h0 << 8) | h1 };
}

/** ctrl_hum, then ctrl_meas in forced mode, osrs codes as given (1 = ×1 … 5 = ×16, 0 = skip). */
function force(device: I2CDevice, osrsT: number, osrsP: number, osrsH: number): void {
  write(device, 0xf2, osrsH, 0xf4, (osrsT << 5) | (osrsP << 2) | 0b01);
}

/** osrs code → factor (0 skips). */
function oversampling(code: number): number {
  return code === 0 ? 0 : 2 ** (code - 1);
}

/** A forced measurement, read after its maximum time. */
function measure(device: I2CDevice, clock: ManualClock, osrsT = 1, osrsP = 1, osrsH = 1): Raw {
  force(device, osrsT, osrsP, osrsH);
  clock.advance(measurementTimeMs(oversampling(osrsT), oversampling(osrsP), oversampling(osrsH), 'max'));
  return data(device);
}

describe('BME280 model: registers (§5.3, §5.4)', () => {
  test('power-on state: id 0x60, reset reads 0, control 0, data at their reset values', () => {
    const { device } = chip();
    expect(read(device, 0xd0, 1)).toEqual([0x60]);
    expect(read(device, 0xe0, 1)).toEqual([0x00]);
    expect(read(device, 0xf2, 4)).toEqual([0x00, 0x00, 0x00, 0x00]); // ctrl_hum, status, ctrl_meas, config
    expect(read(device, 0xf7, 8)).toEqual([0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00]);
  });

  test('the calibration image of the forum chip is byte for byte its register dump (Table 16)', () => {
    const { device } = chip({ calibration: COMMUNITY_CHIP_CALIBRATION });
    expect(read(device, 0x88, 24)).toEqual([
      0x6c, 0x6e, 0x77, 0x66, 0x32, 0x00, 0xa8, 0x92, 0x27, 0xd5, 0xd0, 0x0b, 0x6f, 0x18, 0xca, 0xff, 0xf9, 0xff, 0xac, 0x26, 0x0a, 0xd8, 0xbd, 0x10,
    ]);
    expect(read(device, 0xa1, 1)).toEqual([0x4b]);
    expect(read(device, 0xe1, 7)).toEqual([0x65, 0x01, 0x00, 0x14, 0x0b, 0x00, 0x1e]);
  });

  test('the example chip: dig_T1 = 27504 = 0x6B70 reads 0x70 0x6B; dig_P9 = 6000 = 0x1770 at 0x9E', () => {
    const { device } = chip();
    expect(read(device, 0x88, 2)).toEqual([0x70, 0x6b]);
    expect(read(device, 0x9e, 2)).toEqual([0x70, 0x17]);
    expect(read(device, 0x8c, 2)).toEqual([0x18, 0xfc]); // dig_T3 = −1000
  });

  test('dig_H4 and dig_H5 share 0xE5: −245 = 0xF0B and −24 = 0xFE8 give E4 E5 E6 = F0 8B FE', () => {
    expect(Array.from(encodeCalibration({ ...EXAMPLE, H4: -245, H5: -24 }).high.subarray(3, 6))).toEqual([0xf0, 0x8b, 0xfe]);
    const { device } = chip({ calibration: { H4: 2047, H5: -2048 } });
    expect(read(device, 0xe4, 3)).toEqual([0x7f, 0x0f, 0x80]);
  });

  test('calibration values that do not fit their registers are refused', () => {
    expect(() => new BME280Model({ calibration: { H4: 2048 } })).toThrow(RangeError);
    expect(() => new BME280Model({ calibration: { T1: -1 } })).toThrow(RangeError);
    expect(() => new BME280Model({ calibration: { H6: 1.5 } })).toThrow(RangeError);
  });

  test('burst reads auto-increment; a lone address sets the pointer; past 0xFF reads 0xFF', () => {
    const { device } = chip();
    const burst = read(device, 0xf3, 12);
    expect(burst.slice(4)).toEqual(read(device, 0xf7, 8));
    write(device, 0xfd);
    expect(Array.from(device.read(4))).toEqual([0x80, 0x00, 0x00, 0xff]); // 0xFF is reserved, then nothing
  });

  test('several register/value pairs in one write, in order (§6.2.1)', () => {
    const { device } = chip();
    write(device, 0xf5, 0b101_100_00, 0xf2, 0x03);
    expect(read(device, 0xf5, 1)).toEqual([0b101_100_00]);
    expect(read(device, 0xf2, 1)).toEqual([0x03]);
  });

  test('read-only and reserved registers take writes without effect', () => {
    const { device } = chip();
    write(device, 0xd0, 0x12, 0x88, 0x00, 0xf7, 0x00, 0xf3, 0xff);
    expect(read(device, 0xd0, 1)).toEqual([0x60]);
    expect(read(device, 0x88, 1)).toEqual([0x70]);
    expect(read(device, 0xf7, 1)).toEqual([0x80]);
    expect(read(device, 0xf3, 1)).toEqual([0x00]);
  });
});

describe('BME280 model: forced mode (§3.3.3, §9.1)', () => {
  test('measuring bit for t_measure,max; data arrive at the end; mode returns to sleep', () => {
    const { device, clock, model } = chip({ temperature: 25 });
    force(device, 1, 1, 1);
    expect(model.modeAt(clock.now)).toBe('forced');
    expect(read(device, 0xf3, 2)).toEqual([STATUS.MEASURING, 0x25]);
    const endMs = measurementTimeMs(1, 1, 1, 'max'); // 1.25 + 2.3 + 2.875 + 2.875 = 9.3 ms
    expect(endMs).toBeCloseTo(9.3, 12);
    advanceTo(clock, endMs - 0.01);
    expect(read(device, 0xf3, 1)).toEqual([STATUS.MEASURING]);
    expect(data(device)).toEqual({ adcP: 0x80000, adcT: 0x80000, adcH: 0x8000 }); // a read before the end: previous data
    advanceTo(clock, endMs);
    expect(read(device, 0xf3, 2)).toEqual([0x00, 0x24]);
    expect(model.modeAt(clock.now)).toBe('sleep');
    expect(temperatureOf(EXAMPLE, data(device).adcT)).toBeCloseTo(25, 2);
  });

  test.each([
    [1, 1, 1, 9.3, 8],
    [5, 5, 5, 112.8, 98],
    [2, 3, 0, 1.25 + 4.6 + 9.775, 1 + 4 + 8.5],
  ])('osrs codes %i/%i/%i: maximum %f ms, typical %f ms', (t, p, h, maxMs, typicalMs) => {
    for (const [timing, ms] of [
      ['max', maxMs],
      ['typical', typicalMs],
    ] as const) {
      const { device, clock } = chip({ timing });
      force(device, t, p, h);
      const endMs = measurementTimeMs(oversampling(t), oversampling(p), oversampling(h), timing);
      expect(endMs).toBeCloseTo(ms, 12);
      advanceTo(clock, endMs - 0.001);
      expect(read(device, 0xf3, 1)[0] & STATUS.MEASURING).toBeTruthy();
      advanceTo(clock, endMs);
      expect(read(device, 0xf3, 1)[0] & STATUS.MEASURING).toBe(0);
    }
  });

  test('ctrl_hum counts only from the next ctrl_meas write (§5.4.3)', () => {
    const { device, clock } = chip({ humidity: 40 });
    write(device, 0xf4, 0x25, 0xf2, 0x01); // ctrl_meas first: humidity still skipped (osrs_h was 0)
    clock.advance(20);
    expect(data(device).adcH).toBe(0x8000);
    write(device, 0xf4, 0x25); // now the earlier ctrl_hum takes effect
    clock.advance(20);
    expect(data(device).adcH).not.toBe(0x8000);
  });

  test('skipped measurements read 0x80000 (0x8000 for humidity)', () => {
    const { device, clock } = chip();
    expect(measure(device, clock, 1, 0, 0)).toEqual({ adcT: expect.any(Number), adcP: 0x80000, adcH: 0x8000 });
    expect(measure(device, clock, 0, 1, 1).adcT).toBe(0x80000);
  });

  test('a forced request during a measurement does not restart it', () => {
    const { device, clock } = chip();
    force(device, 1, 1, 1);
    clock.advance(5);
    force(device, 5, 5, 5);
    clock.advance(4.3);
    expect(read(device, 0xf3, 1)).toEqual([0x00]);
  });

  test('values can be functions of virtual time, sampled when the measurement starts', () => {
    const { device, clock } = chip({ temperature: (ms) => ms / 1000 });
    clock.advance(30_000);
    expect(temperatureOf(EXAMPLE, measure(device, clock, 5, 1, 1).adcT)).toBeCloseTo(30, 3);
  });
});

describe('BME280 model: raw values (§8.1 inverted, §3.4 resolution)', () => {
  test('Bosch’s example in reverse: 25.0825 °C and 100653.26 Pa give adc_T 519888, adc_P 415148 at 20 bits', () => {
    const celsius = temperatureOf(EXAMPLE, 519888);
    const pascals = pressureOf(EXAMPLE, 415148, tFineOf(EXAMPLE, 519888));
    expect(celsius).toBeCloseTo(25.08, 2);
    expect(Math.abs(pascals - 100653.27)).toBeLessThan(0.05);
    const { device, clock } = chip({ temperature: celsius, pressure: pascals });
    const raw = measure(device, clock, 5, 5, 1);
    expect(raw.adcT).toBe(519888);
    expect(raw.adcP).toBe(415148);
  });

  test('the forum chip in reverse: 24.437 °C, 54.17 %RH give its raw 0x817FB and 0x7913', () => {
    const { device, clock } = chip({ calibration: COMMUNITY_CHIP_CALIBRATION, temperature: temperatureOf(COMMUNITY_CHIP_CALIBRATION, 0x817fb), humidity: 54.1723 });
    const raw = measure(device, clock, 5, 1, 1);
    expect(raw.adcT).toBe(0x817fb);
    expect(raw.adcH).toBe(0x7913);
  });

  test.each([
    [1, 16],
    [2, 8],
    [3, 4],
    [4, 2],
  ])('osrs code %i: codes are multiples of %i (16 + code − 1 bits, §3.4.2)', (code, step) => {
    const { device, clock, model } = chip();
    for (const celsius of [-12.3456, 0.1234, 21.987, 61.2345]) {
      model.setTemperature(celsius);
      model.setPressure(90000 + celsius * 100);
      const raw = measure(device, clock, code, code, 1);
      expect(raw.adcT % step).toBe(0);
      expect(raw.adcP % step).toBe(0);
      expect(Math.abs(raw.adcT - idealAdcT(EXAMPLE, celsius))).toBeLessThanOrEqual(step / 2);
    }
  });

  test('out of range: the ADC saturates instead of wrapping', () => {
    // The humidity transfer curve reaches 100 %RH near code 40000 and ~233 %RH at 0xFFFF.
    const { device, clock, model } = chip({ temperature: 500, humidity: 1000 });
    const raw = measure(device, clock, 5, 1, 1);
    expect(raw.adcT).toBe(0xfffff);
    expect(raw.adcH).toBe(0xffff);
    model.setTemperature(-300);
    expect(measure(device, clock, 5, 1, 1).adcT).toBe(0);
    model.setTemperature(20);
    model.setHumidity(-1000); // code 0 is about −117 %RH at 20 °C
    expect(measure(device, clock, 5, 1, 1).adcH).toBe(0);
  });

  test('noise is deterministic for a seed and has roughly the asked standard deviation', () => {
    function series(seed: number): number[] {
      const { device, clock } = chip({ temperature: 20, noise: { temperature: 0.2, seed } });
      const out: number[] = [];
      for (let i = 0; i < 1000; i++) out.push(temperatureOf(EXAMPLE, measure(device, clock, 5, 1, 1).adcT));
      return out;
    }
    const a = series(7);
    expect(series(7)).toEqual(a);
    expect(series(8)).not.toEqual(a);
    const mean = a.reduce((s, t) => s + t, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, t) => s + (t - mean) ** 2, 0) / a.length);
    expect(mean).toBeCloseTo(20, 1);
    expect(sd).toBeGreaterThan(0.17);
    expect(sd).toBeLessThan(0.23);
  });
});

describe('BME280 model: IIR filter (§3.4.4)', () => {
  test('coefficient 2: each output is the mean of the previous output and the new ADC value', () => {
    const { device, clock, model } = chip({ temperature: 20 });
    write(device, 0xf5, 0b001 << 2);
    const first = measure(device, clock, 5, 1, 1).adcT; // initialises the filter
    expect(first).toBe(Math.round(idealAdcT(EXAMPLE, 20)));
    model.setTemperature(30);
    const target = Math.round(idealAdcT(EXAMPLE, 30));
    const second = measure(device, clock, 5, 1, 1).adcT;
    expect(second).toBe(Math.round((first + target) / 2));
    expect(measure(device, clock, 5, 1, 1).adcT).toBe(Math.round(((first + target) / 2 + target) / 2));
  });

  test('with the filter on, ×1 oversampling still gives 20-bit codes', () => {
    const { device, clock, model } = chip({ temperature: 20 });
    write(device, 0xf5, 0b100 << 2);
    measure(device, clock);
    model.setTemperature(20.3);
    const codes = [1, 2, 3].map(() => measure(device, clock).adcT);
    expect(codes.some((code) => code % 16 !== 0)).toBe(true);
  });

  test('changing the coefficient restarts the filter from the next ADC value', () => {
    const { device, clock, model } = chip({ temperature: 20 });
    write(device, 0xf5, 0b100 << 2);
    measure(device, clock, 5, 1, 1);
    model.setTemperature(30);
    write(device, 0xf5, 0b011 << 2);
    expect(measure(device, clock, 5, 1, 1).adcT).toBe(Math.round(idealAdcT(EXAMPLE, 30)));
  });
});

describe('BME280 model: normal mode (§3.3.4, §5.4.6)', () => {
  test('measures every t_measure + t_standby, and ignores config writes meanwhile', () => {
    const { device, clock, model } = chip({ temperature: (ms) => 10 + ms / 1000 });
    write(device, 0xf5, 0b110 << 5, 0xf2, 0x01, 0xf4, 0x27); // t_sb 10 ms; ×1 ×1 ×1; normal
    expect(model.modeAt(clock.now)).toBe('normal');
    // cycle = 9.3 + 10 = 19.3 ms: measuring on [0, 9.3), idle on [9.3, 19.3), …
    expect(read(device, 0xf3, 1)).toEqual([STATUS.MEASURING]);
    clock.advance(9.3);
    expect(read(device, 0xf3, 1)).toEqual([0x00]);
    expect(model.measurementsAt(clock.now)).toBe(1);
    clock.advance(10);
    expect(read(device, 0xf3, 1)).toEqual([STATUS.MEASURING]);
    write(device, 0xf5, 0x00); // ignored in normal mode
    expect(read(device, 0xf5, 1)).toEqual([0b110 << 5]);
    clock.advance(1000);
    expect(model.measurementsAt(clock.now)).toBe(1 + Math.floor((clock.now - 9.3) / 19.3));
    // the latest result: the measurement that started at the last cycle boundary
    const lastStart = Math.floor((clock.now - 9.3) / 19.3) * 19.3;
    expect(temperatureOf(EXAMPLE, data(device).adcT)).toBeCloseTo(10 + lastStart / 1000, 2);
    write(device, 0xf4, 0x24); // sleep
    clock.advance(100);
    const count = model.measurementsAt(clock.now);
    clock.advance(100);
    expect(model.measurementsAt(clock.now)).toBe(count);
  });

  test('a long gap replays only the last cycles', () => {
    const { device, clock, model } = chip();
    write(device, 0xf4, 0x27);
    clock.advance(24 * 3_600_000);
    expect(model.measurementsAt(clock.now)).toBe(512);
  });
});

describe('BME280 model: soft reset (§5.4.2)', () => {
  test('no answer for t_startup (2 ms), then power-on state', () => {
    const { device, clock } = chip();
    write(device, 0xf5, 0x10, 0xf2, 0x05);
    measure(device, clock);
    write(device, 0xe0, 0xb6);
    clock.advance(1.99);
    expect(nacks(() => read(device, 0xd0, 1))).toBe(true);
    clock.advance(0.01);
    expect(read(device, 0xf2, 4)).toEqual([0, 0, 0, 0]);
    expect(read(device, 0xf7, 8)).toEqual([0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00]);
  });

  test('im_update stays set while the NVM copy lasts', () => {
    const { device, clock } = chip({ nvmCopyMs: 1 });
    write(device, 0xe0, 0xb6);
    clock.advance(2);
    expect(read(device, 0xf3, 1)).toEqual([STATUS.IM_UPDATE]);
    clock.advance(1);
    expect(read(device, 0xf3, 1)).toEqual([0x00]);
  });

  test('other values written to 0xE0 do nothing; pairs after a reset are dropped', () => {
    const { device, clock } = chip();
    write(device, 0xf2, 0x03, 0xe0, 0xb5);
    expect(read(device, 0xf2, 1)).toEqual([0x03]);
    write(device, 0xe0, 0xb6, 0xf2, 0x04);
    clock.advance(2);
    expect(read(device, 0xf2, 1)).toEqual([0x00]);
  });
});

describe('BME280 model: faults', () => {
  test('nack: nothing is acknowledged, not even an address probe', () => {
    const { device, model } = chip({ faults: { nack: true } });
    expect(nacks(() => device.write(new Uint8Array(0)))).toBe(true);
    expect(nacks(() => read(device, 0xd0, 1))).toBe(true);
    model.setFaults({ nack: false });
    expect(read(device, 0xd0, 1)).toEqual([0x60]);
  });

  test('stuckBusy: the measurement never ends until the fault is cleared', () => {
    const { device, clock, model } = chip();
    model.setFaults({ stuckBusy: true });
    force(device, 1, 1, 1);
    clock.advance(10_000);
    expect(read(device, 0xf3, 2)).toEqual([STATUS.MEASURING, 0x25]);
    expect(data(device).adcT).toBe(0x80000);
    model.setFaults({ stuckBusy: false });
    expect(read(device, 0xf3, 1)).toEqual([0x00]);
    expect(data(device).adcT).not.toBe(0x80000);
  });

  test('chipId: the id register reads what the fault says (0x58 plays a BMP280)', () => {
    const { device } = chip({ faults: { chipId: 0x58 } });
    expect(read(device, 0xd0, 1)).toEqual([0x58]);
  });

  test('stuckNvmCopy: im_update never clears after a reset', () => {
    const { device, clock } = chip({ faults: { stuckNvmCopy: true } });
    expect(read(device, 0xf3, 1)).toEqual([0x00]); // before any reset, nothing to copy
    write(device, 0xe0, 0xb6);
    clock.advance(1000);
    expect(read(device, 0xf3, 1)).toEqual([STATUS.IM_UPDATE]);
  });

  test('address 0x77 answers only there; other addresses are refused', () => {
    const model = new BME280Model({ address: 0x77 });
    const clock = new ManualClock();
    const bus = new SimI2CBus(clock, [model]);
    expect(nacks(() => read(bus.open({ address: 0x76 }), 0xd0, 1))).toBe(true);
    expect(read(bus.open({ address: 0x77 }), 0xd0, 1)).toEqual([0x60]);
    expect(() => new BME280Model({ address: 0x78 })).toThrow(RangeError);
  });
});
