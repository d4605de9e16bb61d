/**
 * The persistent outbox: telemetry records in an append-only log that rotates through a flash
 * partition's sectors, kept until the cloud acknowledges them (PUBACK). Sans-I/O: it is given
 * a partition object (the HAL's FlashPartition fits) and times as arguments; it keeps no
 * timers and no clock. README.md has the on-flash format, the recovery rules and the
 * guarantees; the short version:
 *
 * - The partition's N sectors form a ring. The head sector takes appends; when a record does
 *   not fit, the next sector is erased and opened (its header, with a sector sequence number
 *   one higher, is the commit point). When the ring is full the next sector is the tail:
 *   `drop-oldest` erases it (its unreleased records are counted as dropped), `drop-newest`
 *   refuses the append (counted) unless every record in it was already released.
 * - Records never span sectors, carry a u32 sequence number that keeps increasing across
 *   restarts, the reading's time and a CRC-32. Releasing a record clears its state byte in
 *   place (one byte written, legal on NOR flash), so releases may come in any order.
 * - Open reads every sector header (O(sectors)), walks the records of sectors that still
 *   hold unreleased ones, and checks the head sector's records with their CRCs: a torn tail
 *   (power lost mid-append) is sealed with one 0x00 byte and never returned.
 *
 * RAM: about 23 bytes per sector (at most 512 sectors), a time table of 8 entries, a cache of
 * 64 record locations, and one sector's bytes (blockLength) while reading; nothing per record.
 */
import {
  decodeSectorHeader,
  decodeTimeTable,
  encodeRecord,
  encodeSectorHeader,
  encodeTimeTable,
  isErased,
  KIND_DATA,
  KIND_SEAL,
  KIND_TIME,
  MAX_BLOCK_LENGTH,
  MAX_SECTORS,
  MAX_SEQ,
  MAX_TIME_FIXES,
  MAX_TIME_MS,
  maxPayloadLength,
  MIN_BLOCK_LENGTH,
  RECORD_HEADER_LENGTH,
  RECORD_STATE_OFFSET,
  scanRecord,
  SECTOR_DRAINED_OFFSET,
  SECTOR_HEADER_LENGTH,
  STATE_QUEUED,
  STATE_RELEASED,
  type RecordHeader,
  type TimeFix,
} from './format';

/**
 * What the outbox needs of a flash partition: the HAL's `FlashPartition` (hal/flash.ts) has
 * this shape. Declared here so that the core imports nothing but its own folder.
 */
export interface OutboxPartition {
  /** Erase-block (sector) size in bytes: 4096 on ESP32. */
  readonly blockLength: number;
  readonly byteLength: number;
  read(length: number, offset: number): Uint8Array;
  /** Programs bytes: clears bits only. */
  write(bytes: Uint8Array, offset: number): void;
  /** Sets block `index` to 0xFF. */
  eraseBlock(index: number): void;
  readonly info?: { readonly label: string };
}

export type OverflowPolicy = 'drop-oldest' | 'drop-newest';

export interface OutboxOptions {
  /** What happens when the ring is full: default `drop-oldest`. */
  overflow?: OverflowPolicy;
  /**
   * Uniform random numbers in [0, 1) (the HAL's crypto random on a device, seeded in tests):
   * used only to pick the id of a new log, when the partition holds none.
   */
  random: () => number;
}

/**
 * When a reading was taken: always the boot number (persistent, counted by the application)
 * and the uptime; the wall clock too once it is known (after time sync). The outbox stores
 * the wall clock when given, else the uptime and boot number.
 */
export interface RecordTime {
  bootCount: number;
  uptimeMs: number;
  wallMs?: number;
}

export interface OutboxRecord {
  seq: number;
  payload: Uint8Array;
  bootCount: number;
  /**
   * `wall`: stored with the wall clock. `corrected`: stored with uptime, and the boot's
   * offset to the wall clock is known now (`timestampFix`), so `wallMs` is computed.
   * `uptime`: stored with uptime, wall time unknown.
   */
  time: 'wall' | 'corrected' | 'uptime';
  /** Wall-clock ms since the Unix epoch, when known. */
  wallMs: number | undefined;
  /** Uptime ms of boot `bootCount`, when the record was stored with uptime. */
  uptimeMs: number | undefined;
}

