/**
 * The simulator's persistent settings (the HAL's KeyValue), kept in the device's `nvs` flash
 * partition with ESP32 NVS's limits (`checkKvEntry`).
 *
 * This is NOT ESP-IDF NVS's page format. The simulator needs NVS's limits and its
 * persistence across power loss, not its layout: nothing reads this partition but this class
 * (a real device's NVS is written by ESP-IDF itself), and a log is far simpler to make
 * crash-safe and to check.
 *
 * Format. The partition is split into two halves of whole 4 KB blocks. The active half is the
 * one whose header is valid and has the higher generation:
 *
 *   header (12 bytes): "TKV1", generation u32 LE, CRC-32 of those 8 bytes u32 LE
 *   records, appended: body length u16 LE, CRC-32 of the body u32 LE, body
 *   body: kind u8, domain length u8, domain UTF-8, key length u8, key UTF-8, value
 *     kind 0 deletion (no value), 1 boolean (1 byte), 2 integer (i64 LE, as NVS's i64),
 *     3 string (UTF-8), 4 bytes (as stored)
 *   then 0xFF: a length of 0xFFFF is the end of the log.
 *
 * Every write goes to erased flash. On open the active half is replayed; a torn or CRC-bad
 * record at the tail (power lost while appending) ends the replay and is ignored, and the
 * live set is then compacted so that later appends do not land behind it.
 *
 * Compaction, when a record does not fit or after a torn tail: erase the other half, write the
 * live set (with the change being made) after its still-erased header, then write its header
 * with the next generation. That header write is the commit point: a power cut at any moment
 * before it leaves the old half active and complete; after it, the new one. So a power cut
 * loses at most the one change being made, never an older value. The capacity for live data
 * is therefore one half, less its header.
 */
import { checkKvEntry, KvError, type KeyValue, type KvValue } from '../../hal/kv';
import type { FlashPartition } from '../../hal/flash';
import { crc32 } from '../../firmware/codec/crc32';
import { DeviceFlash } from './device-flash';
import type { FlashImage } from './flash-image';

const MAGIC = [0x54, 0x4b, 0x56, 0x31]; // "TKV1"
const HEADER_LENGTH = 12;
const RECORD_PREFIX_LENGTH = 6;
const END_OF_LOG = 0xffff;

const enum Kind {
  Deletion = 0,
  Boolean = 1,
  Integer = 2,
  String = 3,
  Bytes = 4,
}

const INT64_MIN = -(2 ** 63);
const INT64_LIMIT = 2 ** 63;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

type Change = { domain: string; key: string; value: KvValue | undefined };
type Live = Map<string, Map<string, KvValue>>;

function u32le(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

function encodeHeader(generation: number): Uint8Array {
  const head = new Uint8Array([...MAGIC, ...u32le(generation)]);
  return new Uint8Array([...head, ...u32le(crc32(head))]);
}

/** The generation of a valid header, or undefined. */
function decodeHeader(bytes: Uint8Array): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_LENGTH);
  if (!MAGIC.every((byte, i) => bytes[i] === byte)) return undefined;
  if (view.getUint32(8, true) !== crc32(bytes.subarray(0, 8))) return undefined;
  return view.getUint32(4, true);
}

function encodeRecord({ domain, key, value }: Change): Uint8Array {
  const domainBytes = utf8.encode(domain);
  const keyBytes = utf8.encode(key);
  let kind: Kind;
  let valueBytes: Uint8Array;
  if (value === undefined) {
    kind = Kind.Deletion;
    valueBytes = new Uint8Array(0);
  } else if (typeof value === 'boolean') {
    kind = Kind.Boolean;
    valueBytes = new Uint8Array([value ? 1 : 0]);
  } else if (typeof value === 'number') {
    kind = Kind.Integer;
    valueBytes = new Uint8Array(8);
    new DataView(valueBytes.buffer).setBigInt64(0, BigInt(value), true);
  } else if (typeof value === 'string') {
    kind = Kind.String;
    valueBytes = utf8.encode(value);
  } else {
    kind = Kind.Bytes;
    valueBytes = value;
  }
  const body = new Uint8Array([kind, domainBytes.length, ...domainBytes, keyBytes.length, ...keyBytes, ...valueBytes]);
  const record = new Uint8Array(RECORD_PREFIX_LENGTH + body.length);
  const view = new DataView(record.buffer);
  view.setUint16(0, body.length, true);
  view.setUint32(2, crc32(body), true);
  record.set(body, RECORD_PREFIX_LENGTH);
  return record;
}

