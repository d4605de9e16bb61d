/**
 * The ADS1115 chip model on its own, driven byte by byte over the test bench bus, checked
 * against the datasheet (SBAS444D): power-up register values, pointer semantics, single-shot
 * and continuous timing, output codes worked by hand, the comparator and ALERT/RDY, and the
 * fault knobs.
 */
import type { I2CDevice } from '../../hal/i2c';
import { ADS1115Model, POWER_UP_MS } from '../../host-sim/chips/ads1115/model';
import type { ADS1115ModelOptions } from '../../host-sim/chips/ads1115/model';
import { nacks } from './support/errors';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

function chip(options: ADS1115ModelOptions = {}) {
  const model = new ADS1115Model({ inputs: { ain0: 1.0, ain1: 0.5, ain2: 0.25, ain3: 0 }, ...options });
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const device = bus.open({ address: model.address });
  return { model, clock, bus, device };
}

function readRegister(device: I2CDevice, pointer: number): number {
  const [msb, lsb] = device.writeRead(Uint8Array.of(pointer), 2);
  return (msb << 8) | lsb;
}

function writeRegister(device: I2CDevice, pointer: number, value: number): void {
  device.write(Uint8Array.of(pointer, value >> 8, value & 0xff));
}

function signed(word: number): number {
  return (word << 16) >> 16;
}

/** Config fields (§9.6.3) into a word. */
function config({ os = 1, mux = 0b100, pga = 0b010, mode = 1, dr = 0b100, compMode = 0, compPol = 0, compLat = 0, compQue = 0b11 } = {}): number {
  return (os << 15) | (mux << 12) | (pga << 9) | (mode << 8) | (dr << 5) | (compMode << 4) | (compPol << 3) | (compLat << 2) | compQue;
}

/** One single-shot conversion, read when done (128 SPS unless `fields` say otherwise). */
function convert(device: I2CDevice, clock: ManualClock, fields: Parameters<typeof config>[0] = {}): number {
  writeRegister(device, 1, config(fields));
  clock.advance(POWER_UP_MS + 1000 / [8, 16, 32, 64, 128, 250, 475, 860][fields.dr ?? 0b100]);
  return signed(readRegister(device, 0));
}

describe('ADS1115 model: registers (§9.6)', () => {
  test('power-up values: conversion 0000h, config 8583h, Lo_thresh 8000h, Hi_thresh 7FFFh', () => {
    const { device } = chip();
    expect([0, 1, 2, 3].map((pointer) => readRegister(device, pointer))).toEqual([0x0000, 0x8583, 0x8000, 0x7fff]);
  });

  test('the pointer stays until written: repeated reads need no pointer byte (§9.5.3)', () => {
    const { device } = chip();
    device.write(Uint8Array.of(0x03));
    expect(Array.from(device.read(2))).toEqual([0x7f, 0xff]);
    expect(Array.from(device.read(3))).toEqual([0x7f, 0xff, 0xff]); // no third byte in a register
  });

  test('thresholds read back as written; the conversion register ignores writes', () => {
    const { device } = chip();
    writeRegister(device, 2, 0x1234);
    writeRegister(device, 3, 0xfedc);
    writeRegister(device, 0, 0x5555);
    expect([readRegister(device, 2), readRegister(device, 3), readRegister(device, 0)]).toEqual([0x1234, 0xfedc, 0x0000]);
  });

  test('a pointer byte with bits 7:2 set is NACKed (they are always 0)', () => {
    const { device } = chip();
    expect(nacks(() => device.write(Uint8Array.of(0x04)))).toBe(true);
    expect(nacks(() => device.write(Uint8Array.of(0x81, 0x85, 0x83)))).toBe(true);
    device.write(new Uint8Array(0)); // an address probe is fine
  });
});

