/**
 * ESP-IDF's binary partition table, as components/partition_table/gen_esp32part.py writes it
 * and the second-stage bootloader reads it.
 *
 * At flash offset 0x8000, in at most 0xC00 bytes, one 32-byte entry per partition:
 *
 *   bytes 0-1   magic AA 50 (the little-endian u16 0x50AA)
 *   byte  2     type (0 app, 1 data)
 *   byte  3     subtype
 *   bytes 4-7   offset, u32 LE
 *   bytes 8-11  size, u32 LE
 *   bytes 12-27 label, UTF-8, NUL-padded (16 bytes, no terminator needed)
 *   bytes 28-31 flags, u32 LE (bit 0 encrypted, bit 1 readonly: thingkit sets neither)
 *
 * then an MD5 entry (EB EB, fourteen FF, the MD5 of all preceding entry bytes), then 0xFF to
 * the end of the 0xC00 bytes; a 32-byte run of 0xFF ends the table.
 */
import { createHash } from 'node:crypto';
import { FlashError, type PartitionInfo, type PartitionType } from '../../hal/flash';

export const PARTITION_TABLE_OFFSET = 0x8000;
/** Bytes of table data; the rest of the 4 KB sector is left for a secure-boot signature. */
export const PARTITION_TABLE_LENGTH = 0xc00;
/** The table owns a whole sector: partitions start at 0x9000 or later. */
export const FIRST_PARTITION_OFFSET = PARTITION_TABLE_OFFSET + 0x1000;

const ENTRY_LENGTH = 32;
const LABEL_LENGTH = 16;
/** Entries and the MD5 entry must end before PARTITION_TABLE_LENGTH (gen_esp32part.py). */
export const MAX_PARTITIONS = PARTITION_TABLE_LENGTH / ENTRY_LENGTH - 2;

const ENTRY_MAGIC = [0xaa, 0x50];
const MD5_MAGIC = [0xeb, 0xeb];

const TYPE_NUMBERS: Record<PartitionType, number> = { app: 0x00, data: 0x01 };

/** Subtype names and numbers, as ESP-IDF's esp_partition_subtype_t and gen_esp32part.py. */
const SUBTYPE_NUMBERS: Record<PartitionType, Record<string, number>> = {
  app: {
    factory: 0x00,
    ...Object.fromEntries(Array.from({ length: 16 }, (_, slot) => [`ota_${slot}`, 0x10 + slot])),
    test: 0x20,
  },
  data: {
    ota: 0x00,
    phy: 0x01,
    nvs: 0x02,
    coredump: 0x03,
    nvs_keys: 0x04,
    efuse: 0x05,
    undefined: 0x06,
    esphttpd: 0x80,
    fat: 0x81,
    spiffs: 0x82,
    littlefs: 0x83,
  },
};

/** Offset alignment by type (gen_esp32part.py: 64 KB for apps, 4 KB for data). */
const OFFSET_ALIGNMENT: Record<PartitionType, number> = { app: 0x10000, data: 0x1000 };
/** Every size is whole 4 KB sectors, so each partition can be erased block by block. */
const SIZE_ALIGNMENT = 0x1000;
/** otadata holds two 4 KB copies of the OTA selection. */
const OTADATA_SIZE = 0x2000;
/** ESP-IDF refuses a read/write nvs partition smaller than three pages. */
const NVS_MIN_SIZE = 0x3000;

/** A partition table that cannot be encoded, or flash bytes that are not a valid table. */
export class PartitionTableError extends FlashError {
  constructor(message: string) {
    super(message);
    this.name = 'PartitionTableError';
  }
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** The subtype byte for a name (`ota_0`, `nvs`…) or a numeric string (`0x40`); undefined if neither. */
export function subtypeNumber(type: PartitionType, subtype: string): number | undefined {
  const named = Object.prototype.hasOwnProperty.call(SUBTYPE_NUMBERS[type], subtype) ? SUBTYPE_NUMBERS[type][subtype] : undefined;
  if (named !== undefined) return named;
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(subtype)) return undefined;
  const value = Number(subtype);
  return value <= 0xfe ? value : undefined;
}

/** The subtype name ESP-IDF gives a number, or the number in hex when it has none. */
export function subtypeName(type: PartitionType, number: number): string {
  const entry = Object.entries(SUBTYPE_NUMBERS[type]).find(([, value]) => value === number);
  return entry ? entry[0] : hex(number);
}

