/**
 * The outbox's bytes on flash: sector headers and records (README.md has the tables). Pure
 * encode/decode; no flash access here. All integers little-endian.
 */
import { crc32, crc32Final, crc32Update, CRC32_START } from '../../codec/crc32';

/** Format version in every sector header; a sector of another version is not part of the log. */
export const FORMAT_VERSION = 1;
export const SECTOR_HEADER_LENGTH = 32;
export const RECORD_HEADER_LENGTH = 24;

/** "TKOB": ThingKit OutBox. */
const SECTOR_MAGIC = [0x54, 0x4b, 0x4f, 0x42];
/** Sector header bytes covered by its CRC (the CRC follows them). */
const SECTOR_CRC_COVERS = 24;
/** Offset of the sector's drained marker: 0xFF until every record in the (closed) sector is released. */
export const SECTOR_DRAINED_OFFSET = 28;

/** Record kinds (first byte of a record). */
export const KIND_DATA = 0x44; // 'D'
export const KIND_TIME = 0x54; // 'T': the boot -> wall-clock offset table
/** Erased flash where the next record would start: the end of the sector's records. */
export const KIND_ERASED = 0xff;
/** Written over the first byte of a torn or corrupt record: the sector holds no records past it. */
export const KIND_SEAL = 0x00;

/** Record flag: the time is wall-clock ms since the Unix epoch (else uptime ms of `bootCount`). */
export const FLAG_WALL = 0x01;
/** Record bytes covered by its CRC, with the payload (the CRC follows them). */
const RECORD_CRC_COVERS = 18;
/** Offset of the record's state byte: 0xFF queued; cleared in place to release it. */
export const RECORD_STATE_OFFSET = 22;
export const STATE_QUEUED = 0xff;
export const STATE_RELEASED = 0x00;

/** Entries in the boot -> wall-clock offset table. */
export const MAX_TIME_FIXES = 8;
const TIME_FIX_LENGTH = 12;
export const MAX_TIME_RECORD_LENGTH = RECORD_HEADER_LENGTH + MAX_TIME_FIXES * TIME_FIX_LENGTH;

export const MAX_SEQ = 0xffffffff;
/** Times are stored in 48 bits: 8 900 years of ms. */
export const MAX_TIME_MS = 2 ** 48 - 1;

/** Geometry limits: offsets inside a sector fit 16 bits; RAM state is ~23 bytes a sector. */
export const MIN_BLOCK_LENGTH = 512;
export const MAX_BLOCK_LENGTH = 32768;
export const MAX_SECTORS = 512;

/**
 * The largest payload a record may carry: one sector less its header, a record header and
 * the largest time table (which a new sector may start with), so that any record fits in
 * any fresh sector. 3 920 bytes with 4 KB sectors.
 */
export function maxPayloadLength(blockLength: number): number {
  return blockLength - SECTOR_HEADER_LENGTH - RECORD_HEADER_LENGTH - MAX_TIME_RECORD_LENGTH;
}

export interface SectorHeader {
  /** Increases by one for each sector the log opens: the newest valid sector is the head. */
  sectorSeq: number;
  /** The sequence number the sector's first record has (or would have). */
  firstSeq: number;
  /** Random id of this log, chosen when it was started; part of every message id. */
  logId: number;
  /** Times this sector has been erased, as far as the log knows (wear figure). */
  eraseCount: number;
  /** Every record in the sector has been released (a marker cleared in place). */
  drained: boolean;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A sector header as written when the sector is opened (drained marker still erased). */
export function encodeSectorHeader(header: Omit<SectorHeader, 'drained'>, blockLength: number): Uint8Array {
  const bytes = new Uint8Array(SECTOR_HEADER_LENGTH).fill(0xff);
  const v = view(bytes);
  bytes.set(SECTOR_MAGIC, 0);
  bytes[4] = FORMAT_VERSION;
  bytes[5] = SECTOR_HEADER_LENGTH;
  v.setUint16(6, blockLength >>> 8, true);
  v.setUint32(8, header.sectorSeq >>> 0, true);
  v.setUint32(12, header.firstSeq >>> 0, true);
  v.setUint32(16, header.logId >>> 0, true);
  v.setUint32(20, header.eraseCount >>> 0, true);
  v.setUint32(SECTOR_CRC_COVERS, crc32(bytes, 0, SECTOR_CRC_COVERS), true);
  return bytes;
}

/** The header in `bytes` (at least 32 bytes), or undefined when it is not a valid header of this format and geometry. */
export function decodeSectorHeader(bytes: Uint8Array, blockLength: number): SectorHeader | undefined {
  if (bytes.length < SECTOR_HEADER_LENGTH) return undefined;
  for (let i = 0; i < SECTOR_MAGIC.length; i++) if (bytes[i] !== SECTOR_MAGIC[i]) return undefined;
  const v = view(bytes);
  if (bytes[4] !== FORMAT_VERSION || bytes[5] !== SECTOR_HEADER_LENGTH || v.getUint16(6, true) !== blockLength >>> 8) return undefined;
  if (v.getUint32(SECTOR_CRC_COVERS, true) !== crc32(bytes, 0, SECTOR_CRC_COVERS)) return undefined;
  return {
    sectorSeq: v.getUint32(8, true),
    firstSeq: v.getUint32(12, true),
    logId: v.getUint32(16, true),
    eraseCount: v.getUint32(20, true),
    drained: bytes[SECTOR_DRAINED_OFFSET] !== 0xff,
  };
}

/** Whether `bytes[from, to)` is all 0xFF (erased). */
export function isErased(bytes: Uint8Array, from = 0, to = bytes.length): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0xff) return false;
  return true;
}

