/**
 * The simulated device's second-stage bootloader and the app-side OTA operations, over its
 * flash image: ESP-IDF's app-rollback state machine (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y,
 * as hal/moddable/sdkconfig/sdkconfig.defaults sets it; anti-rollback eFuses off), step for
 * step as ESP-IDF does it, with thingkit app images (host-sim/ota/image.ts) in the slots.
 *
 * Boot (components/bootloader_support/src/bootloader_utility.c,
 * `bootloader_utility_get_selected_boot_partition` and `bootloader_utility_load_boot_image`):
 * 1. Read both otadata entries. Every entry in PENDING_VERIFY (its app booted once and never
 *    confirmed itself) is rewritten as ABORTED.
 * 2. If both entries are invalid (empty, INVALID or ABORTED) or there are no OTA slots: the
 *    factory app if there is one, else ota_0 — and if both entries were empty or had a bad
 *    CRC, the bootloader records ota_seq (`set_actual_ota_seq`) once an image has loaded.
 *    Otherwise the valid entry with the larger ota_seq selects slot (ota_seq − 1) % slots;
 *    if its state is NEW it becomes PENDING_VERIFY (this boot is the image's trial). No valid
 *    entry: try every partition.
 * 3. Load: the selected slot, then downwards to the factory app, then upwards through the
 *    remaining OTA slots, then the test app; the first whose image verifies boots. An image
 *    verifies when its header and SHA-256 check out and it is for this board (ESP-IDF checks
 *    the chip ID). Nothing loads: ESP-IDF resets and tries again forever; `boot` throws
 *    BootError naming every slot's problem.
 *
 * App side (components/app_update/esp_ota_ops.c), class OtaOps: esp_ota_begin's checks and
 * its invalidation of the inactive otadata entry, esp_ota_set_boot_partition,
 * esp_ota_mark_app_valid_cancel_rollback, esp_ota_mark_app_invalid_rollback,
 * esp_ota_get_next_update_partition, esp_ota_get_running_partition, esp_ota_get_boot_partition,
 * esp_ota_get_state_partition, esp_ota_check_rollback_is_possible,
 * esp_ota_get_last_invalid_partition.
 *
 * ESP-IDF behaviours kept on purpose (so the simulator fails as a device would):
 * - The fallback in step 3 ignores otadata states: with the selected image corrupt it boots
 *   any image that verifies, an ABORTED or INVALID one included.
 * - markValid marks the *active otadata entry* valid, whatever partition is running (after a
 *   step-3 fallback these differ).
 */
import type { PartitionInfo } from '../../hal/flash';
import type { FlashImage } from '../flash/flash-image';
import { PartitionView } from '../flash/partition';
import { ImageError, readImageFromSlot, writeImageToSlot, type AppImage, type ImageErrorCode } from '../ota/image';
import {
  activeOtadata,
  describeOtadata,
  eraseOtadata,
  eraseOtadataEntry,
  isOtaSelectInvalid,
  isOtaSelectValid,
  makeOtaSelectEntry,
  otaSelectCrcOk,
  OtaImgState,
  otaStateName,
  readOtadata,
  selectOtadata,
  seqForSlot,
  slotForSeq,
  UINT32_MAX,
  writeOtadataEntry,
  type OtadataIndex,
  type OtaSelectEntry,
} from './otadata';

/** An app partition by its ESP-IDF subtype name. */
export type AppSlot = 'factory' | 'test' | `ota_${number}`;

/** FACTORY_INDEX and TEST_APP_INDEX of bootloader_utility.c. */
const FACTORY_INDEX = -1;
const TEST_APP_INDEX = -2;
/** ESP-IDF's limit: subtypes ota_0 … ota_15. */
const MAX_OTA_SLOTS = 16;

export interface AppLayout {
  otadata?: PartitionInfo;
  factory?: PartitionInfo;
  test?: PartitionInfo;
  /** OTA slots by number, consecutive from ota_0 (esp_ota_get_app_partition_count). */
  ota: PartitionInfo[];
}

