import fc from 'fast-check';
import { crc32 } from '../../firmware/codec/crc32';
import { crcFromDefinition } from '../support/crc-reference';
import {
  decodeSectorHeader,
  decodeTimeTable,
  encodeRecord,
  encodeSectorHeader,
  encodeTimeTable,
  FLAG_WALL,
  KIND_DATA,
  KIND_SEAL,
  KIND_TIME,
  MAX_TIME_RECORD_LENGTH,
  maxPayloadLength,
  RECORD_HEADER_LENGTH,
  RECORD_STATE_OFFSET,
  scanRecord,
  SECTOR_DRAINED_OFFSET,
  SECTOR_HEADER_LENGTH,
} from '../../firmware/store/outbox/format';

const B = 4096;

function inSector(record: Uint8Array, at = SECTOR_HEADER_LENGTH): Uint8Array {
  const sector = new Uint8Array(B).fill(0xff);
  sector.set(record, at);
  return sector;
}

test('CRC-32 is zlib/ESP-IDF CRC-32 (the definition, bit by bit, agrees)', () => {
  expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => crc32(bytes) === crcFromDefinition(bytes, 0xffffffff, 0xffffffff)));
});

describe('sector header', () => {
  const fields = { sectorSeq: 7, firstSeq: 0x12345678, logId: 0xdeadbeef, eraseCount: 3 };

  test('is 32 bytes: magic, version, geometry, numbers, CRC, drained marker erased', () => {
    const bytes = encodeSectorHeader(fields, B);
    expect(bytes).toHaveLength(SECTOR_HEADER_LENGTH);
    expect([...bytes.subarray(0, 8)]).toEqual([0x54, 0x4b, 0x4f, 0x42, 1, 32, 16, 0]);
    expect(bytes[SECTOR_DRAINED_OFFSET]).toBe(0xff);
    expect(decodeSectorHeader(bytes, B)).toEqual({ ...fields, drained: false });
  });

  test('the drained marker lies outside the CRC and can be cleared in place', () => {
    const bytes = encodeSectorHeader(fields, B);
    bytes[SECTOR_DRAINED_OFFSET] = 0;
    expect(decodeSectorHeader(bytes, B)).toEqual({ ...fields, drained: true });
  });

  test('any torn prefix, flipped bit, other geometry or erased bytes is not a header', () => {
    const bytes = encodeSectorHeader(fields, B);
    for (let n = 0; n < 28; n++) {
      const torn = new Uint8Array(32).fill(0xff);
      torn.set(bytes.subarray(0, n));
      expect(decodeSectorHeader(torn, B)).toBeUndefined();
    }
    for (let bit = 0; bit < 28 * 8; bit++) {
      const flipped = bytes.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      expect(decodeSectorHeader(flipped, B)).toBeUndefined();
    }
    expect(decodeSectorHeader(bytes, 8192)).toBeUndefined();
    expect(decodeSectorHeader(new Uint8Array(32).fill(0xff), B)).toBeUndefined();
    expect(decodeSectorHeader(new Uint8Array(32), B)).toBeUndefined();
  });
});

