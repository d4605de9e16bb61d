import fc from 'fast-check';
import * as zlib from 'node:zlib';
import {
  activeOtadata,
  decodeOtaSelectEntry,
  describeOtadata,
  encodeOtaSelectEntry,
  espRomCrc32Le,
  isOtaSelectInvalid,
  isOtaSelectValid,
  makeOtaSelectEntry,
  OTA_SELECT_ENTRY_SIZE,
  OtaImgState,
  otaSelectCrc,
  otaStateName,
  readOtadata,
  selectOtadata,
  seqForSlot,
  slotForSeq,
  writeOtadataEntry,
  type OtaSelectEntry,
} from '../../host-sim/boot/otadata';
import { FlashImage } from '../../host-sim/flash/flash-image';
import { crc32 } from '../../firmware/codec/crc32';
import { PartitionView } from '../../host-sim/flash/partition';
import { useTempDir } from '../flash/temp-dir';
import { otaBoard } from './ota-board';
import { crcFromDefinition } from '../support/crc-reference';

const newPath = useTempDir();

const le32 = (value: number) => new Uint8Array([value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24]);
const ascii = (text: string) => new Uint8Array([...text].map((c) => c.charCodeAt(0)));

describe('esp_rom_crc32_le and the otadata CRC', () => {
  test('the reference implementation gives the CRC-32 check value (CRC catalogue: 123456789 → 0xCBF43926)', () => {
    expect(crcFromDefinition(ascii('123456789'), 0xffffffff, 0xffffffff)).toBe(0xcbf43926);
  });

  test('esp_rom_crc32_le(0, …) is the usual CRC-32 (zlib\'s, and firmware/codec/crc32)', () => {
    expect(espRomCrc32Le(0, ascii('123456789'))).toBe(0xcbf43926);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(espRomCrc32Le(0, bytes)).toBe(crc32(bytes));
      }),
    );
  });

  test('esp_rom_crc32_le complements its argument: with UINT32_MAX the register starts at 0 (init 0, xorout 0xFFFFFFFF)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(espRomCrc32Le(0xffffffff, bytes)).toBe(crcFromDefinition(bytes, 0x00000000, 0xffffffff));
      }),
    );
  });

  test('esp_rom_crc32_le continues a running CRC (its header\'s contract)', () => {
    const whole = ascii('thingkit over the air');
    expect(espRomCrc32Le(espRomCrc32Le(0, whole.subarray(0, 7)), whole.subarray(7))).toBe(espRomCrc32Le(0, whole));
  });

  test.each([
    // ota_seq, CRC: from Python's binascii.crc32(struct.pack('<I', seq), 0xFFFFFFFF), as otatool.py computes it
    [1, '4743989a'],
    [2, '55f63774'],
    [3, 'ed4a5011'],
    [0, 'ffffffff'],
  ])('known answer: ota_seq %i → CRC 0x%s', (seq, hex) => {
    const crc = parseInt(hex, 16);
    expect(otaSelectCrc(seq)).toBe(crc);
    expect(crcFromDefinition(le32(seq), 0, 0xffffffff)).toBe(crc);
  });

  test('equals zlib crc32 started from 0xFFFFFFFF (what binascii.crc32(data, 0xFFFFFFFF) does)', () => {
    const zlibCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
    if (!zlibCrc32) return; // Node < 20.15
    for (const seq of [1, 2, 3, 7, 0x7fffffff, 0xfffffffe]) expect(otaSelectCrc(seq)).toBe(zlibCrc32(le32(seq), 0xffffffff) >>> 0);
  });

  test('it is the usual CRC-32 of the complemented seq (the initial register folds into the first 32 bits)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (seq) => {
        expect(otaSelectCrc(seq)).toBe(crc32(le32(~seq >>> 0)));
      }),
    );
  });
});