export interface AppendResult {
  seq: number;
  /** Unreleased records this append erased to make room (`drop-oldest`); already counted. */
  dropped: number;
}

export interface OutboxStats {
  /** Unreleased records on flash. */
  queued: number;
  /** Bytes (record headers + payloads) of the unreleased records. */
  bytesUsed: number;
  /** Record bytes the partition holds: sectors x (sector - sector header). */
  capacity: number;
  sectors: number;
  /** Sectors in the ring (holding records, released or not). */
  sectorsInUse: number;
  nextSeq: number;
  /** Since open. */
  appended: number;
  /** Since open: records released (acknowledged). */
  released: number;
  /** Since open, by reason. `overflow`: unreleased records erased by drop-oldest. `full`:
   * appends refused by drop-newest. `corrupt`: unreleased records lost behind a record that
   * failed its CRC in a closed sector (flash damage, not power loss). */
  dropped: { overflow: number; full: number; corrupt: number };
  /** A time fix could not be written yet (drop-newest, ring full): it is written with the next sector. */
  timeTablePending: boolean;
}

/** What `open` found. */
export interface OutboxRecovery {
  /** No log in the partition: a new one (new log id) starts with the first append. */
  newLog: boolean;
  sectorsInRing: number;
  /** Ring sectors whose records were walked (those not marked drained), head included. */
  sectorsWalked: number;
  /** The head sector ended in a torn or corrupt record (power lost mid-append): sealed, not replayed. */
  tornRecordSealed: boolean;
  /** Sectors outside the ring whose header is neither valid nor erased: a torn erase or a torn header write. Treated as free; erased before reuse. */
  damagedSectors: number;
  /** Closed sectors whose record walk stopped at something that is not a record (flash damage). */
  corruptSectors: number;
}

export class OutboxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboxError';
  }
}

/** `drop-newest` and the ring is full of unreleased records: the append was refused (and counted). */
export class OutboxFullError extends OutboxError {
  constructor(message: string) {
    super(message);
    this.name = 'OutboxFullError';
  }
}

/** Records one `read` returns at most. */
export const MAX_READ = 64;
/** Record locations remembered (from reads and appends) so that a release need not walk a sector. */
const LOCATION_CACHE = 64;

function randomU32(random: () => number): number {
  const draw = random();
  const unit = draw >= 0 && draw < 1 ? draw : 0;
  return Math.floor(unit * 0x100000000) >>> 0;
}

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

export class Outbox {
  readonly sectors: number;
  readonly blockLength: number;
  /** The largest payload `append` accepts. */
  readonly maxPayload: number;
  readonly overflow: OverflowPolicy;
  readonly recovery: OutboxRecovery = {
    newLog: false,
    sectorsInRing: 0,
    sectorsWalked: 0,
    tornRecordSealed: false,
    damagedSectors: 0,
    corruptSectors: 0,
  };

  // Per physical sector (valid for ring sectors).
  private readonly sectorSeq: Uint32Array;
  private readonly firstSeq: Uint32Array;
  private readonly lifetimeErases: Uint32Array;
  private readonly sessionErases: Uint32Array;
  /** Offset after the sector's last record (the append point of the head). */
  private readonly end: Uint16Array;
  private readonly queuedCount: Uint16Array;
  private readonly queuedBytes: Uint16Array;
  /** 1 when the sector's drained marker is written. */
  private readonly drained: Uint8Array;

  private head = -1;
  private ringLength = 0;
  /** The head takes no more records (it ends in a seal, or is marked drained): the next append opens a sector. */
  private headSealed = false;
  private seqNext = 1;
  private id = 0;
  /** Boot -> offset, at most MAX_TIME_FIXES, ascending boot numbers. */
  private fixes: TimeFix[] = [];
  private tablePending = false;
  /** seq -> partition offset of a queued record; at most LOCATION_CACHE entries. */
  private readonly locations = new Map<number, number>();
  /** The oldest queued record's header, when known. */
  private oldest: RecordHeader | undefined;
  private readonly counts = { appended: 0, released: 0, overflow: 0, full: 0, corrupt: 0 };
  /** A flash operation failed midway: the state in RAM may not match the flash until reopened. */
  private failure: unknown;

