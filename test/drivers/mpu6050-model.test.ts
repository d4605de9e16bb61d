/**
 * The MPU-6050 chip model on its own, driven byte by byte over the test bench bus, checked
 * against the register map (RM-MPU-6000A-00 rev 4.2) and product specification
 * (PS-MPU-6000A-00 rev 3.4): reset values, pointer and burst semantics, scale factors worked
 * by hand, saturation, sample timing, DATA_RDY, reset, and the fault knobs.
 */
import type { I2CDevice } from '../../hal/i2c';
import { GYRO_STARTUP_MS, MPU6050Model, REG, RESET_MS, rawTemperature } from '../../host-sim/chips/mpu6050/model';
import type { MPU6050ModelOptions } from '../../host-sim/chips/mpu6050/model';
import { nacks } from './support/errors';
import { ManualClock, SimI2CBus } from './support/sim-i2c';

function chip(options: MPU6050ModelOptions = {}) {
  const model = new MPU6050Model(options);
  const clock = new ManualClock();
  const bus = new SimI2CBus(clock, [model]);
  const device = bus.open({ address: model.address });
  return { model, clock, bus, device };
}

function writeRegister(device: I2CDevice, register: number, ...values: number[]): void {
  device.write(new Uint8Array([register, ...values]));
}

function readRegisters(device: I2CDevice, register: number, count: number): number[] {
  return Array.from(device.writeRead(new Uint8Array([register]), count));
}

function readRegister(device: I2CDevice, register: number): number {
  return readRegisters(device, register, 1)[0];
}

function int16s(bytes: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) out.push((((bytes[i] << 8) | bytes[i + 1]) << 16) >> 16);
  return out;
}

/** [ax, ay, az, temperature, gx, gy, gz] raw, one burst from ACCEL_XOUT_H. */
function burst(device: I2CDevice): number[] {
  return int16s(readRegisters(device, REG.ACCEL_XOUT_H, 14));
}

/** Wake on the X gyro clock, enable DATA_RDY, and let the gyroscope settle. */
function wake(device: I2CDevice, clock: ManualClock): void {
  writeRegister(device, REG.PWR_MGMT_1, 0x01);
  writeRegister(device, REG.INT_ENABLE, 0x01);
  clock.advance(GYRO_STARTUP_MS);
}

describe('MPU-6050 model: registers (RM §3)', () => {
  test('reset values: 0x00 everywhere except PWR_MGMT_1 = 0x40 and WHO_AM_I = 0x68', () => {
    const { device } = chip();
    const all = readRegisters(device, 0x00, 128);
    expect(all[0x6b]).toBe(0x40);
    expect(all[0x75]).toBe(0x68);
    expect(all.filter((_, i) => i !== 0x6b && i !== 0x75).every((b) => b === 0)).toBe(true);
  });

  test('WHO_AM_I is 0x68 at address 0x69 too: AD0 moves only the address (RM §4.32)', () => {
    const { device } = chip({ address: 0x69 });
    expect(readRegister(device, REG.WHO_AM_I)).toBe(0x68);
  });

  test('burst write auto-increments: SMPLRT_DIV, CONFIG, GYRO_CONFIG, ACCEL_CONFIG in one transfer', () => {
    const { device, model } = chip();
    writeRegister(device, REG.SMPLRT_DIV, 9, 3, 0x18, 0x08);
    expect([model.register(0x19), model.register(0x1a), model.register(0x1b), model.register(0x1c)]).toEqual([9, 3, 0x18, 0x08]);
    expect(readRegisters(device, REG.SMPLRT_DIV, 4)).toEqual([9, 3, 0x18, 0x08]);
  });

  test('a pointer-only write selects where a later read starts; reads advance the pointer', () => {
    const { device } = chip();
    writeRegister(device, REG.SMPLRT_DIV, 1, 2, 3, 4);
    device.write(new Uint8Array([REG.SMPLRT_DIV]));
    expect(Array.from(device.read(2))).toEqual([1, 2]);
    expect(Array.from(device.read(2))).toEqual([3, 4]);
  });

  test('writes to read-only registers are ignored', () => {
    const { device } = chip();
    writeRegister(device, REG.WHO_AM_I, 0x12);
    writeRegister(device, REG.ACCEL_XOUT_H, 0x12, 0x34);
    writeRegister(device, REG.INT_STATUS, 0x01);
    expect(readRegister(device, REG.WHO_AM_I)).toBe(0x68);
    expect(readRegisters(device, REG.ACCEL_XOUT_H, 2)).toEqual([0, 0]);
    expect(readRegister(device, REG.INT_STATUS)).toBe(0);
  });
});