/** The change a record body holds, or undefined when it is not one this class wrote. */
function decodeBody(body: Uint8Array): Change | undefined {
  try {
    let at = 0;
    const kind = body[at++];
    const domainLength = body[at++]!;
    const domain = strictUtf8.decode(body.subarray(at, (at += domainLength)));
    const keyLength = body[at++];
    if (keyLength === undefined || at + keyLength > body.length) return undefined;
    const key = strictUtf8.decode(body.subarray(at, (at += keyLength)));
    const rest = body.subarray(at);
    switch (kind) {
      case Kind.Deletion:
        return rest.length === 0 ? { domain, key, value: undefined } : undefined;
      case Kind.Boolean:
        return rest.length === 1 && rest[0]! <= 1 ? { domain, key, value: rest[0] === 1 } : undefined;
      case Kind.Integer:
        return rest.length === 8
          ? { domain, key, value: Number(new DataView(rest.buffer, rest.byteOffset, 8).getBigInt64(0, true)) }
          : undefined;
      case Kind.String:
        return { domain, key, value: strictUtf8.decode(rest) };
      case Kind.Bytes:
        return { domain, key, value: rest.slice() };
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

function sameValue(a: KvValue | undefined, b: KvValue | undefined): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((byte, i) => byte === b[i]);
  return a === b;
}

function applyChange(live: Live, { domain, key, value }: Change): void {
  if (value === undefined) {
    const entries = live.get(domain);
    entries?.delete(key);
    if (entries?.size === 0) live.delete(domain);
    return;
  }
  let entries = live.get(domain);
  if (!entries) live.set(domain, (entries = new Map()));
  entries.set(key, value);
}

function copyValue(value: KvValue): KvValue {
  return value instanceof Uint8Array ? value.slice() : value;
}

export class KvStore implements KeyValue {
  private readonly live: Live = new Map();
  private readonly halfBlocks: number;
  private readonly halfLength: number;
  private active = 0;
  private generation = 0;
  /** Where the next record goes in the active half. */
  private end = HEADER_LENGTH;
  /** Set when a flash operation failed midway: the log's tail is unknown until reopened. */
  private failure: unknown;

  private constructor(private readonly partition: FlashPartition) {
    this.halfBlocks = Math.floor(partition.byteLength / partition.blockLength / 2);
    this.halfLength = this.halfBlocks * partition.blockLength;
    if (this.halfBlocks < 1) {
      throw new KvError(`KV partition "${partition.info.label}" has ${partition.byteLength} bytes; it needs at least two ${partition.blockLength}-byte blocks`);
    }
  }

  /** Opens (formatting it if it holds no store) the KV store in a flash partition. */
  static open(partition: FlashPartition): KvStore {
    const store = new KvStore(partition);
    store.load();
    return store;
  }

  /** Opens the KV store in a flash image's `nvs` partition (or the one labelled `label`). */
  static openInImage(image: FlashImage, label = 'nvs'): KvStore {
    return KvStore.open(new DeviceFlash(image).open(label));
  }

  get(domain: string, key: string): KvValue | undefined {
    this.checkUsable();
    const value = this.live.get(domain)?.get(key);
    return value === undefined ? undefined : copyValue(value);
  }

  set(domain: string, key: string, value: KvValue): void {
    this.checkUsable();
    checkKvEntry(domain, key, value, (s) => utf8.encode(s).length);
    if (typeof value === 'number' && (value < INT64_MIN || value >= INT64_LIMIT)) {
      throw new KvError(`KV value for ${domain}/${key} is ${value}: NVS stores integers of at most 64 bits; store a string`);
    }
    if (sameValue(this.live.get(domain)?.get(key), value)) return; // as NVS, spare the flash
    this.commit({ domain, key, value: copyValue(value) });
  }

  delete(domain: string, key: string): void {
    this.checkUsable();
    if (this.live.get(domain)?.has(key)) this.commit({ domain, key, value: undefined });
  }

  keys(domain: string): string[] {
    this.checkUsable();
    return [...(this.live.get(domain)?.keys() ?? [])].sort();
  }

  /** Bytes of live records: compare with `capacity` to see how full the store is. */
  get liveBytes(): number {
    return this.encodeLive(this.live).reduce((total, record) => total + record.length, 0);
  }

  /** Bytes of live records one half holds. */
  get capacity(): number {
    return this.halfLength - HEADER_LENGTH;
  }

  private checkUsable(): void {
    if (this.failure !== undefined) {
      throw new KvError(`KV store in partition "${this.partition.info.label}" is unusable after a flash failure (${String(this.failure)}); open it again`);
    }
  }

  private commit(change: Change): void {
    const record = encodeRecord(change);
    this.guard(() => {
      if (this.end + record.length <= this.halfLength) {
        this.partition.write(record, this.active * this.halfLength + this.end);
        this.end += record.length;
      } else {
        const next = this.cloneLive();
        applyChange(next, change);
        this.compact(next);
      }
    });
    applyChange(this.live, change);
  }

  /** Writes `live` into the other half and makes it the active one (see the file comment). */
  private compact(live: Live): void {
    const records = this.encodeLive(live);
    const bytes = records.reduce((total, record) => total + record.length, 0);
    if (bytes > this.capacity) {
      throw new KvError(
        `KV store in partition "${this.partition.info.label}" is full: the settings would take ${bytes} bytes and it holds ${this.capacity}; delete some or store large data in a flash partition`,
      );
    }
    const target = 1 - this.active;
    const base = target * this.halfLength;
    for (let block = 0; block < this.halfBlocks; block++) this.partition.eraseBlock(target * this.halfBlocks + block);
    let end = HEADER_LENGTH;
    for (const record of records) {
      this.partition.write(record, base + end);
      end += record.length;
    }
    this.partition.write(encodeHeader((this.generation + 1) >>> 0), base);
    this.active = target;
    this.generation = (this.generation + 1) >>> 0;
    this.end = end;
  }

  private load(): void {
    const headers = [0, 1].map((half) => decodeHeader(this.partition.read(HEADER_LENGTH, half * this.halfLength)));
    const valid = [0, 1].filter((half) => headers[half] !== undefined);
    if (valid.length === 0) {
      this.guard(() => this.format());
      return;
    }
    this.active = valid.reduce((best, half) => (headers[half]! > headers[best]! ? half : best));
    this.generation = headers[this.active]!;
    const clean = this.replay(this.partition.read(this.halfLength, this.active * this.halfLength));
    if (!clean) this.guard(() => this.compact(this.cloneLive()));
  }

  /** A blank store in half 0, generation 1; half 1 is erased by the first compaction. */
  private format(): void {
    for (let block = 0; block < this.halfBlocks; block++) this.partition.eraseBlock(block);
    this.partition.write(encodeHeader(1), 0);
    this.active = 0;
    this.generation = 1;
    this.end = HEADER_LENGTH;
  }

  /** Applies the half's records; false when its tail is torn or not erased (compact then). */
  private replay(half: Uint8Array): boolean {
    const view = new DataView(half.buffer, half.byteOffset, half.byteLength);
    let at = HEADER_LENGTH;
    while (at + RECORD_PREFIX_LENGTH <= half.length) {
      const length = view.getUint16(at, true);
      if (length === END_OF_LOG) break;
      const bodyAt = at + RECORD_PREFIX_LENGTH;
      if (length < 3 || bodyAt + length > half.length) return this.stopAt(at, false);
      const body = half.subarray(bodyAt, bodyAt + length);
      const change = view.getUint32(at + 2, true) === crc32(body) ? decodeBody(body) : undefined;
      if (!change) return this.stopAt(at, false);
      applyChange(this.live, change);
      at = bodyAt + length;
    }
    return this.stopAt(at, half.subarray(at).every((byte) => byte === 0xff));
  }

  private stopAt(at: number, clean: boolean): boolean {
    this.end = at;
    return clean;
  }

  private encodeLive(live: Live): Uint8Array[] {
    const records: Uint8Array[] = [];
    for (const [domain, entries] of live) {
      for (const [key, value] of entries) records.push(encodeRecord({ domain, key, value }));
    }
    return records;
  }

  private cloneLive(): Live {
    return new Map([...this.live].map(([domain, entries]) => [domain, new Map(entries)]));
  }

  /** Runs flash operations; a failure other than a full store leaves the store unusable until reopened. */
  private guard(operations: () => void): void {
    try {
      operations();
    } catch (error) {
      if (!(error instanceof KvError)) this.failure = error;
      throw error;
    }
  }
}
