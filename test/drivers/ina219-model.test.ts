/**
 * The INA219 chip model on its own, driven byte by byte over the test bench bus, checked
 * against the datasheet (SBOS448G): the worked example of §9.2.2.1 (SBOS448F Table 3),
 * power-on values, pointer semantics, the chip's integer arithmetic, conversion timing and
 * CNVR, and the fault knobs.
 */
import type { I2CDevice } from '../../hal/i2c';
import { INA219Model, POINTER, conversionTimeMs } from '../../host-sim/chips/ina219/model';
import type { INA219ModelOptions } from '../../host-sim/chips/ina219/model';
import { nacks } from './support/errors';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

function chip(options: INA219ModelOptions = {}) {
  const model = new INA219Model(options);
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const device = bus.open({ address: model.address });
  return { model, clock, bus, device };
}

function writeRegister(device: I2CDevice, pointer: number, value: number): void {
  device.write(new Uint8Array([pointer, value >> 8, value & 0xff]));
}

function readRegister(device: I2CDevice, pointer: number): number {
  const bytes = device.writeRead(new Uint8Array([pointer]), 2);
  return (bytes[0] << 8) | bytes[1];
}

function int16(word: number): number {
  return (word << 16) >> 16;
}

const CNVR = 0b10;
const OVF = 0b01;
/** 32 V, /8, 12-bit shunt and bus, shunt and bus triggered: the power-on value with mode 011. */
const TRIGGERED_12_BIT = 0x399b;

describe('INA219 model: the datasheet example (SBOS448G §9.2.2.1; SBOS448F Table 3)', () => {
  // Conditions: load 10 A, VCM 12 V, RSHUNT 2 mΩ, VSHUNT FSR 40 mV, VBUS 16 V. IN– sits 20 mV
  // below the 12 V common mode: 11.98 V.
  test('configuration 019Fh, calibration 5000h → shunt 07D0h, bus 5D98h, current 2710h, power 1766h', () => {
    const { device, clock } = chip({ busVoltage: 11.98, current: 10, shuntOhms: 0.002 });
    writeRegister(device, POINTER.CONFIGURATION, 0x019f); // Step 1
    writeRegister(device, POINTER.CALIBRATION, 0x5000); // Step 4: 20480
    clock.advance(conversionTimeMs(0b0011, 'max') * 2);
    expect(readRegister(device, POINTER.SHUNT_VOLTAGE)).toBe(0x07d0); // Step 2: 2000 × 10 µV = 20 mV
    const bus = readRegister(device, POINTER.BUS_VOLTAGE);
    expect(bus & ~0b111).toBe(0x5d98); // Step 3: 0BB3h = 2995 × 4 mV = 11.98 V
    expect(bus >> 3).toBe(2995);
    expect(readRegister(device, POINTER.CURRENT)).toBe(0x2710); // Step 5: 2000 × 20480 / 4096 = 10000 → 10.0 A at 1 mA
    expect(readRegister(device, POINTER.POWER)).toBe(0x1766); // Step 6: 10000 × 2995 / 5000 = 5990 → 119.8 W at 20 mW
    expect(readRegister(device, POINTER.BUS_VOLTAGE)).toBe(0x5d98); // CNVR cleared by the power read: exactly the table's 5D98h
    expect(readRegister(device, POINTER.CALIBRATION)).toBe(0x5000);
    expect(readRegister(device, POINTER.CONFIGURATION)).toBe(0x019f);
  });
});