describe('ADS1115 model: single-shot conversions (§9.4.2.1)', () => {
  test('OS reads 0 for 25 µs + 1/DR, then 1 with the result in the conversion register', () => {
    const { device, clock, model } = chip({ inputs: { ain0: 1.0 } });
    writeRegister(device, 1, config()); // AIN0, ±2.048 V, 128 SPS
    expect(readRegister(device, 1)).toBe(config() & 0x7fff);
    clock.advance(POWER_UP_MS + 7.8125 - 0.001);
    expect(readRegister(device, 1) >> 15).toBe(0);
    expect(readRegister(device, 0)).toBe(0);
    clock.advance(0.001);
    expect(readRegister(device, 1)).toBe(config());
    expect(readRegister(device, 0)).toBe(16000); // 1.0 V / 62.5 µV
    expect(model.conversions).toBe(1);
  });

  test('OS = 1 written during a conversion has no effect; OS = 0 starts nothing', () => {
    const { device, clock, model } = chip();
    writeRegister(device, 1, config({ dr: 0b000 })); // 8 SPS: 125 ms
    clock.advance(100);
    writeRegister(device, 1, config({ dr: 0b000 }));
    clock.advance(25.025);
    expect(readRegister(device, 1) >> 15).toBe(1);
    writeRegister(device, 1, config({ os: 0 }));
    clock.advance(200);
    expect(model.conversions).toBe(1);
  });

  test('the data rate can be off by up to ±10%: a 10% fast chip finishes at 7.1 ms at 128 SPS', () => {
    const { device, clock } = chip({ dataRateError: 0.1 });
    writeRegister(device, 1, config());
    clock.advance(POWER_UP_MS + 1000 / (128 * 1.1));
    expect(readRegister(device, 1) >> 15).toBe(1);
  });

  test('output codes (§9.5.4), worked by hand at ±2.048 V (62.5 µV per code)', () => {
    const { device, clock, model } = chip();
    const code = (ain0: number, ain1 = 0, mux = 0b100) => {
      model.setInput('ain0', ain0);
      model.setInput('ain1', ain1);
      clock.advance(1);
      return convert(device, clock, { mux });
    };
    expect(code(62.5e-6)).toBe(1);
    expect(code(0)).toBe(0);
    expect(code(1.0, 0.5, 0b000)).toBe(8000); // AIN0 − AIN1 = 0.5 V
    expect(code(0.5, 1.0, 0b000)).toBe(-8000);
    expect(code(0.5, 0.5 + 62.5e-6, 0b000)).toBe(-1); // FFFFh
    expect(code((2.048 * 32767) / 32768)).toBe(32767);
    expect(code(2.5)).toBe(32767); // clipped at 7FFFh
    expect(code(0, 2.5, 0b000)).toBe(-32768); // clipped at 8000h
  });

  test('every MUX setting picks its pair (§9.6.3)', () => {
    const { device, clock } = chip({ inputs: { ain0: 1.0, ain1: 0.5, ain2: 0.25, ain3: 0.125 } });
    const volts = [0.5, 0.875, 0.375, 0.125, 1.0, 0.5, 0.25, 0.125];
    for (let mux = 0; mux < 8; mux++) expect(convert(device, clock, { mux })).toBe(volts[mux] / 62.5e-6);
  });

  test('every PGA setting scales (§9.3.3): 0.25 V at ±6.144 … ±0.256 V', () => {
    const { device, clock } = chip({ inputs: { ain0: 0.25 } });
    const codes = [0, 1, 2, 3, 4, 5, 6, 7].map((pga) => convert(device, clock, { pga }));
    expect(codes).toEqual([1333, 2000, 4000, 8000, 16000, 32000, 32000, 32000]); // 0.25 V / (FSR / 32768)
  });

  test('inputs are clamped to GND − 0.3 V … VDD + 0.3 V', () => {
    const { device, clock, model } = chip({ supply: 3.3, inputs: { ain0: 5.0 } });
    expect(convert(device, clock, { pga: 0b000 })).toBe(Math.round((3.6 / 6.144) * 32768));
    model.setInput('ain0', -1);
    model.setInput('ain1', 0);
    expect(convert(device, clock, { pga: 0b000, mux: 0b000 })).toBe(Math.round((-0.3 / 6.144) * 32768));
  });

  test('values can be functions of virtual time, sampled when the conversion starts', () => {
    const { device, clock } = chip({ inputs: { ain0: (ms) => ms / 10_000 } });
    clock.advance(5000);
    expect(convert(device, clock)).toBe(8000);
  });

  test('noise is deterministic for a seed and has roughly the asked standard deviation', () => {
    function series(seed: number): number[] {
      const { device, clock } = chip({ inputs: { ain0: 1.0 }, noise: { volts: 0.001, seed } });
      return Array.from({ length: 1000 }, () => convert(device, clock, { dr: 0b111 }) * 62.5e-6);
    }
    const a = series(11);
    expect(series(11)).toEqual(a);
    expect(series(12)).not.toEqual(a);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    expect(mean).toBeCloseTo(1.0, 3);
    expect(sd).toBeGreaterThan(0.00085);
    expect(sd).toBeLessThan(0.00115);
  });
});

