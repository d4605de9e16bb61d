import * as fs from 'node:fs';
import { FlashError } from '../../hal/flash';
import esp32DevkitC from '../../boards/esp32-devkitc';
import { FlashImage, SECTOR_SIZE, type FlashMutation } from '../../host-sim/flash/flash-image';
import { PARTITION_TABLE_OFFSET } from '../../host-sim/flash/partition-table';
import { armPowerCut, PowerCutError } from '../../host-sim/flash/power-cut';
import { smallBoard } from './small-board';
import { useTempDir } from './temp-dir';

const newPath = useTempDir();

function withImage(run: (image: FlashImage, file: string) => void, board = smallBoard): void {
  const file = newPath();
  const image = FlashImage.open(file, board);
  try {
    run(image, file);
  } finally {
    image.close();
  }
}

describe('creating an image', () => {
  test('a new 4 MB image is erased but for the partition table at 0x8000', () => {
    withImage((image, file) => {
      expect(fs.statSync(file).size).toBe(0x400000);
      expect(image.partitions()).toEqual(esp32DevkitC.partitions);
      expect(image.read(0, PARTITION_TABLE_OFFSET).every((b) => b === 0xff)).toBe(true);
      expect(image.read(0x9000, 0x400000 - 0x9000).every((b) => b === 0xff)).toBe(true);
      expect(image.read(PARTITION_TABLE_OFFSET, 2)).toEqual(new Uint8Array([0xaa, 0x50]));
    }, esp32DevkitC);
  });

  test('creates missing directories and leaves no temporary file', () => {
    const file = `${newPath()}.d/state/device.bin`;
    FlashImage.open(file, smallBoard).close();
    expect(fs.readdirSync(file.replace(/\/device\.bin$/, ''))).toEqual(['device.bin']);
  });

  test('refuses a board whose table does not fit its flash', () => {
    const board = { ...smallBoard, flashSize: 0x10000 };
    expect(() => FlashImage.open(newPath(), board)).toThrow(/beyond the 0x10000 bytes of flash/);
  });
});

describe('NOR semantics', () => {
  test('a write stores old AND new; setting a 0 bit is counted, not done', () => {
    withImage((image) => {
      image.write(0x9000, new Uint8Array([0xf0, 0xff]));
      expect(image.stats.bitSetAttempts).toBe(0);
      image.write(0x9000, new Uint8Array([0x3c, 0x0f]));
      expect(image.read(0x9000, 2)).toEqual(new Uint8Array([0x30, 0x0f]));
      expect(image.stats.bitSetAttempts).toBe(1);
      image.write(0x9001, new Uint8Array([0x05])); // clears bits only
      expect(image.read(0x9001, 1)).toEqual(new Uint8Array([0x05]));
      expect(image.stats.bitSetAttempts).toBe(1);
      expect(image.stats.writes).toBe(3);
      expect(image.stats.bytesWritten).toBe(5);
    });
  });

  test('erase sets the whole 4 KB sector, and only it, to 0xFF, and counts wear per sector', () => {
    withImage((image) => {
      image.write(0x9000 - 1, new Uint8Array(SECTOR_SIZE + 2));
      image.eraseSector(9);
      expect(image.read(0x9000, SECTOR_SIZE).every((b) => b === 0xff)).toBe(true);
      expect(image.read(0x9000 - 1, 1)).toEqual(new Uint8Array([0]));
      expect(image.read(0xa000, 1)).toEqual(new Uint8Array([0]));
      image.eraseSector(9);
      expect(image.stats.erases).toBe(2);
      expect(image.stats.erasesBySector[9]).toBe(2);
      expect(image.stats.erasesBySector[10]).toBe(0);
      expect(image.stats.erasesBySector).toHaveLength(smallBoard.flashSize / SECTOR_SIZE);
    });
  });

  test('the caller may reuse its buffer', () => {
    withImage((image) => {
      const bytes = new Uint8Array([1, 2, 3]);
      image.write(0x9000, bytes);
      bytes.fill(0);
      expect(image.read(0x9000, 3)).toEqual(new Uint8Array([1, 2, 3]));
    });
  });
});

describe('persistence', () => {
  test('contents survive close and open; stats start afresh', () => {
    const file = newPath();
    const image = FlashImage.open(file, smallBoard);
    image.write(0x10000, new Uint8Array([1, 2, 3]));
    image.eraseSector(0x11);
    image.close();
    const again = FlashImage.open(file, smallBoard);
    expect(again.read(0x10000, 4)).toEqual(new Uint8Array([1, 2, 3, 0xff]));
    expect(again.stats.writes).toBe(0);
    again.close();
  });

  test('refuses a file of another size, telling the user what to do', () => {
    const file = newPath();
    fs.writeFileSync(file, new Uint8Array(0x10000));
    expect(() => FlashImage.open(file, smallBoard)).toThrow(
      /is 65536 bytes, but board test-small has 131072 bytes of flash: it is not a flash image of this board\. Delete the file .* or choose another state directory/,
    );
  });

  test('refuses an image of another board', () => {
    const file = newPath();
    FlashImage.open(file, smallBoard).close();
    const other = { ...smallBoard, name: 'other', partitions: smallBoard.partitions.map((p) => (p.label === 'nvs' ? { ...p, size: 0x3000 } : p)) };
    expect(() => FlashImage.open(file, other)).toThrow(/holds a partition table other than board other's \(it has: nvs data\/nvs 0x9000\+0x4000, .*\)\. Delete the file/);
  });

  test('refuses an image whose partition table is corrupt', () => {
    const file = newPath();
    FlashImage.open(file, smallBoard).close();
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, new Uint8Array([0x00]), 0, 1, PARTITION_TABLE_OFFSET + 5);
    fs.closeSync(fd);
    expect(() => FlashImage.open(file, smallBoard)).toThrow(/has no valid partition table \(.*MD5 mismatch.*\); it is not a flash image of board test-small/);
  });

  test('partitions() reads the table from the image, not from the board', () => {
    withImage((image) => {
      image.write(PARTITION_TABLE_OFFSET + 44, new Uint8Array([0])); // first byte of the second label
      expect(() => image.partitions()).toThrow(/MD5 mismatch/);
    });
  });
});

