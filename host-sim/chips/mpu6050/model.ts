/**
 * Register-level model of an InvenSense MPU-6050 on the simulated I2C bus, written from
 * "MPU-6000 and MPU-6050 Register Map and Descriptions" (RM-MPU-6000A-00 rev 4.2,
 * 08/19/2013; "RM") and the "Product Specification" (PS-MPU-6000A-00 rev 3.4; "PS"). It sees
 * the bytes of each transfer and the virtual time, and answers as the chip does:
 *
 * - 128 8-bit registers. A write's first byte sets the register pointer; further bytes are
 *   written from there, the pointer incrementing after each (burst write). A read returns
 *   bytes from the pointer on, incrementing likewise (burst read). Writes to read-only
 *   registers (INT_STATUS, the sensor data, WHO_AM_I) are ignored.
 * - Reset values (RM §3): 0x00 everywhere except PWR_MGMT_1 = 0x40 (asleep) and
 *   WHO_AM_I = 0x68 (whatever the address; AD0 only moves the address, RM §4.32).
 * - DEVICE_RESET (RM §4.28) restores the reset values. The bit reads 1, and writes are
 *   ignored, for the 100 ms InvenSense's reset sequence allows for it (RM §4.28 gives no
 *   reset time): a driver that waits that long works against the slowest chip.
 * - Sampling only while awake (SLEEP = 0). After waking the gyroscope needs its start-up
 *   time (PS §6.1, 30 ms) before the first sample; then samples come at the sample rate,
 *   gyroscope output rate (8 kHz with DLPF_CFG 0 or 7, else 1 kHz) / (1 + SMPLRT_DIV) (RM §4.2).
 *   Each sample writes the 14 data registers 0x3B–0x48 (RM §4.17–§4.19) and, while
 *   DATA_RDY_EN is set (RM §4.15), sets DATA_RDY_INT in INT_STATUS (RM §4.16). Reading
 *   INT_STATUS clears it; with INT_RD_CLEAR set (INT_PIN_CFG bit 4, RM §4.14) any read does.
 *   Transfers are atomic in the bus model, so a burst read always comes from one sample (the
 *   chip guarantees this with its user-facing register copy, RM §4.19).
 * - Arithmetic: acceleration [g] × 16384 / 8192 / 4096 / 2048 LSB/g by AFS_SEL (PS §6.2),
 *   angular rate [°/s] × 131 / 65.5 / 32.8 / 16.4 LSB/(°/s) by FS_SEL (PS §6.1), rounded to
 *   the nearest code and saturated at ±32767; temperature (T − 36.53) × 340 (RM §4.18),
 *   rounded, in 16 bits. TEMP_DIS (PWR_MGMT_1 bit 3) freezes the temperature register.
 *
 * Not modelled: self-test, FIFO, the auxiliary I2C master, the DMP, cycle mode and
 * PWR_MGMT_2 standby bits, FSYNC, low-pass filter dynamics and delay, the accelerometer's
 * own 1 kHz output rate, SIGNAL_PATH_RESET, and what the gyroscope outputs while it settles
 * (the model simply has no samples before the start-up time).
 */
import type { I2CTarget } from '../i2c-target';
import { SeededRandom } from '../common/prng';
import { valueAt } from '../common/signal';
import type { Signal } from '../common/signal';

export type { Signal } from '../common/signal';

export interface Vector {
  x: number;
  y: number;
  z: number;
}

/** A vector, or a function of virtual time in ms. */
export type VectorSignal = Vector | ((nowMs: number) => Vector);

export interface MPU6050Faults {
  /** NACK every transfer, as a missing or unpowered chip would. */
  nack: boolean;
  /** What WHO_AM_I reads; 0x68 for an MPU-6050, 0x70 for an MPU-6500, 0x71 for an MPU-9250. */
  whoAmI: number;
  /** Samples never come: the data registers and DATA_RDY_INT stop changing. */
  stuckNotReady: boolean;
  /** A DEVICE_RESET never finishes: the bit stays 1 and writes stay ignored. */
  stuckReset: boolean;
}

export interface MPU6050Noise {
  /** Standard deviation added to each acceleration axis, g. */
  acceleration?: number;
  /** Standard deviation added to each angular rate axis, °/s. */
  angularRate?: number;
  /** Standard deviation added to the die temperature, °C. */
  temperature?: number;
  /** PRNG seed; the same seed replays the same noise. */
  seed?: number;
}

