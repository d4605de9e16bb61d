/**
 * ESP-IDF's OTA data ("otadata", partition type data, subtype ota): which app slot the
 * bootloader starts, and the rollback state of that app, bit for bit as ESP-IDF computes it.
 *
 * Sources (espressif/esp-idf):
 * - components/bootloader_support/include/esp_flash_partitions.h: `esp_ota_select_entry_t`
 *   and `esp_ota_img_states_t`.
 * - components/bootloader_support/src/bootloader_common_loader.c:
 *   `bootloader_common_ota_select_crc` = `esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4)`,
 *   `bootloader_common_ota_select_invalid`, `bootloader_common_ota_select_valid`,
 *   `bootloader_common_select_otadata`, `bootloader_common_get_active_otadata`.
 * - components/esp_rom/linux/esp_rom_crc.c: `esp_rom_crc32_le(crc, buf, len)` complements
 *   `crc` on entry and the result on exit, with the reflected table of polynomial 0x04C11DB7.
 * - components/app_update/esp_ota_ops.c: `read_otadata`, `rewrite_ota_seq`,
 *   `compute_ota_seq_for_target_slot`.
 *
 * Layout: the otadata partition is two 4 KB sectors; sector i holds entry i in its first 32
 * bytes (the rest of the sector stays erased). Entry, little-endian:
 *
 *   bytes 0-3    ota_seq     u32: the slot is (ota_seq - 1) % number of OTA slots
 *   bytes 4-23   seq_label   20 bytes, unused by ESP-IDF (left 0xFF)
 *   bytes 24-27  ota_state   u32: esp_ota_img_states_t
 *   bytes 28-31  crc         u32: esp_rom_crc32_le(0xFFFFFFFF, ota_seq bytes, 4)
 *
 * The CRC covers ota_seq only, not the state. Because esp_rom_crc32_le complements its
 * argument first, passing UINT32_MAX starts the register at 0: this is *not* the usual CRC-32
 * (that one is esp_rom_crc32_le(0, ...)). In CRC-catalogue terms: width 32, poly 0x04C11DB7,
 * init 0x00000000, refin and refout true, xorout 0xFFFFFFFF. It equals Python's
 * `binascii.crc32(data, 0xFFFFFFFF)`, which is what ESP-IDF's otatool.py computes. For
 * ota_seq = 1 it is 0x4743989A.
 *
 * Writing an entry is what `rewrite_ota_seq` and the bootloader's `write_otadata` do: erase
 * the entry's sector, then program the 32 bytes. The two copies are written alternately
 * (a new selection goes to the sector that is *not* active), so a power cut while writing
 * one copy leaves the other.
 */
import type { FlashPartition } from '../../hal/flash';
import type { AppState } from '../../hal/ota';
import { crc32Final, crc32Update } from '../../firmware/codec/crc32';

export const OTA_SELECT_ENTRY_SIZE = 32;
/** Each copy of the selection owns one flash sector (SPI_FLASH_SEC_SIZE). */
export const OTADATA_SECTOR_SIZE = 0x1000;
/** ESP-IDF requires the otadata partition to hold both sectors. */
export const OTADATA_SIZE = 2 * OTADATA_SECTOR_SIZE;
export const OTA_SEQ_LABEL_SIZE = 20;
/** The erased value of a u32: an empty ota_seq (UINT32_MAX). */
export const UINT32_MAX = 0xffffffff;

/** esp_ota_img_states_t. */
export const OtaImgState = {
  /** Monitor the first boot: the bootloader turns it into PENDING_VERIFY. */
  NEW: 0x0,
  /** First boot happened; found again by the bootloader, it becomes ABORTED. */
  PENDING_VERIFY: 0x1,
  /** The app confirmed itself (esp_ota_mark_app_valid_cancel_rollback). */
  VALID: 0x2,
  /** The app declared itself broken (esp_ota_mark_app_invalid_rollback). Never selected. */
  INVALID: 0x3,
  /** The app neither confirmed nor rejected itself before the next boot. Never selected. */
  ABORTED: 0x4,
  /** Written without rollback support, or erased: boots without limits. */
  UNDEFINED: 0xffffffff,
} as const;
export type OtaImgStateName = keyof typeof OtaImgState;

