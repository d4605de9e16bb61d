import { boot, OtaOps, type AppSlot, type BootResult } from '../../host-sim/boot/bootloader';
import { readOtadata, type OtaSelectEntry } from '../../host-sim/boot/otadata';
import { FlashImage } from '../../host-sim/flash/flash-image';
import { PartitionView } from '../../host-sim/flash/partition';
import { writeImageToSlot } from '../../host-sim/ota/image';
import { otaBoard } from './ota-board';

/** A device's flash file, rebooted by closing and reopening it (a power cycle). */
export class SimDevice {
  flash: FlashImage;

  /** `instrument` is called with every FlashImage opened (to install fault hooks that survive reboots). */
  constructor(
    readonly file: string,
    readonly board = otaBoard,
    private readonly instrument?: (flash: FlashImage) => void,
  ) {
    this.flash = this.open();
  }

  /** Power off and on, then run the bootloader. */
  reboot(): BootResult {
    this.flash.close();
    this.flash = this.open();
    return boot(this.flash);
  }

  private open(): FlashImage {
    const flash = FlashImage.open(this.file, this.board);
    this.instrument?.(flash);
    return flash;
  }

  ops(running: AppSlot): OtaOps {
    return new OtaOps(this.flash, running);
  }

  otadata(): [OtaSelectEntry, OtaSelectEntry] {
    return readOtadata(new PartitionView(this.flash, this.flash.partitions().find((p) => p.label === 'otadata')!));
  }

  /** The app's side of an update, as the OTA agent will do it: begin, write, set boot partition. */
  stageUpdate(running: AppSlot, image: Uint8Array): AppSlot {
    const ops = this.ops(running);
    const target = ops.nextUpdatePartition().subtype as AppSlot;
    const slot = ops.beginUpdate(target, image.length);
    writeImageToSlot(slot, image, { erase: 'none' });
    ops.setBootPartition(target);
    return target;
  }

  close(): void {
    this.flash.close();
  }
}
