/**
 * A simulated device's SPI NOR flash, kept in a file so that it survives simulated power loss
 * and process restarts: one file of `flashSize` bytes per device, laid out by the board's
 * partition table (written at 0x8000 in ESP-IDF's binary format when the file is created).
 *
 * ESP32 flash rules, enforced: erase sets a whole 4 KB sector to 0xFF; a write can only clear
 * bits (the flash stores old AND new). A write that tries to set a bit is what the chip does
 * with it — silently ANDed — but counted in `stats.bitSetAttempts`, because it means the
 * firmware forgot an erase.
 *
 * Storage: every operation reads or writes the file at its offset through an open descriptor
 * (fs.readSync / fs.writeSync); nothing is cached, so twenty 4 MB devices cost file space,
 * not heap, and the file is always the device's state. Data reaches the OS with each call,
 * so it survives the process being killed (not the host losing power: no fsync, on purpose).
 * One FlashImage per file at a time: two objects over the same file would not see each
 * other's stats or hooks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BoardDefinition } from '../../hal/board';
import { FlashError, type PartitionInfo } from '../../hal/flash';
import { decodePartitionTable, encodePartitionTable, PARTITION_TABLE_LENGTH, PARTITION_TABLE_OFFSET } from './partition-table';
import { PowerCutError } from './power-cut';

export const SECTOR_SIZE = 4096;

/** A write or an erase about to change the flash, as the fault-injection hook sees it. */
export interface FlashMutation {
  kind: 'write' | 'erase';
  offset: number;
  length: number;
  /** The bytes a write programs (a copy); absent for an erase. */
  bytes?: Uint8Array;
}

export interface FlashStats {
  reads: number;
  bytesRead: number;
  writes: number;
  bytesWritten: number;
  erases: number;
  /** Erase count of each 4 KB sector, by sector index: the wear figures. */
  erasesBySector: Uint32Array;
  /** Writes that tried to turn a 0 bit into a 1, that is, writes without the erase they needed. */
  bitSetAttempts: number;
}

const FILL_CHUNK = 0x10000;

function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

export class FlashImage {
  readonly stats: FlashStats;
  /**
   * Called before every write and erase. Throwing aborts the operation before it changes
   * anything, except a PowerCutError, which tears it: its `completedBytes` first bytes are
   * applied (written, or erased), then the error propagates. See power-cut.ts.
   */
  onBeforeMutation?: (op: FlashMutation) => void;

  private fd: number | undefined;

  private constructor(
    readonly path: string,
    readonly boardName: string,
    readonly flashSize: number,
    fd: number,
  ) {
    this.fd = fd;
    this.stats = {
      reads: 0,
      bytesRead: 0,
      writes: 0,
      bytesWritten: 0,
      erases: 0,
      erasesBySector: new Uint32Array(flashSize / SECTOR_SIZE),
      bitSetAttempts: 0,
    };
  }

