/**
 * Raw flash partitions over ECMA-419 `embedded:storage/flash` (modules/io/flash/esp32):
 * `flash.open({path})` → `read(length, offset)`, `write(bytes, offset)`, `eraseBlock(index)`,
 * `status()`. The partition list is the board definition's (which also generates the
 * partitions CSV the image is built with); opening checks the device agrees with it.
 *
 * Moddable finds *data* partitions by label. App partitions are reachable only as "running"
 * and "nextota" (esp_ota_get_running_partition / esp_ota_get_next_update_partition), so an
 * app label is translated by asking ESP-IDF, through XS FFI, which label each of those is.
 * NOR flash itself gives the HAL's write rule: programming only clears bits.
 */
import flash, { type FlashPartition as NativePartition } from "embedded:storage/flash";
import type { BoardDefinition } from "../board";
import { FlashError, type Flash, type FlashPartition, type PartitionInfo } from "../flash";
import { nativeCalls } from "./native";

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class ModdablePartition implements FlashPartition {
  readonly blockLength: number;
  readonly byteLength: number;

  constructor(
    readonly info: PartitionInfo,
    private readonly native: NativePartition,
  ) {
    const status = native.status();
    this.blockLength = status.blockLength;
    this.byteLength = status.size;
  }

  read(length: number, offset: number): Uint8Array {
    this.#check(offset, length, "read");
    try {
      return new Uint8Array(this.native.read(length, offset));
    } catch (error) {
      throw new FlashError(`flash read of ${length} bytes at ${offset} in "${this.info.label}" failed: ${messageOf(error)}`);
    }
  }

  write(bytes: Uint8Array, offset: number): void {
    this.#check(offset, bytes.length, "write");
    if (bytes.length === 0) return;
    try {
      this.native.write(bytes, offset);
    } catch (error) {
      throw new FlashError(`flash write of ${bytes.length} bytes at ${offset} in "${this.info.label}" failed: ${messageOf(error)}`);
    }
  }

  eraseBlock(index: number): void {
    const blocks = Math.floor(this.byteLength / this.blockLength);
    if (!Number.isInteger(index) || index < 0 || index >= blocks) {
      throw new FlashError(`block ${index} is outside "${this.info.label}" (blocks 0 to ${blocks - 1})`);
    }
    try {
      this.native.eraseBlock(index);
    } catch (error) {
      throw new FlashError(`erasing block ${index} of "${this.info.label}" failed: ${messageOf(error)}`);
    }
  }

  #check(offset: number, length: number, operation: string): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.byteLength) {
      throw new FlashError(`flash ${operation} of ${length} bytes at ${offset} is outside "${this.info.label}" (${this.byteLength} bytes)`);
    }
  }
}

export class ModdableFlash implements Flash {
  readonly #open = new Map<string, ModdablePartition>();

  constructor(private readonly board: BoardDefinition) {}

  partitions(): PartitionInfo[] {
    return this.board.partitions.map((partition) => ({ ...partition }));
  }

  open(label: string): FlashPartition {
    const cached = this.#open.get(label);
    if (cached) return cached;
    const info = this.board.partitions.find((partition) => partition.label === label);
    if (!info) {
      const labels = this.board.partitions.map((partition) => partition.label).join(", ");
      throw new FlashError(`no flash partition "${label}"; board ${this.board.name} has: ${labels}`);
    }
    const path = info.type === "app" ? this.#appPath(label) : label;
    let native: NativePartition;
    try {
      native = flash.open({ path });
    } catch (error) {
      throw new FlashError(`cannot open flash partition "${label}" (as "${path}"): ${messageOf(error)}; was the image built with boards/${this.board.name}/partitions.csv?`);
    }
    const partition = new ModdablePartition({ ...info }, native);
    if (partition.byteLength !== info.size) {
      native.close();
      throw new FlashError(`partition "${label}" is ${partition.byteLength} bytes on the device but ${info.size} in board ${this.board.name}: the flashed partition table is not the board's`);
    }
    this.#open.set(label, partition);
    return partition;
  }

  #appPath(label: string): string {
    const calls = nativeCalls();
    if (calls.thingkit_running_partition() === label) return "running";
    if (calls.thingkit_next_update_partition() === label) return "nextota";
    throw new FlashError(`app partition "${label}" is neither the running nor the next OTA slot`);
  }
}