describe('INA219 model: registers (§8.5.6, §8.6)', () => {
  test('power-on values (Table 2): configuration 399Fh; calibration, current and power 0', () => {
    const { device } = chip();
    expect(readRegister(device, POINTER.CONFIGURATION)).toBe(0x399f);
    expect(readRegister(device, POINTER.CALIBRATION)).toBe(0);
    expect(readRegister(device, POINTER.CURRENT)).toBe(0);
    expect(readRegister(device, POINTER.POWER)).toBe(0);
  });

  test('current and power stay 0 until calibration is programmed (Table 2 note), though the voltages convert', () => {
    const { device, clock } = chip({ busVoltage: 12, current: 1 });
    clock.advance(5);
    expect(readRegister(device, POINTER.SHUNT_VOLTAGE)).toBe(10000); // 1 A × 0.1 Ω = 100 mV
    expect(readRegister(device, POINTER.BUS_VOLTAGE) >> 3).toBe(3000);
    expect(readRegister(device, POINTER.CURRENT)).toBe(0);
    expect(readRegister(device, POINTER.POWER)).toBe(0);
  });

  test('the pointer is kept: repeated reads need no new pointer, and there is no auto-increment', () => {
    const { device } = chip();
    device.write(new Uint8Array([POINTER.CONFIGURATION]));
    expect(Array.from(device.read(2))).toEqual([0x39, 0x9f]);
    expect(Array.from(device.read(2))).toEqual([0x39, 0x9f]);
    expect(Array.from(device.read(4))).toEqual([0x39, 0x9f, 0xff, 0xff]);
  });

  test('a write to a register leaves the pointer on it', () => {
    const { device } = chip();
    writeRegister(device, POINTER.CALIBRATION, 0x1234);
    expect(Array.from(device.read(2))).toEqual([0x12, 0x34]);
  });

  test('calibration bit 0 is void (§8.6.4.1)', () => {
    const { device } = chip();
    writeRegister(device, POINTER.CALIBRATION, 0xffff);
    expect(readRegister(device, POINTER.CALIBRATION)).toBe(0xfffe);
  });

  test('the data registers are read-only; pointers past 05h are NACKed', () => {
    const { device, clock } = chip({ current: 0.5 });
    clock.advance(5);
    const shunt = readRegister(device, POINTER.SHUNT_VOLTAGE);
    writeRegister(device, POINTER.SHUNT_VOLTAGE, 0x1234);
    writeRegister(device, POINTER.CURRENT, 0x1234);
    expect(readRegister(device, POINTER.SHUNT_VOLTAGE)).toBe(shunt);
    expect(readRegister(device, POINTER.CURRENT)).toBe(0);
    expect(nacks(() => device.write(new Uint8Array([0x06])))).toBe(true);
  });

  test('RST (bit 15) restores every register and self-clears', () => {
    const { device, clock } = chip();
    writeRegister(device, POINTER.CONFIGURATION, 0x019f);
    writeRegister(device, POINTER.CALIBRATION, 0x5000);
    clock.advance(5);
    writeRegister(device, POINTER.CONFIGURATION, 0x8000);
    expect(readRegister(device, POINTER.CONFIGURATION)).toBe(0x399f);
    expect(readRegister(device, POINTER.CALIBRATION)).toBe(0);
    expect(readRegister(device, POINTER.SHUNT_VOLTAGE)).toBe(0);
  });
});

describe('INA219 model: arithmetic (§8.6.3, Eq. 4 and 5)', () => {
  test('shunt voltage in 10 µV steps, two\'s complement when the current flows back', () => {
    const { device, clock } = chip({ current: -0.25 });
    clock.advance(5);
    expect(int16(readRegister(device, POINTER.SHUNT_VOLTAGE))).toBe(-2500); // −25 mV
    expect(readRegister(device, POINTER.SHUNT_VOLTAGE)).toBe(0xf63c);
  });

  test.each([
    [0b00, 4000],
    [0b01, 8000],
    [0b10, 16000],
    [0b11, 32000],
  ])('PGA code %i clips the shunt register at ±%i (±40 … ±320 mV)', (pga, fullScale) => {
    const { device, clock, model } = chip({ current: 5 }); // 500 mV: beyond every range
    writeRegister(device, POINTER.CONFIGURATION, 0x2000 | (pga << 11) | (0b0011 << 7) | (0b0011 << 3) | 0b011);
    clock.advance(2);
    expect(int16(readRegister(device, POINTER.SHUNT_VOLTAGE))).toBe(fullScale);
    model.setCurrent(-5);
    writeRegister(device, POINTER.CONFIGURATION, 0x2000 | (pga << 11) | (0b0011 << 7) | (0b0011 << 3) | 0b011);
    clock.advance(2);
    expect(int16(readRegister(device, POINTER.SHUNT_VOLTAGE))).toBe(-fullScale);
  });

  test('bus voltage in 4 mV steps; the 16 V range stops at 4095 (BD12 = 0), the 32 V range at 8191', () => {
    const { device, clock, model } = chip({ busVoltage: 20 });
    writeRegister(device, POINTER.CONFIGURATION, 0x199b); // BRNG = 0: 16 V
    clock.advance(2);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) >> 3).toBe(4095);
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT); // 32 V
    clock.advance(2);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) >> 3).toBe(5000);
    model.setBusVoltage(40);
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    clock.advance(2);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) >> 3).toBe(8191);
  });

  test('current truncates toward zero: 3 × 4098 / 4096 = 3.0015 → 3, and −3.0015 → −3 (not −4)', () => {
    const { device, clock, model } = chip({ current: 0.0003 }); // 30 µV: shunt 3
    writeRegister(device, POINTER.CALIBRATION, 4098); // even: bit 0 is void
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    clock.advance(2);
    expect(int16(readRegister(device, POINTER.CURRENT))).toBe(3); // 3 × 4098 / 4096 = 3.0015
    model.setCurrent(-0.0003);
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    clock.advance(2);
    expect(int16(readRegister(device, POINTER.CURRENT))).toBe(-3);
  });

  test('power is unsigned: the magnitude of current × bus / 5000, truncated', () => {
    const { device, clock } = chip({ current: -1, busVoltage: 12, shuntOhms: 0.1 });
    writeRegister(device, POINTER.CALIBRATION, 4096); // Current_LSB 100 µA at 0.1 Ω
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    clock.advance(2);
    expect(int16(readRegister(device, POINTER.CURRENT))).toBe(-10000); // −1 A
    expect(readRegister(device, POINTER.POWER)).toBe(6000); // 10000 × 3000 / 5000 → 12 W at 2 mW
  });

  test('OVF: a current beyond 16 bits sets the flag and saturates', () => {
    const { device, clock } = chip({ current: 3.2, busVoltage: 12 }); // 320 mV: shunt 32000
    writeRegister(device, POINTER.CALIBRATION, 0xfffe); // 32000 × 65534 / 4096 = 511984
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    clock.advance(2);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & OVF).toBe(OVF);
    expect(int16(readRegister(device, POINTER.CURRENT))).toBe(32767);
  });

  test('OVF is recomputed each conversion: it clears once the current is back in range', () => {
    const { device, clock, model } = chip({ current: 3, busVoltage: 26 }); // shunt 30000
    // Power alone cannot overflow: at most 32767 × 8191 / 5000 = 53678. Current can.
    writeRegister(device, POINTER.CALIBRATION, 4096); // current 30000; power 30000 × 6500 / 5000 = 39000
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    clock.advance(2);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & OVF).toBe(0);
    writeRegister(device, POINTER.CALIBRATION, 8192); // current 60000 → over
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    clock.advance(2);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & OVF).toBe(OVF);
    model.setCurrent(1);
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    clock.advance(2);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & OVF).toBe(0);
  });
});

