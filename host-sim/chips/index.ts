/**
 * Chip models by name, as `--sensors` and board definitions name them, with the addresses
 * each chip can be strapped to and the noise a real part shows.
 */
import type { BoardSensor } from '../../hal/board';
import { ADS1115Model } from './ads1115/model';
import { BH1750Model } from './bh1750/model';
import { BME280Model } from './bme280/model';
import type { I2CTarget } from './i2c-target';
import { INA219Model } from './ina219/model';
import { MPU6050Model } from './mpu6050/model';
import { SCD41Model } from './scd41/model';
import { SHT31Model } from './sht31/model';
import { SHT40Model } from './sht40/model';

export interface ChipOptions {
  address: number;
  /** Seed for the model's noise, so each device reads its own but reproducible values. */
  seed: number;
}

interface ChipEntry {
  /** Addresses the part can be strapped to, the default first. */
  addresses: number[];
  create(options: ChipOptions): I2CTarget;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const MODELS: { [model: string]: ChipEntry } = {
  sht31: { addresses: [0x44, 0x45], create: ({ address, seed }) => new SHT31Model({ address, noise: { temperature: 0.05, humidity: 0.2, seed } }) },
  sht40: { addresses: [0x44, 0x45, 0x46], create: ({ address, seed }) => new SHT40Model({ address, noise: { temperature: 0.04, humidity: 0.15, seed } }) },
  bme280: { addresses: [0x76, 0x77], create: ({ address, seed }) => new BME280Model({ address, noise: { temperature: 0.05, pressure: 3, humidity: 0.2, seed } }) },
  bh1750: { addresses: [0x23, 0x5c], create: ({ address, seed }) => new BH1750Model({ address, noise: { illuminance: 2, seed } }) },
  scd41: { addresses: [0x62], create: ({ seed }) => new SCD41Model({ noise: { co2: 10, temperature: 0.1, humidity: 0.3, seed } }) },
  ads1115: { addresses: range(0x48, 0x4b), create: ({ address, seed }) => new ADS1115Model({ address, noise: { volts: 0.0005, seed } }) },
  mpu6050: { addresses: [0x68, 0x69], create: ({ address, seed }) => new MPU6050Model({ address, noise: { acceleration: 0.008, angularRate: 0.05, temperature: 0.05, seed } }) },
  ina219: { addresses: range(0x40, 0x4f), create: ({ address, seed }) => new INA219Model({ address, noise: { busVoltage: 0.004, current: 0.001, seed } }) },
};

/** The driver the firmware uses for each model (firmware/app/sensors.ts agrees). */
const DRIVERS: { [model: string]: string } = {
  sht31: 'sht3x', sht40: 'sht4x', bme280: 'bme280', bh1750: 'bh1750', scd41: 'scd4x', ads1115: 'ads1115', mpu6050: 'mpu6050', ina219: 'ina219',
};

export const chipModels = (): string[] => Object.keys(MODELS);

export function createChip(model: string, options: ChipOptions): I2CTarget {
  const entry = MODELS[model];
  if (!entry) throw new Error(`no chip model "${model}"; known models: ${chipModels().join(', ')}`);
  return entry.create(options);
}

/**
 * Turns `--sensors` (`sht31,bme280@0x77,ina219@0x41/1`) into fitted sensors, giving each
 * chip without an explicit address the first of its addresses still free on its bus.
 */
export function planSensors(spec: string, buses: number[]): BoardSensor[] {
  const taken = new Set<string>();
  const planned: BoardSensor[] = [];
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const match = /^([a-z0-9]+)(?:@(0x[0-9a-fA-F]{1,2}))?(?:\/(\d))?$/.exec(item);
    if (!match) throw new Error(`--sensors: "${item}" should be MODEL, MODEL@0xADDRESS or MODEL@0xADDRESS/BUS`);
    const [, model, fixed, busText] = match;
    const entry = MODELS[model];
    if (!entry) throw new Error(`--sensors: no chip model "${model}"; known models: ${chipModels().join(', ')}`);
    const bus = busText === undefined ? buses[0] : Number(busText);
    if (!buses.includes(bus)) throw new Error(`--sensors: ${item}: the board has no I2C bus ${bus} (it has ${buses.join(', ')})`);
    const candidates = fixed ? [parseInt(fixed, 16)] : entry.addresses;
    const address = candidates.find((a) => !taken.has(`${bus}:${a}`));
    if (address === undefined) {
      throw new Error(`--sensors: ${item}: address ${candidates.map((a) => '0x' + a.toString(16)).join('/')} on bus ${bus} is already taken`);
    }
    if (fixed && !entry.addresses.includes(address)) {
      throw new Error(`--sensors: ${model} can be strapped to ${entry.addresses.map((a) => '0x' + a.toString(16)).join(', ')} only`);
    }
    taken.add(`${bus}:${address}`);
    planned.push({ model, driver: DRIVERS[model], address, bus });
  }
  return planned;
}

/** The firmware's `sensors` configuration for a list of fitted sensors. */
export function sensorsConfig(sensors: BoardSensor[]): string {
  return sensors.map((s) => `${s.model}@0x${s.address.toString(16)}/${s.bus}`).join(',');
}