/** The app partitions and the otadata partition of a partition table. */
export function appLayout(partitions: readonly PartitionInfo[]): AppLayout {
  const find = (type: string, subtype: string) => partitions.find((p) => p.type === type && p.subtype === subtype);
  const ota: PartitionInfo[] = [];
  for (let slot = 0; slot < MAX_OTA_SLOTS; slot++) {
    const partition = find('app', `ota_${slot}`);
    if (!partition) break;
    ota.push(partition);
  }
  return { otadata: find('data', 'ota'), factory: find('app', 'factory'), test: find('app', 'test'), ota };
}

function slotOf(partition: PartitionInfo): AppSlot {
  return partition.subtype as AppSlot;
}

function otaIndexOf(slot: AppSlot): number | undefined {
  const match = /^ota_(\d+)$/.exec(slot);
  return match ? Number(match[1]) : undefined;
}

// ---------------------------------------------------------------- image verification

export type SlotProblemCode = ImageErrorCode;

/** Why one app partition could not boot. */
export interface SlotProblem {
  slot: AppSlot;
  label: string;
  code: SlotProblemCode;
  message: string;
}

/**
 * esp_image_verify for the simulator: the slot's image parses, its SHA-256 matches and it
 * was built for this flash's board. Throws ImageError.
 */
export function verifySlotImage(flash: FlashImage, partition: PartitionInfo): AppImage {
  const image = readImageFromSlot(new PartitionView(flash, partition));
  if (image.board !== flash.boardName) {
    throw new ImageError('wrong-board', `slot ${partition.label} holds an image for board "${image.board}"; this device is "${flash.boardName}"`);
  }
  return image;
}

function tryVerify(flash: FlashImage, partition: PartitionInfo): { image: AppImage } | { problem: SlotProblem } {
  try {
    return { image: verifySlotImage(flash, partition) };
  } catch (error) {
    if (!(error instanceof ImageError)) throw error;
    return { problem: { slot: slotOf(partition), label: partition.label, code: error.code, message: error.message } };
  }
}

// ---------------------------------------------------------------- boot

export type BootCode =
  /** No otadata partition: the factory app, or the first app that loads. */
  | 'no-otadata'
  /** otadata empty (a freshly flashed device): the factory app, else ota_0. */
  | 'initial'
  /** The active otadata entry selects the slot (state VALID or UNDEFINED). */
  | 'selected'
  /** The active entry was NEW: the image's first boot, now PENDING_VERIFY. */
  | 'first-boot'
  /** The newest selection was rejected (ABORTED at this or an earlier boot, or INVALID): an older image boots. */
  | 'rollback'
  /** Every entry is empty, INVALID or ABORTED (but not all blank): ota_0 (or factory), as ESP-IDF does. */
  | 'no-valid-entry'
  /** No entry is valid (bad CRCs): every partition is tried. */
  | 'otadata-invalid'
  /** The slot otadata selects did not verify; another image boots. */
  | 'fallback';

export interface BootResult {
  slot: AppSlot;
  partition: PartitionInfo;
  image: AppImage;
  /** The newest otadata selection was rejected (aborted or invalid) and an older image boots. */
  rolledBack: boolean;
  /** This boot turned a PENDING_VERIFY entry into ABORTED. */
  abortedPending: boolean;
  code: BootCode;
  reason: string;
  /** The otadata state of the booted slot after boot (esp_ota_get_state_partition); undefined without one. */
  state: number | undefined;
  /** Slots tried before the one that booted, with their problems. */
  problems: SlotProblem[];
  /** What the bootloader did, line by line, in the spirit of ESP-IDF's boot log. */
  log: string[];
}

export class BootError extends Error {
  constructor(
    message: string,
    readonly problems: SlotProblem[],
    readonly log: string[],
  ) {
    super(message);
    this.name = 'BootError';
  }
}

/**
 * Runs the bootloader over the flash: updates otadata as ESP-IDF's bootloader would and says
 * which image boots and why. Throws BootError when no partition holds a bootable image.
 */
