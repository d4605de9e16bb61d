/** The Node engine: the firmware runs in this process, its host HAL calling the host directly. */
import type { BoardDefinition, Hal } from '../../hal';
import type { EventBatch, HostReply, HostRequest } from '../../hal/host/protocol';
import { createFirmwareRuntime, type FirmwareRuntime } from '../../hal/host/runtime';
import { FirmwareError, type Engine } from './engine';

export class NodeEngine implements Engine {
  readonly kind = 'node' as const;
  private runtime: FirmwareRuntime | undefined;

  constructor(
    private readonly board: BoardDefinition,
    private readonly firmware: (hal: Hal) => void,
  ) {}

  async start(handle: (request: HostRequest) => HostReply): Promise<void> {
    // Bytes cross the link as copies, as they do over the XS bridge and on a device: neither
    // side may keep a buffer the other goes on changing.
    this.runtime = createFirmwareRuntime({ call: (request) => structuredClone(handle(structuredClone(request))) }, this.board, this.firmware);
  }

  async deliver(batch: EventBatch): Promise<undefined> {
    if (!this.runtime) throw new Error('NodeEngine.deliver before start');
    try {
      this.runtime.deliver(batch);
    } catch (error) {
      throw new FirmwareError(describe(error));
    }
    // Let the firmware's promise jobs run, as XS runs its job queue before answering.
    await new Promise((resolve) => setImmediate(resolve));
    return undefined;
  }

  async stop(): Promise<void> {
    this.runtime = undefined;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