/** The state's ESP-IDF name (`ESP_OTA_IMG_` stripped), or its value in hex if it has none. */
export function otaStateName(state: number): string {
  const entry = Object.entries(OtaImgState).find(([, value]) => value === state >>> 0);
  return entry ? entry[0] : `0x${(state >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * The HAL's name for a state (hal/ota.ts AppState). No entry for the slot (ESP-IDF:
 * ESP_ERR_NOT_FOUND, e.g. a freshly flashed device) and unknown values read as `undefined`.
 */
export function otaStateToAppState(state: number | undefined): AppState {
  switch (state === undefined ? undefined : state >>> 0) {
    case OtaImgState.NEW:
      return 'new';
    case OtaImgState.PENDING_VERIFY:
      return 'pending-verify';
    case OtaImgState.VALID:
      return 'valid';
    case OtaImgState.INVALID:
      return 'invalid';
    case OtaImgState.ABORTED:
      return 'aborted';
    default:
      return 'undefined';
  }
}

/** esp_ota_select_entry_t, decoded. */
export interface OtaSelectEntry {
  seq: number;
  /** 20 bytes, unused by ESP-IDF; kept so a rewrite stores what was read. */
  seqLabel: Uint8Array;
  state: number;
  crc: number;
}

/**
 * The ESP32 ROM's `esp_rom_crc32_le(crc, buf, len)`: complement `crc`, run the reflected
 * CRC-32 (0xEDB88320) table over the bytes, complement the result. With `crc` = 0 it is the
 * usual CRC-32 (zlib's); a previous result continues a running CRC.
 */
export function espRomCrc32Le(crc: number, bytes: Uint8Array): number {
  return crc32Final(crc32Update(~crc >>> 0, bytes));
}

function u32le(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value >>> 0, true);
  return bytes;
}

/** bootloader_common_ota_select_crc: the CRC stored with `seq`. */
export function otaSelectCrc(seq: number): number {
  return espRomCrc32Le(UINT32_MAX, u32le(seq));
}

/** A well-formed entry: the CRC computed, the label left erased (as ESP-IDF leaves it). */
export function makeOtaSelectEntry(seq: number, state: number, seqLabel?: Uint8Array): OtaSelectEntry {
  if (!Number.isInteger(seq) || seq < 0 || seq > UINT32_MAX) throw new RangeError(`ota_seq ${seq} is not a u32`);
  if (!Number.isInteger(state) || state < 0 || state > UINT32_MAX) throw new RangeError(`ota_state ${state} is not a u32`);
  const label = new Uint8Array(OTA_SEQ_LABEL_SIZE).fill(0xff);
  if (seqLabel) label.set(seqLabel.subarray(0, OTA_SEQ_LABEL_SIZE));
  return { seq, seqLabel: label, state, crc: otaSelectCrc(seq) };
}

export function encodeOtaSelectEntry(entry: OtaSelectEntry): Uint8Array {
  const bytes = new Uint8Array(OTA_SELECT_ENTRY_SIZE).fill(0xff);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, entry.seq >>> 0, true);
  bytes.set(entry.seqLabel.subarray(0, OTA_SEQ_LABEL_SIZE), 4);
  view.setUint32(24, entry.state >>> 0, true);
  view.setUint32(28, entry.crc >>> 0, true);
  return bytes;
}

export function decodeOtaSelectEntry(bytes: Uint8Array): OtaSelectEntry {
  if (bytes.length < OTA_SELECT_ENTRY_SIZE) {
    throw new RangeError(`An otadata entry is ${OTA_SELECT_ENTRY_SIZE} bytes; got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, OTA_SELECT_ENTRY_SIZE);
  return {
    seq: view.getUint32(0, true),
    seqLabel: bytes.slice(4, 4 + OTA_SEQ_LABEL_SIZE),
    state: view.getUint32(24, true),
    crc: view.getUint32(28, true),
  };
}

export function copyEntry(entry: OtaSelectEntry): OtaSelectEntry {
  return { ...entry, seqLabel: entry.seqLabel.slice() };
}

/** The CRC matches ota_seq (says nothing about the state). */
export function otaSelectCrcOk(entry: OtaSelectEntry): boolean {
  return entry.crc === otaSelectCrc(entry.seq);
}

/**
 * bootloader_common_ota_select_invalid: empty (ota_seq all ones), INVALID or ABORTED.
 * It does not look at the CRC.
 */
export function isOtaSelectInvalid(entry: OtaSelectEntry): boolean {
  return entry.seq === UINT32_MAX || entry.state === OtaImgState.INVALID || entry.state === OtaImgState.ABORTED;
}

/** bootloader_common_ota_select_valid: not invalid, and the CRC matches. */
export function isOtaSelectValid(entry: OtaSelectEntry): boolean {
  return !isOtaSelectInvalid(entry) && otaSelectCrcOk(entry);
}

export type OtadataIndex = 0 | 1;

/**
 * bootloader_common_select_otadata: of the entries flagged in `flags`, the one with the
 * larger (`max`) or smaller ota_seq, entry 0 on a tie; the only flagged one; or -1.
 */
export function selectOtadata(entries: readonly [OtaSelectEntry, OtaSelectEntry], flags: readonly [boolean, boolean], max: boolean): OtadataIndex | -1 {
  if (flags[0] && flags[1]) {
    const a = entries[0].seq;
    const b = entries[1].seq;
    const chosen = max ? Math.max(a, b) : Math.min(a, b);
    return chosen === a ? 0 : 1;
  }
  if (flags[0]) return 0;
  if (flags[1]) return 1;
  return -1;
}