export function boot(flash: FlashImage): BootResult {
  const layout = appLayout(flash.partitions());
  const count = layout.ota.length;
  const log: string[] = [];
  let start: number;
  let initialContents = false;
  let code: BootCode;
  let reason: string;
  let abortedPending = false;
  let rolledBack = false;
  let view: PartitionView | undefined;
  let entries: [OtaSelectEntry, OtaSelectEntry] | undefined;

  if (!layout.otadata) {
    start = FACTORY_INDEX;
    code = 'no-otadata';
    reason = 'the partition table has no otadata partition';
  } else {
    view = new PartitionView(flash, layout.otadata);
    entries = readOtadata(view);
    log.push(...describeOtadata(entries, count).map((line) => `otadata ${line}`));
    // The newest selection anyone made (good CRC, not empty), before this boot changes states.
    const newestIndex = selectOtadata(entries, [0, 1].map((i) => entries![i]!.seq !== UINT32_MAX && otaSelectCrcOk(entries![i]!)) as [boolean, boolean], true);

    for (const i of [0, 1] as const) {
      if (entries[i].state === OtaImgState.PENDING_VERIFY) {
        entries[i].state = OtaImgState.ABORTED;
        writeOtadataEntry(view, i, entries[i]);
        abortedPending = true;
        log.push(`otadata[${i}] was PENDING_VERIFY: its app never confirmed itself; marked ABORTED`);
      }
    }

    if ((isOtaSelectInvalid(entries[0]) && isOtaSelectInvalid(entries[1])) || count === 0) {
      const blank = (e: OtaSelectEntry) => e.seq === UINT32_MAX || !otaSelectCrcOk(e);
      const bothBlank = blank(entries[0]) && blank(entries[1]);
      if (layout.factory) {
        start = FACTORY_INDEX;
      } else {
        start = 0;
        initialContents = bothBlank;
      }
      const target = layout.factory ? 'the factory app' : 'ota_0';
      if (count === 0) {
        code = 'initial';
        reason = `the partition table has no OTA slots: booting ${target}`;
      } else if (bothBlank) {
        code = 'initial';
        reason = `otadata is empty: booting ${target}`;
      } else {
        code = 'no-valid-entry';
        reason = `no otadata entry is bootable (${entries.map((e) => otaStateName(e.state)).join(', ')}): booting ${target}, as ESP-IDF does`;
      }
    } else {
      const active = activeOtadata(entries);
      if (active !== -1) {
        const entry = entries[active];
        start = slotForSeq(entry.seq, count);
        code = 'selected';
        reason = `otadata[${active}] (seq ${entry.seq}, ${otaStateName(entry.state)}) selects ota_${start}`;
        if (entry.state === OtaImgState.NEW) {
          entry.state = OtaImgState.PENDING_VERIFY;
          writeOtadataEntry(view, active, entry);
          code = 'first-boot';
          reason = `otadata[${active}] (seq ${entry.seq}) selects ota_${start}, a NEW image: its first boot, now PENDING_VERIFY until the app marks it valid`;
          log.push(`otadata[${active}] NEW → PENDING_VERIFY`);
        }
      } else {
        start = FACTORY_INDEX;
        code = 'otadata-invalid';
        reason = layout.factory ? 'otadata is invalid: falling back to the factory app' : 'otadata is invalid and there is no factory app: trying every partition';
      }
    }

    if (newestIndex !== -1) {
      const newest = entries[newestIndex];
      if (newest.state === OtaImgState.ABORTED || newest.state === OtaImgState.INVALID) {
        const rejectedSlot = count > 0 ? slotForSeq(newest.seq, count) : -1;
        if (start !== rejectedSlot) {
          rolledBack = true;
          code = 'rollback';
          const why =
            newest.state === OtaImgState.INVALID
              ? 'the app marked itself INVALID'
              : abortedPending
                ? 'it was still PENDING_VERIFY at this boot: the previous boot never marked it valid, so it is now ABORTED'
                : 'it was ABORTED at an earlier boot';
          reason = `rollback: the newest image, ota_${rejectedSlot} (otadata[${newestIndex}] seq ${newest.seq}), is rejected (${why}); ${describeStart(start, layout)}`;
        }
      }
    }
  }

  log.push(`start index ${start === FACTORY_INDEX ? 'factory' : `ota_${start}`}: ${reason}`);

  // bootloader_utility_load_boot_image: down from start to factory, then up, then test.
  const order: number[] = [];
  for (let index = start; index >= FACTORY_INDEX; index--) order.push(index);
  for (let index = start + 1; index < count; index++) order.push(index);
  order.push(TEST_APP_INDEX);

  const problems: SlotProblem[] = [];
  for (const index of order) {
    const partition = index === FACTORY_INDEX ? layout.factory : index === TEST_APP_INDEX ? layout.test : layout.ota[index];
    if (!partition) continue;
    const verified = tryVerify(flash, partition);
    if ('problem' in verified) {
      problems.push(verified.problem);
      log.push(`${partition.label} is not bootable: ${verified.problem.message}`);
      continue;
    }
    if (initialContents && index > FACTORY_INDEX && view && entries) {
      // set_actual_ota_seq: otadata[0] = {seq index + 1, VALID}, the rest erased.
      const entry = makeOtaSelectEntry(index + 1, OtaImgState.VALID);
      writeOtadataEntry(view, 0, entry);
      entries[0] = entry;
      log.push(`set actual ota_seq=${index + 1} in otadata[0]`);
    }
    const slot = slotOf(partition);
    if (problems.length > 0 && index !== start) {
      code = 'fallback';
      reason = `${problems.map((p) => p.message).join('; ')}: booting ${partition.label} instead (${reason})`;
      rolledBack = false;
    }
    log.push(`loaded ${partition.label}: ${verified.image.board} ${verified.image.version}`);
    return {
      slot,
      partition,
      image: verified.image,
      rolledBack,
      abortedPending,
      code,
      reason,
      state: entries && index >= 0 ? stateOfSlot(entries, index, count) : undefined,
      problems,
      log,
    };
  }

  const tried = problems.length > 0 ? problems.map((p) => `${p.label}: ${p.message}`).join('; ') : 'the partition table has no app partition';
  throw new BootError(
    `No bootable app image on ${flash.path} (board ${flash.boardName}) — an ESP32 would reset and try again forever. ${tried}. ` +
      `otadata: ${entries ? describeOtadata(entries, count).join('; ') : 'none'}.`,
    problems,
    log,
  );
}

