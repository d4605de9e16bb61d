/**
 * OTA slots on ESP32: the inactive app slot written through ECMA-419 `embedded:storage/flash`
 * (`flash.open({path: "nextota"})`, modules/io/flash/esp32), ESP-IDF's rollback states and
 * boot-slot switch through XS FFI (hal/moddable/ffi/thingkit-ffi.c):
 * - runningSlot: esp_ota_get_running_partition()->label;
 * - runningState: esp_ota_get_state_partition(running);
 * - complete: esp_image_verify of the slot (the ESP-IDF app image: magic 0xE9, chip id,
 *   segments, checksum, appended SHA-256; and its length against byteLength), then
 *   esp_ota_set_boot_partition (which verifies again and writes otadata; the new image boots
 *   in state new, which the bootloader turns into pending-verify);
 * - markValid: esp_ota_mark_app_valid_cancel_rollback();
 * - rollback: esp_ota_mark_app_invalid_rollback_and_reboot() (returns only on failure).
 *
 * Why not Moddable's `embedded:update` (modules/io/update/esp32): its `open` calls
 * esp_ota_begin, which erases the slot (all of it, or `byteLength` of it) in mode "w", and in
 * mode "a" writes only sequentially from offset 0. Either way the bytes written before a
 * restart are lost, and the HAL promises that `openNext(true)` keeps them (a resumed
 * download continues after a reboot). So the slot is written as flash: each 4 KB sector is
 * erased when a write first reaches it, except the sectors of a resumed prefix, which are
 * kept; ESP-IDF's own image checks and otadata update then run at `complete`.
 */
import flash, { type FlashPartition as NativePartition } from "embedded:storage/flash";
import { OtaError, type AppState, type Ota, type OtaWriter } from "../ota";
import { nativeCalls } from "./native";
import { appStateFromEspIdf, espErrorName, SectorMap, sectorsToErase } from "./ota-slot";

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class EspOtaWriter implements OtaWriter {
  readonly capacity: number;
  readonly #sectorSize: number;
  readonly #map: SectorMap;
  #partition: NativePartition | undefined;
  #resume: boolean;

  constructor(partition: NativePartition, resume: boolean) {
    const status = partition.status();
    this.capacity = status.size;
    this.#sectorSize = status.blockLength;
    this.#map = new SectorMap(Math.floor(status.size / status.blockLength));
    this.#partition = partition;
    this.#resume = resume;
  }

  write(bytes: Uint8Array, offset: number): void {
    const partition = this.#open("write");
    if (!Number.isInteger(offset) || offset < 0 || offset + bytes.length > this.capacity) {
      throw new OtaError(`writing ${bytes.length} bytes at ${offset} would pass the end of the update slot (${this.capacity} bytes)`);
    }
    const keepBefore = this.#resume ? offset : undefined;
    this.#resume = false;
    try {
      for (const index of sectorsToErase(this.#map, this.#sectorSize, offset, bytes.length, keepBefore)) partition.eraseBlock(index);
      if (bytes.length > 0) partition.write(bytes, offset);
    } catch (error) {
      throw new OtaError(`writing the update slot at ${offset} failed: ${messageOf(error)}`);
    }
  }

  read(length: number, offset: number): Uint8Array {
    const partition = this.#open("read");
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.capacity) {
      throw new OtaError(`reading ${length} bytes at ${offset} is outside the update slot (${this.capacity} bytes)`);
    }
    try {
      return new Uint8Array(partition.read(length, offset));
    } catch (error) {
      throw new OtaError(`reading the update slot at ${offset} failed: ${messageOf(error)}`);
    }
  }

  complete(byteLength: number): void {
    this.#open("complete");
    if (!Number.isInteger(byteLength) || byteLength <= 0 || byteLength > this.capacity) {
      throw new OtaError(`an image of ${byteLength} bytes cannot be in the update slot (${this.capacity} bytes)`);
    }
    const result = nativeCalls().thingkit_ota_activate_next(byteLength);
    if (result !== 0) {
      const detail =
        result === 0x1503
          ? "it is not a valid ESP-IDF app image for this chip (esp_image_verify failed)"
          : result === 0x104
            ? `its length is not the ${byteLength} bytes expected`
            : espErrorName(result);
      throw new OtaError(`the update slot's image was refused: ${detail}`);
    }
    this.#close();
  }

  abort(): void {
    // The boot slot never changed; what was written stays in the inactive slot, unused.
    this.#close();
  }

  #open(operation: string): NativePartition {
    if (!this.#partition) throw new OtaError(`${operation} on a closed update slot`);
    return this.#partition;
  }

  #close(): void {
    const partition = this.#partition;
    this.#partition = undefined;
    try {
      partition?.close();
    } catch {
      // Closing is bookkeeping only.
    }
  }
}

export class ModdableOta implements Ota {
  runningSlot(): string {
    return nativeCalls().thingkit_running_partition();
  }

  runningState(): AppState {
    return appStateFromEspIdf(nativeCalls().thingkit_ota_running_state());
  }

  openNext(resume: boolean): OtaWriter {
    // esp_ota_begin refuses this too (ESP_ERR_OTA_ROLLBACK_INVALID_STATE): the image on trial
    // must settle first, or a rollback would find its fallback half overwritten.
    if (this.runningState() === "pending-verify") {
      throw new OtaError("the running image is pending verification: mark it valid (or roll back) before writing another");
    }
    let partition: NativePartition;
    try {
      partition = flash.open({ path: "nextota" });
    } catch (error) {
      throw new OtaError(`there is no OTA slot to write (flash "nextota": ${messageOf(error)}); the partition table needs ota_0 and ota_1`);
    }
    return new EspOtaWriter(partition, resume);
  }

  markValid(): void {
    const result = nativeCalls().thingkit_mark_app_valid();
    if (result !== 0) throw new OtaError(`esp_ota_mark_app_valid_cancel_rollback failed: ${espErrorName(result)}`);
  }

  rollback(): void {
    const result = nativeCalls().thingkit_ota_rollback();
    // Only a failure returns: no other valid image to go back to, or rollback not enabled.
    throw new OtaError(`esp_ota_mark_app_invalid_rollback_and_reboot failed: ${espErrorName(result)}`);
  }
}
