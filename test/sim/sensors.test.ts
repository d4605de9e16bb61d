/**
 * All eight chips on one bus, end to end through the simulator on both engines: the
 * firmware's drivers read the register-level models and every reading reaches telemetry.
 */
import { SimulationError } from '../../host-sim/simulation';
import { ENGINES, startSimulation, type TestRun } from '../support/simulate';

const ALL = 'sht31,sht40,bme280,bh1750,scd41,ads1115,mpu6050,ina219';

describe.each(ENGINES)('all eight sensors on the %s engine', (engine) => {
  let run: TestRun;

  beforeAll(async () => {
    run = await startSimulation({ engine, sensors: ALL });
    await run.simulation.run(10 * 60_000);
  });
  afterAll(() => run?.simulation.stop());

  test('every telemetry message carries every sensor with plausible values', () => {
    const telemetry = run.of('telemetry');
    expect(telemetry.length).toBeGreaterThanOrEqual(9);
    for (const event of telemetry) {
      const r = event.readings as { [sensor: string]: { [quantity: string]: number } };
      expect(Object.keys(r).sort()).toEqual(['ads1115', 'bh1750', 'bme280', 'ina219', 'mpu6050', 'scd41', 'sht31', 'sht40']);
      for (const sensor of ['sht31', 'sht40', 'bme280', 'scd41']) {
        expect(r[sensor].temperature).toBeGreaterThan(5);
        expect(r[sensor].temperature).toBeLessThan(35);
        expect(r[sensor].humidity).toBeGreaterThan(10);
        expect(r[sensor].humidity).toBeLessThan(95);
      }
      expect(r.bme280.pressure).toBeGreaterThan(95_000);
      expect(r.bme280.pressure).toBeLessThan(106_000);
      expect(r.scd41.co2).toBeGreaterThan(350);
      expect(r.scd41.co2).toBeLessThan(5000);
      expect(r.bh1750.illuminance).toBeGreaterThanOrEqual(0);
      expect(r.ads1115.ain0).toBeGreaterThanOrEqual(0);
      expect(r.ads1115.ain0).toBeLessThan(3.4);
      expect(Math.hypot(r.mpu6050.accelX, r.mpu6050.accelY, r.mpu6050.accelZ)).toBeCloseTo(9.81, 0);
      expect(r.ina219.voltage).toBeCloseTo(5, 1);
      expect(r.ina219.current).toBeCloseTo(0.1, 2);
    }
    expect(run.of('error')).toEqual([]);
  });

  test('the two temperature-humidity chips agree with each other within their accuracy', () => {
    const last = run.of('telemetry').at(-1)!.readings as { [sensor: string]: { [quantity: string]: number } };
    expect(Math.abs(last.sht31.temperature - last.sht40.temperature)).toBeLessThan(1);
  });
});

test('an unknown chip in --sensors is refused with the known models', async () => {
  await expect(startSimulation({ engine: 'node', sensors: 'sht31,dht22' })).rejects.toThrow(SimulationError);
  await expect(startSimulation({ engine: 'node', sensors: 'sht31,dht22' })).rejects.toThrow(/no chip model "dht22"; known models: sht31, sht40/);
  await expect(startSimulation({ engine: 'node', sensors: 'scd41,scd41' })).rejects.toThrow(/address 0x62 on bus 0 is already taken/);
});