/**
 * Every reason ESP-IDF (or the simulator's sector-based flash) would refuse this table, as
 * sentences; empty when the table is valid. `flashSize`, when given, must hold every partition.
 */
export function partitionTableProblems(partitions: readonly PartitionInfo[], flashSize?: number): string[] {
  const problems: string[] = [];
  if (partitions.length > MAX_PARTITIONS) {
    problems.push(`${partitions.length} partitions; the table holds at most ${MAX_PARTITIONS}`);
  }
  const seen = new Set<string>();
  for (const p of partitions) {
    const name = `partition "${p.label}"`;
    const labelBytes = utf8.encode(p.label).length;
    if (labelBytes === 0 || labelBytes > LABEL_LENGTH || p.label.includes('\0')) {
      problems.push(`${name}: a label must have 1 to ${LABEL_LENGTH} bytes of UTF-8 and no NUL (it has ${labelBytes})`);
    }
    if (seen.has(p.label)) problems.push(`${name}: labels must be unique`);
    seen.add(p.label);
    if (p.type !== 'app' && p.type !== 'data') {
      problems.push(`${name}: type "${String(p.type)}" is neither "app" nor "data"`);
      continue;
    }
    if (subtypeNumber(p.type, p.subtype) === undefined) {
      problems.push(
        `${name}: subtype "${p.subtype}" is not an ESP-IDF ${p.type} subtype (${Object.keys(SUBTYPE_NUMBERS[p.type]).join(', ')}, or a number up to 0xfe)`,
      );
    }
    if (!Number.isInteger(p.offset) || p.offset < 0 || p.offset % OFFSET_ALIGNMENT[p.type] !== 0) {
      problems.push(`${name}: offset ${hex(p.offset)} is not a multiple of ${hex(OFFSET_ALIGNMENT[p.type])} (${p.type} alignment)`);
    } else if (p.offset < FIRST_PARTITION_OFFSET) {
      problems.push(`${name}: offset ${hex(p.offset)} is below ${hex(FIRST_PARTITION_OFFSET)}, inside the bootloader or the partition table`);
    }
    if (!Number.isInteger(p.size) || p.size <= 0 || p.size % SIZE_ALIGNMENT !== 0) {
      problems.push(`${name}: size ${hex(p.size)} is not a positive multiple of ${hex(SIZE_ALIGNMENT)} (4 KB sectors)`);
    }
    if (p.offset + p.size > 0xffffffff) problems.push(`${name}: ends beyond the 32-bit address space`);
    if (flashSize !== undefined && p.offset + p.size > flashSize) {
      problems.push(`${name}: ends at ${hex(p.offset + p.size)}, beyond the ${hex(flashSize)} bytes of flash`);
    }
    if (p.type === 'data' && p.subtype === 'ota' && p.size !== OTADATA_SIZE) {
      problems.push(`${name}: an otadata (data/ota) partition must be ${hex(OTADATA_SIZE)} bytes`);
    }
    if (p.type === 'data' && p.subtype === 'nvs' && p.size < NVS_MIN_SIZE) {
      problems.push(`${name}: a read/write nvs partition needs at least ${hex(NVS_MIN_SIZE)} bytes`);
    }
  }
  if (partitions.filter((p) => p.type === 'data' && p.subtype === 'ota').length > 1) {
    problems.push('more than one otadata (data/ota) partition');
  }
  const byOffset = [...partitions].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const before = byOffset[i - 1]!;
    const after = byOffset[i]!;
    if (after.offset < before.offset + before.size) {
      problems.push(
        `partition "${after.label}" at ${hex(after.offset)} overlaps "${before.label}" (${hex(before.offset)}-${hex(before.offset + before.size - 1)})`,
      );
    }
  }
  return problems;
}

/** Throws PartitionTableError listing every problem `partitionTableProblems` finds. */
export function validatePartitionTable(partitions: readonly PartitionInfo[], flashSize?: number): void {
  const problems = partitionTableProblems(partitions, flashSize);
  if (problems.length > 0) {
    throw new PartitionTableError(`Invalid partition table:\n  - ${problems.join('\n  - ')}`);
  }
}

function md5(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('md5').update(bytes).digest());
}