describe('ADS1115 model: continuous conversion (§9.4.2.2)', () => {
  test('a new result every 1/DR; OS reads 0 throughout; MODE = 1 stops it', () => {
    const { device, clock, model } = chip({ inputs: { ain0: (ms) => ms / 1000 } });
    writeRegister(device, 1, config({ os: 0, mode: 0, dr: 0b111 })); // 860 SPS
    clock.advance(10);
    expect(readRegister(device, 1) >> 15).toBe(0);
    expect(model.conversions).toBe(8); // floor(10 ms · 0.86 per ms)
    // the last finished conversion started at 7 · 1000/860 ms
    expect(signed(readRegister(device, 0))).toBe(Math.round(((7 * 1000) / 860 / 1000 / 2.048) * 32768));
    writeRegister(device, 1, config({ os: 0, mode: 1 }));
    clock.advance(100);
    expect(readRegister(device, 1) >> 15).toBe(1);
    expect(model.conversions).toBe(8);
  });

  test('a long gap evaluates only the last conversions', () => {
    const { device, clock, model } = chip();
    writeRegister(device, 1, config({ os: 0, mode: 0, dr: 0b111 }));
    clock.advance(3_600_000);
    readRegister(device, 0);
    expect(model.conversions).toBe(8);
  });
});

describe('ADS1115 model: comparator and ALERT/RDY (§9.3.7, §9.3.8)', () => {
  /** Hi_thresh 16000 (1.0 V), Lo_thresh 8000 (0.5 V) at ±2.048 V. */
  function thresholds(device: I2CDevice): void {
    writeRegister(device, 3, 16000);
    writeRegister(device, 2, 8000);
  }

  test('disabled (COMP_QUE = 11, the default): the pin is released, and pulled high', () => {
    const { device, clock, model } = chip({ inputs: { ain0: 2.0 } });
    thresholds(device);
    convert(device, clock);
    expect(model.alertPinHigh(clock.now)).toBe(true);
    expect(model.alertAsserted(clock.now)).toBe(false);
  });

  test('traditional, non-latching: asserts above Hi_thresh, holds in the hysteresis band, releases below Lo_thresh', () => {
    const { device, clock, model } = chip();
    thresholds(device);
    const step = (volts: number) => {
      model.setInput('ain0', volts);
      convert(device, clock, { compQue: 0b00 });
      return model.alertPinHigh(clock.now);
    };
    expect([step(0.75), step(1.2), step(0.75), step(0.4), step(0.75)]).toEqual([true, false, false, true, true]);
  });

  test('the queue: COMP_QUE = 01 needs two conversions beyond the threshold in a row', () => {
    const { device, clock, model } = chip();
    thresholds(device);
    const step = (volts: number) => {
      model.setInput('ain0', volts);
      convert(device, clock, { compQue: 0b01 });
      return model.alertAsserted(clock.now);
    };
    expect([step(1.2), step(0.75), step(1.2), step(1.2)]).toEqual([false, false, false, true]);
  });

  test('window mode: outside [Lo_thresh, Hi_thresh] asserts, inside releases', () => {
    const { device, clock, model } = chip();
    thresholds(device);
    const step = (volts: number) => {
      model.setInput('ain0', volts);
      convert(device, clock, { compMode: 1, compQue: 0b00 });
      return model.alertAsserted(clock.now);
    };
    expect([step(0.75), step(0.25), step(0.75), step(1.5), step(0.75)]).toEqual([false, true, false, true, false]);
  });

  test('latching: stays asserted until the conversion register is read', () => {
    const { device, clock, model } = chip();
    thresholds(device);
    model.setInput('ain0', 1.5);
    writeRegister(device, 1, config({ compLat: 1, compQue: 0b00 }));
    clock.advance(10);
    model.setInput('ain0', 0.25);
    expect(model.alertAsserted(clock.now)).toBe(true);
    writeRegister(device, 1, config({ compLat: 1, compQue: 0b00 }));
    clock.advance(10);
    expect(model.alertAsserted(clock.now)).toBe(true); // below Lo_thresh, but latched
    readRegister(device, 0);
    expect(model.alertAsserted(clock.now)).toBe(false);
  });

  test('polarity: COMP_POL = 1 makes the asserted pin high', () => {
    const { device, clock, model } = chip({ inputs: { ain0: 1.5 } });
    thresholds(device);
    convert(device, clock, { compQue: 0b00, compPol: 1 });
    expect(model.alertAsserted(clock.now)).toBe(true);
    expect(model.alertPinHigh(clock.now)).toBe(true);
  });

  test('conversion-ready mode (Hi_thresh MSB 1, Lo_thresh MSB 0): asserted at the end of a single shot, cleared by the next', () => {
    const { device, clock, model } = chip();
    writeRegister(device, 3, 0x8000);
    writeRegister(device, 2, 0x0000);
    writeRegister(device, 1, config({ compQue: 0b00 }));
    expect(model.alertPinHigh(clock.now)).toBe(true);
    clock.advance(8);
    expect(model.alertPinHigh(clock.now)).toBe(false); // ready, active low
    writeRegister(device, 1, config({ compQue: 0b00 }));
    expect(model.alertPinHigh(clock.now)).toBe(true);
  });

  test('conversion-ready in continuous mode: a pulse per conversion', () => {
    const { device, clock, model } = chip();
    writeRegister(device, 3, 0x8000);
    writeRegister(device, 2, 0x0000);
    writeRegister(device, 1, config({ os: 0, mode: 0, dr: 0b101, compQue: 0b00 })); // 250 SPS
    clock.advance(10);
    model.alertAsserted(clock.now);
    expect(model.readyPulses).toBe(2);
  });
});