function describeStart(start: number, layout: AppLayout): string {
  if (start >= 0) return `booting ota_${start}`;
  return layout.factory ? 'booting the factory app' : 'trying every partition';
}

/** esp_ota_get_state_partition: the first entry (0, then 1) with a good CRC that selects `slot`. */
function stateOfSlot(entries: readonly [OtaSelectEntry, OtaSelectEntry], slot: number, count: number): number | undefined {
  if (count === 0) return undefined;
  for (const entry of entries) {
    if (slotForSeq(entry.seq, count) === slot && otaSelectCrcOk(entry)) return entry.state;
  }
  return undefined;
}

/**
 * What `idf.py flash` leaves: otadata erased (ota_data_initial.bin is all 0xFF) and the image
 * at the first app partition. The next boot starts it and records ota_seq.
 */
export function installInitialImage(flash: FlashImage, image: Uint8Array, slot: AppSlot = 'ota_0'): void {
  const layout = appLayout(flash.partitions());
  const partition = partitionFor(layout, slot, flash);
  if (layout.otadata) eraseOtadata(new PartitionView(flash, layout.otadata));
  writeImageToSlot(new PartitionView(flash, partition), image);
}

function partitionFor(layout: AppLayout, slot: AppSlot, flash: FlashImage): PartitionInfo {
  const index = otaIndexOf(slot);
  const partition = slot === 'factory' ? layout.factory : slot === 'test' ? layout.test : index !== undefined ? layout.ota[index] : undefined;
  if (!partition) {
    const have = [layout.factory, layout.test, ...layout.ota].filter((p): p is PartitionInfo => p !== undefined).map((p) => p.subtype);
    throw new OtaError('ESP_ERR_NOT_FOUND', `No app partition ${slot} on board ${flash.boardName}; it has: ${have.join(', ') || 'none'}`);
  }
  return partition;
}

// ---------------------------------------------------------------- esp_ota_ops

