/** The HAL's Flash over a simulated device's flash image: its partition table and partitions. */
import { FlashError, type Flash, type FlashPartition, type PartitionInfo } from '../../hal/flash';
import type { FlashImage } from './flash-image';
import { PartitionView } from './partition';

export class DeviceFlash implements Flash {
  constructor(private readonly image: FlashImage) {}

  partitions(): PartitionInfo[] {
    return this.image.partitions();
  }

  open(label: string): FlashPartition {
    const partitions = this.image.partitions();
    const info = partitions.find((p) => p.label === label);
    if (!info) {
      throw new FlashError(`No flash partition "${label}"; this device has: ${partitions.map((p) => p.label).join(', ')}`);
    }
    return new PartitionView(this.image, info);
  }
}
