/**
 * The ESP32 OTA HAL's pure parts (no Moddable module, so the Node tests load them too):
 * ESP-IDF's state and error codes, and which sectors of the slot a write must erase first.
 */
import type { AppState } from "../ota";

/** esp_ota_img_states_t (esp_flash_partitions.h); -1 is our "no state" (factory app, no otadata entry). */
export function appStateFromEspIdf(code: number): AppState {
  switch (code) {
    case 0: // ESP_OTA_IMG_NEW
      return "new";
    case 1: // ESP_OTA_IMG_PENDING_VERIFY
      return "pending-verify";
    case 2: // ESP_OTA_IMG_VALID
      return "valid";
    case 3: // ESP_OTA_IMG_INVALID
      return "invalid";
    case 4: // ESP_OTA_IMG_ABORTED
      return "aborted";
    default: // ESP_OTA_IMG_UNDEFINED (0xFFFFFFFF, -1 as int32) or no entry
      return "undefined";
  }
}

/** esp_err_t values the OTA calls return, named for messages. */
export function espErrorName(code: number): string {
  switch (code) {
    case 0x101:
      return "ESP_ERR_NO_MEM";
    case 0x102:
      return "ESP_ERR_INVALID_ARG";
    case 0x103:
      return "ESP_ERR_INVALID_STATE";
    case 0x104:
      return "ESP_ERR_INVALID_SIZE";
    case 0x105:
      return "ESP_ERR_NOT_FOUND";
    case 0x106:
      return "ESP_ERR_NOT_SUPPORTED";
    case 0x1501:
      return "ESP_ERR_OTA_PARTITION_CONFLICT";
    case 0x1502:
      return "ESP_ERR_OTA_SELECT_INFO_INVALID";
    case 0x1503:
      return "ESP_ERR_OTA_VALIDATE_FAILED";
    case 0x1504:
      return "ESP_ERR_OTA_SMALL_SEC_VER";
    case 0x1505:
      return "ESP_ERR_OTA_ROLLBACK_FAILED";
    case 0x1506:
      return "ESP_ERR_OTA_ROLLBACK_INVALID_STATE";
    default:
      return `esp_err_t 0x${(code >>> 0).toString(16)}`;
  }
}

/**
 * Tracks which sectors of the slot are ready for programming in this session: erased by us,
 * or part of the prefix a resumed download keeps. One bit per sector (a 1.9 MB slot: 60 bytes).
 */
export class SectorMap {
  readonly #ready: Uint8Array;

  constructor(readonly sectors: number) {
    this.#ready = new Uint8Array(Math.ceil(sectors / 8));
  }

  has(index: number): boolean {
    return (this.#ready[index >> 3] & (1 << (index & 7))) !== 0;
  }

  add(index: number): void {
    this.#ready[index >> 3] |= 1 << (index & 7);
  }
}

/**
 * The sectors a write of `length` bytes at `offset` must erase first, given what is ready.
 * When `keepBefore` is set (the first write of a resumed download), sectors holding bytes
 * before it are the kept prefix: marked ready, not erased.
 */
export function sectorsToErase(map: SectorMap, sectorSize: number, offset: number, length: number, keepBefore?: number): number[] {
  if (keepBefore !== undefined) {
    const kept = Math.min(map.sectors, Math.ceil(keepBefore / sectorSize));
    for (let index = 0; index < kept; index++) map.add(index);
  }
  const erase: number[] = [];
  if (length === 0) return erase;
  const first = Math.floor(offset / sectorSize);
  const last = Math.floor((offset + length - 1) / sectorSize);
  for (let index = first; index <= last; index++) {
    if (!map.has(index)) {
      erase.push(index);
      map.add(index);
    }
  }
  return erase;
}
