/**
 * The firmware's entry point inside the XS engine on the host (xsnap-worker). The runner's
 * prelude has moved xsnap's `issueCommand` and `gc` into `__thingkitBridge` and removed the
 * globals an ESP32 build lacks; this takes the bridge out of the global scope and installs
 * `handleCommand`, through which the host delivers event batches.
 */
import type { BoardDefinition, Hal } from '../index';
import type { EventBatch, HostReply, HostRequest } from './protocol';
import { createFirmwareRuntime } from './runtime';
import { decodeMessage, encodeMessage } from './wire';

interface Bridge {
  issueCommand(message: ArrayBuffer): ArrayBuffer;
  gc(): void;
  /** xsnap's native UTF-8, for the bridge's own messages only. */
  encodeText(text: string): Uint8Array;
  decodeText(bytes: Uint8Array): string;
}

/** What the host sends through `handleCommand`. */
export type XsCommand = { kind: 'batch'; batch: EventBatch } | { kind: 'gc' };

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.slice().buffer as ArrayBuffer);
}

export function startXsFirmware(board: BoardDefinition, start: (hal: Hal) => void): void {
  const global = globalThis as unknown as { __thingkitBridge?: Bridge; handleCommand?: (message: ArrayBuffer) => undefined };
  const bridge = global.__thingkitBridge;
  if (!bridge) throw new Error('thingkit: the XS runner prelude did not install the bridge');
  delete global.__thingkitBridge;
  const wireText = { encode: bridge.encodeText, decode: bridge.decodeText };

  const runtime = createFirmwareRuntime(
    {
      call(request: HostRequest): HostReply {
        const reply = bridge.issueCommand(toArrayBuffer(encodeMessage(request, wireText)));
        return decodeMessage<HostReply>(new Uint8Array(reply), wireText);
      },
    },
    board,
    start,
  );

  global.handleCommand = (message: ArrayBuffer) => {
    const command = decodeMessage<XsCommand>(new Uint8Array(message), wireText);
    if (command.kind === 'batch') runtime.deliver(command.batch);
    // Collect after every batch: the device's heap is small enough that XS collects all the
    // time, and the meters should show live slots, not garbage xsnap's large heap lets pile up.
    bridge.gc();
    return undefined;
  };
}