export interface MPU6050ModelOptions {
  /** 0x68 (AD0 low, default) or 0x69 (AD0 high). */
  address?: number;
  /** Specific force along each axis, in g. Default {0, 0, 1}: lying flat, face up (PS §7.8). */
  accelerationG?: VectorSignal;
  /** Angular rate around each axis, in °/s. Default 0. */
  angularRateDps?: VectorSignal;
  /** Die temperature, °C. Default 25. */
  temperature?: Signal;
  noise?: MPU6050Noise;
  faults?: Partial<MPU6050Faults>;
}

/** RM §3 register addresses the model gives behaviour to. */
export const REG = {
  SMPLRT_DIV: 0x19,
  CONFIG: 0x1a,
  GYRO_CONFIG: 0x1b,
  ACCEL_CONFIG: 0x1c,
  INT_PIN_CFG: 0x37,
  INT_ENABLE: 0x38,
  INT_STATUS: 0x3a,
  ACCEL_XOUT_H: 0x3b,
  TEMP_OUT_H: 0x41,
  GYRO_XOUT_H: 0x43,
  PWR_MGMT_1: 0x6b,
  WHO_AM_I: 0x75,
} as const;

/** PS §6.2, LSB/g per AFS_SEL; PS §6.1, LSB/(°/s) per FS_SEL. */
export const ACCEL_SENSITIVITY = [16384, 8192, 4096, 2048] as const;
export const GYRO_SENSITIVITY = [131, 65.5, 32.8, 16.4] as const;
/** InvenSense's wait after DEVICE_RESET, which the model takes in full. */
export const RESET_MS = 100;
/** PS §6.1, gyroscope start-up time. */
export const GYRO_STARTUP_MS = 30;

const POWER_ON_PWR_MGMT_1 = 0x40;
const WHO_AM_I_MPU6050 = 0x68;
const DEVICE_RESET_BIT = 0x80;
const SLEEP_BIT = 0x40;
const TEMP_DIS_BIT = 0x08;
const DATA_RDY_BIT = 0x01;
const INT_RD_CLEAR_BIT = 0x10;
const SATURATION = 32767;

/** INT_STATUS, the sensor data and external sensor data (0x3A–0x60), WHO_AM_I. */
function isReadOnly(register: number): boolean {
  return (register >= 0x3a && register <= 0x60) || register === REG.WHO_AM_I;
}

const DEFAULT_FAULTS: MPU6050Faults = { nack: false, whoAmI: WHO_AM_I_MPU6050, stuckNotReady: false, stuckReset: false };

export class MPU6050Model implements I2CTarget {
  readonly address: number;
  #acceleration: VectorSignal;
  #angularRate: VectorSignal;
  #temperature: Signal;
  #accelerationNoise = 0;
  #angularRateNoise = 0;
  #temperatureNoise = 0;
  #random = new SeededRandom(1);
  #faults: MPU6050Faults = { ...DEFAULT_FAULTS };

  readonly #registers = new Uint8Array(128);
  #pointer = 0;
  /** When the last DEVICE_RESET was written; undefined if none since power-on. */
  #resetAtMs: number | undefined;
  /** When SLEEP last went to 0; undefined while asleep. */
  #wokeAtMs: number | undefined;
  #nextSampleAtMs = Infinity;
  #samples = 0;

  constructor(options: MPU6050ModelOptions = {}) {
    const address = options.address ?? 0x68;
    if (address !== 0x68 && address !== 0x69) throw new RangeError(`MPU-6050 address must be 0x68 or 0x69, not ${address}`);
    this.address = address;
    this.#acceleration = options.accelerationG ?? { x: 0, y: 0, z: 1 };
    this.#angularRate = options.angularRateDps ?? { x: 0, y: 0, z: 0 };
    this.#temperature = options.temperature ?? 25;
    if (options.noise) this.setNoise(options.noise);
    if (options.faults) this.setFaults(options.faults);
    this.#powerOn();
  }

  // ---- knobs -------------------------------------------------------------------------

  setAcceleration(g: VectorSignal): void {
    this.#acceleration = g;
  }

