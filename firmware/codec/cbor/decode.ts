/**
 * CBOR decoder (RFC 8949) for cloud-to-device and desired-property payloads: one complete,
 * definite-length item in the encoder's data model (value.ts). Anything else is refused with
 * a CborError that says what and where (byte offset); nothing else is ever thrown for any
 * input bytes:
 *
 * - 'truncated': the input ends inside an item, or a length claims more bytes than remain
 *   (checked before anything is allocated, so a forged length costs nothing).
 * - 'malformed': reserved additional information (28-30), a break (0xff) outside an
 *   indefinite item, indefinite-length integers or tags, a two-byte simple value below 32,
 *   text that is not UTF-8, a repeated map key, bytes after the item.
 * - 'unsupported': tags, indefinite lengths, undefined and other simple values, map keys
 *   that are not text, integers beyond ±(2^53 - 1) (they do not fit a JavaScript number).
 * - 'too-large': input longer than `maxBytes`; 'too-deep': arrays and maps nested deeper
 *   than `maxDepth` (so recursion is bounded too).
 *
 * Heads need not be the shortest (preferred serialization is for encoders); floats of every
 * width decode to numbers. Byte strings are copied out of the input.
 */
import { CborError } from './errors';
import { halfToNumber } from './float';
import { resolveLimits, type CborLimits } from './limits';
import { decodeUtf8 } from '../utf8';
import type { CborMap, CborValue } from './value';

const TWO_POW_32 = 0x1_0000_0000;

