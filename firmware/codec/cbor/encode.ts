/**
 * CBOR encoder (RFC 8949) for telemetry: maps with text keys, arrays, integers, floats, text
 * and byte strings, true, false and null, in preferred serialization (§4.2.2):
 *
 * - Lengths and integers take the shortest head. Numbers that are safe integers
 *   (|n| <= 2^53 - 1, not -0) are written as CBOR integers (major type 0 or 1).
 * - Every other number is written as the shortest float that holds it exactly: half
 *   (3 bytes), single (5) or double (9). So 1.5 and -0 take 3 bytes, 0.1 takes 9, and a
 *   reading passed through Math.fround takes 5. NaN is the canonical half 0xf97e00; Infinity
 *   and -Infinity are halves too. Decoders (cbor-x included) read every width.
 * - Map members keep their insertion order (this is preferred, not core deterministic,
 *   encoding: keys are not sorted).
 *
 * Two passes: the first measures (and checks types, depth and the size bound), the second
 * writes into a buffer of exactly that size; nothing is allocated for a value that fails.
 */
import { CborError } from './errors';
import { numberToHalf } from './float';
import { resolveLimits, type CborLimits } from './limits';
import { utf8Length, writeUtf8 } from '../utf8';
import { FALSE, FLOAT16, FLOAT32, FLOAT64, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_MAP, MAJOR_NEGATIVE, MAJOR_TEXT, MAJOR_UNSIGNED, NULL, TRUE, type CborEncodable } from './value';

const TWO_POW_32 = 0x1_0000_0000;

/** Bytes of a head whose argument is `n` (RFC 8949 §3). */
function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < TWO_POW_32 ? 5 : 9;
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return typeof value;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
  return name ? `a ${name}` : 'an object';
}

/** The width of the shortest float that holds `value` exactly: 2, 4 or 8 bytes. */
function floatWidth(value: number): 2 | 4 | 8 {
  if (numberToHalf(value) >= 0) return 2;
  return Math.fround(value) === value ? 4 : 8;
}

function isCborInteger(value: number): boolean {
  return Number.isSafeInteger(value) && !Object.is(value, -0);
}

class Measure {
  total = 0;
  /** Where the walk is (keys and indexes), for error messages. */
  private readonly path: (string | number)[] = [];

  constructor(
    private readonly maxBytes: number,
    private readonly maxDepth: number,
  ) {}

  private where(): string {
    return this.path.length === 0 ? 'the value' : `the value at ${this.path.map((step) => (typeof step === 'number' ? `[${step}]` : `.${step}`)).join('')}`;
  }

  private add(bytes: number): void {
    this.total += bytes;
    if (this.total > this.maxBytes) throw new CborError('too-large', `the encoded value is larger than the limit of ${this.maxBytes} bytes`);
  }

  private text(value: string, what: string): void {
    const length = utf8Length(value);
    if (length < 0) throw new CborError('unencodable', `${what} has a lone surrogate, which UTF-8 cannot encode`);
    this.add(headSize(length) + length);
  }

  item(value: CborEncodable, depth: number): void {
    switch (typeof value) {
      case 'boolean':
        return this.add(1);
      case 'number':
        return this.add(isCborInteger(value) ? headSize(value < 0 ? -1 - value : value) : 1 + floatWidth(value));
      case 'string':
        return this.text(value, this.where());
      case 'object':
        break;
      default:
        throw new CborError('unencodable', `${this.where()} is ${describe(value)}, which CBOR telemetry cannot carry`);
    }
    if (value === null) return this.add(1);
    if (value instanceof Uint8Array) return this.add(headSize(value.length) + value.length);
    if (depth >= this.maxDepth) throw new CborError('too-deep', `${this.where()} nests arrays and maps deeper than the limit of ${this.maxDepth} (a cycle?)`);
    if (Array.isArray(value)) {
      const items = value as readonly CborEncodable[];
      this.add(headSize(items.length));
      for (let i = 0; i < items.length; i++) {
        this.path.push(i);
        this.item(items[i] === undefined ? null : items[i]!, depth + 1);
        this.path.pop();
      }
      return;
    }
    if (!isPlainObject(value)) throw new CborError('unencodable', `${this.where()} is ${describe(value)}, which CBOR telemetry cannot carry`);
    const object = value as { readonly [key: string]: CborEncodable };
    let count = 0;
    for (const key of Object.keys(object)) {
      const member = object[key];
      if (member === undefined) continue;
      count++;
      this.path.push(key);
      this.text(key, `the key of ${this.where()}`);
      this.item(member, depth + 1);
      this.path.pop();
    }
    this.add(headSize(count));
  }
}

