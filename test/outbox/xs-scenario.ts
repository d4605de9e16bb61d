/**
 * A scenario that runs the outbox and the drain planner with nothing but the language (no
 * Node, no TextEncoder): xs-engine.test.ts runs it on the XS engine with an ESP32's globals
 * and in Node, and compares the summaries.
 */
import { DrainPlanner } from '../../firmware/store/outbox/drain';
import { Outbox, type OutboxPartition } from '../../firmware/store/outbox/outbox';

class RamNor implements OutboxPartition {
  readonly blockLength = 4096;
  readonly byteLength: number;
  readonly bytes: Uint8Array;
  bitSets = 0;
  /** Writes left before the power fails (tearing that write halfway); -1: never. */
  powerLeft = -1;

  constructor(sectors: number) {
    this.byteLength = sectors * 4096;
    this.bytes = new Uint8Array(this.byteLength).fill(0xff);
  }

  read(length: number, offset: number): Uint8Array {
    return this.bytes.slice(offset, offset + length);
  }

  write(bytes: Uint8Array, offset: number): void {
    let n = bytes.length;
    const cut = this.powerLeft === 0;
    if (this.powerLeft >= 0) this.powerLeft--;
    if (cut) n = n >> 1;
    for (let i = 0; i < n; i++) {
      if (bytes[i]! & ~this.bytes[offset + i]!) this.bitSets++;
      this.bytes[offset + i]! &= bytes[i]!;
    }
    if (cut) throw new Error('power cut');
  }

  eraseBlock(index: number): void {
    this.bytes.fill(0xff, index * 4096, (index + 1) * 4096);
  }
}

function payload(seq: number, n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = (seq * 31 + i * 7) & 0xff;
  return bytes;
}

function sum(bytes: Uint8Array): number {
  let total = 0;
  for (let i = 0; i < bytes.length; i++) total = (total * 33 + bytes[i]!) >>> 0;
  return total;
}

export function scenario(): Record<string, unknown> {
  const flash = new RamNor(6);
  let x = 12345;
  const random = () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x / 4294967296;
  };
  let outbox = Outbox.open(flash, { random });
  let dropped = 0;
  for (let i = 0; i < 600; i++) {
    dropped += outbox.append(payload(i, (i * 37) % 900), { bootCount: 1 + (i >> 8), uptimeMs: i * 1000 }).dropped;
    if (i % 3 === 0) for (const r of outbox.peek(2)) outbox.release(r.seq);
    if (i % 97 === 0) outbox = Outbox.open(flash, { random });
  }
  outbox.timestampFix(2, 1_700_000_000_000);
  // a torn append, then recovery
  flash.powerLeft = 0;
  let torn = false;
  try {
    outbox.append(payload(9999, 500), { bootCount: 3, uptimeMs: 1 });
  } catch {
    torn = true;
  }
  flash.powerLeft = -1;
  outbox = Outbox.open(flash, { random });
  const sealed = outbox.recovery.tornRecordSealed;
  const planner = new DrainPlanner(outbox, { deviceId: 'dev', ratePerSecond: 5, burst: 5, startJitterMs: 1000, random, window: 4 });
  planner.connected(0);
  const ids: string[] = [];
  let now = 0;
  for (let step = 0; step < 20; step++) {
    const plan = planner.plan(now);
    for (const p of plan.publish) {
      ids.push(p.messageId);
      planner.acknowledged(p.record.seq);
    }
    now = plan.nextPlanAtMs ?? now + 100;
  }
  const records = outbox.peek(64);
  const stats = outbox.stats();
  return {
    dropped,
    torn,
    sealed,
    nextSeq: outbox.nextSeq,
    queued: stats.queued,
    bytesUsed: stats.bytesUsed,
    firstSeqs: records.slice(0, 5).map((r) => r.seq),
    times: records.slice(0, 3).map((r) => [r.time, r.wallMs ?? null, r.uptimeMs ?? null]),
    payloadSum: records.reduce((total, r) => (total + sum(r.payload)) >>> 0, 0),
    ids: ids.slice(0, 6),
    published: ids.length,
    erases: Array.from(outbox.eraseCounts().lifetime),
    bitSets: flash.bitSets,
  };
}