/** bootloader_common_get_active_otadata: the valid entry with the larger ota_seq, or -1. */
export function activeOtadata(entries: readonly [OtaSelectEntry, OtaSelectEntry]): OtadataIndex | -1 {
  return selectOtadata(entries, [isOtaSelectValid(entries[0]), isOtaSelectValid(entries[1])], true);
}

/** The OTA slot index an entry selects: (ota_seq - 1) % slots, in u32 arithmetic as in C. */
export function slotForSeq(seq: number, otaSlotCount: number): number {
  if (!Number.isInteger(otaSlotCount) || otaSlotCount <= 0) throw new RangeError(`No OTA slots (count ${otaSlotCount})`);
  return ((seq - 1) >>> 0) % otaSlotCount;
}

/**
 * compute_ota_seq_for_target_slot (esp_ota_ops.c): the smallest ota_seq that selects
 * `slotIndex` and is not below `currentSeq`: ((slot + 1) % n) + n·i for the least such i.
 * Never 0: seq 0 wraps to slot 0xffffffff % n, so with no current entry (0) the answer is
 * slot + 1, as esp_rewrite_ota_data writes when neither otadata entry is valid.
 */
export function seqForSlot(currentSeq: number, slotIndex: number, otaSlotCount: number): number {
  if (!Number.isInteger(otaSlotCount) || otaSlotCount <= 0) throw new RangeError(`No OTA slots (count ${otaSlotCount})`);
  if (!Number.isInteger(slotIndex) || slotIndex < 0 || slotIndex >= otaSlotCount) {
    throw new RangeError(`OTA slot ${slotIndex} does not exist (there are ${otaSlotCount})`);
  }
  const base = (slotIndex + 1) % otaSlotCount;
  const floor = Math.max(currentSeq, 1);
  const i = floor > base ? Math.ceil((floor - base) / otaSlotCount) : 0;
  const seq = base + i * otaSlotCount;
  if (seq >= UINT32_MAX) throw new RangeError(`ota_seq would reach 0x${seq.toString(16)}: otadata is exhausted`);
  return seq;
}

function checkOtadataPartition(partition: FlashPartition): void {
  if (partition.byteLength < OTADATA_SIZE) {
    throw new RangeError(
      `otadata partition "${partition.info.label}" is ${partition.byteLength} bytes; it needs two ${OTADATA_SECTOR_SIZE}-byte sectors`,
    );
  }
}

/** read_otadata / bootloader_common_read_otadata: the first 32 bytes of each sector. */
export function readOtadata(partition: FlashPartition): [OtaSelectEntry, OtaSelectEntry] {
  checkOtadataPartition(partition);
  return [
    decodeOtaSelectEntry(partition.read(OTA_SELECT_ENTRY_SIZE, 0)),
    decodeOtaSelectEntry(partition.read(OTA_SELECT_ENTRY_SIZE, OTADATA_SECTOR_SIZE)),
  ];
}

/**
 * rewrite_ota_seq / write_otadata: erase sector `index`, then program the 32-byte entry.
 * Two flash operations; a power cut between them leaves the sector erased (an empty entry).
 */
export function writeOtadataEntry(partition: FlashPartition, index: OtadataIndex, entry: OtaSelectEntry): void {
  checkOtadataPartition(partition);
  partition.eraseBlock((index * OTADATA_SECTOR_SIZE) / partition.blockLength);
  partition.write(encodeOtaSelectEntry(entry), index * OTADATA_SECTOR_SIZE);
}

/** Erases sector `index` (esp_ota_invalidate_inactive_ota_data_slot). */
export function eraseOtadataEntry(partition: FlashPartition, index: OtadataIndex): void {
  checkOtadataPartition(partition);
  partition.eraseBlock((index * OTADATA_SECTOR_SIZE) / partition.blockLength);
}

/** Erases both sectors: the initial state (`ota_data_initial.bin` is all 0xFF). */
export function eraseOtadata(partition: FlashPartition): void {
  eraseOtadataEntry(partition, 0);
  eraseOtadataEntry(partition, 1);
}

/** One line per entry, for logs and the CLI: `[0] seq 3 → ota_0, NEW, crc ok`. */
export function describeOtadata(entries: readonly [OtaSelectEntry, OtaSelectEntry], otaSlotCount: number): string[] {
  return entries.map((entry, index) => {
    if (entry.seq === UINT32_MAX && entry.state === UINT32_MAX && entry.crc === UINT32_MAX) return `[${index}] empty`;
    const slot = otaSlotCount > 0 ? ` → ota_${slotForSeq(entry.seq, otaSlotCount)}` : '';
    const crc = otaSelectCrcOk(entry) ? 'crc ok' : `crc BAD (stored 0x${entry.crc.toString(16)}, expected 0x${otaSelectCrc(entry.seq).toString(16)})`;
    return `[${index}] seq ${entry.seq}${slot}, ${otaStateName(entry.state)}, ${crc}`;
  });
}