  /**
   * Opens the flash image of a device of this board at `file`, creating it when absent (all
   * 0xFF, as a new chip, with the board's partition table at 0x8000). Throws FlashError when
   * the file exists but is not an image of this board.
   */
  static open(file: string, board: BoardDefinition): FlashImage {
    if (!Number.isInteger(board.flashSize) || board.flashSize <= 0 || board.flashSize % SECTOR_SIZE !== 0) {
      throw new FlashError(`Board ${board.name}: flash size ${board.flashSize} is not a whole number of 4 KB sectors`);
    }
    const table = encodePartitionTable(board.partitions, board.flashSize);
    if (!fs.existsSync(file)) createImage(file, board.flashSize, table);
    const fd = fs.openSync(file, 'r+');
    try {
      checkImage(fd, file, board, table);
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    return new FlashImage(file, board.name, board.flashSize, fd);
  }

  /** The partition table as the image holds it (not as the board declares it). */
  partitions(): PartitionInfo[] {
    return decodePartitionTable(this.readRaw(PARTITION_TABLE_OFFSET, PARTITION_TABLE_LENGTH));
  }

  read(offset: number, length: number): Uint8Array {
    this.checkRange('read', offset, length);
    this.stats.reads++;
    this.stats.bytesRead += length;
    return this.readRaw(offset, length);
  }

  /** Programs `bytes` at `offset`: each byte becomes old AND new, as on NOR flash. */
  write(offset: number, bytes: Uint8Array): void {
    this.checkRange('write', offset, bytes.length);
    if (bytes.length === 0) return;
    const data = bytes.slice();
    const applied = this.announce({ kind: 'write', offset, length: data.length, bytes: data });
    const old = this.readRaw(offset, applied.length);
    const programmed = new Uint8Array(applied.length);
    let setsBits = false;
    for (let i = 0; i < programmed.length; i++) {
      if (data[i]! & ~old[i]!) setsBits = true;
      programmed[i] = old[i]! & data[i]!;
    }
    this.writeRaw(offset, programmed);
    this.stats.writes++;
    this.stats.bytesWritten += programmed.length;
    if (setsBits) this.stats.bitSetAttempts++;
    if (applied.cut) throw applied.cut;
  }

  /** Sets the 4 KB sector `index` (0-based from the start of flash) to 0xFF. */
  eraseSector(index: number): void {
    this.checkOpen();
    const sectors = this.flashSize / SECTOR_SIZE;
    if (!Number.isInteger(index) || index < 0 || index >= sectors) {
      throw new FlashError(`Flash erase of sector ${index} in ${this.path}: sectors are 0 to ${sectors - 1}`);
    }
    const offset = index * SECTOR_SIZE;
    const applied = this.announce({ kind: 'erase', offset, length: SECTOR_SIZE });
    this.writeRaw(offset, new Uint8Array(applied.length).fill(0xff));
    this.stats.erases++;
    this.stats.erasesBySector[index]!++;
    if (applied.cut) throw applied.cut;
  }

  close(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /** Runs the hook; says how many bytes of the operation to apply, and the power cut to throw after. */
  private announce(op: FlashMutation): { length: number; cut?: PowerCutError } {
    try {
      this.onBeforeMutation?.(op);
    } catch (error) {
      if (!(error instanceof PowerCutError)) throw error;
      const completed = Math.max(0, Math.min(op.length, Math.floor(error.completedBytes)));
      return { length: completed, cut: error };
    }
    return { length: op.length };
  }

  private checkOpen(): number {
    if (this.fd === undefined) throw new FlashError(`Flash image ${this.path} is closed`);
    return this.fd;
  }

  private checkRange(operation: string, offset: number, length: number): void {
    this.checkOpen();
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.flashSize) {
      throw new FlashError(
        `Flash ${operation} of ${length} bytes at ${Number.isInteger(offset) ? hex(offset) : offset} is outside the ${hex(this.flashSize)} bytes of ${this.path}`,
      );
    }
  }

  private readRaw(offset: number, length: number): Uint8Array {
    return readAt(this.checkOpen(), offset, length);
  }

  private writeRaw(offset: number, bytes: Uint8Array): void {
    writeAt(this.checkOpen(), offset, bytes);
  }
}

function readAt(fd: number, offset: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, bytes, done, length - done, offset + done);
    if (n === 0) throw new FlashError(`Flash image ended at ${hex(offset + done)}: the file was truncated`);
    done += n;
  }
  return bytes;
}

function writeAt(fd: number, offset: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, offset + done);
}

/** Writes a new image beside `file` and renames it into place, so a crash never leaves half an image. */
function createImage(file: string, flashSize: number, table: Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(temporary, 'w');
  try {
    const erased = new Uint8Array(FILL_CHUNK).fill(0xff);
    for (let offset = 0; offset < flashSize; offset += FILL_CHUNK) {
      writeAt(fd, offset, erased.subarray(0, Math.min(FILL_CHUNK, flashSize - offset)));
    }
    writeAt(fd, PARTITION_TABLE_OFFSET, table);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temporary, file);
}

function checkImage(fd: number, file: string, board: BoardDefinition, expectedTable: Uint8Array): void {
  const advice = 'Delete the file to start this device afresh, or choose another state directory.';
  const size = fs.fstatSync(fd).size;
  if (size !== board.flashSize) {
    throw new FlashError(
      `${file} is ${size} bytes, but board ${board.name} has ${board.flashSize} bytes of flash: it is not a flash image of this board. ${advice}`,
    );
  }
  const table = readAt(fd, PARTITION_TABLE_OFFSET, PARTITION_TABLE_LENGTH);
  if (sameBytes(table, expectedTable)) return;
  let found: string;
  try {
    found = decodePartitionTable(table)
      .map((p) => `${p.label} ${p.type}/${p.subtype} ${hex(p.offset)}+${hex(p.size)}`)
      .join(', ');
  } catch (error) {
    throw new FlashError(`${file} has no valid partition table (${(error as Error).message}); it is not a flash image of board ${board.name}. ${advice}`);
  }
  throw new FlashError(`${file} holds a partition table other than board ${board.name}'s (it has: ${found}). ${advice}`);
}
