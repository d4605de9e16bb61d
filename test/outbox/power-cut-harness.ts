/**
 * Crash consistency (used by power-cut-drop-oldest.test.ts and power-cut-drop-newest.test.ts):
 * a deterministic workload of appends, releases (in and out of order),
 * time fixes and reopens runs on a simulated device flash (FlashImage in a temp file, the
 * outbox partition through PartitionView). A reference run records the queue after every
 * operation; then, for EVERY write and erase of the workload, a fresh run cuts the power in
 * that mutation (tearing it at a seeded random byte), the device "reboots" (the image is
 * closed and opened again) and the recovered outbox is checked against the reference:
 *
 * - no garbage: every record read back is one that was appended, byte for byte;
 * - nothing lost: every record queued both before and after the interrupted operation is there;
 * - nothing resurrected: every record released (or dropped) before the interrupted operation stays gone;
 * - the interrupted operation itself took effect entirely or not at all;
 * - sequence numbers: the next one is above everything ever returned by append;
 * - the time table is the persisted one before or after the operation;
 * - recovery is idempotent, the outbox works afterwards, and no write ever set a bit (every
 *   write went to erased flash or only cleared bits).
 *
 * Each cut run is then cut again at the first mutation after the reboot (the seal of a torn
 * head, or the next append), and checked the same way.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeviceFlash } from '../../host-sim/flash/device-flash';
import { FlashImage, type FlashMutation } from '../../host-sim/flash/flash-image';
import { armPowerCut, PowerCutError } from '../../host-sim/flash/power-cut';
import { Outbox, OutboxFullError, type OutboxRecord, type OverflowPolicy, type TimeFix } from '../../firmware/store/outbox';
import { outboxBoard, payloadFor, readAll, seeded } from './support';

const SECTORS = 4;
const OPERATIONS = 240;
const board = outboxBoard(SECTORS);

interface Snapshot {
  /** Unreleased records after the operation. */
  queued: Map<number, OutboxRecord>;
  /** The time table as last persisted. */
  table: TimeFix[];
  nextSeq: number;
  /** Mutations (writes + erases) before the operation started. */
  mutationsBefore: number;
  kind: string;
}

function openOutbox(image: FlashImage, overflow: OverflowPolicy): Outbox {
  return Outbox.open(new DeviceFlash(image).open('outbox'), { random: seeded(99), overflow });
}

/**
 * The workload: decisions come from a seeded generator and from the outbox's answers, so a
 * run is identical to the reference up to the power cut.
 */
function runWorkload(
  image: FlashImage,
  overflow: OverflowPolicy,
  hooks: { before?: (op: number, kind: string) => void; after?: (op: number, outbox: Outbox) => void } = {},
): { dropped: number; refused: number } {
  const counts = { dropped: 0, refused: 0 };
  const rng = seeded(2024);
  let outbox = openOutbox(image, overflow);
  for (let op = 0; op < OPERATIONS; op++) {
    // phases of 80 operations: mostly appends (the queue overflows), then mostly releases
    const [append, release, fix, reopen] = Math.floor(op / 80) % 2 === 0 ? [0.75, 0.85, 0.9, 0.94] : [0.3, 0.7, 0.76, 0.8];
    const r = rng();
    if (r < append) {
      const size = Math.floor(rng() * 700);
      const wall = rng() < 0.5;
      hooks.before?.(op, 'append');
      try {
        const time = wall ? { bootCount: 2, uptimeMs: op, wallMs: 1_700_000_000_000 + op } : { bootCount: 1 + (op % 3), uptimeMs: op * 10 };
        counts.dropped += outbox.append(payloadFor(op, size), time).dropped;
      } catch (error) {
        if (!(error instanceof OutboxFullError)) throw error;
        counts.refused++;
      }
    } else if (r < release) {
      const oldest = outbox.peek(6);
      const pick = rng() < 0.7 ? oldest[0] : oldest[Math.floor(rng() * oldest.length)];
      hooks.before?.(op, 'release');
      if (pick) outbox.release(pick.seq);
    } else if (r < fix) {
      const boot = 1 + Math.floor(rng() * 3);
      const offset = Math.floor(rng() * 1e9);
      hooks.before?.(op, 'timestampFix');
      outbox.timestampFix(boot, offset);
    } else if (r < reopen) {
      hooks.before?.(op, 'reopen');
      outbox = openOutbox(image, overflow);
    } else {
      const oldest = outbox.peek(5);
      hooks.before?.(op, 'release burst');
      for (const record of oldest) outbox.release(record.seq);
    }
    hooks.after?.(op, outbox);
  }
  return counts;
}

