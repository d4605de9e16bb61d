/**
 * Model-based property test: any sequence of appends, releases (any order), time fixes,
 * reopens and power cuts in the middle of an append or a release keeps the outbox equal to
 * a simple model (a map of queued seq -> payload), with these invariants after every step:
 * records come back in order, byte for byte, never garbage; queued and bytesUsed match;
 * sequence numbers returned by append only increase; drop-oldest drops exactly what it
 * counts and only the oldest; drop-newest never drops; no write ever sets a bit.
 */
import fc from 'fast-check';
import { PowerCutError } from '../../host-sim/flash/power-cut';
import { Outbox, OutboxFullError, type OverflowPolicy, type TimeFix } from '../../firmware/store/outbox';
import { RECORD_HEADER_LENGTH } from '../../firmware/store/outbox/format';
import { MemoryPartition, payloadFor, readAll, seeded } from './support';

type Command =
  | { t: 'append'; size: number; wall: boolean }
  | { t: 'release'; pick: number }
  | { t: 'releaseOldest'; n: number }
  | { t: 'releaseUnknown'; delta: number }
  | { t: 'reopen' }
  | { t: 'fix'; boot: number; offset: number }
  | { t: 'cut'; op: 'append' | 'release'; at: number; fraction: number; size: number; pick: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('append' as const), size: fc.integer({ min: 0, max: 1800 }), wall: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('releaseOldest' as const), n: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('releaseUnknown' as const), delta: fc.integer({ min: -3, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('fix' as const), boot: fc.integer({ min: 1, max: 12 }), offset: fc.integer({ min: 0, max: 2 ** 40 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('cut' as const),
      op: fc.constantFrom('append' as const, 'release' as const),
      at: fc.integer({ min: 0, max: 4 }),
      fraction: fc.double({ min: 0, max: 0.9999, noNaN: true }),
      size: fc.integer({ min: 0, max: 1800 }),
      pick: fc.nat(),
    }),
  },
);

function run(policy: OverflowPolicy, sectors: number, commands: Command[]): void {
  const flash = new MemoryPartition(sectors);
  const open = () => Outbox.open(flash, { random: seeded(3), overflow: policy });
  let outbox = open();
  let model = new Map<number, Uint8Array>();
  let maxReturned = 0;
  let persisted: TimeFix[] = [];
  let tag = 0;

  const check = () => {
    const records = readAll(outbox);
    expect(records.map((r) => r.seq)).toEqual([...model.keys()]);
    records.forEach((r) => expect(r.payload).toEqual(model.get(r.seq)));
    expect(outbox.queued).toBe(model.size);
    expect(outbox.stats().bytesUsed).toBe([...model.values()].reduce((sum, p) => sum + RECORD_HEADER_LENGTH + p.length, 0));
    expect(outbox.nextSeq).toBeGreaterThan(maxReturned);
    expect(flash.stats.bitSetAttempts).toBe(0);
    if (!outbox.stats().timeTablePending) persisted = outbox.timeFixes();
  };

  const append = (size: number, wall: boolean) => {
    const payload = payloadFor(++tag, size);
    const before = [...model.keys()];
    let result;
    try {
      result = outbox.append(payload, wall ? { bootCount: 1, uptimeMs: 0, wallMs: tag } : { bootCount: tag % 12, uptimeMs: tag });
    } catch (error) {
      if (!(error instanceof OutboxFullError)) throw error;
      expect(policy).toBe('drop-newest');
      return;
    }
    expect(result.seq).toBeGreaterThan(maxReturned);
    maxReturned = result.seq;
    const present = new Set(readAll(outbox).map((r) => r.seq));
    const lost = before.filter((seq) => !present.has(seq));
    expect(lost).toHaveLength(result.dropped);
    if (policy === 'drop-newest') expect(lost).toEqual([]);
    const kept = before.filter((seq) => present.has(seq));
    if (lost.length > 0 && kept.length > 0) expect(Math.max(...lost)).toBeLessThan(Math.min(...kept));
    for (const seq of lost) model.delete(seq);
    model.set(result.seq, payload);
  };

  const pickQueued = (pick: number): number | undefined => {
    const keys = [...model.keys()];
    return keys.length === 0 ? undefined : keys[pick % keys.length];
  };

  for (const c of commands) {
    switch (c.t) {
      case 'append':
        append(c.size, c.wall);
        break;
      case 'release': {
        const seq = pickQueued(c.pick);
        if (seq !== undefined) {
          expect(outbox.release(seq)).toBe(true);
          model.delete(seq);
        }
        break;
      }
      case 'releaseOldest':
        for (const r of outbox.peek(c.n)) {
          expect(outbox.release(r.seq)).toBe(true);
          model.delete(r.seq);
        }
        break;
      case 'releaseUnknown': {
        const seq = outbox.nextSeq + c.delta;
        if (!model.has(seq)) expect(outbox.release(seq)).toBe(false);
        break;
      }
      case 'reopen':
        outbox = open();
        expect(outbox.timeFixes()).toEqual(persisted);
        break;
      case 'fix':
        outbox.timestampFix(c.boot, c.offset);
        break;
      case 'cut': {
        const before = new Map(model);
        const ramTable = outbox.timeFixes();
        const persistedBefore = persisted;
        const nextSeq = outbox.nextSeq;
        const payload = payloadFor(tag + 1, c.size);
        const releasing = pickQueued(c.pick);
        flash.cutPowerAt(c.at, () => c.fraction);
        try {
          if (c.op === 'append') append(c.size, false);
          else if (releasing !== undefined) {
            outbox.release(releasing);
            model.delete(releasing);
          }
        } catch (error) {
          if (!(error instanceof PowerCutError)) throw error;
        }
        const fired = flash.powerCutFired;
        flash.reboot();
        if (!fired) break; // the operation finished before the cut point
        if (c.op === 'append') tag++;
        outbox = open();
        const records = readAll(outbox);
        for (const r of records) {
          const expected = before.get(r.seq) ?? (c.op === 'append' && r.seq === nextSeq ? payload : undefined);
          expect(expected).toBeDefined(); // nothing that was not queued comes back
          expect(r.payload).toEqual(expected);
        }
        const present = new Set(records.map((r) => r.seq));
        const lost = [...before.keys()].filter((seq) => !present.has(seq) && !(c.op === 'release' && seq === releasing));
        if (lost.length > 0) {
          // only an append under drop-oldest may lose records: the oldest sector it was erasing
          expect(c.op === 'append' && policy === 'drop-oldest').toBe(true);
          const kept = [...before.keys()].filter((seq) => present.has(seq));
          if (kept.length > 0) expect(Math.max(...lost)).toBeLessThan(Math.min(...kept));
        }
        expect([persistedBefore, ramTable]).toContainEqual(outbox.timeFixes());
        model = new Map(records.map((r) => [r.seq, r.payload]));
        persisted = outbox.timeFixes();
        break;
      }
    }
    check();
  }
  // A last reopen sees the same queue.
  outbox = open();
  check();
}

test.each<[OverflowPolicy, number]>([
  ['drop-oldest', 3],
  ['drop-newest', 3],
  ['drop-oldest', 5],
  ['drop-newest', 2],
])('any sequence of appends, releases, fixes, reopens and power cuts keeps the invariants (%s, %i sectors)', (policy, sectors) => {
  fc.assert(
    fc.property(fc.array(command, { maxLength: 80 }), (commands) => run(policy, sectors, commands)),
    { numRuns: 120 },
  );
});
