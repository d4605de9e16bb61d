/**
 * The BH1750 chip model on its own, driven opcode by opcode over the test bench bus, checked
 * against the "BH1750FVI Technical Note" (ROHM, 2009.04 Rev.B): the p.10 worked example of
 * lux from count, MTreg scaling from p.11, timing from p.2 and the state machine of p.5.
 */
import type { I2CDevice } from '../../hal/i2c';
import { BH1750Model } from '../../host-sim/chips/bh1750/model';
import type { BH1750ModelOptions } from '../../host-sim/chips/bh1750/model';
import { dailyIlluminance } from '../../host-sim/chips/bh1750/daylight';
import { nacks } from './support/errors';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

function chip(options: BH1750ModelOptions = {}) {
  const model = new BH1750Model({ illuminance: 1000, ...options });
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const device = bus.open({ address: model.address });
  return { model, clock, bus, device };
}

function op(device: I2CDevice, opcode: number): void {
  device.write(new Uint8Array([opcode]));
}

function count(device: I2CDevice): number {
  const bytes = device.read(2);
  return (bytes[0] << 8) | bytes[1];
}

/** MTreg in two opcodes, p.5: 01000_MT[7:5], 011_MT[4:0]. */
function setMtreg(device: I2CDevice, mtreg: number): void {
  op(device, 0x40 | (mtreg >> 5));
  op(device, 0x60 | (mtreg & 0x1f));
}

describe('BH1750 model: counts (p.10, p.11)', () => {
  test('the p.10 example: 28067 lx reads high byte 1000_0011, low byte 1001_0000 (33680 / 1.2 = 28066.7)', () => {
    const { device, clock } = chip({ illuminance: 33680 / 1.2 });
    op(device, 0x01);
    op(device, 0x20);
    clock.advance(180);
    expect(Array.from(device.read(2))).toEqual([0b1000_0011, 0b1001_0000]);
  });

  test('1000 lx: 1200 counts at MTreg 69; 2400 at MTreg 138 (2× sensitivity, p.11); 539 at 31; 2400 in mode2', () => {
    const { device, clock, model } = chip({ illuminance: 1000 });
    op(device, 0x20);
    clock.advance(180);
    expect(count(device)).toBe(1200);
    setMtreg(device, 138); // 1000_1010 → 0x44, 0x6A
    expect(model.mtreg).toBe(138);
    op(device, 0x20);
    clock.advance(360);
    expect(count(device)).toBe(2400);
    setMtreg(device, 31); // 1000 × 1.2 × 31/69 = 539.13
    op(device, 0x20);
    clock.advance(81);
    expect(count(device)).toBe(539);
    setMtreg(device, 69);
    op(device, 0x21); // H-resolution mode2: 0.5 lx per count/1.2
    clock.advance(180);
    expect(count(device)).toBe(2400);
  });

  test('above 65535 counts the register saturates: 54612.5 lx is full scale at MTreg 69', () => {
    const { device, clock, model } = chip({ illuminance: 80_000 });
    op(device, 0x20);
    clock.advance(180);
    expect(count(device)).toBe(0xffff);
    model.setIlluminance(-5);
    op(device, 0x20);
    clock.advance(180);
    expect(count(device)).toBe(0);
  });

  test('countsPerLux sets the sensor-to-actual ratio (p.2: 0.96…1.44)', () => {
    const { device, clock } = chip({ illuminance: 1000, countsPerLux: 0.96 });
    op(device, 0x20);
    clock.advance(180);
    expect(count(device)).toBe(960);
  });

  test('noise is deterministic for a seed', () => {
    function series(seed: number): number[] {
      const { device, clock } = chip({ illuminance: 500, noise: { illuminance: 10, seed } });
      op(device, 0x10);
      const out: number[] = [];
      for (let i = 0; i < 50; i++) {
        clock.advance(180);
        out.push(count(device));
      }
      return out;
    }
    expect(series(3)).toEqual(series(3));
    expect(series(3)).not.toEqual(series(4));
    expect(new Set(series(3)).size).toBeGreaterThan(20);
  });

  test('the default day: dark at 03:00, 1000 lx daylight at noon, 300 lx lamp at 21:00', () => {
    expect(dailyIlluminance(3 * 3_600_000)).toBe(0);
    expect(dailyIlluminance(12 * 3_600_000)).toBeCloseTo(1000, 6);
    expect(dailyIlluminance(21 * 3_600_000)).toBe(300);
    const model = new BH1750Model();
    const clock = new ManualClock();
    const device = new SimI2CBus(clock, [model]).open({ address: 0x23 });
    clock.advance(12 * 3_600_000);
    op(device, 0x20);
    clock.advance(180);
    expect(count(device)).toBe(1200);
  });
});

