import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { PartitionInfo } from '../../hal/flash';
import { FlashError } from '../../hal/flash';
import esp32DevkitC from '../../boards/esp32-devkitc';
import {
  decodePartitionTable,
  encodePartitionTable,
  MAX_PARTITIONS,
  PARTITION_TABLE_LENGTH,
  partitionTableProblems,
  PartitionTableError,
  subtypeName,
  subtypeNumber,
  validatePartitionTable,
} from '../../host-sim/flash/partition-table';

function hexBytes(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

function label16(label: string): string {
  return Buffer.from(label.padEnd(16, '\0'), 'latin1').toString('hex');
}

const table = esp32DevkitC.partitions;

describe('encodePartitionTable: known answer, from gen_esp32part.py\'s struct "<2sBBLL16sL"', () => {
  const bytes = encodePartitionTable(table, esp32DevkitC.flashSize);

  test('is PARTITION_TABLE_LENGTH (0xC00) bytes', () => {
    expect(bytes.length).toBe(0xc00);
    expect(PARTITION_TABLE_LENGTH).toBe(0xc00);
  });

  test('first entry: nvs, data (1), nvs (2), 0x9000, 0x4000', () => {
    // magic AA 50 | type 01 | subtype 02 | offset 00 90 00 00 | size 00 40 00 00 | "nvs" NUL-padded | flags 0
    const expected = hexBytes(`aa50 01 02 00900000 00400000 ${label16('nvs')} 00000000`);
    expect(bytes.subarray(0, 32)).toEqual(expected);
  });

  test('app entry: ota_0, app (0), ota_0 (0x10), 0x10000, 0x180000', () => {
    const expected = hexBytes(`aa50 00 10 00000100 00001800 ${label16('ota_0')} 00000000`);
    expect(bytes.subarray(3 * 32, 4 * 32)).toEqual(expected);
  });

  test('outbox is data/undefined (0x06)', () => {
    expect(bytes[5 * 32 + 2]).toBe(0x01);
    expect(bytes[5 * 32 + 3]).toBe(0x06);
  });

  test('an MD5 entry follows the entries: EB EB, 14 x FF, MD5 of the entry bytes', () => {
    const entriesEnd = table.length * 32;
    const md5 = createHash('md5').update(bytes.subarray(0, entriesEnd)).digest();
    expect(bytes.subarray(entriesEnd, entriesEnd + 16)).toEqual(hexBytes('ebeb' + 'ff'.repeat(14)));
    expect(Buffer.from(bytes.subarray(entriesEnd + 16, entriesEnd + 32))).toEqual(md5);
  });

  test('0xFF after the MD5 entry, to the end', () => {
    expect(bytes.subarray((table.length + 1) * 32).every((b) => b === 0xff)).toBe(true);
  });
});

describe('decodePartitionTable', () => {
  test('round-trips the board table', () => {
    expect(decodePartitionTable(encodePartitionTable(table))).toEqual(table);
  });

  test('round-trips any valid table (property)', () => {
    const subtypes = {
      app: ['factory', 'test', ...Array.from({ length: 16 }, (_, i) => `ota_${i}`)],
      data: ['ota', 'phy', 'nvs', 'coredump', 'nvs_keys', 'efuse', 'undefined', 'esphttpd', 'fat', 'spiffs', 'littlefs', '0x40', '0xfe'],
    };
    const entry = fc.oneof(
      fc.record({ type: fc.constant('app' as const), subtype: fc.constantFrom(...subtypes.app), blocks: fc.integer({ min: 16, max: 64 }) }),
      fc.record({ type: fc.constant('data' as const), subtype: fc.constantFrom(...subtypes.data), blocks: fc.integer({ min: 1, max: 8 }) }),
    );
    const layout = fc.record({
      entries: fc.array(fc.record({ entry, gap: fc.integer({ min: 0, max: 3 }), name: fc.string({ minLength: 0, maxLength: 12 }) }), {
        minLength: 0,
        maxLength: 20,
      }),
    });
    fc.assert(
      fc.property(layout, ({ entries }) => {
        let next = 0x9000;
        const partitions: PartitionInfo[] = entries.map(({ entry: e, gap, name }, i) => {
          const align = e.type === 'app' ? 0x10000 : 0x1000;
          const offset = Math.ceil((next + gap * 0x1000) / align) * align;
          const size = e.subtype === 'ota' && e.type === 'data' ? 0x2000 : e.subtype === 'nvs' ? Math.max(3, e.blocks) * 0x1000 : e.blocks * 0x1000;
          next = offset + size;
          // fast-check's default strings are printable ASCII: one byte a character, no NUL
          return { label: `${i}_${name}`.slice(0, 16), type: e.type, subtype: e.subtype, offset, size };
        });
        // at most one otadata
        const firstOta = partitions.findIndex((p) => p.type === 'data' && p.subtype === 'ota');
        const valid = partitions.map((p, i) => (p.type === 'data' && p.subtype === 'ota' && i !== firstOta ? { ...p, subtype: 'fat' } : p));
        expect(partitionTableProblems(valid)).toEqual([]);
        expect(decodePartitionTable(encodePartitionTable(valid))).toEqual(valid);
      }),
      { numRuns: 200 },
    );
  });

  test('a 16-byte label has no NUL and still decodes', () => {
    const partitions: PartitionInfo[] = [{ label: 'sixteen_bytes_ab', type: 'data', subtype: 'fat', offset: 0x9000, size: 0x1000 }];
    const bytes = encodePartitionTable(partitions);
    expect(bytes.subarray(12, 28).includes(0)).toBe(false);
    expect(decodePartitionTable(bytes)).toEqual(partitions);
  });

  test('unknown subtype numbers decode as hex strings and encode back', () => {
    expect(subtypeName('data', 0x40)).toBe('0x40');
    expect(subtypeNumber('data', '0x40')).toBe(0x40);
    expect(subtypeNumber('app', 'ota_15')).toBe(0x1f);
    expect(subtypeNumber('app', 'test')).toBe(0x20);
    expect(subtypeNumber('data', 'littlefs')).toBe(0x83);
    expect(subtypeNumber('data', 'ota_0')).toBeUndefined();
  });

  test('every single-byte corruption of the entries, MD5 entry or end marker is rejected', () => {
    const good = encodePartitionTable(table);
    const covered = (table.length + 2) * 32;
    for (let at = 0; at < covered; at++) {
      const bad = good.slice();
      bad[at] ^= 0x01;
      expect(() => decodePartitionTable(bad)).toThrow(PartitionTableError);
    }
  });

  test('a changed entry is reported as an MD5 mismatch', () => {
    const bad = encodePartitionTable(table);
    bad[8] ^= 0x10; // nvs size
    expect(() => decodePartitionTable(bad)).toThrow(/MD5 mismatch.*corrupt/);
  });

  test('bad magic is reported with where it was found', () => {
    const bad = encodePartitionTable(table);
    bad[32] = 0x12;
    expect(() => decodePartitionTable(bad)).toThrow(/Bad magic 1250 at partition table entry 1 \(flash 0x8020\)/);
  });

  test('erased flash holds no table', () => {
    expect(() => decodePartitionTable(new Uint8Array(0xc00).fill(0xff))).toThrow(/No partition table/);
  });

  test('a table without its MD5 entry is rejected', () => {
    const bad = encodePartitionTable(table);
    bad.fill(0xff, table.length * 32, (table.length + 1) * 32);
    expect(() => decodePartitionTable(bad)).toThrow(/no MD5 entry/);
  });

  test('a table without an end marker is rejected', () => {
    expect(() => decodePartitionTable(new Uint8Array(0xc00).fill(0x00))).toThrow(PartitionTableError);
  });

  test('PartitionTableError is a FlashError', () => {
    expect(new PartitionTableError('x')).toBeInstanceOf(FlashError);
  });
});

describe('validation', () => {
  const nvs: PartitionInfo = { label: 'nvs', type: 'data', subtype: 'nvs', offset: 0x9000, size: 0x4000 };

  test('the board table is valid for its flash', () => {
    expect(partitionTableProblems(table, esp32DevkitC.flashSize)).toEqual([]);
    expect(table.at(-1)!.offset + table.at(-1)!.size).toBe(esp32DevkitC.flashSize);
  });

  test.each<[string, PartitionInfo[], RegExp]>([
    ['overlap', [nvs, { label: 'b', type: 'data', subtype: 'fat', offset: 0xc000, size: 0x2000 }], /"b" at 0xc000 overlaps "nvs" \(0x9000-0xcfff\)/],
    ['unaligned app', [{ label: 'app', type: 'app', subtype: 'factory', offset: 0x18000, size: 0x10000 }], /offset 0x18000 is not a multiple of 0x10000/],
    ['unaligned data', [{ label: 'd', type: 'data', subtype: 'fat', offset: 0x9800, size: 0x1000 }], /offset 0x9800 is not a multiple of 0x1000/],
    ['size not whole sectors', [{ label: 'd', type: 'data', subtype: 'fat', offset: 0x9000, size: 0x1800 }], /size 0x1800 is not a positive multiple of 0x1000/],
    ['inside the table sector', [{ label: 'd', type: 'data', subtype: 'fat', offset: 0x8000, size: 0x1000 }], /below 0x9000/],
    ['label of 17 bytes', [{ ...nvs, label: 'seventeen_bytes_x' }], /1 to 16 bytes of UTF-8.*has 17/],
    ['label of 9 characters but 18 UTF-8 bytes', [{ ...nvs, label: 'ééééééééé' }], /has 18/],
    ['duplicate labels', [nvs, { ...nvs, offset: 0x10000 }], /labels must be unique/],
    ['unknown subtype', [{ ...nvs, subtype: 'nvram' }], /subtype "nvram" is not an ESP-IDF data subtype/],
    ['app subtype on data', [{ ...nvs, subtype: 'ota_0' }], /subtype "ota_0" is not an ESP-IDF data subtype/],
    ['otadata size', [{ label: 'otadata', type: 'data', subtype: 'ota', offset: 0x9000, size: 0x1000 }], /must be 0x2000 bytes/],
    ['small nvs', [{ ...nvs, size: 0x2000 }], /at least 0x3000/],
  ])('%s', (_, partitions, message) => {
    expect(() => validatePartitionTable(partitions)).toThrow(message);
    expect(() => encodePartitionTable(partitions)).toThrow(PartitionTableError);
  });

  test('must fit in flash', () => {
    expect(() => validatePartitionTable(table, 0x200000)).toThrow(/"ota_1": ends at 0x310000, beyond the 0x200000 bytes of flash/);
  });

  test('two otadata partitions', () => {
    const two: PartitionInfo[] = [
      { label: 'otadata', type: 'data', subtype: 'ota', offset: 0x9000, size: 0x2000 },
      { label: 'otadata2', type: 'data', subtype: 'ota', offset: 0xb000, size: 0x2000 },
    ];
    expect(() => validatePartitionTable(two)).toThrow(/more than one otadata/);
  });

  test('too many partitions for the 0xC00-byte table', () => {
    const many: PartitionInfo[] = Array.from({ length: MAX_PARTITIONS + 1 }, (_, i) => ({
      label: `p${i}`,
      type: 'data',
      subtype: 'fat',
      offset: 0x9000 + i * 0x1000,
      size: 0x1000,
    }));
    expect(() => validatePartitionTable(many)).toThrow(/95 partitions; the table holds at most 94/);
    expect(() => encodePartitionTable(many.slice(0, MAX_PARTITIONS))).not.toThrow();
  });

  test('lists every problem at once', () => {
    const problems = partitionTableProblems([{ ...nvs, label: '', size: 0x1000 }]);
    expect(problems).toHaveLength(2);
  });
});
