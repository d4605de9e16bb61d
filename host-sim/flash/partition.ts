/**
 * One partition of a simulated flash, as firmware sees it through the HAL: offsets and block
 * numbers relative to the partition, every access checked against its bounds.
 */
import { FlashError, type FlashPartition, type PartitionInfo } from '../../hal/flash';
import { SECTOR_SIZE, type FlashImage } from './flash-image';

export class PartitionView implements FlashPartition {
  readonly blockLength = SECTOR_SIZE;
  readonly byteLength: number;

  constructor(
    private readonly image: FlashImage,
    readonly info: PartitionInfo,
  ) {
    if (info.offset % SECTOR_SIZE !== 0 || info.size % SECTOR_SIZE !== 0 || info.offset + info.size > image.flashSize) {
      throw new FlashError(`Partition "${info.label}" (0x${info.offset.toString(16)}+0x${info.size.toString(16)}) is not whole sectors inside the flash`);
    }
    this.byteLength = info.size;
  }

  read(length: number, offset: number): Uint8Array {
    this.checkRange('read', offset, length);
    return this.image.read(this.info.offset + offset, length);
  }

  write(bytes: Uint8Array, offset: number): void {
    this.checkRange('write', offset, bytes.length);
    this.image.write(this.info.offset + offset, bytes);
  }

  eraseBlock(index: number): void {
    const blocks = this.byteLength / this.blockLength;
    if (!Number.isInteger(index) || index < 0 || index >= blocks) {
      throw new FlashError(`Erase of block ${index} in partition "${this.info.label}": its blocks are 0 to ${blocks - 1}`);
    }
    this.image.eraseSector(this.info.offset / SECTOR_SIZE + index);
  }

  private checkRange(operation: string, offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.byteLength) {
      throw new FlashError(
        `Flash ${operation} of ${length} bytes at offset ${offset} is outside partition "${this.info.label}" (${this.byteLength} bytes)`,
      );
    }
  }
}
