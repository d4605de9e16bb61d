/**
 * Bounds-checked cursors over packet bytes. The reader turns every overrun or malformed
 * field into an MqttProtocolError naming the packet and field, so decoding never throws
 * RangeError/TypeError on hostile input.
 */
import { MqttProtocolError } from './errors';
import { mqttStringError } from './topic';
import { decodeUtf8, encodeUtf8 } from '../../codec/utf8';

export class ByteReader {
  private offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    /** Packet name used in error messages, e.g. 'SUBACK'. */
    private readonly packetName: string,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  fail(problem: string): never {
    throw new MqttProtocolError(`${this.packetName}: ${problem}`);
  }

  private take(length: number, field: string): Uint8Array {
    if (length > this.remaining) this.fail(`ends inside the ${field}`);
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  uint8(field: string): number {
    return this.take(1, field)[0];
  }

  uint16(field: string): number {
    const two = this.take(2, field);
    return (two[0] << 8) | two[1];
  }

  /** A nonzero packet identifier [MQTT-2.3.1-1]. */
  packetId(): number {
    const id = this.uint16('packet identifier');
    if (id === 0) this.fail('packet identifier is 0');
    return id;
  }

  /** Two-byte length, then that many bytes (a view, not a copy). */
  binary(field: string): Uint8Array {
    return this.take(this.uint16(`${field} length`), field);
  }

  /** A length-prefixed string; must be well-formed UTF-8 without U+0000. */
  string(field: string): string {
    const text = decodeUtf8(this.binary(field));
    if (text === undefined) this.fail(`${field} is not valid UTF-8`);
    const problem = mqttStringError(text);
    if (problem !== undefined) this.fail(`${field} ${problem}`);
    return text;
  }

  /** Everything left (a view, not a copy). */
  rest(): Uint8Array {
    return this.take(this.remaining, 'payload');
  }

  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected bytes at the end`);
  }
}

/** Writes into a buffer sized in advance; `done()` checks the size was right. */
export class ByteWriter {
  private offset = 0;
  readonly bytes: Uint8Array;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }

  uint8(value: number): void {
    this.bytes[this.offset++] = value;
  }

  uint16(value: number): void {
    this.bytes[this.offset++] = value >> 8;
    this.bytes[this.offset++] = value & 0xff;
  }

  raw(bytes: Uint8Array): void {
    this.bytes.set(bytes, this.offset);
    this.offset += bytes.length;
  }

  /** Two-byte length, then the bytes (which the caller has checked fit in 65535). */
  binary(bytes: Uint8Array): void {
    this.uint16(bytes.length);
    this.raw(bytes);
  }

  done(): Uint8Array {
    if (this.offset !== this.bytes.length) {
      throw new Error(`internal: packet size computed as ${this.bytes.length}, wrote ${this.offset}`);
    }
    return this.bytes;
  }
}

/** UTF-8 bytes of an MQTT string field, or MqttProtocolError saying why it cannot be one. */
export function mqttStringBytes(text: string, field: string): Uint8Array {
  const problem = mqttStringError(text);
  if (problem !== undefined) throw new MqttProtocolError(`${field} ${problem}`);
  return encodeUtf8(text) as Uint8Array; // cannot be undefined: the check above rejects lone surrogates
}