  private constructor(
    private readonly partition: OutboxPartition,
    options: OutboxOptions,
  ) {
    const blockLength = partition.blockLength;
    const label = partition.info?.label ?? 'outbox';
    if (!Number.isInteger(blockLength) || blockLength < MIN_BLOCK_LENGTH || blockLength > MAX_BLOCK_LENGTH || blockLength % 256 !== 0) {
      throw new OutboxError(`Outbox partition "${label}": sector size ${blockLength} is not a multiple of 256 from ${MIN_BLOCK_LENGTH} to ${MAX_BLOCK_LENGTH}`);
    }
    const sectors = partition.byteLength / blockLength;
    if (!Number.isInteger(sectors) || sectors < 2 || sectors > MAX_SECTORS) {
      throw new OutboxError(
        `Outbox partition "${label}" has ${partition.byteLength} bytes: it needs a whole number of ${blockLength}-byte sectors, from 2 to ${MAX_SECTORS}`,
      );
    }
    const overflow = options.overflow ?? 'drop-oldest';
    if (overflow !== 'drop-oldest' && overflow !== 'drop-newest') throw new OutboxError(`Unknown overflow policy "${String(overflow)}"`);
    this.overflow = overflow;
    this.sectors = sectors;
    this.blockLength = blockLength;
    this.maxPayload = maxPayloadLength(blockLength);
    this.sectorSeq = new Uint32Array(sectors);
    this.firstSeq = new Uint32Array(sectors);
    this.lifetimeErases = new Uint32Array(sectors);
    this.sessionErases = new Uint32Array(sectors);
    this.end = new Uint16Array(sectors);
    this.queuedCount = new Uint16Array(sectors);
    this.queuedBytes = new Uint16Array(sectors);
    this.drained = new Uint8Array(sectors);
  }

  /**
   * Opens the outbox in a partition: finds the log, recovers from any power loss, and seals
   * a torn head (the only flash write open may make). A partition without a log is used as
   * it is: nothing is erased until the first append.
   */
  static open(partition: OutboxPartition, options: OutboxOptions): Outbox {
    const outbox = new Outbox(partition, options);
    outbox.recover(options.random);
    return outbox;
  }

  /** The sequence number the next append gets. */
  get nextSeq(): number {
    return this.seqNext;
  }

  /** This log's random id (in every sector header); part of the message ids. */
  get logId(): number {
    return this.id;
  }

  /** Unreleased records. */
  get queued(): number {
    let total = 0;
    this.forEachRing((s) => (total += this.queuedCount[s]!));
    return total;
  }

  /**
   * Appends a record. Returns its sequence number once it is on flash. Throws OutboxError
   * for a payload over `maxPayload` or a bad time, OutboxFullError when `drop-newest`
   * refuses it; any flash error (the power failing included) propagates and leaves the
   * outbox unusable until it is opened again.
   */
  append(payload: Uint8Array, time: RecordTime): AppendResult {
    this.checkUsable();
    if (!(payload instanceof Uint8Array)) throw new OutboxError('Outbox payloads are Uint8Arrays');
    if (payload.length > this.maxPayload) {
      throw new OutboxError(
        `Outbox record of ${payload.length} bytes is too large: records never span sectors, so a payload holds at most ${this.maxPayload} bytes with ${this.blockLength}-byte sectors`,
      );
    }
    const stored = storedTime(time);
    if (this.seqNext > MAX_SEQ) throw new OutboxError('Outbox sequence numbers are exhausted (2^32 records): erase the partition to start a new log');
    const record = encodeRecord({ kind: KIND_DATA, wall: stored.wall, seq: this.seqNext, bootCount: stored.bootCount, timeMs: stored.timeMs }, payload);
    let dropped = 0;
    try {
      this.guard(() => {
        if (!this.fits(record.length)) dropped = this.openSector();
        this.partition.write(record, this.head * this.blockLength + this.end[this.head]!);
      });
    } catch (error) {
      if (error instanceof OutboxFullError) this.counts.full++;
      throw error;
    }
    const seq = this.seqNext;
    this.remember(seq, this.head * this.blockLength + this.end[this.head]!);
    this.end[this.head]! += record.length;
    this.queuedCount[this.head]!++;
    this.queuedBytes[this.head]! += record.length;
    this.seqNext++;
    this.counts.appended++;
    return { seq, dropped };
  }

