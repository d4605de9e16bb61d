/**
 * The Node engine for an image the simulator did not build from this source tree (an OTA
 * update): the image's bundle runs in a fresh V8 context, which has the language built-ins
 * and nothing else, and talks to the host over the same bridge and wire format as on XS.
 */
import * as vm from 'node:vm';
import type { EventBatch, HostReply, HostRequest } from '../../hal/host/protocol';
import { decodeMessage, encodeMessage } from '../../hal/host/wire';
import type { XsCommand } from '../../hal/host/xs-entry';
import { FirmwareError, type Engine } from './engine';

const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer => bytes.slice().buffer as ArrayBuffer;

export class NodeVmEngine implements Engine {
  readonly kind = 'node' as const;
  private handleCommand: ((message: ArrayBuffer) => unknown) | undefined;

  constructor(private readonly bundle: string) {}

  async start(handle: (request: HostRequest) => HostReply): Promise<void> {
    const text = { encode: (s: string) => new TextEncoder().encode(s), decode: (b: Uint8Array) => new TextDecoder().decode(b) };
    const bridge = {
      issueCommand: (message: ArrayBuffer) => toArrayBuffer(encodeMessage(handle(decodeMessage<HostRequest>(new Uint8Array(message))))),
      gc: () => undefined,
      encodeText: text.encode,
      decodeText: text.decode,
    };
    const context = vm.createContext({ __thingkitBridge: bridge });
    try {
      vm.runInContext(this.bundle, context, { filename: 'firmware-image.js' });
    } catch (error) {
      throw new FirmwareError(`the firmware image failed to load: ${(error as Error).message}`);
    }
    this.handleCommand = context.handleCommand as (message: ArrayBuffer) => unknown;
    if (typeof this.handleCommand !== 'function') throw new FirmwareError('the firmware image did not install handleCommand');
  }

  async deliver(batch: EventBatch): Promise<undefined> {
    if (!this.handleCommand) throw new Error('NodeVmEngine.deliver before start');
    const command: XsCommand = { kind: 'batch', batch };
    try {
      this.handleCommand(toArrayBuffer(encodeMessage(command)));
    } catch (error) {
      throw new FirmwareError(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
    await new Promise((resolve) => setImmediate(resolve));
    return undefined;
  }

  async stop(): Promise<void> {
    this.handleCommand = undefined;
  }
}
