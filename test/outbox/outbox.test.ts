import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import esp32DevkitC from '../../boards/esp32-devkitc';
import { DeviceFlash } from '../../host-sim/flash/device-flash';
import { FlashImage } from '../../host-sim/flash/flash-image';
import { PowerCutError } from '../../host-sim/flash/power-cut';
import { Outbox, OutboxError, OutboxFullError } from '../../firmware/store/outbox';
import {
  encodeRecord,
  KIND_DATA,
  RECORD_HEADER_LENGTH,
  RECORD_STATE_OFFSET,
  SECTOR_DRAINED_OFFSET,
  SECTOR_HEADER_LENGTH,
} from '../../firmware/store/outbox/format';
import { MemoryPartition, openMemory, payloadFor, readAll, seeded, UPTIME, WALL } from './support';

const B = 4096;

function seqs(outbox: Outbox): number[] {
  return readAll(outbox).map((r) => r.seq);
}

describe('a new outbox', () => {
  test('opening an erased partition writes nothing; the first append opens sector 0', () => {
    const flash = new MemoryPartition(4);
    const outbox = openMemory(flash);
    expect(outbox.recovery).toMatchObject({ newLog: true, sectorsInRing: 0, damagedSectors: 0 });
    expect(flash.mutations).toBe(0);
    expect(outbox.nextSeq).toBe(1);
    expect(outbox.peek(10)).toEqual([]);
    expect(outbox.append(new Uint8Array([1, 2, 3]), WALL(1_700_000_000_000, 4))).toEqual({ seq: 1, dropped: 0 });
    expect(flash.stats.erasesBySector[0]).toBe(1);
    expect(outbox.peek(10)).toEqual([
      { seq: 1, payload: new Uint8Array([1, 2, 3]), bootCount: 4, time: 'wall', wallMs: 1_700_000_000_000, uptimeMs: undefined },
    ]);
  });

  test('a partition full of garbage is a new log too (nothing returned)', () => {
    const flash = new MemoryPartition(4, B, 0x00);
    flash.bytes.set(payloadFor(1, flash.byteLength));
    const outbox = openMemory(flash);
    expect(outbox.recovery.newLog).toBe(true);
    expect(outbox.recovery.damagedSectors).toBe(4);
    expect(outbox.peek(10)).toEqual([]);
    outbox.append(new Uint8Array([9]), UPTIME(1));
    expect(readAll(openMemory(flash)).map((r) => [...r.payload])).toEqual([[9]]);
    expect(flash.stats.bitSetAttempts).toBe(0);
  });

  test('the log id comes from the injected random and persists', () => {
    const flash = new MemoryPartition(3);
    const outbox = Outbox.open(flash, { random: () => 0.5 });
    expect(outbox.logId).toBe(0x80000000);
    outbox.append(new Uint8Array(1), UPTIME(0));
    expect(Outbox.open(flash, { random: () => 0.25 }).logId).toBe(0x80000000);
    expect(Outbox.open(new MemoryPartition(3), { random: () => 0.25 }).logId).toBe(0x40000000);
  });

  test.each([
    [new MemoryPartition(1), /from 2 to 512/],
    [new MemoryPartition(513), /from 2 to 512/],
    [Object.assign(new MemoryPartition(4), { byteLength: 4 * B + 5 }), /whole number of 4096-byte sectors/],
    [new MemoryPartition(4, 300), /multiple of 256/],
  ])('refuses a partition of the wrong shape', (flash, message) => {
    expect(() => openMemory(flash)).toThrow(message);
  });
});

