/**
 * Raw flash partitions (Moddable: `embedded:storage/flash`), with ESP32's rules, which the
 * simulator enforces: erase before write, erase in 4 KB blocks (to 0xFF), and a write can
 * only clear bits (the result is the old value AND the new one).
 */
export type PartitionType = 'app' | 'data';

export interface PartitionInfo {
  /** ESP-IDF label, at most 16 characters: `nvs`, `otadata`, `ota_0`, `ota_1`, `outbox`… */
  label: string;
  type: PartitionType;
  /** ESP-IDF subtype name: `ota_0`, `ota_1`, `factory` for apps; `nvs`, `ota`, `phy`, `undefined`… for data. */
  subtype: string;
  /** Byte offset in flash (4 KB aligned; app partitions 64 KB aligned). */
  offset: number;
  size: number;
}

export class FlashError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlashError';
  }
}

export interface FlashPartition {
  readonly info: PartitionInfo;
  /** Erase-block size in bytes: 4096 on ESP32. */
  readonly blockLength: number;
  /** Bytes in the partition. */
  readonly byteLength: number;
  /** Reads `length` bytes at `offset` within the partition. */
  read(length: number, offset: number): Uint8Array;
  /** Programs bytes at `offset`: clears bits only; throws FlashError out of range. */
  write(bytes: Uint8Array, offset: number): void;
  /** Sets block `index` (0-based, `blockLength` bytes) to 0xFF. */
  eraseBlock(index: number): void;
}

export interface Flash {
  /** The partition table as the device's flash holds it. */
  partitions(): PartitionInfo[];
  /** Opens a partition by label; throws FlashError naming the labels that exist when absent. */
  open(label: string): FlashPartition;
}
