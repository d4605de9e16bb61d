/**
 * bench/drivers: what each sensor driver costs on the real XS engine. Prints one JSON object
 * with, per driver: compute steps per sample (every batch from the sample's start to its
 * result, medians over rounds) and heap slots held while the driver is open.
 * Usage: npx ts-node --transpile-only bench/drivers.ts [--rounds N]
 */
import * as path from 'node:path';
import type { SimEvent } from '../host-sim/sim-event';
import { Simulation } from '../host-sim/simulation';

const SENSORS = 'sht31,sht40,bme280,bh1750,scd41,ads1115,mpu6050,ina219';

async function main(): Promise<void> {
  const roundsArg = process.argv.indexOf('--rounds');
  const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 5;
  const count = SENSORS.split(',').length;
  const events: SimEvent[] = [];
  const simulation = await Simulation.start({
    engine: 'xs',
    devices: 1,
    board: 'esp32-devkitc',
    timeMode: 'virtual',
    sensors: SENSORS,
    firmwareModule: path.join(__dirname, 'firmware', 'driver-samples.ts'),
    sink: (event) => events.push(event),
  });
  // The SCD41 takes up to 5 s a sample: leave each round room for it.
  await simulation.run(rounds * count * 8_000 + 2_000);
  await simulation.stop();

  const perSensor = new Map<string, { compute: number[]; failures: number }>();
  let current: { sensor: string; compute: number } | undefined;
  let openSlots = { before: 0, after: 0 };
  let lastMeter: SimEvent | undefined;
  for (const event of events) {
    if (event.type === 'meter') {
      if (current) current.compute += event.compute as number;
      lastMeter = event;
    } else if (event.type === 'bench-open-start') {
      openSlots.before = -1;
    } else if (event.type === 'bench-open-done') {
      openSlots = { before: (lastMeter?.stateSlots as number) ?? 0, after: 0 };
    } else if (event.type === 'bench-sample-start') {
      current = { sensor: event.sensor as string, compute: 0 };
    } else if (event.type === 'bench-sample-done' || event.type === 'bench-sample-failed') {
      const entry = perSensor.get(event.sensor as string) ?? { compute: [], failures: 0 };
      if (event.type === 'bench-sample-failed') entry.failures++;
      perSensor.set(event.sensor as string, entry);
      // The batch that resolved the sample reports its meter next; count it in.
      const pending = current!;
      current = undefined;
      const meterIndex = events.indexOf(event);
      const meter = events.slice(meterIndex + 1).find((e) => e.type === 'meter');
      entry.compute.push(pending.compute + ((meter?.compute as number) ?? 0));
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const drivers: { [sensor: string]: { computePerSample: number; samples: number; failures: number } } = {};
  for (const [sensor, entry] of perSensor) {
    drivers[sensor] = { computePerSample: median(entry.compute), samples: entry.compute.length, failures: entry.failures };
  }
  const openMeters = events.filter((e) => e.type === 'meter');
  const slotsAfterOpen = openMeters.find((e, i) => i > 0 && events.indexOf(e) > events.findIndex((x) => x.type === 'bench-open-done'));
  const slotsBeforeOpen = openMeters.find((e) => events.indexOf(e) > events.findIndex((x) => x.type === 'bench-open-start'));
  console.log(
    JSON.stringify(
      {
        bench: 'drivers',
        engine: 'xs',
        rounds,
        heapSlotsForAllOpenDrivers: (slotsAfterOpen?.stateSlots as number) - (slotsBeforeOpen?.stateSlots as number),
        drivers,
      },
      null,
      2,
    ),
  );
}

main().catch((error) => {
  console.error(`bench/drivers: ${error.message}`);
  process.exitCode = 1;
});
