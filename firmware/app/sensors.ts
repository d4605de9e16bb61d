/**
 * The sensors fitted to the device, each behind one small interface so the application
 * does not care which chip it reads. The board definition says what is fitted; the
 * configuration key `sensors` overrides it (`sht31@0x44,bme280@0x76/0`: model, address,
 * optional bus).
 */
import type { BoardSensor, Hal } from '../../hal';
import { ADS1115 } from '../drivers/ads1115/ads1115';
import { BH1750 } from '../drivers/bh1750/bh1750';
import { BME280 } from '../drivers/bme280/bme280';
import { INA219 } from '../drivers/ina219/ina219';
import { MPU6050 } from '../drivers/mpu6050/mpu6050';
import { SCD4x } from '../drivers/scd4x/scd4x';
import { SHT3x } from '../drivers/sht3x/sht3x';
import { SHT4x } from '../drivers/sht4x/sht4x';

/** Physical values by quantity name (`temperature` °C, `humidity` %RH, `pressure` Pa, …). */
export type Reading = { [quantity: string]: number };

export interface Sensor {
  /** Name in telemetry: the chip model, with the address when two share a model. */
  readonly name: string;
  sample(): Promise<Reading>;
  close(): void;
}

interface Chip<S> {
  sample(): Promise<S>;
  close(): void;
}

type SensorFactory = (hal: Hal, fitted: BoardSensor) => { sample(): Promise<Reading>; close(): void };

const MAX_SENSORS = 16;

/** Keeps finite numbers, rounded to what the chips resolve; drops NaN (an overflowed reading). */
function reading(values: { [quantity: string]: number }, decimals = 3): Reading {
  const out: Reading = {};
  const scale = 10 ** decimals;
  for (const key of Object.keys(values)) {
    if (Number.isFinite(values[key])) out[key] = Math.round(values[key] * scale) / scale;
  }
  return out;
}

function adapt<S>(chip: Chip<S>, toReading: (sample: S) => Reading) {
  return { sample: async () => toReading(await chip.sample()), close: () => chip.close() };
}

const FACTORIES: { [driver: string]: SensorFactory } = {
  sht3x(hal, { address, bus }) {
    const chip = new SHT3x({ i2c: hal.i2c, timers: hal.timers, address, port: bus });
    chip.configure({ repeatability: 'high' });
    return adapt(chip, (s) => reading({ temperature: s.thermometer.temperature, humidity: s.hygrometer.humidity }, 2));
  },
  sht4x(hal, { address, bus }) {
    const chip = new SHT4x({ i2c: hal.i2c, timers: hal.timers, address, port: bus });
    return adapt(chip, (s) => reading({ temperature: s.thermometer.temperature, humidity: s.hygrometer.humidity }, 2));
  },
  bme280(hal, { address, bus }) {
    const chip = new BME280({ i2c: hal.i2c, timers: hal.timers, address, port: bus });
    return adapt(chip, (s) =>
      reading({ temperature: s.thermometer.temperature, humidity: s.hygrometer.humidity, pressure: s.barometer.pressure }, 2),
    );
  },
  bh1750(hal, { address, bus }) {
    const chip = new BH1750({ i2c: hal.i2c, timers: hal.timers, address, port: bus });
    return adapt(chip, (s) => reading({ illuminance: s.lightmeter.illuminance }, 1));
  },
  scd4x(hal, { address, bus }) {
    const chip = new SCD4x({ i2c: hal.i2c, timers: hal.timers, address, port: bus });
    return adapt(chip, (s) =>
      reading({ co2: s.carbonDioxideGasSensor.CO2, temperature: s.thermometer.temperature, humidity: s.hygrometer.humidity }, 2),
    );
  },
  ads1115(hal, { address, bus }) {
    const chip = new ADS1115({ i2c: hal.i2c, timers: hal.timers, address, port: bus });
    return adapt(chip, (s) => {
      const values: { [input: string]: number } = {};
      for (const r of s.readings) values[r.input] = r.voltage;
      return reading(values, 5);
    });
  },
  mpu6050(hal, { address, bus }) {
    const chip = new MPU6050({ i2c: hal.i2c, timers: hal.timers, address, port: bus });
    return adapt(chip, ({ accelerometer: a, gyroscope: g, thermometer: t }) =>
      reading({ accelX: a.x, accelY: a.y, accelZ: a.z, gyroX: g.x, gyroY: g.y, gyroZ: g.z, temperature: t.temperature }, 4),
    );
  },
  ina219(hal, { address, bus }) {
    const chip = new INA219({ i2c: hal.i2c, timers: hal.timers, address, port: bus });
    return adapt(chip, (s) => reading({ voltage: s.voltmeter.voltage, current: s.ammeter.current, power: s.wattmeter.power }, 4));
  },
};

/** Which driver reads which chip model. */
export const DRIVER_FOR_MODEL: { readonly [model: string]: string } = {
  sht30: 'sht3x', sht31: 'sht3x', sht35: 'sht3x',
  sht40: 'sht4x', sht41: 'sht4x', sht45: 'sht4x',
  bme280: 'bme280', bh1750: 'bh1750', scd40: 'scd4x', scd41: 'scd4x',
  ads1115: 'ads1115', mpu6050: 'mpu6050', ina219: 'ina219',
};

/** Parses the `sensors` configuration: `model@0xADDR[/bus]`, comma-separated. */
export function parseSensorList(text: string): BoardSensor[] {
  const sensors: BoardSensor[] = [];
  for (const entry of text.split(',').map((part) => part.trim()).filter(Boolean)) {
    const match = /^([a-z0-9]+)@(0x[0-9a-fA-F]{1,2})(?:\/(\d))?$/.exec(entry);
    if (!match) throw new Error(`config "sensors": "${entry}" should look like model@0xADDRESS or model@0xADDRESS/BUS`);
    const driver = DRIVER_FOR_MODEL[match[1]];
    if (!driver) throw new Error(`config "sensors": no driver for "${match[1]}"; known models: ${Object.keys(DRIVER_FOR_MODEL).join(', ')}`);
    sensors.push({ model: match[1], driver, address: parseInt(match[2], 16), bus: match[3] === undefined ? 0 : Number(match[3]) });
  }
  if (sensors.length > MAX_SENSORS) throw new Error(`config "sensors" lists ${sensors.length} sensors; at most ${MAX_SENSORS}`);
  return sensors;
}

/** Opens a driver for each fitted sensor; a sensor whose driver is unknown is logged and skipped. */
export function openSensors(hal: Hal): Sensor[] {
  const fitted = typeof hal.config.sensors === 'string' ? parseSensorList(hal.config.sensors) : hal.board.sensors;
  const sensors: Sensor[] = [];
  for (const entry of fitted.slice(0, MAX_SENSORS)) {
    const factory = FACTORIES[entry.driver];
    if (!factory) {
      hal.log.write('error', `no driver "${entry.driver}" for ${entry.model}; known drivers: ${Object.keys(FACTORIES).join(', ')}`);
      continue;
    }
    const sensor = factory(hal, entry);
    const shared = fitted.filter((other) => other.model === entry.model).length > 1;
    sensors.push({ name: shared ? `${entry.model}@0x${entry.address.toString(16)}` : entry.model, ...sensor });
  }
  return sensors;
}