/** esp_err_t names the app-side operations return on the device. */
export type OtaErrorCode =
  | 'ESP_FAIL'
  | 'ESP_ERR_INVALID_ARG'
  | 'ESP_ERR_NOT_FOUND'
  | 'ESP_ERR_OTA_PARTITION_CONFLICT'
  | 'ESP_ERR_OTA_VALIDATE_FAILED'
  | 'ESP_ERR_OTA_ROLLBACK_FAILED'
  | 'ESP_ERR_OTA_ROLLBACK_INVALID_STATE';

export class OtaError extends Error {
  constructor(
    readonly code: OtaErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'OtaError';
  }
}

/**
 * The running app's view of OTA (esp_ota_ops), over the same flash the bootloader uses.
 * `running` is the slot `boot` started (on the device ESP-IDF finds it from the address of
 * its own code). Every method reads otadata afresh, as ESP-IDF does.
 */
export class OtaOps {
  private readonly layout: AppLayout;
  private readonly running: PartitionInfo;

  constructor(
    private readonly flash: FlashImage,
    running: AppSlot,
  ) {
    this.layout = appLayout(flash.partitions());
    this.running = partitionFor(this.layout, running, flash);
  }

  /** esp_ota_get_running_partition. */
  runningPartition(): PartitionInfo {
    return this.running;
  }

  /** The number of OTA slots (esp_ota_get_app_partition_count). */
  slotCount(): number {
    return this.layout.ota.length;
  }

  /** Both otadata entries as they are in flash. */
  otadata(): [OtaSelectEntry, OtaSelectEntry] {
    return readOtadata(this.otadataView());
  }

  /**
   * esp_ota_get_next_update_partition(NULL): the OTA slot after the running one, wrapping
   * to ota_0; ota_0 when the running app is not in an OTA slot.
   */
  nextUpdatePartition(): PartitionInfo {
    const { ota } = this.layout;
    if (ota.length === 0) throw new OtaError('ESP_ERR_NOT_FOUND', `Board ${this.flash.boardName} has no OTA app partitions`);
    const index = ota.findIndex((p) => p.label === this.running.label);
    return ota[index === -1 ? 0 : (index + 1) % ota.length]!;
  }

  /** esp_ota_get_boot_partition: the partition otadata selects (what the next boot tries first). */
  bootPartition(): PartitionInfo | undefined {
    const entries = this.otadata();
    const { ota } = this.layout;
    if ((isOtaSelectInvalid(entries[0]) && isOtaSelectInvalid(entries[1])) || ota.length === 0) return this.defaultBootPartition();
    const active = activeOtadata(entries);
    if (active === -1) return this.defaultBootPartition();
    return ota[slotForSeq(entries[active].seq, ota.length)];
  }

  /** esp_ota_get_state_partition: the slot's otadata state, or undefined (ESP_ERR_NOT_FOUND). */
  partitionState(slot: AppSlot): number | undefined {
    const index = otaIndexOf(slot);
    if (index === undefined) throw new OtaError('ESP_ERR_INVALID_ARG', `${slot} is not an OTA slot (esp_ota_get_state_partition: ESP_ERR_NOT_SUPPORTED)`);
    return stateOfSlot(this.otadata(), index, this.layout.ota.length);
  }

  /** The running slot's otadata state (NEW, PENDING_VERIFY…) or undefined. */
  runningState(): number | undefined {
    const index = otaIndexOf(slotOf(this.running));
    return index === undefined ? undefined : stateOfSlot(this.otadata(), index, this.layout.ota.length);
  }

