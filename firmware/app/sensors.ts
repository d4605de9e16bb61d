/**
 * The sensors the board says are fitted, each behind one small interface so the application
 * does not care which chip it reads.
 */
import type { BoardSensor, Hal } from '../../hal';
import { SHT3x } from '../drivers/sht3x/sht3x';

/** Physical values by quantity name (`temperature`, `humidity`, …). */
export type Reading = { [quantity: string]: number };

export interface Sensor {
  /** Name in telemetry: the chip model, with the address when two share a model. */
  readonly name: string;
  sample(): Promise<Reading>;
  close(): void;
}

type SensorFactory = (hal: Hal, fitted: BoardSensor) => Sensor;

const FACTORIES: { [driver: string]: SensorFactory } = {
  sht3x(hal, fitted) {
    const chip = new SHT3x({ i2c: hal.i2c, timers: hal.timers, address: fitted.address, port: fitted.bus });
    chip.configure({ repeatability: 'high' });
    return {
      name: fitted.model,
      async sample() {
        const sample = await chip.sample();
        return { temperature: round(sample.thermometer.temperature, 2), humidity: round(sample.hygrometer.humidity, 2) };
      },
      close: () => chip.close(),
    };
  },
};

function round(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

/** Opens a driver for each fitted sensor; a sensor whose driver is unknown is logged and skipped. */
export function openSensors(hal: Hal): Sensor[] {
  const sensors: Sensor[] = [];
  for (const fitted of hal.board.sensors) {
    const factory = FACTORIES[fitted.driver];
    if (!factory) {
      hal.log.write('error', `no driver "${fitted.driver}" for ${fitted.model}; known drivers: ${Object.keys(FACTORIES).join(', ')}`);
      continue;
    }
    const sensor = factory(hal, fitted);
    const twin = sensors.some((s) => s.name === sensor.name);
    sensors.push(twin ? { ...sensor, name: `${sensor.name}@0x${fitted.address.toString(16)}` } : sensor);
  }
  return sensors;
}