class Reader {
  private at = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly maxDepth: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.at;
  }

  private need(count: number, start: number, what: string): void {
    if (count > this.bytes.length - this.at) {
      throw new CborError('truncated', `${what} at byte ${start} needs ${count} more byte(s); ${this.bytes.length - this.at} remain`);
    }
  }

  /** The argument of a head (RFC 8949 §3): up to 2^64 - 1, inexact above 2^53 (callers refuse those). */
  private argument(info: number, start: number): number {
    if (info < 24) return info;
    const view = this.view;
    let value: number;
    switch (info) {
      case 24:
        this.need(1, start, 'the head');
        value = this.bytes[this.at]!;
        this.at += 1;
        return value;
      case 25:
        this.need(2, start, 'the head');
        value = view.getUint16(this.at);
        this.at += 2;
        return value;
      case 26:
        this.need(4, start, 'the head');
        value = view.getUint32(this.at);
        this.at += 4;
        return value;
      case 27:
        this.need(8, start, 'the head');
        value = view.getUint32(this.at) * TWO_POW_32 + view.getUint32(this.at + 4);
        this.at += 8;
        return value;
      default:
        throw new CborError('malformed', `additional information ${info} at byte ${start} is reserved`);
    }
  }

  item(depth: number): CborValue {
    const start = this.at;
    this.need(1, start, 'an item');
    const initial = this.bytes[this.at++]!;
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) return this.simple(info, start);
    if (info === 31) {
      if (major === 2 || major === 3 || major === 4 || major === 5) throw new CborError('unsupported', `the indefinite-length ${['', '', 'byte string', 'text string', 'array', 'map'][major]} at byte ${start} is not supported`);
      throw new CborError('malformed', `major type ${major} at byte ${start} cannot have an indefinite length`);
    }
    const n = this.argument(info, start);
    switch (major) {
      case 0:
        if (n > Number.MAX_SAFE_INTEGER) throw new CborError('unsupported', `the integer at byte ${start} is larger than 2^53 - 1`);
        return n;
      case 1:
        if (n >= Number.MAX_SAFE_INTEGER) throw new CborError('unsupported', `the integer at byte ${start} is smaller than -(2^53 - 1)`);
        return -1 - n;
      case 2: {
        this.need(n, start, 'the byte string');
        const value = this.bytes.slice(this.at, this.at + n);
        this.at += n;
        return value;
      }
      case 3:
        return this.text(n, start);
      case 4: {
        this.enter(depth, start);
        this.need(n, start, `the array of ${n} item(s)`); // every item takes a byte at least
        const items: CborValue[] = [];
        for (let i = 0; i < n; i++) items.push(this.item(depth + 1));
        return items;
      }
      case 5: {
        this.enter(depth, start);
        this.need(n * 2, start, `the map of ${n} pair(s)`);
        const map: CborMap = {};
        for (let i = 0; i < n; i++) {
          const keyStart = this.at;
          this.need(1, keyStart, 'a map key');
          const keyInitial = this.bytes[keyStart]!;
          if (keyInitial >> 5 !== 3) {
            if (keyInitial === 0xff) throw new CborError('malformed', `a break (0xff) at byte ${keyStart} ends no indefinite-length item`);
            throw new CborError('unsupported', `the map key at byte ${keyStart} is not a text string`);
          }
          this.at++;
          if ((keyInitial & 0x1f) === 31) throw new CborError('unsupported', `the indefinite-length text string at byte ${keyStart} is not supported`);
          const key = this.text(this.argument(keyInitial & 0x1f, keyStart), keyStart);
          if (Object.prototype.hasOwnProperty.call(map, key)) throw new CborError('malformed', `the map at byte ${start} has the key ${JSON.stringify(key)} twice`);
          // defineProperty, not assignment: a key "__proto__" is data, not the prototype.
          Object.defineProperty(map, key, { value: this.item(depth + 1), writable: true, enumerable: true, configurable: true });
        }
        return map;
      }
      default:
        throw new CborError('unsupported', `tag ${n} at byte ${start} is not supported`);
    }
  }

  private enter(depth: number, start: number): void {
    if (depth >= this.maxDepth) throw new CborError('too-deep', `the item at byte ${start} nests arrays and maps deeper than the limit of ${this.maxDepth}`);
  }

  private text(length: number, start: number): string {
    this.need(length, start, 'the text string');
    const value = decodeUtf8(this.bytes, this.at, this.at + length);
    if (value === undefined) throw new CborError('malformed', `the text string at byte ${start} is not valid UTF-8`);
    this.at += length;
    return value;
  }

  /** Major type 7: false, true, null and floats; other simple values are refused. */
  private simple(info: number, start: number): CborValue {
    const view = this.view;
    let value: number;
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        throw new CborError('unsupported', `undefined (0xf7) at byte ${start} is not supported`);
      case 24: {
        this.need(1, start, 'the simple value');
        const simple = this.bytes[this.at++]!;
        if (simple < 32) throw new CborError('malformed', `the two-byte simple value ${simple} at byte ${start} must be written in one byte`);
        throw new CborError('unsupported', `simple value ${simple} at byte ${start} is not supported`);
      }
      case 25:
        this.need(2, start, 'the half-precision float');
        value = halfToNumber(view.getUint16(this.at));
        this.at += 2;
        return value;
      case 26:
        this.need(4, start, 'the single-precision float');
        value = view.getFloat32(this.at);
        this.at += 4;
        return value;
      case 27:
        this.need(8, start, 'the double-precision float');
        value = view.getFloat64(this.at);
        this.at += 8;
        return value;
      case 31:
        throw new CborError('malformed', `a break (0xff) at byte ${start} ends no indefinite-length item`);
      default:
        if (info < 20) throw new CborError('unsupported', `simple value ${info} at byte ${start} is not supported`);
        throw new CborError('malformed', `additional information ${info} at byte ${start} is reserved`);
    }
  }
}

/** The value of the one CBOR item that `bytes` holds; throws CborError (see above) for anything else. */
export function decodeCbor(bytes: Uint8Array, limits?: CborLimits): CborValue {
  const { maxBytes, maxDepth } = resolveLimits(limits);
  if (bytes.length > maxBytes) throw new CborError('too-large', `the input is ${bytes.length} bytes, more than the limit of ${maxBytes}`);
  const reader = new Reader(bytes, maxDepth);
  const value = reader.item(0);
  if (reader.offset !== bytes.length) throw new CborError('malformed', `${bytes.length - reader.offset} byte(s) follow the item (at byte ${reader.offset})`);
  return value;
}