describe('append, read, release', () => {
  test('sequence numbers increase by one and survive a reopen; records come back in order with their payloads and times', () => {
    const flash = new MemoryPartition(4);
    let outbox = openMemory(flash);
    for (let i = 0; i < 10; i++) outbox.append(payloadFor(i, i * 10), i % 2 ? WALL(1_000_000 + i, 2) : UPTIME(i, 2));
    outbox = openMemory(flash);
    expect(outbox.nextSeq).toBe(11);
    const records = readAll(outbox);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    records.forEach((r, i) => {
      expect(r.payload).toEqual(payloadFor(i, i * 10));
      expect(r.time).toBe(i % 2 ? 'wall' : 'uptime');
      expect(i % 2 ? r.wallMs : r.uptimeMs).toBe(i % 2 ? 1_000_000 + i : i);
    });
    expect(outbox.append(new Uint8Array(0), UPTIME(0)).seq).toBe(11);
  });

  test('read(fromSeq, max, beforeSeq) pages through the queue; max is capped at 64', () => {
    const outbox = openMemory(new MemoryPartition(8));
    for (let i = 0; i < 200; i++) outbox.append(payloadFor(i, 20), UPTIME(i));
    expect(outbox.read(1, 1000)).toHaveLength(64);
    expect(outbox.read(50, 3).map((r) => r.seq)).toEqual([50, 51, 52]);
    expect(outbox.read(198, 10).map((r) => r.seq)).toEqual([198, 199, 200]);
    expect(outbox.read(10, 10, 13).map((r) => r.seq)).toEqual([10, 11, 12]);
    expect(outbox.read(300, 10)).toEqual([]);
    expect(() => outbox.read(1, -1)).toThrow(RangeError);
  });

  test('release in order and out of order; released records never come back', () => {
    const flash = new MemoryPartition(4);
    let outbox = openMemory(flash);
    for (let i = 0; i < 10; i++) outbox.append(payloadFor(i, 30), UPTIME(i));
    expect(outbox.release(1)).toBe(true);
    expect(outbox.release(2)).toBe(true);
    expect(outbox.release(7)).toBe(true);
    expect(outbox.release(5)).toBe(true);
    expect(outbox.release(5)).toBe(false); // twice
    expect(outbox.release(0)).toBe(false);
    expect(outbox.release(11)).toBe(false); // not yet appended
    expect(outbox.release(1.5)).toBe(false);
    expect(seqs(outbox)).toEqual([3, 4, 6, 8, 9, 10]);
    expect(outbox.stats()).toMatchObject({ queued: 6, released: 4, appended: 10 });
    outbox = openMemory(flash);
    expect(seqs(outbox)).toEqual([3, 4, 6, 8, 9, 10]);
    expect(outbox.stats()).toMatchObject({ queued: 6, released: 0, appended: 0 });
    expect(outbox.release(10)).toBe(true);
    expect(seqs(openMemory(flash))).toEqual([3, 4, 6, 8, 9]);
  });

  test('a release is one write that clears the state byte (NOR-legal: no bit is set)', () => {
    const flash = new MemoryPartition(2);
    const outbox = openMemory(flash);
    outbox.append(new Uint8Array(5), UPTIME(0));
    const before = flash.mutations;
    outbox.release(1);
    expect(flash.mutations - before).toBe(1);
    expect(flash.bytes[SECTOR_HEADER_LENGTH + RECORD_STATE_OFFSET]).toBe(0);
    expect(flash.stats.bitSetAttempts).toBe(0);
  });

  test('releasing without the location cache walks the sector (release after reopen, far from the reads)', () => {
    const flash = new MemoryPartition(8);
    let outbox = openMemory(flash);
    for (let i = 0; i < 300; i++) outbox.append(payloadFor(i, 10), UPTIME(i));
    outbox = openMemory(flash);
    for (const seq of [250, 3, 120, 299, 1]) expect(outbox.release(seq)).toBe(true);
    expect(seqs(openMemory(flash))).not.toEqual(expect.arrayContaining([250, 3, 120, 299, 1]));
    expect(openMemory(flash).queued).toBe(295);
  });

  test('a payload larger than a sector can hold is refused with a clear error; the largest fits', () => {
    const outbox = openMemory(new MemoryPartition(2));
    expect(outbox.maxPayload).toBe(3920);
    expect(() => outbox.append(new Uint8Array(3921), UPTIME(0))).toThrow(
      'Outbox record of 3921 bytes is too large: records never span sectors, so a payload holds at most 3920 bytes with 4096-byte sectors',
    );
    outbox.timestampFix(1, 5);
    for (let i = 0; i < 5; i++) expect(outbox.append(payloadFor(i, 3920), UPTIME(i)).seq).toBe(i + 1);
  });

  test('bad times are refused before anything is written', () => {
    const flash = new MemoryPartition(2);
    const outbox = openMemory(flash);
    expect(() => outbox.append(new Uint8Array(1), { bootCount: -1, uptimeMs: 0 })).toThrow(/boot count -1/);
    expect(() => outbox.append(new Uint8Array(1), { bootCount: 1, uptimeMs: NaN })).toThrow(/uptimeMs NaN/);
    expect(() => outbox.append(new Uint8Array(1), { bootCount: 1, uptimeMs: 0, wallMs: 2 ** 48 })).toThrow(/wallMs/);
    expect(flash.mutations).toBe(0);
    expect(outbox.nextSeq).toBe(1);
  });

  test('stats: queued, bytesUsed, capacity, sectors', () => {
    const outbox = openMemory(new MemoryPartition(4));
    outbox.append(new Uint8Array(100), UPTIME(0));
    outbox.append(new Uint8Array(50), UPTIME(0));
    outbox.release(1);
    expect(outbox.stats()).toEqual({
      queued: 1,
      bytesUsed: RECORD_HEADER_LENGTH + 50,
      capacity: 4 * (B - SECTOR_HEADER_LENGTH),
      sectors: 4,
      sectorsInUse: 1,
      nextSeq: 3,
      appended: 2,
      released: 1,
      dropped: { overflow: 0, full: 0, corrupt: 0 },
      timeTablePending: false,
    });
  });
});