describe('records', () => {
  test('round-trip: kind, flags, length, seq, boot, 48-bit time, payload; state queued', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: maxPayloadLength(B) }),
        fc.boolean(),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        (payload, wall, seq, bootCount, timeMs) => {
          const record = encodeRecord({ kind: KIND_DATA, wall, seq, bootCount, timeMs }, payload);
          expect(record).toHaveLength(RECORD_HEADER_LENGTH + payload.length);
          expect(record[1]).toBe(wall ? FLAG_WALL : 0);
          expect(record[RECORD_STATE_OFFSET]).toBe(0xff);
          const scan = scanRecord(inSector(record), SECTOR_HEADER_LENGTH, true);
          expect(scan).toEqual({ status: 'record', size: record.length, header: { kind: KIND_DATA, wall, length: payload.length, seq, bootCount, timeMs, released: false } });
        },
      ),
    );
  });

  test('releasing clears the state byte, outside the CRC', () => {
    const record = encodeRecord({ kind: KIND_DATA, wall: true, seq: 1, bootCount: 1, timeMs: 5 }, new Uint8Array([1, 2, 3]));
    record[RECORD_STATE_OFFSET] = 0;
    const scan = scanRecord(inSector(record), SECTOR_HEADER_LENGTH, true);
    expect(scan.status === 'record' && scan.header.released).toBe(true);
  });

  test('every torn prefix of a record is "bad" (or "end" when nothing was written), never a record', () => {
    const payload = new Uint8Array(200).map((_, i) => i);
    const record = encodeRecord({ kind: KIND_DATA, wall: false, seq: 9, bootCount: 2, timeMs: 1234 }, payload);
    for (let n = 0; n < record.length; n++) {
      const sector = new Uint8Array(B).fill(0xff);
      sector.set(record.subarray(0, n), SECTOR_HEADER_LENGTH);
      const scan = scanRecord(sector, SECTOR_HEADER_LENGTH, true);
      expect(scan.status).toBe(n === 0 ? 'end' : 'bad');
    }
  });

  test('any single flipped bit outside the state byte fails the check', () => {
    const record = encodeRecord({ kind: KIND_DATA, wall: false, seq: 9, bootCount: 2, timeMs: 1234 }, new Uint8Array(40).fill(0x5a));
    for (let bit = 0; bit < record.length * 8; bit++) {
      const byte = bit >> 3;
      if (byte === RECORD_STATE_OFFSET || byte === 23) continue;
      const flipped = record.slice();
      flipped[byte]! ^= 1 << (bit & 7);
      expect(scanRecord(inSector(flipped), SECTOR_HEADER_LENGTH, true).status).not.toBe('record');
    }
  });

  test('a length running past the sector is bad even without the CRC check', () => {
    const record = encodeRecord({ kind: KIND_DATA, wall: false, seq: 1, bootCount: 1, timeMs: 1 }, new Uint8Array(100));
    const sector = new Uint8Array(B).fill(0xff);
    sector.set(record.subarray(0, 24), B - 50);
    expect(scanRecord(sector, B - 50, false)).toEqual({ status: 'bad', problem: 'record of 100 bytes runs past the sector' });
    expect(scanRecord(sector, B - 10, false).status).toBe('end'); // erased
    sector[B - 10] = KIND_DATA;
    expect(scanRecord(sector, B - 10, false)).toEqual({ status: 'bad', problem: 'record header runs past the sector' });
  });

  test('erased is the end, 0x00 is a seal, other kinds are bad', () => {
    const sector = new Uint8Array(B).fill(0xff);
    expect(scanRecord(sector, 100, true).status).toBe('end');
    expect(scanRecord(sector, B, true).status).toBe('end');
    sector[100] = KIND_SEAL;
    expect(scanRecord(sector, 100, true).status).toBe('sealed');
    sector[100] = 0x41;
    expect(scanRecord(sector, 100, true)).toEqual({ status: 'bad', problem: 'unknown record kind 0x41' });
  });
});

describe('time table', () => {
  test('round-trips up to 8 entries; its record fits the reserve in every sector', () => {
    const fixes = Array.from({ length: 8 }, (_, i) => ({ bootCount: 100 + i, offsetMs: 1_700_000_000_000 + i * 0.5 }));
    const payload = encodeTimeTable(fixes);
    expect(decodeTimeTable(payload)).toEqual(fixes);
    const record = encodeRecord({ kind: KIND_TIME, wall: false, seq: 1, bootCount: 0, timeMs: 0 }, payload);
    expect(record.length).toBe(MAX_TIME_RECORD_LENGTH);
    expect(SECTOR_HEADER_LENGTH + MAX_TIME_RECORD_LENGTH + RECORD_HEADER_LENGTH + maxPayloadLength(B)).toBe(B);
    expect(maxPayloadLength(B)).toBe(3920);
  });
});
