import { FlashError, type FlashPartition, type PartitionInfo } from '../../hal/flash';
import type { BoardDefinition } from '../../hal/board';
import type { FlashMutation } from '../../host-sim/flash/flash-image';
import { PowerCutError } from '../../host-sim/flash/power-cut';
import { seededRandom } from '../../host-sim/seeded-random';
import { Outbox, type OutboxOptions, type OutboxRecord } from '../../firmware/store/outbox';

/** Deterministic uniform numbers in [0, 1) (mulberry32, the simulator's scenario generator). */
export const seeded = seededRandom;

/**
 * A NOR partition in RAM with ESP32's rules, for fast tests: erase sets a block to 0xFF, a
 * write ANDs (setting a bit is counted as a missing erase). `cutPowerAt(k)` tears the k-th
 * mutation from now like host-sim's power-cut hook; `reboot()` restores power.
 */
export class MemoryPartition implements FlashPartition {
  readonly blockLength: number;
  readonly byteLength: number;
  readonly info: PartitionInfo;
  readonly bytes: Uint8Array;
  readonly stats = { writes: 0, erases: 0, bitSetAttempts: 0, erasesBySector: new Uint32Array(0) };
  private cut: { remaining: number; random: () => number; fired: boolean } | undefined;

  constructor(sectors: number, blockLength = 4096, fill = 0xff) {
    this.blockLength = blockLength;
    this.byteLength = sectors * blockLength;
    this.info = { label: 'outbox', type: 'data', subtype: 'undefined', offset: 0, size: this.byteLength };
    this.bytes = new Uint8Array(this.byteLength).fill(fill);
    this.stats.erasesBySector = new Uint32Array(sectors);
  }

  get mutations(): number {
    return this.stats.writes + this.stats.erases;
  }

  read(length: number, offset: number): Uint8Array {
    this.check(offset, length);
    return this.bytes.slice(offset, offset + length);
  }

  write(bytes: Uint8Array, offset: number): void {
    this.check(offset, bytes.length);
    const applied = this.announce({ kind: 'write', offset, length: bytes.length, bytes: bytes.slice() });
    for (let i = 0; i < applied.length; i++) {
      if (bytes[i]! & ~this.bytes[offset + i]!) this.stats.bitSetAttempts++;
      this.bytes[offset + i]! &= bytes[i]!;
    }
    this.stats.writes++;
    if (applied.cut) throw applied.cut;
  }

  eraseBlock(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.byteLength / this.blockLength) throw new FlashError(`no block ${index}`);
    const offset = index * this.blockLength;
    const applied = this.announce({ kind: 'erase', offset, length: this.blockLength });
    this.bytes.fill(0xff, offset, offset + applied.length);
    this.stats.erases++;
    this.stats.erasesBySector[index]!++;
    if (applied.cut) throw applied.cut;
  }

  /** The power fails during the `index`-th mutation from now (tearing it at a random byte), and stays off. */
  cutPowerAt(index: number, random: () => number): void {
    this.cut = { remaining: index, random, fired: false };
  }

  get powerCutFired(): boolean {
    return this.cut?.fired ?? false;
  }

  reboot(): void {
    this.cut = undefined;
  }

  /** Flips bits to 0 directly (flash damage, not a program operation). */
  damage(offset: number, mask: number): void {
    this.bytes[offset]! &= mask;
  }

  private announce(op: FlashMutation): { length: number; cut?: PowerCutError } {
    const cut = this.cut;
    if (cut === undefined) return { length: op.length };
    if (cut.fired) return { length: 0, cut: new PowerCutError(op, 0) };
    if (cut.remaining-- > 0) return { length: op.length };
    cut.fired = true;
    const completed = Math.floor(cut.random() * op.length);
    return { length: completed, cut: new PowerCutError(op, completed) };
  }

  private check(offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.byteLength) {
      throw new FlashError(`access of ${length} bytes at ${offset} outside ${this.byteLength}`);
    }
  }
}

/** Every unreleased record, in order (read pages through MAX_READ at a time). */
export function readAll(outbox: Outbox): OutboxRecord[] {
  const all: OutboxRecord[] = [];
  let from = 1;
  for (;;) {
    const page = outbox.read(from, 64);
    all.push(...page);
    if (page.length < 64) return all;
    from = page[page.length - 1]!.seq + 1;
  }
}

/** A payload that names its record: `n` bytes derived from `tag`. */
export function payloadFor(tag: number, n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  let x = (tag * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

export function openMemory(partition: MemoryPartition, options: Partial<OutboxOptions> = {}): Outbox {
  return Outbox.open(partition, { random: seeded(7), ...options });
}

/** A 128 KB board whose `outbox` partition has `sectors` sectors, for file-backed tests. */
export function outboxBoard(sectors: number): BoardDefinition {
  return {
    name: `test-outbox-${sectors}`,
    target: 'esp32',
    moddablePlatform: 'esp32',
    flashSize: 0x20000,
    i2c: [],
    sensors: [],
    partitions: [
      { label: 'nvs', type: 'data', subtype: 'nvs', offset: 0x9000, size: 0x4000 },
      { label: 'outbox', type: 'data', subtype: 'undefined', offset: 0x10000, size: sectors * 0x1000 },
    ],
  };
}

export const UPTIME = (uptimeMs: number, bootCount = 1) => ({ bootCount, uptimeMs });
export const WALL = (wallMs: number, bootCount = 1) => ({ bootCount, uptimeMs: 0, wallMs });