describe('INA219 model: conversions, timing and CNVR (§7.5, §8.6.2.1, §8.6.3.2)', () => {
  test('conversion times: §7.5 maxima and the typical values of the ADC settings table', () => {
    expect([0b0000, 0b0001, 0b0010, 0b0011, 0b0100, 0b1000].map((c) => conversionTimeMs(c, 'max'))).toEqual([
      0.093, 0.163, 0.304, 0.586, 0.093, 0.586,
    ]);
    expect([0b0000, 0b0001, 0b0010, 0b0011, 0b0111].map((c) => conversionTimeMs(c, 'typical'))).toEqual([
      0.084, 0.148, 0.276, 0.532, 0.532,
    ]);
    expect([0b1001, 0b1010, 0b1011, 0b1100, 0b1101, 0b1110, 0b1111].map((c) => conversionTimeMs(c, 'typical'))).toEqual([
      1.06, 2.13, 4.26, 8.51, 17.02, 34.05, 68.1,
    ]);
    expect(conversionTimeMs(0b1111, 'max')).toBeCloseTo(75.008, 9); // 128 × 586 µs
  });

  test('triggered: CNVR and the new values appear only after shunt + bus conversion time, then stay', () => {
    const { device, clock, model } = chip({ current: 0.1 });
    clock.advance(10);
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & CNVR).toBe(0); // cleared by the configuration write
    model.setCurrent(0.2);
    const conversions = model.conversions;
    clock.advance(1.171);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & CNVR).toBe(0);
    expect(readRegister(device, POINTER.SHUNT_VOLTAGE)).toBe(1000); // still the 0.1 A from continuous mode
    clock.advance(0.001); // 2 × 586 µs
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & CNVR).toBe(CNVR);
    expect(readRegister(device, POINTER.SHUNT_VOLTAGE)).toBe(2000);
    clock.advance(100);
    expect(model.conversions).toBe(conversions + 1); // one conversion per trigger
  });

  test('typical timing: 2 × 532 µs', () => {
    const { device, clock } = chip({ timing: 'typical' });
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    clock.advance(1.063);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & CNVR).toBe(0);
    clock.advance(0.001);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & CNVR).toBe(CNVR);
  });

  test('averaging 128 samples on both: 2 × 68.10 ms typical', () => {
    const { device, clock } = chip({ timing: 'typical' });
    writeRegister(device, POINTER.CONFIGURATION, 0x3fff & ~0b100); // 32 V, /8, 128 samples each, triggered
    clock.advance(136.1);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & CNVR).toBe(0);
    clock.advance(0.1);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & CNVR).toBe(CNVR);
  });

  test('reading the power register clears CNVR', () => {
    const { device, clock } = chip();
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    clock.advance(2);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & CNVR).toBe(CNVR);
    readRegister(device, POINTER.POWER);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & CNVR).toBe(0);
  });

  test('shunt-only and bus-only triggers convert just that one, in just its time', () => {
    const { device, clock, model } = chip({ current: 0.1, busVoltage: 5 });
    writeRegister(device, POINTER.CONFIGURATION, 0x3998); // power-down
    model.setCurrent(0.3);
    model.setBusVoltage(7);
    writeRegister(device, POINTER.CONFIGURATION, 0x3999); // shunt, triggered
    clock.advance(0.586);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & CNVR).toBe(CNVR);
    expect(readRegister(device, POINTER.SHUNT_VOLTAGE)).toBe(3000);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) >> 3).toBe(0); // no bus conversion yet since power-on
    writeRegister(device, POINTER.CONFIGURATION, 0x399a); // bus, triggered
    clock.advance(0.586);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) >> 3).toBe(1750);
  });

  test('continuous (the power-on mode): a new result every shunt + bus time, taken at its end', () => {
    const { device, clock } = chip({ current: (ms) => ms / 1000 }); // 1 A per second
    clock.advance(1.172 * 10);
    expect(readRegister(device, POINTER.SHUNT_VOLTAGE)).toBe(Math.round((0.01172 * 0.1) / 10e-6)); // 117
    clock.advance(1.172 * 100);
    expect(readRegister(device, POINTER.SHUNT_VOLTAGE)).toBe(Math.round((0.12892 * 0.1) / 10e-6)); // 1289
  });

  test('power-down and ADC off stop conversions; CNVR keeps its value', () => {
    const { device, clock, model } = chip();
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    clock.advance(2);
    writeRegister(device, POINTER.CONFIGURATION, 0x3998);
    const conversions = model.conversions;
    clock.advance(100);
    expect(model.conversions).toBe(conversions);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & CNVR).toBe(CNVR);
    writeRegister(device, POINTER.CONFIGURATION, 0x399c);
    clock.advance(100);
    expect(model.conversions).toBe(conversions);
  });
});