describe('MPU-6050 model: values and arithmetic (PS §6.1, §6.2, RM §4.18)', () => {
  test('flat and still at 25 °C: az = +1 g = 16384 at ±2 g, gyro 0, TEMP_OUT = (25 − 36.53) × 340 = −3920', () => {
    const { device, clock } = chip();
    wake(device, clock);
    expect(burst(device)).toEqual([0, 0, 16384, -3920, 0, 0, 0]);
    expect(rawTemperature(25)).toBe(-3920);
  });

  test.each([
    [0, 16384],
    [1, 8192],
    [2, 4096],
    [3, 2048],
  ])('AFS_SEL %i: 1 g is %i LSB', (afs, lsb) => {
    const { device, clock } = chip({ accelerationG: { x: 1, y: -1, z: 0.5 } });
    writeRegister(device, REG.ACCEL_CONFIG, afs << 3);
    wake(device, clock);
    expect(burst(device).slice(0, 3)).toEqual([lsb, -lsb, lsb / 2]);
  });

  test.each([
    [0, 131, 100, 13100],
    [1, 65.5, 100, 6550],
    [2, 32.8, 100, 3280],
    [3, 16.4, 1000, 16400],
  ])('FS_SEL %i: %d LSB/(°/s), so %i °/s is %i', (fs, _sensitivity, dps, raw) => {
    const { device, clock } = chip({ angularRateDps: { x: dps, y: -dps, z: 0 } });
    writeRegister(device, REG.GYRO_CONFIG, fs << 3);
    wake(device, clock);
    expect(burst(device).slice(4)).toEqual([raw, -raw, 0]);
  });

  test('1 °/s at ±250 °/s is 131 LSB; 0.5 °/s rounds to 66 (65.5)', () => {
    const { device, clock, model } = chip({ angularRateDps: { x: 1, y: 0.5, z: -0.5 } });
    wake(device, clock);
    expect(burst(device).slice(4)).toEqual([131, 66, -65]); // Math.round: -65.5 → -65
    expect(model.samples).toBeGreaterThan(0);
  });

  test('saturates at ±32767 beyond full scale', () => {
    const { device, clock } = chip({ accelerationG: { x: 3, y: -3, z: 2 }, angularRateDps: { x: 300, y: -300, z: 250 } });
    wake(device, clock);
    const [ax, ay, az, , gx, gy, gz] = burst(device);
    expect([ax, ay, az]).toEqual([32767, -32767, 32767]); // 2 g × 16384 = 32768 saturates too
    expect([gx, gy, gz]).toEqual([32767, -32767, 32750]);
  });

  test('temperature: 36.53 °C is 0; 35 °C is round(−520.2) = −520 (PS §6.3 gives −521 at 35 °C typical)', () => {
    const { device, clock, model } = chip({ temperature: 36.53 });
    wake(device, clock);
    expect(burst(device)[3]).toBe(0);
    model.setTemperature(35);
    clock.advance(1);
    expect(burst(device)[3]).toBe(-520);
  });

  test('TEMP_DIS (PWR_MGMT_1 bit 3) freezes the temperature register', () => {
    const { device, clock, model } = chip({ temperature: 30 });
    wake(device, clock);
    const before = burst(device)[3];
    writeRegister(device, REG.PWR_MGMT_1, 0x09);
    model.setTemperature(50);
    clock.advance(5);
    expect(burst(device)[3]).toBe(before);
  });

  test('values can be functions of virtual time, taken at the sampling instant', () => {
    const { device, clock } = chip({ accelerationG: (ms) => ({ x: ms / 1000, y: 0, z: 1 }) });
    writeRegister(device, REG.CONFIG, 1); // DLPF on: 1 kHz, samples on whole ms
    wake(device, clock); // first sample at 30 ms
    clock.advance(470); // at 500 ms
    expect(burst(device)[0]).toBe(Math.round(0.5 * 16384));
  });

  test('noise is deterministic for a seed and has roughly the asked standard deviation', () => {
    function series(seed: number): number[] {
      const { device, clock } = chip({ noise: { acceleration: 0.01, angularRate: 0.5, temperature: 0.1, seed } });
      writeRegister(device, REG.CONFIG, 1);
      wake(device, clock);
      const out: number[] = [];
      for (let i = 0; i < 2000; i++) {
        out.push(...burst(device));
        clock.advance(1);
      }
      return out;
    }
    const a = series(5);
    expect(series(5)).toEqual(a);
    expect(series(6)).not.toEqual(a);
    const gx = a.filter((_, i) => i % 7 === 4).map((raw) => raw / 131);
    const mean = gx.reduce((s, v) => s + v, 0) / gx.length;
    const sd = Math.sqrt(gx.reduce((s, v) => s + (v - mean) ** 2, 0) / gx.length);
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(sd).toBeGreaterThan(0.45);
    expect(sd).toBeLessThan(0.55);
  });
});

