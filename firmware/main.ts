/**
 * The firmware's entry point on every engine: `hal/moddable/main.ts` calls it on ESP32, the
 * host engines call it in the simulator. Everything the firmware keeps lives in objects
 * created here: no module-level state, so one Node process can run many devices.
 */
import type { Hal } from '../hal';
import { Application } from './app/application';
import { readAppConfig } from './app/config';

export function boot(hal: Hal): void {
  hal.log.event('boot', {
    version: hal.system.firmwareVersion(),
    board: hal.board.name,
    resetReason: hal.system.resetReason(),
  });
  const config = readAppConfig(hal.config, hal.system.deviceId());
  new Application(hal, config).start();
}