describe('INA219 model: knobs and faults', () => {
  test('noise is deterministic for a seed and has roughly the asked standard deviation', () => {
    function series(seed: number): number[] {
      const { device, clock } = chip({ current: 1, noise: { current: 0.01, busVoltage: 0.01, seed } });
      const out: number[] = [];
      for (let i = 0; i < 2000; i++) {
        writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
        clock.advance(2);
        out.push(int16(readRegister(device, POINTER.SHUNT_VOLTAGE)));
      }
      return out;
    }
    const a = series(3);
    expect(series(3)).toEqual(a);
    expect(series(4)).not.toEqual(a);
    const amperes = a.map((code) => (code * 10e-6) / 0.1);
    const mean = amperes.reduce((s, v) => s + v, 0) / amperes.length;
    const sd = Math.sqrt(amperes.reduce((s, v) => s + (v - mean) ** 2, 0) / amperes.length);
    expect(mean).toBeCloseTo(1, 2);
    expect(sd).toBeGreaterThan(0.009);
    expect(sd).toBeLessThan(0.011);
  });

  test('nack: nothing is acknowledged, not even an address probe', () => {
    const { device, model } = chip({ faults: { nack: true } });
    expect(nacks(() => device.write(new Uint8Array(0)))).toBe(true);
    expect(nacks(() => readRegister(device, POINTER.CONFIGURATION))).toBe(true);
    model.setFaults({ nack: false });
    expect(readRegister(device, POINTER.CONFIGURATION)).toBe(0x399f);
  });

  test('stuckBusy: a triggered conversion never completes until the fault is cleared', () => {
    const { device, clock, model } = chip({ faults: { stuckBusy: true } });
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    clock.advance(10_000);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & CNVR).toBe(0);
    model.setFaults({ stuckBusy: false });
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & CNVR).toBe(CNVR);
  });

  test('overflow: every conversion sets OVF', () => {
    const { device, clock } = chip({ faults: { overflow: true } });
    writeRegister(device, POINTER.CONFIGURATION, TRIGGERED_12_BIT);
    clock.advance(2);
    expect(readRegister(device, POINTER.BUS_VOLTAGE) & OVF).toBe(OVF);
  });

  test('addresses 0x40 to 0x4F; the model answers only at its own', () => {
    const model = new INA219Model({ address: 0x45 });
    const clock = new ManualClock();
    const bus = new SimI2CBus(clock, [model]);
    expect(nacks(() => readRegister(bus.open({ address: 0x40 }), 0))).toBe(true);
    expect(readRegister(bus.open({ address: 0x45 }), 0)).toBe(0x399f);
    expect(() => new INA219Model({ address: 0x50 })).toThrow(RangeError);
    expect(() => new INA219Model({ shuntOhms: 0 })).toThrow(RangeError);
  });
});
