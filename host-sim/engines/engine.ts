/** What a device runs on: the XS engine (xsnap-worker) or Node.js in-process. */
import type { EventBatch, HostReply, HostRequest } from '../../hal/host/protocol';

export type EngineKind = 'xs' | 'node';

/** XS meters after a delivered batch. */
export interface Meter {
  /** Heap slots in use (16 bytes each on the MCU). */
  heapSlots: number;
  /** Heap slots the firmware uses beyond the bare engine (builtins are in ROM on the device). */
  firmwareSlots: number;
  /**
   * Heap slots beyond the loaded firmware code: its run-time state. On the device the code
   * is preloaded into flash, so this is the part that costs RAM there.
   */
  stateSlots: number;
  /** Compute steps (XS meter) the batch took. */
  compute: number;
}

/** The firmware threw (at boot or while handling an event), or the engine died. */
export class FirmwareError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FirmwareError';
  }
}

export interface Engine {
  readonly kind: EngineKind;
  /** Starts a fresh firmware instance; nothing has run until the first `deliver`. */
  start(handle: (request: HostRequest) => HostReply): Promise<void>;
  /** Runs the firmware's handlers for one batch; rejects with FirmwareError if it throws. */
  deliver(batch: EventBatch): Promise<Meter | undefined>;
  /** Collects garbage and reports the meters at rest (XS only). */
  measure?(): Promise<Meter>;
  /** Writes a heap snapshot and returns its size in bytes (XS only). */
  snapshotSize?(): Promise<number>;
  stop(): Promise<void>;
}