describe('esp_ota_select_entry_t layout', () => {
  test('field by field: ota_seq u32 LE, seq_label[20], ota_state u32 LE, crc u32 LE — 32 bytes', () => {
    const bytes = encodeOtaSelectEntry(makeOtaSelectEntry(1, OtaImgState.PENDING_VERIFY));
    expect(bytes).toHaveLength(OTA_SELECT_ENTRY_SIZE);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x01, 0x00, 0x00, 0x00]); // ota_seq
    expect(bytes.subarray(4, 24).every((b) => b === 0xff)).toBe(true); // seq_label, unused: erased
    expect(Array.from(bytes.subarray(24, 28))).toEqual([0x01, 0x00, 0x00, 0x00]); // ESP_OTA_IMG_PENDING_VERIFY
    expect(Array.from(bytes.subarray(28, 32))).toEqual([0x9a, 0x98, 0x43, 0x47]); // crc 0x4743989A
  });

  test('multi-byte seq and state are little-endian', () => {
    const bytes = encodeOtaSelectEntry(makeOtaSelectEntry(0x01020304, OtaImgState.UNDEFINED));
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x04, 0x03, 0x02, 0x01]);
    expect(Array.from(bytes.subarray(24, 28))).toEqual([0xff, 0xff, 0xff, 0xff]);
    const crc = otaSelectCrc(0x01020304);
    expect(Array.from(bytes.subarray(28, 32))).toEqual([crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24]);
  });

  test('decode inverts encode, keeping the label bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ minLength: 20, maxLength: 20 }), (seq, state, label) => {
        const entry = makeOtaSelectEntry(seq, state, label);
        expect(decodeOtaSelectEntry(encodeOtaSelectEntry(entry))).toEqual(entry);
      }),
    );
  });

  test('the states have ESP-IDF\'s values', () => {
    expect(OtaImgState).toEqual({ NEW: 0, PENDING_VERIFY: 1, VALID: 2, INVALID: 3, ABORTED: 4, UNDEFINED: 0xffffffff });
    expect(otaStateName(4)).toBe('ABORTED');
    expect(otaStateName(9)).toBe('0x00000009');
  });
});