function mutations(image: FlashImage): number {
  return image.stats.writes + image.stats.erases;
}

function describeMutation(op: FlashMutation): string {
  if (op.kind === 'erase') return 'erase';
  if (op.length === 1) return 'one-byte write (release, drained marker or seal)';
  if (op.length === 32 && op.offset % 4096 === 0) return 'sector header';
  return 'record write';
}

/**
 * Checks a recovered outbox against the queue before and after the interrupted operation.
 * For a second cut: `extra` is the record the append after the reboot may have added, and
 * `survivors` the records that append leaves in place when it completes (it may drop some).
 */
function checkRecovered(outbox: Outbox, before: Snapshot, after: Snapshot, extra?: OutboxRecord, survivors?: Set<number>): void {
  const records = readAll(outbox);
  for (let i = 1; i < records.length; i++) expect(records[i]!.seq).toBeGreaterThan(records[i - 1]!.seq);
  for (const record of records) {
    const expected = before.queued.get(record.seq) ?? after.queued.get(record.seq) ?? (extra?.seq === record.seq ? extra : undefined);
    if (expected === undefined) throw new Error(`record ${record.seq} came back but was not queued before or after the interrupted operation`);
    expect(record.payload).toEqual(expected.payload);
    expect([record.bootCount, record.time === 'wall' ? record.wallMs : record.uptimeMs, record.time === 'wall']).toEqual([
      expected.bootCount,
      expected.time === 'wall' ? expected.wallMs : expected.uptimeMs,
      expected.time === 'wall',
    ]);
  }
  const present = new Set(records.map((r) => r.seq));
  for (const seq of before.queued.keys()) {
    if (after.queued.has(seq) && (survivors?.has(seq) ?? true) && !present.has(seq)) throw new Error(`record ${seq}, queued before and after the interrupted operation, was lost`);
  }
  expect(outbox.queued).toBe(records.length);
  const highest = Math.max(0, ...records.map((r) => r.seq));
  expect(outbox.nextSeq).toBeGreaterThan(highest);
  expect(outbox.nextSeq).toBeGreaterThanOrEqual(before.nextSeq);
  expect(outbox.nextSeq).toBeLessThanOrEqual(Math.max(after.nextSeq, extra ? extra.seq + 1 : 0));
  const table = outbox.timeFixes();
  expect([before.table, after.table]).toContainEqual(table);
}

/** Cut points per test, so that each test stays well inside jest's timeout. */
const CHUNK = 60;

/** What the reference workload did when the ring overflowed; each policy's file checks its own. */
export interface OverflowOutcome {
  dropped: number;
  refused: number;
}

export function powerCutSuite(overflow: OverflowPolicy, checkOverflow: (outcome: OverflowOutcome) => void): void {
  describe(`power cut at every write and erase (${overflow})`, () => body(overflow, checkOverflow));
}