  /**
   * esp_ota_begin(partition, imageSize) with rollback enabled: refuses the running slot and
   * refuses while the running app is still PENDING_VERIFY (it must mark itself valid first);
   * erases the slot (the whole of it when `imageSize` is absent, else the sectors the image
   * needs); then erases the inactive otadata entry when it selects a slot other than the
   * running one (esp_ota_invalidate_inactive_ota_data_slot), so that a rollback can never
   * land on the half-written slot. Returns the slot to write the image into.
   */
  beginUpdate(slot: AppSlot = slotOf(this.nextUpdatePartition()), imageSize?: number): PartitionView {
    const partition = partitionFor(this.layout, slot, this.flash);
    if (otaIndexOf(slot) === undefined) throw new OtaError('ESP_ERR_INVALID_ARG', `${slot} is not an OTA slot`);
    if (partition.label === this.running.label) {
      throw new OtaError('ESP_ERR_OTA_PARTITION_CONFLICT', `${slot} is the running partition: an update goes to another slot`);
    }
    if (this.runningState() === OtaImgState.PENDING_VERIFY) {
      throw new OtaError(
        'ESP_ERR_OTA_ROLLBACK_INVALID_STATE',
        `the running app (${this.running.label}) is PENDING_VERIFY: it must mark itself valid before starting another update`,
      );
    }
    const view = new PartitionView(this.flash, partition);
    if (imageSize !== undefined && (!Number.isInteger(imageSize) || imageSize < 0 || imageSize > view.byteLength)) {
      throw new OtaError('ESP_ERR_INVALID_ARG', `image size ${imageSize} does not fit ${slot} (${view.byteLength} bytes)`);
    }
    const blocks = imageSize === undefined || imageSize === 0 ? view.byteLength / view.blockLength : Math.ceil(imageSize / view.blockLength);
    for (let index = 0; index < blocks; index++) view.eraseBlock(index);
    this.invalidateInactiveOtadata();
    return view;
  }

  /**
   * esp_ota_resume: the slot to continue writing an interrupted download into, as it is —
   * nothing erased, otadata untouched (esp_ota_begin did both when the download started).
   * Refuses the running slot.
   */
  resumeUpdate(slot: AppSlot = slotOf(this.nextUpdatePartition())): PartitionView {
    const partition = partitionFor(this.layout, slot, this.flash);
    if (otaIndexOf(slot) === undefined) throw new OtaError('ESP_ERR_INVALID_ARG', `${slot} is not an OTA slot`);
    if (partition.label === this.running.label) {
      throw new OtaError('ESP_ERR_OTA_PARTITION_CONFLICT', `${slot} is the running partition: an update goes to another slot`);
    }
    return new PartitionView(this.flash, partition);
  }

  /**
   * esp_ota_set_boot_partition: checks the slot's image (ESP_ERR_OTA_VALIDATE_FAILED), then
   * writes the otadata entry that selects it, in state NEW (rollback enabled): into the
   * inactive sector with the least ota_seq above the active one that maps to the slot, or,
   * when the active entry already selects the slot, over the active entry with its seq kept.
   * For the factory app it erases otadata.
   */
  setBootPartition(slot: AppSlot): void {
    const partition = partitionFor(this.layout, slot, this.flash);
    try {
      verifySlotImage(this.flash, partition);
    } catch (error) {
      if (error instanceof ImageError) throw new OtaError('ESP_ERR_OTA_VALIDATE_FAILED', error.message);
      throw error;
    }
    if (slot === 'factory') {
      eraseOtadata(this.otadataView());
      return;
    }
    const index = otaIndexOf(slot);
    if (index === undefined) throw new OtaError('ESP_ERR_INVALID_ARG', `${slot} cannot be a boot partition`);
    const view = this.otadataView();
    const entries = readOtadata(view);
    const count = this.layout.ota.length;
    const active = activeOtadata(entries);
    let next: OtadataIndex;
    let seq: number;
    if (active !== -1) {
      if (slotForSeq(entries[active].seq, count) === index) {
        next = active;
        seq = entries[active].seq;
      } else {
        next = active === 0 ? 1 : 0;
        seq = seqForSlot(entries[active].seq, index, count);
      }
    } else {
      next = 0;
      seq = index + 1;
    }
    // rewrite_ota_seq keeps the sector's old seq_label bytes; ESP-IDF never sets them.
    writeOtadataEntry(view, next, makeOtaSelectEntry(seq, OtaImgState.NEW, entries[next].seqLabel));
  }

  /**
   * esp_ota_mark_app_valid_cancel_rollback: the active otadata entry becomes VALID (rewritten
   * in place) unless it already is. ESP_FAIL when no entry is active ("running firmware is
   * factory").
   */
  markValid(): void {
    const view = this.otadataView();
    const entries = readOtadata(view);
    const active = activeOtadata(entries);
    if (active === -1 || this.layout.ota.length === 0) {
      throw new OtaError('ESP_FAIL', 'no active otadata entry: the running firmware is the factory app (nothing to confirm)');
    }
    if (entries[active].state !== OtaImgState.VALID) {
      entries[active].state = OtaImgState.VALID;
      writeOtadataEntry(view, active, entries[active]);
    }
  }