  setAngularRate(degreesPerSecond: VectorSignal): void {
    this.#angularRate = degreesPerSecond;
  }

  setTemperature(celsius: Signal): void {
    this.#temperature = celsius;
  }

  /** Changes the noise; a `seed` restarts the random sequence. */
  setNoise(noise: MPU6050Noise): void {
    if (noise.acceleration !== undefined) this.#accelerationNoise = noise.acceleration;
    if (noise.angularRate !== undefined) this.#angularRateNoise = noise.angularRate;
    if (noise.temperature !== undefined) this.#temperatureNoise = noise.temperature;
    if (noise.seed !== undefined) this.#random = new SeededRandom(noise.seed);
  }

  /** Sets the given faults; the others stay as they are. */
  setFaults(faults: Partial<MPU6050Faults>): void {
    this.#faults = { ...this.#faults, ...faults };
  }

  get faults(): Readonly<MPU6050Faults> {
    return { ...this.#faults };
  }

  /** Power lost and back: every register to its reset value, asleep, as at construction. */
  powerCycle(): void {
    this.#powerOn();
    this.#resetAtMs = undefined;
    this.#pointer = 0;
  }

  /** A register as stored, for assertions without going through the bus (no read side effects). */
  register(address: number): number {
    return this.#registers[address & 0x7f];
  }

  get asleep(): boolean {
    return this.#wokeAtMs === undefined;
  }

  /** How many samples the chip has taken since power-on. */
  get samples(): number {
    return this.#samples;
  }

  // ---- I2CTarget ---------------------------------------------------------------------

  write(bytes: Uint8Array, nowMs: number): boolean {
    if (this.#faults.nack) return false;
    this.#advance(nowMs);
    if (bytes.length === 0) return true; // address probe
    this.#pointer = bytes[0] & 0x7f;
    for (let i = 1; i < bytes.length; i++) {
      this.#writeRegister(this.#pointer, bytes[i], nowMs);
      this.#pointer = (this.#pointer + 1) & 0x7f;
    }
    return true;
  }

  read(count: number, nowMs: number): Uint8Array | null {
    if (this.#faults.nack) return null;
    this.#advance(nowMs);
    const bytes = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      bytes[i] = this.#readRegister(this.#pointer, nowMs);
      this.#pointer = (this.#pointer + 1) & 0x7f;
    }
    if (count > 0 && this.#registers[REG.INT_PIN_CFG] & INT_RD_CLEAR_BIT) this.#registers[REG.INT_STATUS] &= ~DATA_RDY_BIT;
    return bytes;
  }

  // ---- internals ---------------------------------------------------------------------

  #powerOn(): void {
    this.#registers.fill(0);
    this.#registers[REG.PWR_MGMT_1] = POWER_ON_PWR_MGMT_1;
    this.#wokeAtMs = undefined;
    this.#nextSampleAtMs = Infinity;
  }

  #resetting(nowMs: number): boolean {
    return this.#resetAtMs !== undefined && (this.#faults.stuckReset || nowMs < this.#resetAtMs + RESET_MS);
  }

  #readRegister(register: number, nowMs: number): number {
    switch (register) {
      case REG.WHO_AM_I:
        return this.#faults.whoAmI & 0xff;
      case REG.PWR_MGMT_1:
        return this.#registers[register] | (this.#resetting(nowMs) ? DEVICE_RESET_BIT : 0);
      case REG.INT_STATUS: {
        const status = this.#registers[register];
        this.#registers[register] = status & ~DATA_RDY_BIT; // RM §4.16: cleared by reading
        return status;
      }
      default:
        return this.#registers[register];
    }
  }

  #writeRegister(register: number, value: number, nowMs: number): void {
    if (this.#resetting(nowMs) || isReadOnly(register)) return;
    switch (register) {
      case REG.PWR_MGMT_1:
        if (value & DEVICE_RESET_BIT) {
          this.#powerOn();
          this.#resetAtMs = nowMs;
          return;
        }
        this.#registers[register] = value & ~0x10; // bit 4 reserved
        if (value & SLEEP_BIT) {
          this.#wokeAtMs = undefined;
          this.#nextSampleAtMs = Infinity;
        } else if (this.#wokeAtMs === undefined) {
          this.#wokeAtMs = nowMs;
          this.#nextSampleAtMs = nowMs + GYRO_STARTUP_MS;
        }
        return;
      case REG.SMPLRT_DIV:
      case REG.CONFIG:
        this.#registers[register] = value;
        // A new rate takes effect from now, but never shortens the gyroscope's start-up time.
        if (this.#wokeAtMs !== undefined && nowMs >= this.#wokeAtMs + GYRO_STARTUP_MS) {
          this.#nextSampleAtMs = nowMs + this.#samplePeriodMs();
        }
        return;
      default:
        this.#registers[register] = value;
    }
  }

