/** One boot of the firmware over a host link: waits for the boot event, then delivers batches. */
import type { BoardDefinition, Hal } from '../index';
import { createHostDevice, type HostDevice } from './hal';
import type { EventBatch, HostLink } from './protocol';

export interface FirmwareRuntime {
  deliver(batch: EventBatch): void;
  readonly device: HostDevice | undefined;
}

export function createFirmwareRuntime(link: HostLink, board: BoardDefinition, start: (hal: Hal) => void): FirmwareRuntime {
  let device: HostDevice | undefined;
  return {
    get device() {
      return device;
    },
    deliver(batch) {
      const boot = batch.events.find((event) => event.type === 'boot');
      if (boot && boot.type === 'boot') {
        if (device) throw new Error('the firmware is already booted; the host must start a fresh engine to restart it');
        device = createHostDevice(link, board, boot, start);
      }
      if (!device) throw new Error('the first event batch must contain the boot event');
      device.deliver(batch);
    },
  };
}