  /** The oldest unreleased records, at most `max` (at most MAX_READ), in order. */
  peek(max: number): OutboxRecord[] {
    return this.read(1, max);
  }

  /**
   * Unreleased records with `fromSeq <= seq < beforeSeq`, oldest first, at most `max` (at
   * most MAX_READ). Each record's CRC is checked: a record that fails it is never returned
   * (its sector is sealed there and the records lost behind it counted as `corrupt`).
   */
  read(fromSeq: number, max: number, beforeSeq: number = this.seqNext): OutboxRecord[] {
    this.checkUsable();
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`read: max must be a whole number, not ${max}`);
    const limit = Math.min(max, MAX_READ);
    const out: OutboxRecord[] = [];
    if (limit === 0 || this.ringLength === 0) return out;
    const from = Math.max(1, Math.ceil(fromSeq));
    const before = Math.min(beforeSeq, this.seqNext);
    const tail = this.tail();
    const start = this.sectorOf(from);
    let index = start < 0 ? 0 : (start - tail + this.sectors) % this.sectors;
    for (; index < this.ringLength; index++) {
      const s = (tail + index) % this.sectors;
      if (this.firstSeq[s]! >= before) break;
      if (this.queuedCount[s] === 0) continue;
      const end = this.end[s]!;
      const bytes = this.partition.read(end, s * this.blockLength);
      let at = SECTOR_HEADER_LENGTH;
      while (at < end) {
        const scan = scanRecord(bytes, at, false);
        if (scan.status !== 'record') break;
        const header = scan.header;
        if (header.kind === KIND_DATA && !header.released && header.seq >= from) {
          if (header.seq >= before) return out;
          if (scanRecord(bytes, at, true).status !== 'record') {
            this.sealCorrupt(s, bytes, at);
            break;
          }
          out.push(this.toRecord(header, bytes.slice(at + RECORD_HEADER_LENGTH, at + scan.size)));
          this.remember(header.seq, s * this.blockLength + at);
          if (out.length >= limit) return out;
        }
        at += scan.size;
      }
    }
    return out;
  }

  /**
   * The record `seq` was acknowledged: marks it released on flash (its state byte cleared in
   * place), in any order. Returns true when it was queued and is now released; false when it
   * is unknown, already released, or was dropped.
   */
  release(seq: number): boolean {
    this.checkUsable();
    if (!Number.isInteger(seq) || seq < 1 || seq >= this.seqNext) return false;
    const s = this.sectorOf(seq);
    if (s < 0 || this.queuedCount[s] === 0) return false;
    const found = this.locate(s, seq);
    if (found === undefined) return false;
    this.guard(() => this.partition.write(new Uint8Array([STATE_RELEASED]), found.offset + RECORD_STATE_OFFSET));
    this.locations.delete(seq);
    this.queuedCount[s]!--;
    this.queuedBytes[s]! -= found.size;
    this.counts.released++;
    if (this.oldest?.seq === seq) this.oldest = undefined;
    if (this.queuedCount[s] === 0 && s !== this.head && this.drained[s] === 0) this.guard(() => this.markDrained(s));
    return true;
  }

  /**
   * The wall clock of boot `bootCount` is uptime + `offsetMs`: records stored with that
   * boot's uptime read out with a corrected wall time from now on. The table keeps the 8
   * most recent boots and is persisted in the log: `persisted` once it is on flash,
   * `pending` when the ring is full under drop-newest (it is written with the next sector;
   * until then a power loss forgets it), `unchanged` when the table already says so or the
   * boot is older than the 8 it keeps.
   */
  timestampFix(bootCount: number, offsetMs: number): 'persisted' | 'pending' | 'unchanged' {
    this.checkUsable();
    if (!isU32(bootCount)) throw new OutboxError(`timestampFix: boot count ${bootCount} is not a u32`);
    if (!Number.isFinite(offsetMs)) throw new OutboxError(`timestampFix: offset ${offsetMs} is not a finite number of ms`);
    const existing = this.fixes.find((fix) => fix.bootCount === bootCount);
    if (existing?.offsetMs === offsetMs) return 'unchanged';
    const fixes = this.fixes.filter((fix) => fix.bootCount !== bootCount);
    fixes.push({ bootCount, offsetMs });
    fixes.sort((a, b) => a.bootCount - b.bootCount);
    if (fixes.length > MAX_TIME_FIXES) {
      if (fixes[0]!.bootCount === bootCount) return 'unchanged';
      fixes.shift();
    }
    this.fixes = fixes;
    const record = this.timeRecord();
    let result: 'persisted' | 'pending' = 'persisted';
    this.guard(() => {
      if (this.fits(record.length)) {
        this.partition.write(record, this.head * this.blockLength + this.end[this.head]!);
        this.end[this.head]! += record.length;
        return;
      }
      try {
        this.openSector(); // starts with the table
      } catch (error) {
        if (!(error instanceof OutboxFullError)) throw error;
        this.tablePending = true;
        result = 'pending';
      }
    });
    return result;
  }

  /** The boot -> wall-clock offset table (a copy). */
  timeFixes(): TimeFix[] {
    return this.fixes.map((fix) => ({ ...fix }));
  }

  /**
   * Age of the oldest unreleased record at `now`, in ms; undefined when the queue is empty or
   * the two times are not comparable (stored with an earlier boot's uptime, no fix known).
   */
  oldestAgeMs(now: RecordTime): number | undefined {
    this.checkUsable();
    if (this.oldest === undefined) {
      const first = this.read(1, 1)[0];
      if (first === undefined) return undefined;
      this.oldest = { kind: KIND_DATA, wall: first.time === 'wall', seq: first.seq, bootCount: first.bootCount, timeMs: first.time === 'wall' ? first.wallMs! : first.uptimeMs!, length: first.payload.length, released: false };
    }
    const oldest = this.oldest;
    const recordWall = oldest.wall ? oldest.timeMs : this.correct(oldest.bootCount, oldest.timeMs);
    const nowWall = now.wallMs ?? this.correct(now.bootCount, now.uptimeMs);
    if (recordWall !== undefined && nowWall !== undefined) return Math.max(0, nowWall - recordWall);
    if (!oldest.wall && oldest.bootCount === now.bootCount) return Math.max(0, now.uptimeMs - oldest.timeMs);
    return undefined;
  }

  stats(): OutboxStats {
    let queued = 0;
    let bytesUsed = 0;
    this.forEachRing((s) => {
      queued += this.queuedCount[s]!;
      bytesUsed += this.queuedBytes[s]!;
    });
    return {
      queued,
      bytesUsed,
      capacity: this.sectors * (this.blockLength - SECTOR_HEADER_LENGTH),
      sectors: this.sectors,
      sectorsInUse: this.ringLength,
      nextSeq: this.seqNext,
      appended: this.counts.appended,
      released: this.counts.released,
      dropped: { overflow: this.counts.overflow, full: this.counts.full, corrupt: this.counts.corrupt },
      timeTablePending: this.tablePending,
    };
  }

  /**
   * Erases per sector (index = sector of the partition), for wear figures: `sinceOpen` as
   * counted by this object; `lifetime` as recorded in the sector headers (a sector whose
   * header was lost to a torn erase starts again from 0). Copies.
   */
  eraseCounts(): { sinceOpen: Uint32Array; lifetime: Uint32Array } {
    return { sinceOpen: this.sessionErases.slice(), lifetime: this.lifetimeErases.slice() };
  }

  // ---- recovery ----

  private recover(random: () => number): void {
    const n = this.sectors;
    const B = this.blockLength;
    const valid = new Uint8Array(n);
    const logIds = new Uint32Array(n);
    for (let s = 0; s < n; s++) {
      const bytes = this.partition.read(SECTOR_HEADER_LENGTH, s * B);
      const header = decodeSectorHeader(bytes, B);
      if (header === undefined) {
        if (!isErased(bytes)) this.recovery.damagedSectors++;
        continue;
      }
      valid[s] = 1;
      logIds[s] = header.logId;
      this.sectorSeq[s] = header.sectorSeq;
      this.firstSeq[s] = header.firstSeq;
      this.lifetimeErases[s] = header.eraseCount;
      this.drained[s] = header.drained ? 1 : 0;
      if (this.head < 0 || header.sectorSeq > this.sectorSeq[this.head]!) this.head = s;
    }
    if (this.head < 0) {
      this.id = randomU32(random);
      this.recovery.newLog = true;
      return;
    }
    this.id = logIds[this.head]!;
    // The ring: physically consecutive sectors, going back from the head, with consecutive
    // sector numbers of the same log. Anything else is free (erased before reuse).
    this.ringLength = 1;
    for (let s = this.head; this.ringLength < n; ) {
      const previous = (s - 1 + n) % n;
      const chained =
        valid[previous] === 1 &&
        logIds[previous] === this.id &&
        this.sectorSeq[previous] === this.sectorSeq[s]! - 1 &&
        this.firstSeq[previous]! <= this.firstSeq[s]!;
      if (!chained) break;
      this.ringLength++;
      s = previous;
    }
    this.recovery.sectorsInRing = this.ringLength;
    this.forEachRing((s) => {
      if (s === this.head) return;
      if (this.drained[s] === 1) {
        this.end[s] = B;
        return;
      }
      this.recovery.sectorsWalked++;
      this.walkClosed(s);
    });
    this.recovery.sectorsWalked++;
    this.scanHead();
  }

  /** Counts a closed sector's queued records from their headers (CRCs are checked when read). */
  private walkClosed(s: number): void {
    const bytes = this.partition.read(this.blockLength, s * this.blockLength);
    let at = SECTOR_HEADER_LENGTH;
    let expected = this.firstSeq[s]!;
    for (;;) {
      const scan = scanRecord(bytes, at, false);
      if (scan.status === 'end' || scan.status === 'sealed') break;
      if (scan.status === 'bad' || (scan.header.kind === KIND_DATA && scan.header.seq !== expected)) {
        this.recovery.corruptSectors++;
        break;
      }
      if (scan.header.kind === KIND_DATA) {
        expected++;
        if (!scan.header.released) {
          this.queuedCount[s]!++;
          this.queuedBytes[s]! += scan.size;
        }
      }
      at += scan.size;
    }
    this.end[s] = at;
  }

  /** Replays the head sector with CRCs: the next sequence number, the time table, the append point; seals a torn tail. */
  private scanHead(): void {
    const s = this.head;
    const B = this.blockLength;
    const bytes = this.partition.read(B, s * B);
    let at = SECTOR_HEADER_LENGTH;
    let expected = this.firstSeq[s]!;
    let seal = false;
    for (;;) {
      const scan = scanRecord(bytes, at, true);
      if (scan.status === 'end') {
        seal = !isErased(bytes, at, B);
        break;
      }
      if (scan.status === 'sealed') {
        this.headSealed = true;
        break;
      }
      if (scan.status === 'bad' || (scan.header.kind === KIND_DATA && scan.header.seq !== expected)) {
        seal = true;
        break;
      }
      const header = scan.header;
      if (header.kind === KIND_DATA) {
        expected++;
        if (!header.released) {
          this.queuedCount[s]!++;
          this.queuedBytes[s]! += scan.size;
        }
      } else if (header.kind === KIND_TIME) {
        this.fixes = decodeTimeTable(bytes.subarray(at + RECORD_HEADER_LENGTH, at + scan.size)).sort((a, b) => a.bootCount - b.bootCount);
      }
      at += scan.size;
    }
    this.end[s] = at;
    this.seqNext = expected;
    if (this.drained[s] === 1) this.headSealed = true;
    if (seal) {
      this.guard(() => this.partition.write(new Uint8Array([KIND_SEAL]), s * B + at));
      this.headSealed = true;
      this.recovery.tornRecordSealed = true;
    }
  }

  // ---- sectors ----

  private tail(): number {
    return (this.head - this.ringLength + 1 + this.sectors) % this.sectors;
  }

  private forEachRing(visit: (s: number) => void): void {
    if (this.ringLength === 0) return;
    const tail = this.tail();
    for (let i = 0; i < this.ringLength; i++) visit((tail + i) % this.sectors);
  }

  /** The ring sector holding `seq` (the newest whose first sequence number is not above it), or -1. */
  private sectorOf(seq: number): number {
    for (let i = 0; i < this.ringLength; i++) {
      const s = (this.head - i + this.sectors) % this.sectors;
      if (this.firstSeq[s]! <= seq) return s;
    }
    return -1;
  }

  private fits(size: number): boolean {
    return this.head >= 0 && !this.headSealed && this.end[this.head]! + size <= this.blockLength;
  }

  /**
   * Erases the sector after the head and makes it the head: its header, written last, is the
   * commit point (the time table goes in first, behind the still-erased header). Returns the
   * unreleased records dropped to make room; throws OutboxFullError, having changed nothing,
   * when drop-newest would have to drop any.
   */
  private openSector(): number {
    const n = this.sectors;
    const B = this.blockLength;
    const next = this.head < 0 ? 0 : (this.head + 1) % n;
    let dropped = 0;
    if (this.ringLength === n) {
      if (this.queuedCount[next]! > 0) {
        if (this.overflow === 'drop-newest') {
          throw new OutboxFullError(`Outbox is full: ${this.queued} records wait for acknowledgement and the policy is drop-newest`);
        }
        dropped = this.queuedCount[next]!;
      }
      this.ringLength--;
      this.counts.overflow += dropped;
      if (dropped > 0) this.oldest = undefined;
      this.queuedCount[next] = 0;
      this.queuedBytes[next] = 0;
      this.forgetLocations(next);
    }
    this.partition.eraseBlock(next);
    this.sessionErases[next]!++;
    this.lifetimeErases[next]!++;
    let at = SECTOR_HEADER_LENGTH;
    if (this.fixes.length > 0) {
      const table = this.timeRecord();
      this.partition.write(table, next * B + at);
      at += table.length;
    }
    const sectorSeq = this.head < 0 ? 1 : this.sectorSeq[this.head]! + 1;
    this.partition.write(encodeSectorHeader({ sectorSeq, firstSeq: this.seqNext, logId: this.id, eraseCount: this.lifetimeErases[next]! }, B), next * B);
    const previous = this.head;
    this.head = next;
    this.ringLength++;
    this.sectorSeq[next] = sectorSeq;
    this.firstSeq[next] = this.seqNext;
    this.end[next] = at;
    this.drained[next] = 0;
    this.headSealed = false;
    this.tablePending = false;
    if (previous >= 0 && this.queuedCount[previous] === 0 && this.drained[previous] === 0) this.markDrained(previous);
    return dropped;
  }

  private markDrained(s: number): void {
    this.partition.write(new Uint8Array([0]), s * this.blockLength + SECTOR_DRAINED_OFFSET);
    this.drained[s] = 1;
  }

  private timeRecord(): Uint8Array {
    return encodeRecord({ kind: KIND_TIME, wall: false, seq: this.seqNext, bootCount: 0, timeMs: 0 }, encodeTimeTable(this.fixes));
  }

  /**
   * A record failed its CRC at `at` in sector `s` (flash damage: a torn record is sealed at
   * open): seal the sector there and count the queued records behind the seal as lost.
   */
  private sealCorrupt(s: number, bytes: Uint8Array, at: number): void {
    let lost = 0;
    let lostBytes = 0;
    for (let offset = at; offset < this.end[s]!; ) {
      const scan = scanRecord(bytes, offset, false);
      if (scan.status !== 'record') break;
      if (scan.header.kind === KIND_DATA && !scan.header.released) {
        lost++;
        lostBytes += scan.size;
        this.locations.delete(scan.header.seq);
      }
      offset += scan.size;
    }
    this.guard(() => this.partition.write(new Uint8Array([KIND_SEAL]), s * this.blockLength + at));
    this.end[s] = at;
    this.queuedCount[s]! -= lost;
    this.queuedBytes[s]! -= lostBytes;
    this.counts.corrupt += lost;
    this.oldest = undefined;
    if (s === this.head) this.headSealed = true;
  }

  /** Where queued record `seq` is in sector `s`, and its size; undefined when it is not queued there. */
  private locate(s: number, seq: number): { offset: number; size: number } | undefined {
    const cached = this.locations.get(seq);
    if (cached !== undefined && Math.floor(cached / this.blockLength) === s) {
      // The header alone (scanRecord would want the payload too): check its fields directly.
      const bytes = this.partition.read(RECORD_HEADER_LENGTH, cached);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (bytes[0] === KIND_DATA && view.getUint32(4, true) === seq && bytes[RECORD_STATE_OFFSET] === STATE_QUEUED) {
        return { offset: cached, size: RECORD_HEADER_LENGTH + view.getUint16(2, true) };
      }
    }
    const end = this.end[s]!;
    const bytes = this.partition.read(end, s * this.blockLength);
    for (let at = SECTOR_HEADER_LENGTH; at < end; ) {
      const scan = scanRecord(bytes, at, false);
      if (scan.status !== 'record') return undefined;
      if (scan.header.kind === KIND_DATA && scan.header.seq === seq) {
        return scan.header.released ? undefined : { offset: s * this.blockLength + at, size: scan.size };
      }
      if (scan.header.kind === KIND_DATA && scan.header.seq > seq) return undefined;
      at += scan.size;
    }
    return undefined;
  }

  private remember(seq: number, offset: number): void {
    if (this.locations.has(seq)) return;
    if (this.locations.size >= LOCATION_CACHE) {
      const first = this.locations.keys().next();
      if (!first.done) this.locations.delete(first.value);
    }
    this.locations.set(seq, offset);
  }

  private forgetLocations(s: number): void {
    for (const [seq, offset] of this.locations) {
      if (Math.floor(offset / this.blockLength) === s) this.locations.delete(seq);
    }
  }

  // ---- time ----

  private correct(bootCount: number, uptimeMs: number): number | undefined {
    const fix = this.fixes.find((entry) => entry.bootCount === bootCount);
    return fix === undefined ? undefined : uptimeMs + fix.offsetMs;
  }

  private toRecord(header: RecordHeader, payload: Uint8Array): OutboxRecord {
    if (header.wall) {
      return { seq: header.seq, payload, bootCount: header.bootCount, time: 'wall', wallMs: header.timeMs, uptimeMs: undefined };
    }
    const wallMs = this.correct(header.bootCount, header.timeMs);
    return {
      seq: header.seq,
      payload,
      bootCount: header.bootCount,
      time: wallMs === undefined ? 'uptime' : 'corrected',
      wallMs,
      uptimeMs: header.timeMs,
    };
  }

  // ---- failures ----

  private checkUsable(): void {
    if (this.failure !== undefined) {
      throw new OutboxError(`Outbox is unusable after a flash failure (${String(this.failure)}); open it again`);
    }
  }

  /** Runs flash operations; a failure other than OutboxError leaves the outbox unusable until reopened. */
  private guard(operations: () => void): void {
    try {
      operations();
    } catch (error) {
      if (!(error instanceof OutboxError)) this.failure = error;
      throw error;
    }
  }
}

function storedTime(time: RecordTime): { wall: boolean; timeMs: number; bootCount: number } {
  if (time === null || typeof time !== 'object') throw new OutboxError('append: the time is { bootCount, uptimeMs, wallMs? }');
  const { bootCount, uptimeMs, wallMs } = time;
  if (!isU32(bootCount)) throw new OutboxError(`append: boot count ${bootCount} is not a u32`);
  const checkMs = (name: string, ms: number): number => {
    if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIME_MS) throw new OutboxError(`append: ${name} ${ms} is not a time from 0 to 2^48 ms`);
    return Math.floor(ms);
  };
  if (wallMs !== undefined) return { wall: true, timeMs: checkMs('wallMs', wallMs), bootCount };
  return { wall: false, timeMs: checkMs('uptimeMs', uptimeMs), bootCount };
}