  /** RM §4.2. */
  #samplePeriodMs(): number {
    const dlpf = this.#registers[REG.CONFIG] & 0x07;
    const gyroscopeOutputRate = dlpf === 0 || dlpf === 7 ? 8000 : 1000;
    return (1000 * (1 + this.#registers[REG.SMPLRT_DIV])) / gyroscopeOutputRate;
  }

  /** Takes the latest sample due by `nowMs`, if any (earlier ones would have been overwritten). */
  #advance(nowMs: number): void {
    if (this.#wokeAtMs === undefined || this.#faults.stuckNotReady || this.#resetting(nowMs)) return;
    if (nowMs < this.#nextSampleAtMs) return;
    const period = this.#samplePeriodMs();
    const atMs = this.#nextSampleAtMs + Math.floor((nowMs - this.#nextSampleAtMs) / period) * period;
    this.#sample(atMs);
    this.#nextSampleAtMs = atMs + period;
  }

  #sample(atMs: number): void {
    const afs = (this.#registers[REG.ACCEL_CONFIG] >> 3) & 3;
    const fs = (this.#registers[REG.GYRO_CONFIG] >> 3) & 3;
    const acceleration = vectorAt(this.#acceleration, atMs, 'acceleration');
    const angularRate = vectorAt(this.#angularRate, atMs, 'angular rate');
    const accelerationCode = (g: number) => saturate((g + this.#random.noise(this.#accelerationNoise)) * ACCEL_SENSITIVITY[afs]);
    const angularRateCode = (dps: number) => saturate((dps + this.#random.noise(this.#angularRateNoise)) * GYRO_SENSITIVITY[fs]);
    this.#store(REG.ACCEL_XOUT_H, accelerationCode(acceleration.x));
    this.#store(REG.ACCEL_XOUT_H + 2, accelerationCode(acceleration.y));
    this.#store(REG.ACCEL_XOUT_H + 4, accelerationCode(acceleration.z));
    this.#store(REG.GYRO_XOUT_H, angularRateCode(angularRate.x));
    this.#store(REG.GYRO_XOUT_H + 2, angularRateCode(angularRate.y));
    this.#store(REG.GYRO_XOUT_H + 4, angularRateCode(angularRate.z));
    if (!(this.#registers[REG.PWR_MGMT_1] & TEMP_DIS_BIT)) {
      const celsius = valueAt(this.#temperature, atMs, 'MPU-6050', 'temperature') + this.#random.noise(this.#temperatureNoise);
      this.#store(REG.TEMP_OUT_H, rawTemperature(celsius));
    }
    if (this.#registers[REG.INT_ENABLE] & DATA_RDY_BIT) this.#registers[REG.INT_STATUS] |= DATA_RDY_BIT;
    this.#samples++;
  }

  #store(register: number, value: number): void {
    this.#registers[register] = (value >> 8) & 0xff;
    this.#registers[register + 1] = value & 0xff;
  }

}

/** RM §4.18 inverted: TEMP_OUT = (T − 36.53) × 340, rounded, in 16 bits. */
export function rawTemperature(celsius: number): number {
  return Math.max(-32768, Math.min(32767, Math.round((celsius - 36.53) * 340)));
}

function saturate(scaled: number): number {
  return Math.max(-SATURATION, Math.min(SATURATION, Math.round(scaled)));
}

function vectorAt(signal: VectorSignal, atMs: number, what: string): Vector {
  const value = typeof signal === 'function' ? signal(atMs) : signal;
  if (!Number.isFinite(value.x) || !Number.isFinite(value.y) || !Number.isFinite(value.z)) {
    throw new RangeError(`MPU-6050 model: ${what} at ${atMs} ms is (${value.x}, ${value.y}, ${value.z})`);
  }
  return value;
}
