import { FlashError } from '../../hal/flash';
import { DeviceFlash } from '../../host-sim/flash/device-flash';
import { FlashImage } from '../../host-sim/flash/flash-image';
import { PartitionView } from '../../host-sim/flash/partition';
import { smallBoard } from './small-board';
import { useTempDir } from './temp-dir';

const newPath = useTempDir();

function withFlash(run: (flash: DeviceFlash, image: FlashImage) => void): void {
  const image = FlashImage.open(newPath(), smallBoard);
  try {
    run(new DeviceFlash(image), image);
  } finally {
    image.close();
  }
}

describe('PartitionView', () => {
  test('offsets and blocks are relative to the partition', () => {
    withFlash((flash, image) => {
      const otadata = flash.open('otadata');
      expect(otadata.info).toEqual({ label: 'otadata', type: 'data', subtype: 'ota', offset: 0xd000, size: 0x2000 });
      expect(otadata.blockLength).toBe(4096);
      expect(otadata.byteLength).toBe(0x2000);
      otadata.write(new Uint8Array([1, 2]), 0x1000);
      expect(image.read(0xe000, 2)).toEqual(new Uint8Array([1, 2]));
      expect(otadata.read(2, 0x1000)).toEqual(new Uint8Array([1, 2]));
      otadata.eraseBlock(1);
      expect(image.stats.erasesBySector[0xe]).toBe(1);
      expect(otadata.read(2, 0x1000)).toEqual(new Uint8Array([0xff, 0xff]));
    });
  });

  test('keeps the NOR rules', () => {
    withFlash((flash, image) => {
      const nvs = flash.open('nvs');
      nvs.write(new Uint8Array([0x0f]), 0);
      nvs.write(new Uint8Array([0xf1]), 0);
      expect(nvs.read(1, 0)).toEqual(new Uint8Array([0x01]));
      expect(image.stats.bitSetAttempts).toBe(1);
    });
  });

  test.each<[string, (p: PartitionView) => void, RegExp]>([
    ['read across the end', (p) => p.read(2, 0x1fff), /Flash read of 2 bytes at offset 8191 is outside partition "otadata" \(8192 bytes\)/],
    ['write across the end', (p) => p.write(new Uint8Array(2), 0x1fff), /outside partition "otadata"/],
    ['negative offset', (p) => p.read(1, -1), /outside partition/],
    ['negative length', (p) => p.read(-1, 0), /outside partition/],
    ['erase past the last block', (p) => p.eraseBlock(2), /Erase of block 2 in partition "otadata": its blocks are 0 to 1/],
    ['erase a fractional block', (p) => p.eraseBlock(0.5), /its blocks are 0 to 1/],
  ])('%s throws FlashError, even when the flash goes on', (_, operation, message) => {
    withFlash((flash, image) => {
      const otadata = flash.open('otadata') as PartitionView;
      expect(() => operation(otadata)).toThrow(FlashError);
      expect(() => operation(otadata)).toThrow(message);
      expect(image.stats.writes + image.stats.erases + image.stats.reads).toBe(0);
    });
  });
});

describe('DeviceFlash', () => {
  test('lists the image\'s partitions', () => {
    withFlash((flash) => {
      expect(flash.partitions()).toEqual(smallBoard.partitions);
    });
  });

  test('an unknown label names the ones that exist', () => {
    withFlash((flash) => {
      expect(() => flash.open('spiffs')).toThrow(new FlashError('No flash partition "spiffs"; this device has: nvs, otadata, ota_0'));
    });
  });
});