describe('the ring', () => {
  test('wraps around many times with even wear; seq and lifetime erase counts continue across reopens', () => {
    const flash = new MemoryPartition(5);
    let outbox = openMemory(flash);
    let next = 1;
    for (let lap = 0; lap < 40; lap++) {
      for (let i = 0; i < 60; i++) {
        expect(outbox.append(payloadFor(next, 100 + (next % 200)), UPTIME(next)).seq).toBe(next);
        next++;
      }
      for (const r of outbox.peek(64)) if (r.seq < next - 10) outbox.release(r.seq);
      while (outbox.peek(1)[0] && outbox.peek(1)[0]!.seq < next - 10) for (const r of outbox.peek(64)) if (r.seq < next - 10) outbox.release(r.seq);
      if (lap % 7 === 0) outbox = openMemory(flash);
    }
    outbox = openMemory(flash);
    expect(seqs(outbox)).toEqual(Array.from({ length: 10 }, (_, i) => next - 10 + i));
    readAll(outbox).forEach((r) => expect(r.payload).toEqual(payloadFor(r.seq, 100 + (r.seq % 200))));
    const wear = [...flash.stats.erasesBySector];
    expect(Math.max(...wear) - Math.min(...wear)).toBeLessThanOrEqual(1);
    expect(Math.min(...wear)).toBeGreaterThan(20);
    expect([...outbox.eraseCounts().lifetime]).toEqual(wear);
    expect(flash.stats.bitSetAttempts).toBe(0);
    expect(outbox.stats().dropped).toEqual({ overflow: 0, full: 0, corrupt: 0 });
  });

  test('sectors whose records are all released get the drained marker and are skipped at open', () => {
    const flash = new MemoryPartition(4);
    const outbox = openMemory(flash);
    // 224-byte records: 18 fill sector 0, the 19th opens sector 1
    for (let i = 1; i <= 19; i++) outbox.append(payloadFor(i, 200), UPTIME(i));
    for (let seq = 1; seq <= 17; seq++) outbox.release(seq);
    expect(flash.bytes[SECTOR_DRAINED_OFFSET]).toBe(0xff);
    outbox.release(18);
    expect(flash.bytes[SECTOR_DRAINED_OFFSET]).toBe(0); // sector 0: closed and drained
    const again = openMemory(flash);
    expect(again.recovery.sectorsInRing).toBe(2);
    expect(again.recovery.sectorsWalked).toBe(1); // only the head
  });
});

