/**
 * Benchmark firmware: opens the fitted sensors one at a time (one batch each) and then
 * samples each in turn, logging where each step starts and ends so the host can add up the
 * meters of the batches in between.
 */
import type { Hal } from '../../hal';
import { openSensors, type Sensor } from '../../firmware/app/sensors';

export function boot(hal: Hal): void {
  let sensors: Sensor[] = [];
  hal.log.event('bench-open-start');
  hal.timers.set(() => {
    sensors = openSensors(hal);
    hal.log.event('bench-open-done', { count: sensors.length });
    let round = 0;
    const next = () => {
      const sensor = sensors[round % sensors.length];
      round++;
      hal.log.event('bench-sample-start', { sensor: sensor.name });
      sensor.sample().then(
        () => {
          hal.log.event('bench-sample-done', { sensor: sensor.name });
          hal.timers.set(next, 1000);
        },
        (error: Error) => {
          hal.log.event('bench-sample-failed', { sensor: sensor.name, message: error.message });
          hal.timers.set(next, 1000);
        },
      );
    };
    hal.timers.set(next, 1000);
  }, 100);
}