describe('MPU-6050 model: timing and DATA_RDY (RM §4.2, §4.16, PS §6.1)', () => {
  test('asleep after power-on: no samples and no DATA_RDY however long one waits', () => {
    const { device, clock, model } = chip();
    writeRegister(device, REG.INT_ENABLE, 0x01);
    clock.advance(10_000);
    expect(readRegister(device, REG.INT_STATUS)).toBe(0);
    expect(burst(device)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(model.asleep).toBe(true);
  });

  test('after waking, nothing until the 30 ms gyroscope start-up time, then DATA_RDY', () => {
    const { device, clock } = chip();
    writeRegister(device, REG.PWR_MGMT_1, 0x01);
    writeRegister(device, REG.INT_ENABLE, 0x01);
    clock.advance(GYRO_STARTUP_MS - 0.5);
    expect(readRegister(device, REG.INT_STATUS)).toBe(0);
    expect(burst(device)[2]).toBe(0);
    clock.advance(0.5);
    expect(readRegister(device, REG.INT_STATUS)).toBe(0x01);
    expect(burst(device)[2]).toBe(16384);
  });

  test('reading INT_STATUS clears DATA_RDY; the next sample sets it again one sample period later', () => {
    const { device, clock } = chip();
    writeRegister(device, REG.SMPLRT_DIV, 9, 1); // DLPF on: 1 kHz / (1 + 9) = 100 Hz
    wake(device, clock);
    expect(readRegister(device, REG.INT_STATUS)).toBe(0x01);
    expect(readRegister(device, REG.INT_STATUS)).toBe(0x00);
    clock.advance(9.5);
    expect(readRegister(device, REG.INT_STATUS)).toBe(0x00);
    clock.advance(0.5);
    expect(readRegister(device, REG.INT_STATUS)).toBe(0x01);
  });

  test('DLPF off: 8 kHz gyroscope output rate, a sample every 0.125 ms', () => {
    const { device, clock, model } = chip();
    wake(device, clock);
    readRegister(device, REG.INT_STATUS);
    const before = model.samples;
    clock.advance(0.125);
    expect(readRegister(device, REG.INT_STATUS)).toBe(0x01);
    expect(model.samples).toBe(before + 1);
  });

  test('DATA_RDY_INT is raised only while DATA_RDY_EN is set', () => {
    const { device, clock } = chip();
    writeRegister(device, REG.PWR_MGMT_1, 0x01);
    clock.advance(GYRO_STARTUP_MS + 5);
    expect(burst(device)[2]).toBe(16384); // sampling all the same
    expect(readRegister(device, REG.INT_STATUS)).toBe(0);
  });

  test('INT_RD_CLEAR (INT_PIN_CFG bit 4): any read clears DATA_RDY', () => {
    const { device, clock } = chip();
    writeRegister(device, REG.INT_PIN_CFG, 0x10);
    wake(device, clock);
    burst(device);
    expect(readRegister(device, REG.INT_STATUS)).toBe(0);
  });

  test('sleeping again stops sampling', () => {
    const { device, clock, model } = chip();
    wake(device, clock);
    writeRegister(device, REG.PWR_MGMT_1, 0x41);
    readRegister(device, REG.INT_STATUS);
    const samples = model.samples;
    clock.advance(100);
    expect(readRegister(device, REG.INT_STATUS)).toBe(0);
    expect(model.samples).toBe(samples);
  });

  test('full-scale changes apply from the next sample on', () => {
    const { device, clock } = chip();
    writeRegister(device, REG.CONFIG, 1);
    wake(device, clock);
    writeRegister(device, REG.ACCEL_CONFIG, 3 << 3);
    expect(burst(device)[2]).toBe(16384); // still the sample taken at ±2 g
    clock.advance(1);
    expect(burst(device)[2]).toBe(2048);
  });
});

describe('MPU-6050 model: DEVICE_RESET (RM §4.28)', () => {
  test('DEVICE_RESET reads 1 and writes are ignored for 100 ms; then every register is back to its reset value', () => {
    const { device, clock, model } = chip();
    writeRegister(device, REG.SMPLRT_DIV, 7, 1, 0x18, 0x18);
    wake(device, clock);
    writeRegister(device, REG.PWR_MGMT_1, 0x80);
    expect(readRegister(device, REG.PWR_MGMT_1)).toBe(0xc0);
    writeRegister(device, REG.PWR_MGMT_1, 0x01); // ignored: still resetting
    clock.advance(RESET_MS - 1);
    expect(readRegister(device, REG.PWR_MGMT_1)).toBe(0xc0);
    clock.advance(1);
    expect(readRegister(device, REG.PWR_MGMT_1)).toBe(0x40);
    expect(readRegisters(device, REG.SMPLRT_DIV, 4)).toEqual([0, 0, 0, 0]);
    expect(burst(device)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(model.asleep).toBe(true);
  });
});

describe('MPU-6050 model: faults', () => {
  test('nack: nothing is acknowledged, not even an address probe', () => {
    const { device, model } = chip({ faults: { nack: true } });
    expect(nacks(() => device.write(new Uint8Array(0)))).toBe(true);
    expect(nacks(() => readRegister(device, REG.WHO_AM_I))).toBe(true);
    model.setFaults({ nack: false });
    expect(readRegister(device, REG.WHO_AM_I)).toBe(0x68);
  });

  test('whoAmI: another part answers, e.g. an MPU-6500 with 0x70', () => {
    const { device } = chip({ faults: { whoAmI: 0x70 } });
    expect(readRegister(device, REG.WHO_AM_I)).toBe(0x70);
  });

  test('stuckNotReady: awake and enabled, but no sample ever comes until cleared', () => {
    const { device, clock, model } = chip({ faults: { stuckNotReady: true } });
    wake(device, clock);
    clock.advance(1000);
    expect(readRegister(device, REG.INT_STATUS)).toBe(0);
    model.setFaults({ stuckNotReady: false });
    expect(readRegister(device, REG.INT_STATUS)).toBe(1);
  });

  test('stuckReset: DEVICE_RESET never clears', () => {
    const { device, clock, model } = chip({ faults: { stuckReset: true } });
    writeRegister(device, REG.PWR_MGMT_1, 0x80);
    clock.advance(10_000);
    expect(readRegister(device, REG.PWR_MGMT_1) & 0x80).toBe(0x80);
    model.setFaults({ stuckReset: false });
    expect(readRegister(device, REG.PWR_MGMT_1)).toBe(0x40);
  });

  test('address 0x69 answers only there; other addresses are refused', () => {
    const model = new MPU6050Model({ address: 0x69 });
    const clock = new ManualClock();
    const bus = new SimI2CBus(clock, [model]);
    expect(nacks(() => readRegister(bus.open({ address: 0x68 }), REG.WHO_AM_I))).toBe(true);
    expect(readRegister(bus.open({ address: 0x69 }), REG.WHO_AM_I)).toBe(0x68);
    expect(() => new MPU6050Model({ address: 0x6a })).toThrow(RangeError);
  });

  test('a non-finite physical value is a scenario bug, reported as such', () => {
    const { device, clock } = chip({ temperature: () => NaN });
    writeRegister(device, REG.PWR_MGMT_1, 0x01);
    clock.advance(GYRO_STARTUP_MS);
    expect(() => burst(device)).toThrow(/temperature at 30 ms is NaN/);
  });
});
