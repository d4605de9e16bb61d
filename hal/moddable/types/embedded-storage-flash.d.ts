/*
 * ECMA-419 flash storage on ESP32 (modules/io/flash/esp32/flash-esp32.js and .c).
 * `open({path})` finds a *data* partition by its label, or one of the special paths
 * "running", "nextota" (the app slots, via esp_ota_*) and "xs" (mods); it throws
 * "can't find partition" otherwise. Iterating the default export yields partition labels.
 */
declare module "embedded:storage/flash" {
  type Bytes = ArrayBuffer | ArrayBufferView;

  export interface FlashStatus {
    /** Bytes in the partition. */
    size: number;
    /** Erase-block (sector) size in bytes: 4096 on ESP32. */
    blockLength: number;
    blocks: number;
  }

  export interface FlashPartition {
    /** Reads `byteLength` bytes at `byteOffset` into a new ArrayBuffer. */
    read(byteLength: number, byteOffset: number): ArrayBuffer;
    /** Programs `bytes` at `byteOffset` (NOR flash: bits can only be cleared). */
    write(bytes: Bytes, byteOffset: number): void;
    /** Erases block `start`, or blocks `start` up to (not including) `end`. */
    eraseBlock(start: number, end?: number): void;
    status(): FlashStatus;
    close(): void;
    format: "buffer";
  }

  const flash: {
    open(options: { path: string; mode?: "r" | "r+"; format?: "buffer" }): FlashPartition;
    [Symbol.iterator](): Iterator<string>;
  };
  export default flash;
}