describe('ADS1115 model: faults', () => {
  test('nack: nothing is acknowledged', () => {
    const { device, model } = chip({ faults: { nack: true } });
    expect(nacks(() => device.write(new Uint8Array(0)))).toBe(true);
    expect(nacks(() => readRegister(device, 1))).toBe(true);
    model.setFaults({ nack: false });
    expect(readRegister(device, 1)).toBe(0x8583);
  });

  test('stuckBusy: OS stays 0 and the conversion never lands until the fault is cleared', () => {
    const { device, clock, model } = chip({ inputs: { ain0: 1.0 }, faults: { stuckBusy: true } });
    writeRegister(device, 1, config());
    clock.advance(10_000);
    expect(readRegister(device, 1) >> 15).toBe(0);
    expect(readRegister(device, 0)).toBe(0);
    model.setFaults({ stuckBusy: false });
    expect(readRegister(device, 1) >> 15).toBe(1);
    expect(readRegister(device, 0)).toBe(16000);
  });

  test('saturate: conversions read 7FFFh or 8000h whatever the input', () => {
    const { device, clock, model } = chip({ faults: { saturate: 'positive' } });
    expect(convert(device, clock)).toBe(32767);
    model.setFaults({ saturate: 'negative' });
    expect(convert(device, clock)).toBe(-32768);
  });

  test('wrongChip: writes acknowledged and ignored, every byte reads 0', () => {
    const { device, clock } = chip({ faults: { wrongChip: true } });
    writeRegister(device, 1, config());
    clock.advance(10);
    expect(readRegister(device, 1)).toBe(0);
    expect(Array.from(device.read(3))).toEqual([0, 0, 0]);
  });

  test('addresses 0x48…0x4B only, each answering only there', () => {
    const model = new ADS1115Model({ address: 0x4a });
    const clock = new ManualClock();
    const bus = new SimI2CBus(clock, [model]);
    expect(nacks(() => readRegister(bus.open({ address: 0x48 }), 1))).toBe(true);
    expect(readRegister(bus.open({ address: 0x4a }), 1)).toBe(0x8583);
    expect(() => new ADS1115Model({ address: 0x4c })).toThrow(RangeError);
    expect(() => new ADS1115Model({ dataRateError: -1 })).toThrow(RangeError);
  });
});