describe('BH1750 model: timing and states (p.2, p.5)', () => {
  test('one-time H: the register keeps the old value until 180 ms, then the chip powers down', () => {
    const { device, clock, model } = chip({ illuminance: 1000 });
    expect(model.stateAt(clock.now)).toBe('power-down');
    op(device, 0x01);
    expect(model.stateAt(clock.now)).toBe('power-on');
    op(device, 0x20);
    clock.advance(179);
    expect(count(device)).toBe(0); // read too early: the power-up value, no NACK, no flag
    expect(model.stateAt(clock.now)).toBe('measuring');
    clock.advance(1);
    expect(count(device)).toBe(1200);
    expect(model.stateAt(clock.now)).toBe('power-down');
    expect(count(device)).toBe(1200); // the register can be read again
  });

  test('typical timing: 120 ms; L-resolution: 24 ms max, 16 ms typical', () => {
    const typical = chip({ timing: 'typical' });
    op(typical.device, 0x20);
    typical.clock.advance(119);
    expect(count(typical.device)).toBe(0);
    typical.clock.advance(1);
    expect(count(typical.device)).toBe(1200);
    op(typical.device, 0x23);
    typical.model.setIlluminance(500);
    typical.clock.advance(16);
    expect(count(typical.device)).toBe(600);
    const max = chip();
    op(max.device, 0x23);
    max.clock.advance(23);
    expect(count(max.device)).toBe(0);
    max.clock.advance(1);
    expect(count(max.device)).toBe(1200);
  });

  test('MTreg scales the measurement time: 360 ms at 138', () => {
    const { device, clock } = chip();
    setMtreg(device, 138);
    op(device, 0x20);
    clock.advance(359);
    expect(count(device)).toBe(0);
    clock.advance(1);
    expect(count(device)).toBe(2400);
  });

  test('continuous H: a new result every 180 ms, each for the light when its cycle began', () => {
    const { device, clock, model } = chip({ illuminance: (ms) => ms });
    op(device, 0x10);
    clock.advance(100);
    expect(count(device)).toBe(0);
    clock.advance(80);
    expect(count(device)).toBe(0); // the cycle that began at 0 ms: 0 lx
    clock.advance(180);
    expect(count(device)).toBe(Math.round(180 * 1.2));
    clock.advance(900);
    expect(count(device)).toBe(Math.round(1080 * 1.2)); // at 1260 ms cycles 0…6 are done; the latest began at 1080 ms
    expect(model.stateAt(clock.now)).toBe('measuring');
    op(device, 0x00);
    expect(model.stateAt(clock.now)).toBe('power-down');
  });

  test('Reset clears the register in power-on state only', () => {
    const { device, clock } = chip();
    op(device, 0x20);
    clock.advance(180);
    op(device, 0x07); // power down after the one-time measurement: ignored
    expect(count(device)).toBe(1200);
    op(device, 0x01);
    op(device, 0x07);
    expect(count(device)).toBe(0);
  });

  test('one opcode per transfer: two-byte writes and unknown opcodes are NACKed; a probe is ACKed', () => {
    const { device, model } = chip();
    expect(nacks(() => device.write(new Uint8Array([0x01, 0x10])))).toBe(true);
    expect(nacks(() => op(device, 0x05))).toBe(true);
    device.write(new Uint8Array(0));
    expect(model.opcodes).toEqual([]);
  });

  test('a read of more than two bytes pads with 0xFF', () => {
    const { device, clock } = chip();
    op(device, 0x20);
    clock.advance(180);
    expect(Array.from(device.read(4))).toEqual([0x04, 0xb0, 0xff, 0xff]);
  });
});

describe('BH1750 model: faults', () => {
  test('nack: nothing is acknowledged', () => {
    const { device, model } = chip({ faults: { nack: true } });
    expect(nacks(() => op(device, 0x01))).toBe(true);
    expect(nacks(() => device.read(2))).toBe(true);
    model.setFaults({ nack: false });
    op(device, 0x01);
  });

  test('stuckBusy: the measurement never finishes; the register keeps its last value', () => {
    const { device, clock, model } = chip({ faults: { stuckBusy: true } });
    op(device, 0x20);
    clock.advance(10_000);
    expect(count(device)).toBe(0);
    expect(model.stateAt(clock.now)).toBe('measuring');
    model.setFaults({ stuckBusy: false });
    expect(count(device)).toBe(1200);
  });

  test('address 0x5C answers only there', () => {
    const model = new BH1750Model({ address: 0x5c });
    const bus = new SimI2CBus(new ManualClock(), [model]);
    expect(nacks(() => op(bus.open({ address: 0x23 }), 0x01))).toBe(true);
    op(bus.open({ address: 0x5c }), 0x01);
    expect(() => new BH1750Model({ address: 0x24 })).toThrow(RangeError);
  });
});