describe('overflow', () => {
  function fillUp(outbox: Outbox, size: number): { appended: number[]; dropped: number } {
    const appended: number[] = [];
    let dropped = 0;
    for (let i = 0; i < 200; i++) {
      const result = outbox.append(payloadFor(i, size), UPTIME(i));
      appended.push(result.seq);
      dropped += result.dropped;
    }
    return { appended, dropped };
  }

  test('drop-oldest erases the oldest sector: exactly the records counted are gone, and they are the oldest', () => {
    const flash = new MemoryPartition(3);
    const outbox = openMemory(flash, { overflow: 'drop-oldest' });
    outbox.release(0);
    let counted = 0;
    let ever: number[] = [];
    for (let i = 1; i <= 300; i++) {
      const before = seqs(outbox);
      const result = outbox.append(payloadFor(i, 300), UPTIME(i));
      if (i % 5 === 0) outbox.release(i - 2); // some released out of order, so a dropped sector holds some released ones
      const after = seqs(outbox);
      const lost = before.filter((seq) => !after.includes(seq) && seq !== i - 2);
      expect(lost).toHaveLength(result.dropped);
      if (lost.length > 0) expect(Math.max(...lost)).toBeLessThan(Math.min(...after));
      counted += result.dropped;
      ever = after;
    }
    expect(outbox.stats().dropped).toEqual({ overflow: counted, full: 0, corrupt: 0 });
    expect(counted).toBeGreaterThan(200);
    expect(seqs(openMemory(flash))).toEqual(ever);
    expect(ever[ever.length - 1]).toBe(300);
  });

  test('drop-newest refuses appends while the oldest sector holds unreleased records, counting them; nothing is lost', () => {
    const flash = new MemoryPartition(3);
    const outbox = openMemory(flash, { overflow: 'drop-newest' });
    let accepted: number[] = [];
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      try {
        accepted.push(outbox.append(payloadFor(i, 300), UPTIME(i)).seq);
      } catch (error) {
        expect(error).toBeInstanceOf(OutboxFullError);
        expect((error as Error).message).toMatch(/Outbox is full: \d+ records wait for acknowledgement and the policy is drop-newest/);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(50);
    expect(outbox.stats().dropped).toEqual({ overflow: 0, full: refused, corrupt: 0 });
    expect(seqs(outbox)).toEqual(accepted);
    expect(accepted).toEqual(Array.from({ length: accepted.length }, (_, i) => i + 1)); // refused appends use no number
    // releasing all but one record of the oldest sector is not enough; releasing it is
    const oldestSector = accepted.filter((seq) => seq <= 12);
    oldestSector.slice(1).forEach((seq) => outbox.release(seq));
    expect(() => outbox.append(new Uint8Array(300), UPTIME(0))).toThrow(OutboxFullError);
    outbox.release(oldestSector[0]!);
    expect(outbox.append(new Uint8Array(300), UPTIME(0))).toEqual({ seq: accepted.length + 1, dropped: 0 });
    expect(outbox.stats().dropped.full).toBe(refused + 1);
    accepted = seqs(outbox);
    expect(seqs(openMemory(flash, { overflow: 'drop-newest' }))).toEqual(accepted);
  });

  test('the outbox stays usable after a refusal (it is not a flash failure)', () => {
    const outbox = openMemory(new MemoryPartition(2), { overflow: 'drop-newest' });
    expect(() => fillUp(outbox, 1000)).toThrow(OutboxFullError);
    expect(outbox.peek(1)[0]!.seq).toBe(1);
    expect(outbox.release(1)).toBe(true);
  });
});

describe('recovery', () => {
  /** 174-byte records: 23 to a sector. */
  function populated(sectors = 4, count = 20): MemoryPartition {
    const flash = new MemoryPartition(sectors);
    const outbox = openMemory(flash);
    for (let i = 1; i <= count; i++) outbox.append(payloadFor(i, 150), UPTIME(i));
    return flash;
  }

  test('a torn record at the head is sealed, never returned, and its number reused for the next append', () => {
    for (const fraction of [0.01, 0.3, 0.5, 0.9, 0.999]) {
      const flash = populated();
      const outbox = openMemory(flash);
      flash.cutPowerAt(0, () => fraction);
      expect(() => outbox.append(payloadFor(21, 150), UPTIME(21))).toThrow(PowerCutError);
      expect(() => outbox.peek(1)).toThrow(/unusable after a flash failure/);
      flash.reboot();
      const recovered = openMemory(flash);
      expect(recovered.recovery.tornRecordSealed).toBe(true);
      expect(seqs(recovered)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(recovered.nextSeq).toBe(21);
      expect(recovered.append(payloadFor(99, 10), UPTIME(0)).seq).toBe(21);
      const again = openMemory(flash);
      expect(again.recovery.tornRecordSealed).toBe(false);
      expect(readAll(again).map((r) => r.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
      expect(readAll(again)[20]!.payload).toEqual(payloadFor(99, 10));
      expect(flash.stats.bitSetAttempts).toBe(0);
    }
  });

  test('garbage after the last record (not a prefix) is sealed too', () => {
    const flash = populated();
    flash.damage(B - 7, 0x12); // a stray programmed byte far behind the head's records (sector 0)
    const outbox = openMemory(flash);
    expect(outbox.recovery.tornRecordSealed).toBe(true);
    expect(seqs(outbox)).toHaveLength(20);
  });

  test('a torn erase leaves a sector that is treated as free and erased again before reuse', () => {
    for (const fraction of [0.001, 0.3, 0.6]) {
      const flash = new MemoryPartition(3);
      const outbox = openMemory(flash);
      // 7 records of 524 bytes fill a sector: 21 fill the ring, the 22nd erases sector 0
      for (let seq = 1; seq <= 21; seq++) outbox.append(payloadFor(seq, 500), UPTIME(seq));
      expect(outbox.stats().sectorsInUse).toBe(3);
      flash.cutPowerAt(0, () => fraction);
      expect(() => outbox.append(payloadFor(22, 500), UPTIME(22))).toThrow(/power cut during flash erase at 0x0/);
      flash.reboot();
      const torn = flash.bytes.subarray(0, B);
      expect(torn.every((b) => b === 0xff)).toBe(false); // partially erased
      const recovered = openMemory(flash);
      expect(recovered.recovery.damagedSectors).toBe(fraction * B < 32 ? 1 : 0); // header torn, or erased with old data behind it
      expect(recovered.recovery.sectorsInRing).toBe(2);
      expect(seqs(recovered)).toEqual(Array.from({ length: 14 }, (_, i) => i + 8)); // sector 0's records were being dropped
      const erasesBefore = flash.stats.erasesBySector[0]!;
      expect(recovered.append(payloadFor(22, 500), UPTIME(22)).seq).toBe(22);
      expect(flash.stats.erasesBySector[0]).toBe(erasesBefore + 1); // erased again, not trusted
      const final = readAll(openMemory(flash));
      expect(final.map((r) => r.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 8));
      final.forEach((r) => expect(r.payload).toEqual(payloadFor(r.seq, 500)));
      expect(flash.stats.bitSetAttempts).toBe(0);
    }
  });

  test('a corrupt record in a closed sector (flash damage) is never returned: the sector is sealed there and the loss counted', () => {
    const flash = populated(4, 40);
    // sector 0 holds records 1 to 23; damage record 3's payload
    const recordSize = RECORD_HEADER_LENGTH + 150;
    flash.damage(SECTOR_HEADER_LENGTH + 2 * recordSize + RECORD_HEADER_LENGTH + 10, 0x00);
    const outbox = openMemory(flash);
    const inSector0 = outbox.peek(64).filter((r) => r.seq < 30);
    expect(inSector0.map((r) => r.seq)).not.toContain(3);
    const lost = outbox.stats().dropped.corrupt;
    expect(lost).toBeGreaterThan(0);
    const remaining = seqs(outbox);
    expect(remaining.slice(0, 2)).toEqual([1, 2]);
    expect(lost).toBe(21);
    expect(remaining).toEqual([1, 2, ...Array.from({ length: 17 }, (_, i) => 24 + i)]);
    expect(seqs(openMemory(flash))).toEqual(remaining);
    expect(openMemory(flash).queued).toBe(remaining.length);
  });

  test('a valid record with an out-of-sequence number ends the head (a bug or foreign data is not replayed)', () => {
    const flash = new MemoryPartition(2);
    const outbox = openMemory(flash);
    outbox.append(new Uint8Array([1]), UPTIME(0));
    const foreign = encodeRecord({ kind: KIND_DATA, wall: false, seq: 77, bootCount: 1, timeMs: 0 }, new Uint8Array([2]));
    flash.write(foreign, SECTOR_HEADER_LENGTH + RECORD_HEADER_LENGTH + 1);
    const recovered = openMemory(flash);
    expect(recovered.recovery.tornRecordSealed).toBe(true);
    expect(seqs(recovered)).toEqual([1]);
    expect(recovered.nextSeq).toBe(2);
  });

  test('a head found with the drained marker takes no more records (they would be skipped at a later open)', () => {
    const flash = new MemoryPartition(3);
    const outbox = openMemory(flash);
    outbox.append(new Uint8Array([1]), UPTIME(0));
    outbox.release(1);
    flash.write(new Uint8Array([0]), SECTOR_DRAINED_OFFSET); // as if marked, then the power failed
    const recovered = openMemory(flash);
    recovered.append(new Uint8Array([2]), UPTIME(0));
    expect(flash.stats.erasesBySector[1]).toBe(1); // went to a new sector
    recovered.append(new Uint8Array([3]), UPTIME(0));
    expect(readAll(openMemory(flash)).map((r) => [...r.payload])).toEqual([[2], [3]]);
  });

  test('a flash error other than a power cut also leaves the outbox unusable until reopened', () => {
    const flash = new MemoryPartition(2);
    const outbox = openMemory(flash);
    outbox.append(new Uint8Array([1]), UPTIME(0));
    const write = flash.write.bind(flash);
    flash.write = () => {
      throw new Error('SPI timeout');
    };
    expect(() => outbox.release(1)).toThrow('SPI timeout');
    flash.write = write;
    expect(() => outbox.release(1)).toThrow(OutboxError);
    expect(openMemory(flash).release(1)).toBe(true);
  });
});

describe('timestamps', () => {
  test('records stored with uptime get a corrected wall time once their boot offset is known; it persists', () => {
    const flash = new MemoryPartition(4);
    let outbox = openMemory(flash);
    outbox.append(new Uint8Array([1]), UPTIME(1000, 7));
    outbox.append(new Uint8Array([2]), UPTIME(500, 8));
    outbox.append(new Uint8Array([3]), WALL(1_700_000_000_000, 8));
    expect(readAll(outbox).map((r) => r.time)).toEqual(['uptime', 'uptime', 'wall']);
    expect(outbox.timestampFix(8, 1_699_999_990_000)).toBe('persisted');
    expect(outbox.timestampFix(8, 1_699_999_990_000)).toBe('unchanged');
    outbox = openMemory(flash);
    const [a, b, c] = readAll(outbox);
    expect(a).toMatchObject({ time: 'uptime', uptimeMs: 1000, bootCount: 7, wallMs: undefined });
    expect(b).toMatchObject({ time: 'corrected', uptimeMs: 500, bootCount: 8, wallMs: 1_699_999_990_500 });
    expect(c).toMatchObject({ time: 'wall', wallMs: 1_700_000_000_000 });
    expect(outbox.timeFixes()).toEqual([{ bootCount: 8, offsetMs: 1_699_999_990_000 }]);
  });

  test('the table survives the ring rotating past the sector that held the fix', () => {
    const flash = new MemoryPartition(3);
    let outbox = openMemory(flash);
    outbox.append(new Uint8Array([1]), UPTIME(10, 3));
    outbox.timestampFix(3, 5_000);
    for (let i = 0; i < 100; i++) {
      outbox.append(payloadFor(i, 400), UPTIME(i, 4));
      outbox.release(outbox.peek(1)[0]!.seq === 1 && i < 95 ? 2 + i : outbox.peek(1)[0]!.seq);
    }
    outbox = openMemory(flash);
    expect(outbox.timeFixes()).toEqual([{ bootCount: 3, offsetMs: 5_000 }]);
  });

  test('the table keeps the 8 most recent boots; a fix may be replaced', () => {
    const flash = new MemoryPartition(3);
    const outbox = openMemory(flash);
    for (let boot = 1; boot <= 10; boot++) expect(outbox.timestampFix(boot, boot * 1000)).toBe('persisted');
    expect(outbox.timestampFix(1, 1)).toBe('unchanged'); // older than the 8 kept
    expect(outbox.timestampFix(10, 42)).toBe('persisted');
    const expected = [3, 4, 5, 6, 7, 8, 9, 10].map((boot) => ({ bootCount: boot, offsetMs: boot === 10 ? 42 : boot * 1000 }));
    expect(outbox.timeFixes()).toEqual(expected);
    expect(openMemory(flash).timeFixes()).toEqual(expected);
    expect(() => outbox.timestampFix(-1, 0)).toThrow(OutboxError);
    expect(() => outbox.timestampFix(1, Infinity)).toThrow(OutboxError);
  });

  test('a fix that cannot be written under drop-newest when full is pending, then written with the next sector', () => {
    const flash = new MemoryPartition(2);
    const outbox = openMemory(flash, { overflow: 'drop-newest' });
    for (const size of [1000, 0]) {
      for (;;) {
        try {
          outbox.append(new Uint8Array(size), UPTIME(1, 5));
        } catch {
          break;
        }
      }
    }
    expect(outbox.timestampFix(5, 100)).toBe('pending');
    expect(outbox.stats().timeTablePending).toBe(true);
    expect(openMemory(flash).timeFixes()).toEqual([]); // not on flash yet
    for (const r of outbox.peek(64)) outbox.release(r.seq);
    outbox.append(new Uint8Array(1000), UPTIME(2, 5));
    expect(outbox.stats().timeTablePending).toBe(false);
    expect(openMemory(flash).timeFixes()).toEqual([{ bootCount: 5, offsetMs: 100 }]);
  });

  test('oldestAgeMs compares like with like, or says it cannot', () => {
    const outbox = openMemory(new MemoryPartition(2));
    expect(outbox.oldestAgeMs(UPTIME(0))).toBeUndefined();
    outbox.append(new Uint8Array(1), UPTIME(1_000, 3));
    expect(outbox.oldestAgeMs(UPTIME(5_000, 3))).toBe(4_000); // same boot, uptime
    expect(outbox.oldestAgeMs(UPTIME(5_000, 4))).toBeUndefined(); // another boot, no fix
    expect(outbox.oldestAgeMs({ bootCount: 4, uptimeMs: 5, wallMs: 1_000_000 })).toBeUndefined();
    outbox.timestampFix(3, 100_000);
    expect(outbox.oldestAgeMs({ bootCount: 4, uptimeMs: 5, wallMs: 201_000 })).toBe(100_000);
    outbox.release(1);
    outbox.append(new Uint8Array(1), WALL(50_000, 4));
    expect(outbox.oldestAgeMs({ bootCount: 4, uptimeMs: 5, wallMs: 80_000 })).toBe(30_000);
    expect(outbox.oldestAgeMs(UPTIME(5, 4))).toBeUndefined(); // no wall clock now, none for boot 4
    outbox.timestampFix(4, 60_000);
    expect(outbox.oldestAgeMs(UPTIME(5, 4))).toBe(10_005);
  });
});

describe('on a simulated device flash (FlashImage file)', () => {
  test('the ESP32-DevKitC outbox partition: 240 sectors; records survive closing the image', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'thingkit-outbox-'));
    try {
      const file = path.join(dir, 'device.bin');
      let image = FlashImage.open(file, esp32DevkitC);
      let outbox = Outbox.open(new DeviceFlash(image).open('outbox'), { random: seeded(1) });
      expect(outbox.sectors).toBe(240);
      for (let i = 0; i < 50; i++) outbox.append(payloadFor(i, 500), UPTIME(i));
      outbox.release(1);
      image.close();
      image = FlashImage.open(file, esp32DevkitC);
      outbox = Outbox.open(new DeviceFlash(image).open('outbox'), { random: seeded(2) });
      expect(outbox.queued).toBe(49);
      expect(outbox.peek(1)[0]!.payload).toEqual(payloadFor(1, 500));
      expect(image.stats.bitSetAttempts).toBe(0);
      image.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