export interface RecordFields {
  kind: number;
  /** True: `timeMs` is wall-clock ms; false: uptime ms since boot number `bootCount`. */
  wall: boolean;
  seq: number;
  bootCount: number;
  timeMs: number;
}

export interface RecordHeader extends RecordFields {
  /** Payload bytes. */
  length: number;
  /** The state byte has been cleared: the record was released (PUBACK received). */
  released: boolean;
}

/** A whole record, header and payload, state byte erased (queued). */
export function encodeRecord(fields: RecordFields, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(RECORD_HEADER_LENGTH + payload.length);
  const v = view(bytes);
  bytes[0] = fields.kind;
  bytes[1] = fields.wall ? FLAG_WALL : 0;
  v.setUint16(2, payload.length, true);
  v.setUint32(4, fields.seq >>> 0, true);
  v.setUint32(8, fields.bootCount >>> 0, true);
  v.setUint32(12, fields.timeMs % 0x100000000, true);
  v.setUint16(16, Math.floor(fields.timeMs / 0x100000000), true);
  bytes.set(payload, RECORD_HEADER_LENGTH);
  let crc = crc32Update(CRC32_START, bytes, 0, RECORD_CRC_COVERS);
  crc = crc32Update(crc, payload);
  v.setUint32(RECORD_CRC_COVERS, crc32Final(crc), true);
  bytes[RECORD_STATE_OFFSET] = STATE_QUEUED;
  bytes[23] = 0xff;
  return bytes;
}

export type RecordScan =
  /** A well-formed record of `size` bytes (header + payload) at the offset. */
  | { status: 'record'; header: RecordHeader; size: number }
  /** Erased flash, or the end of the sector: no more records. */
  | { status: 'end' }
  /** A seal byte: the sector's records end here (what followed was torn or corrupt). */
  | { status: 'sealed' }
  /** Not a record: torn (power lost while it was written) or corrupt. */
  | { status: 'bad'; problem: string };

/**
 * Reads the record at `offset` of a sector's bytes. With `verifyCrc` the payload's CRC is
 * checked too; without, only the header's shape (kind, flags, length within the sector).
 */
export function scanRecord(sector: Uint8Array, offset: number, verifyCrc: boolean): RecordScan {
  if (offset >= sector.length) return { status: 'end' };
  const kind = sector[offset]!;
  if (kind === KIND_ERASED) return { status: 'end' };
  if (kind === KIND_SEAL) return { status: 'sealed' };
  if (kind !== KIND_DATA && kind !== KIND_TIME) return { status: 'bad', problem: `unknown record kind 0x${kind.toString(16)}` };
  if (offset + RECORD_HEADER_LENGTH > sector.length) return { status: 'bad', problem: 'record header runs past the sector' };
  const v = new DataView(sector.buffer, sector.byteOffset + offset, RECORD_HEADER_LENGTH);
  const flags = sector[offset + 1]!;
  if ((flags & ~FLAG_WALL) !== 0) return { status: 'bad', problem: `unknown record flags 0x${flags.toString(16)}` };
  const length = v.getUint16(2, true);
  const size = RECORD_HEADER_LENGTH + length;
  if (offset + size > sector.length) return { status: 'bad', problem: `record of ${length} bytes runs past the sector` };
  if (kind === KIND_TIME && (length % TIME_FIX_LENGTH !== 0 || length > MAX_TIME_FIXES * TIME_FIX_LENGTH)) {
    return { status: 'bad', problem: `time table of ${length} bytes` };
  }
  if (verifyCrc) {
    let crc = crc32Update(CRC32_START, sector, offset, offset + RECORD_CRC_COVERS);
    crc = crc32Final(crc32Update(crc, sector, offset + RECORD_HEADER_LENGTH, offset + size));
    if (crc !== v.getUint32(RECORD_CRC_COVERS, true)) return { status: 'bad', problem: 'CRC mismatch' };
  }
  return {
    status: 'record',
    size,
    header: {
      kind,
      wall: (flags & FLAG_WALL) !== 0,
      length,
      seq: v.getUint32(4, true),
      bootCount: v.getUint32(8, true),
      timeMs: v.getUint32(12, true) + v.getUint16(16, true) * 0x100000000,
      released: sector[offset + RECORD_STATE_OFFSET] !== STATE_QUEUED,
    },
  };
}

/** Boot number -> (wall-clock ms - uptime ms) for that boot. */
export interface TimeFix {
  bootCount: number;
  offsetMs: number;
}

export function encodeTimeTable(fixes: readonly TimeFix[]): Uint8Array {
  const bytes = new Uint8Array(fixes.length * TIME_FIX_LENGTH);
  const v = view(bytes);
  fixes.forEach((fix, i) => {
    v.setUint32(i * TIME_FIX_LENGTH, fix.bootCount >>> 0, true);
    v.setFloat64(i * TIME_FIX_LENGTH + 4, fix.offsetMs, true);
  });
  return bytes;
}

/** The table in a time record's payload; entries that are not finite numbers are skipped. */
export function decodeTimeTable(payload: Uint8Array): TimeFix[] {
  const v = view(payload);
  const fixes: TimeFix[] = [];
  for (let at = 0; at + TIME_FIX_LENGTH <= payload.length && fixes.length < MAX_TIME_FIXES; at += TIME_FIX_LENGTH) {
    const offsetMs = v.getFloat64(at + 4, true);
    if (Number.isFinite(offsetMs)) fixes.push({ bootCount: v.getUint32(at, true), offsetMs });
  }
  return fixes;
}
