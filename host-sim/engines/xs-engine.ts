/** The XS engine: the firmware bundle runs in an xsnap-worker, the real Moddable XS engine. */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EventBatch, HostReply, HostRequest } from '../../hal/host/protocol';
import { decodeMessage, encodeMessage } from '../../hal/host/wire';
import type { XsCommand } from '../../hal/host/xs-entry';
import { FirmwareError, type Engine, type Meter } from './engine';
import { preludeSource } from './xs-globals';
import { XsExitError, XsWorker, type XsResult } from './xs-worker';

export interface XsEngineOptions {
  /** Process name, for `ps`. */
  name: string;
  /** The firmware bundle to run: the booted image's payload. */
  bundle: string;
}

export class XsEngine implements Engine {
  readonly kind = 'xs' as const;
  private worker: XsWorker | undefined;
  private baselineSlots = 0;
  private loadedSlots = 0;

  constructor(private readonly options: XsEngineOptions) {}

  async start(handle: (request: HostRequest) => HostReply): Promise<void> {
    const code = this.options.bundle;
    const worker = new XsWorker(this.options.name, (message) => encodeMessage(handle(decodeMessage<HostRequest>(message))));
    this.worker = worker;
    try {
      await worker.evaluate(preludeSource());
      const bare = await worker.evaluate('globalThis.__thingkitBridge.gc()');
      this.baselineSlots = bare.meters.currentHeapCount;
      await worker.evaluate(code);
      const gcCommand: XsCommand = { kind: 'gc' };
      this.loadedSlots = (await worker.command(encodeMessage(gcCommand))).meters.currentHeapCount;
    } catch (error) {
      await worker.close();
      throw new FirmwareError(`the firmware failed to load on XS: ${(error as Error).message}`);
    }
  }

  async deliver(batch: EventBatch): Promise<Meter> {
    return this.meter(await this.run({ kind: 'batch', batch }));
  }

  async measure(): Promise<Meter> {
    return this.meter(await this.run({ kind: 'gc' }));
  }

  async snapshotSize(): Promise<number> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'thingkit-snapshot-'));
    try {
      return await this.requireWorker().snapshot(path.join(dir, 'heap.xss'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.close();
  }

  private async run(command: XsCommand): Promise<XsResult> {
    try {
      return await this.requireWorker().command(encodeMessage(command));
    } catch (error) {
      if (error instanceof XsExitError) throw new FirmwareError(error.message);
      throw new FirmwareError((error as Error).message);
    }
  }

  private meter(result: XsResult): Meter {
    const heapSlots = result.meters.currentHeapCount;
    return {
      heapSlots,
      firmwareSlots: heapSlots - this.baselineSlots,
      stateSlots: heapSlots - this.loadedSlots,
      compute: result.meters.compute,
    };
  }

  private requireWorker(): XsWorker {
    if (!this.worker) throw new FirmwareError('the XS engine is not running');
    return this.worker;
  }
}