describe('validity and selection (bootloader_common_*)', () => {
  const entry = (seq: number, state: number): OtaSelectEntry => makeOtaSelectEntry(seq, state);
  const erased = decodeOtaSelectEntry(new Uint8Array(32).fill(0xff));
  const badCrc = { ...entry(5, OtaImgState.VALID), crc: 0x12345678 };

  test.each<[string, boolean, boolean, OtaSelectEntry]>([
    ['erased', true, false, erased],
    ['bad CRC', false, false, badCrc],
    ['NEW', false, true, entry(1, OtaImgState.NEW)],
    ['PENDING_VERIFY', false, true, entry(1, OtaImgState.PENDING_VERIFY)],
    ['VALID', false, true, entry(1, OtaImgState.VALID)],
    ['UNDEFINED', false, true, entry(1, OtaImgState.UNDEFINED)],
    ['INVALID', true, false, entry(1, OtaImgState.INVALID)],
    ['ABORTED', true, false, entry(1, OtaImgState.ABORTED)],
  ])('%s: invalid %p, valid %p', (_, invalid, valid, e) => {
    expect(isOtaSelectInvalid(e)).toBe(invalid);
    expect(isOtaSelectValid(e)).toBe(valid);
  });

  test('the active entry is the valid one with the larger seq; entry 0 on a tie; -1 when none', () => {
    expect(activeOtadata([entry(1, 2), entry(2, 2)])).toBe(1);
    expect(activeOtadata([entry(3, 2), entry(2, 2)])).toBe(0);
    expect(activeOtadata([entry(3, 2), entry(3, 2)])).toBe(0);
    expect(activeOtadata([entry(3, OtaImgState.ABORTED), entry(2, 2)])).toBe(1);
    expect(activeOtadata([erased, entry(2, 2)])).toBe(1);
    expect(activeOtadata([badCrc, erased])).toBe(-1);
    expect(selectOtadata([entry(3, 2), entry(2, 2)], [true, true], false)).toBe(1);
  });

  test('slot = (ota_seq - 1) % slots, in u32 arithmetic', () => {
    expect([1, 2, 3, 4].map((seq) => slotForSeq(seq, 2))).toEqual([0, 1, 0, 1]);
    expect(slotForSeq(5, 8)).toBe(4); // esp_ota_ops.c's example
    expect(slotForSeq(0, 2)).toBe(0xffffffff % 2); // seq 0 wraps as in C
  });

  test('seqForSlot (compute_ota_seq_for_target_slot): ESP-IDF\'s worked example and the two-slot sequence', () => {
    expect(seqForSlot(5, 7, 8)).toBe(8); // running ota_4 (seq 5) of 8, switch to ota_7
    expect(seqForSlot(1, 1, 2)).toBe(2);
    expect(seqForSlot(2, 0, 2)).toBe(3);
    expect(seqForSlot(3, 1, 2)).toBe(4);
    expect(() => seqForSlot(1, 2, 2)).toThrow(/OTA slot 2 does not exist/);
  });

  test('seqForSlot is the least seq not below the current one that selects the slot', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 1_000_000 }), fc.nat(), (count, current, raw) => {
        const slot = raw % count;
        const seq = seqForSlot(current, slot, count);
        expect(slotForSeq(seq, count)).toBe(slot);
        expect(seq).toBeGreaterThanOrEqual(current);
        expect(seq).toBeGreaterThanOrEqual(1);
        expect(seq - count < Math.max(current, 1)).toBe(true);
      }),
    );
  });

  test('seqForSlot with no current entry (seq 0) is slot + 1, never 0 (which wraps to another slot)', () => {
    expect(seqForSlot(0, 2, 3)).toBe(3); // fast-check's counterexample: seq 0 would select slot 0xffffffff % 3 = 0
    expect(seqForSlot(0, 1, 2)).toBe(2);
    expect(seqForSlot(0, 0, 2)).toBe(1);
    expect(seqForSlot(0, 0, 1)).toBe(1);
  });

  test('describeOtadata says what each entry holds', () => {
    expect(describeOtadata([entry(3, OtaImgState.NEW), erased], 2)).toEqual(['[0] seq 3 → ota_0, NEW, crc ok', '[1] empty']);
    expect(describeOtadata([badCrc, erased], 2)[0]).toMatch(/crc BAD \(stored 0x12345678, expected 0x/);
  });
});

describe('otadata in flash', () => {
  test('entry i is the first 32 bytes of sector i; writing erases the sector then programs the entry', () => {
    const image = FlashImage.open(newPath(), otaBoard);
    try {
      const otadata = new PartitionView(image, image.partitions().find((p) => p.label === 'otadata')!);
      image.write(0xe000 + 100, new Uint8Array([0])); // junk in sector 1, which the rewrite must erase
      const ops: string[] = [];
      image.onBeforeMutation = (op) => ops.push(`${op.kind} 0x${op.offset.toString(16)}+${op.length}`);
      writeOtadataEntry(otadata, 1, makeOtaSelectEntry(2, OtaImgState.NEW));
      expect(ops).toEqual(['erase 0xe000+4096', 'write 0xe000+32']);
      expect(image.read(0xe000, 32)).toEqual(encodeOtaSelectEntry(makeOtaSelectEntry(2, OtaImgState.NEW)));
      expect(image.read(0xe020, 4096 - 32).every((b) => b === 0xff)).toBe(true);
      expect(image.read(0xd000, 32).every((b) => b === 0xff)).toBe(true);
      const [first, second] = readOtadata(otadata);
      expect(first.seq).toBe(0xffffffff);
      expect(second).toEqual(makeOtaSelectEntry(2, OtaImgState.NEW));
      expect(image.stats.bitSetAttempts).toBe(0);
    } finally {
      image.close();
    }
  });
});
