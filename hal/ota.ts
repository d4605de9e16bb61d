/**
 * Over-the-air update slots and ESP-IDF's app-rollback states (Moddable: `embedded:update`
 * writes the next slot with offset writes; ESP-IDF's esp_ota_* functions, through XS FFI,
 * report the state and mark the running image valid).
 */
export type AppState = 'new' | 'pending-verify' | 'valid' | 'invalid' | 'aborted' | 'undefined';

export class OtaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OtaError';
  }
}

/** Writes an image into the slot that is not running. */
export interface OtaWriter {
  /** Bytes in the slot's partition. */
  readonly capacity: number;
  /**
   * Writes `bytes` at `offset` of the image. Offsets need not start at 0 (a resumed
   * download continues where the slot's content stops); the slot is erased sector by
   * sector ahead of the writes.
   */
  write(bytes: Uint8Array, offset: number): void;
  /** Reads back what the slot holds (to hash a partly written image after a restart). */
  read(length: number, offset: number): Uint8Array;
  /**
   * The image is whole: checks its header, then makes the slot the one to boot next, in
   * state `new`. Throws OtaError when the image is not a bootable image for this board.
   */
  complete(byteLength: number): void;
  /** Gives up; the running slot stays the boot slot. */
  abort(): void;
}

export interface Ota {
  /** Label of the slot running now (`ota_0` or `ota_1`). */
  runningSlot(): string;
  /** The running image's rollback state: `pending-verify` right after an update. */
  runningState(): AppState;
  /** Opens the other slot for writing. `resume` keeps what it already holds. */
  openNext(resume: boolean): OtaWriter;
  /** The new image works: cancel the rollback (esp_ota_mark_app_valid_cancel_rollback). */
  markValid(): void;
  /** The new image does not work: mark it invalid and restart into the previous one. */
  rollback(): void;
}
