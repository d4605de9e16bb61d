/**
 * The host side of the firmware's OTA HAL for one boot: writes go to the slot that is not
 * running, erased block by block just ahead of the writes (as esp_ota_write does with
 * sequential writes), and the bootloader's otadata operations (host-sim/boot) do the rest.
 */
import type { BoardDefinition } from '../../hal/board';
import { OtaError } from '../../hal/ota';
import { OtaOps, type AppSlot } from '../boot/bootloader';
import { otaStateToAppState } from '../boot/otadata';
import type { OtaHost } from '../device-host';
import type { FlashImage } from '../flash/flash-image';
import type { PartitionView } from '../flash/partition';
import { ImageError, parseImageHeader, readImageFromSlot, IMAGE_HEADER_SIZE } from './image';

export class SlotOtaHost implements OtaHost {
  private readonly ops: OtaOps;
  private view: PartitionView | undefined;
  /** Blocks erased for this update session: a block is erased before the first write that starts it. */
  private erased = new Set<number>();

  constructor(
    flash: FlashImage,
    private readonly runningSlot: AppSlot,
    private readonly board: BoardDefinition,
  ) {
    this.ops = new OtaOps(flash, runningSlot);
  }

  status() {
    const next = this.ops.nextUpdatePartition();
    return { running: this.runningSlot, state: otaStateToAppState(this.ops.runningState()), capacity: next.size };
  }

  open(resume: boolean) {
    this.erased = new Set();
    this.view = this.guard(() => (resume ? this.ops.resumeUpdate() : this.ops.beginUpdate(undefined, 1)));
    // beginUpdate erased the first block already.
    if (!resume) this.erased.add(0);
    return { capacity: this.view.byteLength };
  }

  write(offset: number, bytes: Uint8Array): void {
    const view = this.requireView();
    if (offset < 0 || offset + bytes.length > view.byteLength) {
      throw new OtaError(`a write of ${bytes.length} bytes at ${offset} runs past the ${view.byteLength}-byte slot`);
    }
    const block = view.blockLength;
    for (let first = Math.ceil(offset / block) * block; first < offset + bytes.length; first += block) {
      const index = first / block;
      if (!this.erased.has(index)) {
        view.eraseBlock(index);
        this.erased.add(index);
      }
    }
    view.write(bytes, offset);
  }

  read(offset: number, length: number): Uint8Array {
    return this.requireView().read(length, offset);
  }

  complete(byteLength: number): void {
    const view = this.requireView();
    const header = this.guard(() => parseImageHeader(view.read(IMAGE_HEADER_SIZE, 0), 'the new image'));
    if (header.board !== this.board.name) {
      throw new OtaError(`the new image is for board ${header.board}, this device is ${this.board.name}: not activated`);
    }
    if (IMAGE_HEADER_SIZE + header.payloadLength !== byteLength) {
      throw new OtaError(`the image header says ${IMAGE_HEADER_SIZE + header.payloadLength} bytes, ${byteLength} were written: not activated`);
    }
    this.guard(() => readImageFromSlot(view)); // checks the payload hash
    this.guard(() => this.ops.setBootPartition(view.info.label as AppSlot));
    this.view = undefined;
  }

  abort(): void {
    this.view = undefined;
  }

  markValid(): void {
    this.guard(() => this.ops.markValid());
  }

  rollback(): void {
    this.guard(() => this.ops.markInvalidAndRollback());
  }

  private requireView(): PartitionView {
    if (!this.view) throw new OtaError('no update is open: call openNext() first');
    return this.view;
  }

  /** Bootloader and image errors reach the firmware as OtaErrors with the same message. */
  private guard<T>(action: () => T): T {
    try {
      return action();
    } catch (error) {
      if (error instanceof ImageError || (error as Error).name === 'OtaError') throw new OtaError((error as Error).message);
      throw error;
    }
  }
}