  /**
   * esp_ota_mark_app_invalid_rollback: the active entry becomes INVALID, so the next boot
   * starts the previous image. Refused (ESP_ERR_OTA_ROLLBACK_FAILED, nothing written) when
   * no other image could boot. The caller restarts the device
   * (esp_ota_mark_app_invalid_rollback_and_reboot = this, then esp_restart).
   */
  markInvalidAndRollback(): void {
    const view = this.otadataView();
    const entries = readOtadata(view);
    const active = activeOtadata(entries);
    if (active === -1 || this.layout.ota.length === 0) {
      throw new OtaError('ESP_FAIL', 'no active otadata entry: the running firmware is the factory app');
    }
    if (!this.rollbackPossible()) {
      throw new OtaError('ESP_ERR_OTA_ROLLBACK_FAILED', 'rollback is not possible: no other slot holds a bootable image with a valid otadata entry');
    }
    entries[active].state = OtaImgState.INVALID;
    writeOtadataEntry(view, active, entries[active]);
  }

  /**
   * esp_ota_check_rollback_is_possible: the inactive otadata entry is valid and its slot
   * holds an image that verifies (or, with no valid inactive entry, a factory app does).
   */
  rollbackPossible(): boolean {
    if (!this.layout.otadata || this.layout.ota.length === 0) return false;
    const entries = this.otadata();
    const valid: [boolean, boolean] = [isOtaSelectValid(entries[0]), isOtaSelectValid(entries[1])];
    const active = selectOtadata(entries, valid, true);
    if (active === -1) return false;
    const last = active === 0 ? 1 : 0;
    if (!valid[last]) return this.layout.factory !== undefined && 'image' in tryVerify(this.flash, this.layout.factory);
    const partition = this.layout.ota[slotForSeq(entries[last].seq, this.layout.ota.length)];
    return partition !== undefined && 'image' in tryVerify(this.flash, partition);
  }

  /**
   * esp_ota_get_last_invalid_partition: the slot of the older INVALID/ABORTED entry (good
   * CRC), if its image still verifies — what the firmware reports after a rollback.
   */
  lastInvalidPartition(): PartitionInfo | undefined {
    const entries = this.otadata();
    const flags = entries.map(
      (e) => e.seq !== UINT32_MAX && otaSelectCrcOk(e) && (e.state === OtaImgState.INVALID || e.state === OtaImgState.ABORTED),
    ) as [boolean, boolean];
    const index = selectOtadata(entries, flags, false);
    if (index === -1 || this.layout.ota.length === 0) return undefined;
    const partition = this.layout.ota[slotForSeq(entries[index].seq, this.layout.ota.length)];
    if (partition && !('image' in tryVerify(this.flash, partition))) return undefined;
    return partition;
  }

  /** esp_ota_invalidate_inactive_ota_data_slot (erase_last_boot_app_partition without the app erase). */
  private invalidateInactiveOtadata(): void {
    const view = this.otadataView();
    const entries = readOtadata(view);
    const count = this.layout.ota.length;
    const active = activeOtadata(entries);
    if (active === -1 || count === 0) return;
    const inactive: OtadataIndex = active === 0 ? 1 : 0;
    const entry = entries[inactive];
    if (entry.seq === UINT32_MAX || !otaSelectCrcOk(entry)) return;
    const partition = this.layout.ota[slotForSeq(entry.seq, count)];
    if (!partition || partition.label === this.running.label) return;
    eraseOtadataEntry(view, inactive);
  }

  private defaultBootPartition(): PartitionInfo | undefined {
    return this.layout.factory ?? this.layout.ota[0] ?? this.layout.test;
  }

  private otadataView(): PartitionView {
    if (!this.layout.otadata) throw new OtaError('ESP_ERR_NOT_FOUND', `Board ${this.flash.boardName} has no otadata partition`);
    return new PartitionView(this.flash, this.layout.otadata);
  }
}

