/**
 * How the driver tests look at failures: the `SensorError` a driver call rejects with, and
 * whether a raw transfer to a chip model was NACKed.
 */
import { SensorError } from '../../../firmware/drivers/sensor-error';
import { I2CError } from '../../../hal/i2c';
import type { ManualClock } from './sim-i2c';

/** Runs `promise` on the virtual clock until it settles; it must reject with a `SensorError`, which is returned. */
export async function sampleError(clock: ManualClock, promise: Promise<unknown>): Promise<SensorError> {
  const error = await clock.run(promise).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SensorError);
  return error as SensorError;
}

/** True when `action` fails with a HAL I2C NACK, false when it succeeds; any other error is rethrown. */
export function nacks(action: () => unknown): boolean {
  try {
    action();
    return false;
  } catch (error) {
    if (error instanceof I2CError && error.code === 'nack') return true;
    throw error;
  }
}