function body(overflow: OverflowPolicy, checkOverflow: (outcome: OverflowOutcome) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'thingkit-outbox-cut-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pristine = path.join(dir, 'pristine.bin');
  FlashImage.open(pristine, board).close();

  // The reference run.
  const snapshots: Snapshot[] = [];
  const kinds = new Map<string, number>();
  const reference = FlashImage.open(path.join(dir, 'reference.bin'), board);
  reference.onBeforeMutation = (op) => kinds.set(describeMutation(op), (kinds.get(describeMutation(op)) ?? 0) + 1);
  let current: Partial<Snapshot> = {};
  let table: TimeFix[] = [];
  const workload = runWorkload(reference, overflow, {
    before: (_op, kind) => {
      current = { mutationsBefore: mutations(reference), kind };
    },
    after: (_op, outbox) => {
      if (!outbox.stats().timeTablePending) table = outbox.timeFixes();
      snapshots.push({ ...current, queued: new Map(readAll(outbox).map((r) => [r.seq, r])), table, nextSeq: outbox.nextSeq } as Snapshot);
    },
  });
  const total = mutations(reference);
  const referenceErases = [...reference.stats.erasesBySector.subarray(0x10, 0x10 + SECTORS)];
  const referenceBitSets = reference.stats.bitSetAttempts;
  reference.close();
  const initial: Snapshot = { queued: new Map(), table: [], nextSeq: 1, mutationsBefore: 0, kind: 'start' };

  /** The operation during which mutation `k` happens, and the snapshots around it. */
  function around(k: number): { op: number; before: Snapshot; after: Snapshot } {
    // the last operation that started at or before mutation k (later ones start after it)
    const op = snapshots.reduce((found, s, i) => (s.mutationsBefore <= k ? i : found), 0);
    return { op, before: op === 0 ? initial : snapshots[op - 1]!, after: snapshots[op]! };
  }

  test(`the workload exercises every kind of mutation, wraps the ring and overflows (${total} mutations; ${workload.dropped} records dropped, ${workload.refused} refused)`, () => {
    expect(total).toBeGreaterThan(250);
    expect(referenceBitSets).toBe(0);
    expect([...kinds.keys()].sort()).toEqual(['erase', 'one-byte write (release, drained marker or seal)', 'record write', 'sector header']);
    expect(Math.min(...referenceErases)).toBeGreaterThanOrEqual(2); // every sector reused
    checkOverflow({ dropped: workload.dropped, refused: workload.refused });
  });

  let tornSeals = 0;
  let damaged = 0;
  let cutsChecked = 0;
  const chunks = Array.from({ length: Math.ceil(total / CHUNK) }, (_, i) => [i * CHUNK, Math.min(total, (i + 1) * CHUNK)] as const);
  test.each(chunks)('a cut in each of mutations %i to %i, then a second cut right after the reboot: recovers correctly', (from, to) => {
    for (let k = from; k < to; k++) {
      const file = path.join(dir, `cut-${k}.bin`);
      fs.copyFileSync(pristine, file);
      const image = FlashImage.open(file, board);
      const cut = armPowerCut(image, k, seeded(k + 1));
      let mutation: FlashMutation | undefined;
      const hook = image.onBeforeMutation!;
      image.onBeforeMutation = (op) => {
        mutation = op;
        hook(op);
      };
      expect(() => runWorkload(image, overflow)).toThrow(PowerCutError);
      expect(cut.fired).toBe(true);
      expect(image.stats.bitSetAttempts).toBe(0);
      image.close();
      const { op, before, after } = around(k);
      const context = `cut ${k} (${describeMutation(mutation!)}) in operation ${op} (${after.kind})`;
      try {
        // a second copy, for the second cut
        const second = path.join(dir, `cut-${k}-again.bin`);
        fs.copyFileSync(file, second);

        const rebooted = FlashImage.open(file, board);
        const outbox = openOutbox(rebooted, overflow);
        if (outbox.recovery.tornRecordSealed) tornSeals++;
        damaged += outbox.recovery.damagedSectors;
        checkRecovered(outbox, before, after);
        // recovery is idempotent
        const again = openOutbox(rebooted, overflow);
        expect(readAll(again)).toEqual(readAll(outbox));
        expect(again.recovery.tornRecordSealed).toBe(false);
        // and the outbox works: a new record gets a fresh number and survives
        const seq = again.nextSeq;
        try {
          expect(again.append(payloadFor(200_000 + k, 64), { bootCount: 9, uptimeMs: 2 }).seq).toBe(seq);
          const last = readAll(openOutbox(rebooted, overflow)).pop()!;
          expect([last.seq, last.payload]).toEqual([seq, payloadFor(200_000 + k, 64)]);
        } catch (error) {
          if (!(error instanceof OutboxFullError)) throw error;
        }
        const survivors = new Set(readAll(openOutbox(rebooted, overflow)).map((r) => r.seq));
        expect(rebooted.stats.bitSetAttempts).toBe(0);
        rebooted.close();

        // Cut again at the first mutation after the reboot.
        const image2 = FlashImage.open(second, board);
        armPowerCut(image2, 0, seeded(k + 7));
        let extra: OutboxRecord | undefined;
        try {
          const outbox2 = openOutbox(image2, overflow);
          extra = { seq: outbox2.nextSeq, payload: payloadFor(200_000 + k, 64), bootCount: 9, time: 'uptime', wallMs: undefined, uptimeMs: 2 };
          outbox2.append(extra.payload, { bootCount: 9, uptimeMs: 2 });
        } catch (error) {
          if (!(error instanceof PowerCutError) && !(error instanceof OutboxFullError)) throw error;
        }
        expect(image2.stats.bitSetAttempts).toBe(0);
        image2.close();
        const rebooted2 = FlashImage.open(second, board);
        checkRecovered(openOutbox(rebooted2, overflow), before, after, extra, survivors);
        rebooted2.close();
        fs.rmSync(second);
      } catch (error) {
        (error as Error).message = `${context}: ${(error as Error).message}`;
        throw error;
      }
      fs.rmSync(file);
      cutsChecked++;
    }
  });

  test(`the cuts covered torn records and torn sectors (${total} cut points, each cut a second time after the reboot)`, () => {
    if (cutsChecked < total) return; // some cut tests were filtered out
    expect(tornSeals).toBeGreaterThan(10);
    expect(damaged).toBeGreaterThan(0);
  });
}