class Writer {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private at = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  private head(major: number, n: number): void {
    const bytes = this.bytes;
    if (n < 24) {
      bytes[this.at++] = major | n;
    } else if (n < 0x100) {
      bytes[this.at++] = major | 24;
      bytes[this.at++] = n;
    } else if (n < 0x10000) {
      bytes[this.at++] = major | 25;
      this.view.setUint16(this.at, n);
      this.at += 2;
    } else if (n < TWO_POW_32) {
      bytes[this.at++] = major | 26;
      this.view.setUint32(this.at, n);
      this.at += 4;
    } else {
      bytes[this.at++] = major | 27;
      this.view.setUint32(this.at, Math.floor(n / TWO_POW_32));
      this.view.setUint32(this.at + 4, n % TWO_POW_32);
      this.at += 8;
    }
  }

  private text(value: string): void {
    this.head(MAJOR_TEXT, utf8Length(value));
    this.at = writeUtf8(value, this.bytes, this.at);
  }

  private float(value: number): void {
    const width = floatWidth(value);
    if (width === 2) {
      this.bytes[this.at++] = FLOAT16;
      this.view.setUint16(this.at, numberToHalf(value));
    } else if (width === 4) {
      this.bytes[this.at++] = FLOAT32;
      this.view.setFloat32(this.at, value);
    } else {
      this.bytes[this.at++] = FLOAT64;
      this.view.setFloat64(this.at, value);
    }
    this.at += width;
  }

  /** Writes a value that `Measure` accepted. */
  item(value: CborEncodable): void {
    if (value === null || value === undefined) {
      this.bytes[this.at++] = NULL;
    } else if (typeof value === 'boolean') {
      this.bytes[this.at++] = value ? TRUE : FALSE;
    } else if (typeof value === 'number') {
      if (!isCborInteger(value)) this.float(value);
      else if (value < 0) this.head(MAJOR_NEGATIVE, -1 - value);
      else this.head(MAJOR_UNSIGNED, value);
    } else if (typeof value === 'string') {
      this.text(value);
    } else if (value instanceof Uint8Array) {
      this.head(MAJOR_BYTES, value.length);
      this.bytes.set(value, this.at);
      this.at += value.length;
    } else if (Array.isArray(value)) {
      const items = value as readonly CborEncodable[];
      this.head(MAJOR_ARRAY, items.length);
      for (const item of items) this.item(item);
    } else {
      const object = value as { readonly [key: string]: CborEncodable };
      const keys = Object.keys(object).filter((key) => object[key] !== undefined);
      this.head(MAJOR_MAP, keys.length);
      for (const key of keys) {
        this.text(key);
        this.item(object[key]);
      }
    }
  }
}

/**
 * The CBOR encoding of `value`. Throws CborError: 'too-large' beyond `maxBytes`, 'too-deep'
 * beyond `maxDepth`, 'unencodable' for what the data model lacks (functions, symbols,
 * bigints, undefined at the top, class instances other than Uint8Array, lone surrogates).
 */
export function encodeCbor(value: CborEncodable, limits?: CborLimits): Uint8Array {
  const { maxBytes, maxDepth } = resolveLimits(limits);
  if (value === undefined) throw new CborError('unencodable', 'the value is undefined');
  const measure = new Measure(maxBytes, maxDepth);
  measure.item(value, 0);
  const writer = new Writer(measure.total);
  writer.item(value);
  return writer.bytes;
}