describe('bounds and misuse', () => {
  test.each<[string, (image: FlashImage) => void, RegExp]>([
    ['read past the end', (i) => i.read(0x1ffff, 2), /Flash read of 2 bytes at 0x1ffff is outside the 0x20000 bytes/],
    ['negative offset', (i) => i.read(-1, 1), /outside/],
    ['fractional offset', (i) => i.write(1.5, new Uint8Array(1)), /outside/],
    ['write past the end', (i) => i.write(0x20000, new Uint8Array(1)), /Flash write of 1 bytes at 0x20000 is outside/],
    ['erase a sector past the end', (i) => i.eraseSector(32), /sectors are 0 to 31/],
    ['erase a negative sector', (i) => i.eraseSector(-1), /sectors are 0 to 31/],
  ])('%s throws FlashError', (_, operation, message) => {
    withImage((image) => {
      expect(() => operation(image)).toThrow(FlashError);
      expect(() => operation(image)).toThrow(message);
      expect(image.stats.writes + image.stats.erases).toBe(0);
    });
  });

  test('a closed image refuses everything', () => {
    const image = FlashImage.open(newPath(), smallBoard);
    image.close();
    image.close();
    expect(() => image.read(0, 1)).toThrow(/is closed/);
    expect(() => image.eraseSector(0)).toThrow(/is closed/);
  });
});

describe('fault injection', () => {
  test('the hook sees every mutation before it happens; throwing prevents it', () => {
    withImage((image) => {
      const seen: FlashMutation[] = [];
      image.onBeforeMutation = (op) => {
        seen.push(op);
        if (op.kind === 'erase') throw new Error('refused');
      };
      image.write(0x9000, new Uint8Array([0]));
      expect(() => image.eraseSector(9)).toThrow('refused');
      expect(image.read(0x9000, 1)).toEqual(new Uint8Array([0]));
      expect(image.stats.erases).toBe(0);
      expect(seen).toEqual([
        { kind: 'write', offset: 0x9000, length: 1, bytes: new Uint8Array([0]) },
        { kind: 'erase', offset: 0x9000, length: SECTOR_SIZE },
      ]);
    });
  });

  test('a power cut during a write leaves a prefix of the bytes written', () => {
    withImage((image) => {
      const cut = armPowerCut(image, 1, () => 0.5);
      image.write(0x9000, new Uint8Array([0x11]));
      expect(cut.fired).toBe(false);
      expect(() => image.write(0x9100, new Uint8Array(100).fill(0x22))).toThrow(PowerCutError);
      expect(cut.fired).toBe(true);
      const after = image.read(0x9100, 100);
      expect(after.subarray(0, 50).every((b) => b === 0x22)).toBe(true);
      expect(after.subarray(50).every((b) => b === 0xff)).toBe(true);
      // the device is off: nothing more happens until it is "rebooted" (reopened)
      expect(() => image.write(0x9200, new Uint8Array([0]))).toThrow(PowerCutError);
      expect(image.read(0x9200, 1)).toEqual(new Uint8Array([0xff]));
    });
  });

  test('a power cut during an erase leaves a prefix of the sector erased', () => {
    withImage((image) => {
      image.write(0x9000, new Uint8Array(SECTOR_SIZE));
      armPowerCut(image, 0, () => 0.25);
      expect(() => image.eraseSector(9)).toThrow(/power cut during flash erase at 0x9000 after 1024 of 4096 bytes/);
      const sector = image.read(0x9000, SECTOR_SIZE);
      expect(sector.subarray(0, 1024).every((b) => b === 0xff)).toBe(true);
      expect(sector.subarray(1024).every((b) => b === 0)).toBe(true);
      expect(image.stats.erasesBySector[9]).toBe(1);
    });
  });

  test('a torn image persists: reopening shows the torn state', () => {
    const file = newPath();
    const image = FlashImage.open(file, smallBoard);
    armPowerCut(image, 0, () => 0.5);
    expect(() => image.write(0x9000, new Uint8Array([1, 2, 3, 4]))).toThrow(PowerCutError);
    image.close();
    const rebooted = FlashImage.open(file, smallBoard);
    expect(rebooted.read(0x9000, 4)).toEqual(new Uint8Array([1, 2, 0xff, 0xff]));
    rebooted.close();
  });

  test('disarm removes the hook', () => {
    withImage((image) => {
      const cut = armPowerCut(image, 0);
      cut.disarm();
      image.eraseSector(9);
      expect(cut.fired).toBe(false);
    });
  });
});