/** The PARTITION_TABLE_LENGTH bytes to write at PARTITION_TABLE_OFFSET; validates first. */
export function encodePartitionTable(partitions: readonly PartitionInfo[], flashSize?: number): Uint8Array {
  validatePartitionTable(partitions, flashSize);
  const table = new Uint8Array(PARTITION_TABLE_LENGTH).fill(0xff);
  const view = new DataView(table.buffer);
  partitions.forEach((p, index) => {
    const at = index * ENTRY_LENGTH;
    table.set(ENTRY_MAGIC, at);
    table[at + 2] = TYPE_NUMBERS[p.type];
    table[at + 3] = subtypeNumber(p.type, p.subtype)!;
    view.setUint32(at + 4, p.offset, true);
    view.setUint32(at + 8, p.size, true);
    table.fill(0, at + 12, at + 12 + LABEL_LENGTH);
    table.set(utf8.encode(p.label), at + 12);
    view.setUint32(at + 28, 0, true);
  });
  const entriesEnd = partitions.length * ENTRY_LENGTH;
  table.set(MD5_MAGIC, entriesEnd); // bytes 2-15 stay 0xFF
  table.set(md5(table.subarray(0, entriesEnd)), entriesEnd + 16);
  return table;
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((byte, i) => bytes[i] === byte);
}

function isErased(bytes: Uint8Array): boolean {
  return bytes.every((byte) => byte === 0xff);
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Reads the table from the bytes at PARTITION_TABLE_OFFSET (at least PARTITION_TABLE_LENGTH
 * of them, or up to the end marker). Throws PartitionTableError when an entry's magic is
 * wrong, the MD5 entry is missing or does not match, or there is no end marker: a corrupt
 * table, or flash that holds none.
 */
export function decodePartitionTable(bytes: Uint8Array): PartitionInfo[] {
  const partitions: PartitionInfo[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = Math.min(bytes.length, PARTITION_TABLE_LENGTH);
  let md5Verified = false;
  for (let at = 0; at + ENTRY_LENGTH <= limit; at += ENTRY_LENGTH) {
    const entry = bytes.subarray(at, at + ENTRY_LENGTH);
    const where = `partition table entry ${at / ENTRY_LENGTH} (flash ${hex(PARTITION_TABLE_OFFSET + at)})`;
    if (isErased(entry)) {
      if (!md5Verified) {
        throw new PartitionTableError(
          at === 0 ? 'No partition table: the flash at 0x8000 is erased' : `Partition table has no MD5 entry before its end marker at ${where}`,
        );
      }
      return partitions;
    }
    if (md5Verified) {
      throw new PartitionTableError(`Partition table has data after its MD5 entry, at ${where}: corrupt`);
    }
    if (startsWith(entry, MD5_MAGIC)) {
      const expected = md5(bytes.subarray(0, at));
      if (!isErased(entry.subarray(2, 16)) || toHex(entry.subarray(16)) !== toHex(expected)) {
        throw new PartitionTableError(
          `Partition table MD5 mismatch at ${where}: computed ${toHex(expected)}, stored ${toHex(entry.subarray(16))}; the table is corrupt`,
        );
      }
      md5Verified = true;
      continue;
    }
    if (!startsWith(entry, ENTRY_MAGIC)) {
      throw new PartitionTableError(
        `Bad magic ${toHex(entry.subarray(0, 2))} at ${where}, expected aa50: not a partition table, or a corrupt one`,
      );
    }
    const typeNumber = entry[2]!;
    const type = (Object.keys(TYPE_NUMBERS) as PartitionType[]).find((name) => TYPE_NUMBERS[name] === typeNumber);
    if (!type) {
      throw new PartitionTableError(`Unsupported partition type ${hex(typeNumber)} at ${where}: thingkit knows app (0) and data (1)`);
    }
    const labelField = entry.subarray(12, 12 + LABEL_LENGTH);
    const nul = labelField.indexOf(0);
    let label: string;
    try {
      label = strictUtf8.decode(nul === -1 ? labelField : labelField.subarray(0, nul));
    } catch {
      throw new PartitionTableError(`Label at ${where} is not UTF-8: corrupt table`);
    }
    partitions.push({
      label,
      type,
      subtype: subtypeName(type, entry[3]!),
      offset: view.getUint32(at + 4, true),
      size: view.getUint32(at + 8, true),
    });
  }
  throw new PartitionTableError(`Partition table has no end marker within ${hex(limit)} bytes: corrupt`);
}
