/**
 * Streaming packet decoder: bytes arrive in any split; complete packets come out. Memory is
 * bounded by `maxPacketSize`: the size is known from the fixed header, so an oversize packet
 * is refused before any of its body is buffered.
 */
import { checkFixedHeader, decodePacket } from './decode';
import { MqttProtocolError } from './errors';
import type { MqttPacket } from './packets';
import { decodeRemainingLength, MAX_REMAINING_LENGTH } from './remaining-length';

/**
 * Default largest incoming packet, fixed header included: 16 KiB. Enough for telemetry,
 * twin patches and method calls on a ~100 KB heap; a full Azure twin document can be larger
 * (raise it if the device asks for whole twins).
 */
export const DEFAULT_MAX_PACKET_SIZE = 16_384;

/** The fixed header is 1 type byte plus at most 4 Remaining Length bytes. */
const MAX_FIXED_HEADER = 5;

export interface MqttDecoderOptions {
  /** Largest accepted packet in bytes, fixed header included; 2 .. 268435460. */
  maxPacketSize?: number;
}

export class MqttDecoder {
  readonly maxPacketSize: number;
  private readonly header = new Uint8Array(MAX_FIXED_HEADER);
  private headerLength = 0;
  /** First byte of the packet whose body is being assembled. */
  private firstByte = 0;
  /** Body of the packet being assembled, allocated once its size is known. */
  private body: Uint8Array | undefined;
  private bodyFilled = 0;
  private failure: MqttProtocolError | undefined;

  constructor(options: MqttDecoderOptions = {}) {
    const max = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    if (!Number.isInteger(max) || max < 2 || max > MAX_FIXED_HEADER + MAX_REMAINING_LENGTH) {
      throw new RangeError(`maxPacketSize ${max} is outside 2..${MAX_FIXED_HEADER + MAX_REMAINING_LENGTH}`);
    }
    this.maxPacketSize = max;
  }

  /** Bytes of the incomplete packet held so far; never more than maxPacketSize. */
  get bufferedBytes(): number {
    return this.headerLength + this.bodyFilled;
  }

  /** Bytes reserved for the packet in progress (header plus its whole body once sized); never more than maxPacketSize. */
  get allocatedBytes(): number {
    return this.headerLength + (this.body?.length ?? 0);
  }

  /** The error that stopped the decoder, if any. */
  get error(): MqttProtocolError | undefined {
    return this.failure;
  }

  /**
   * Feeds bytes; returns the packets they complete, in order. Throws MqttProtocolError on
   * malformed or oversize input, after which every push throws until `reset()`.
   */
  push(bytes: Uint8Array): MqttPacket[] {
    if (this.failure !== undefined) {
      throw new MqttProtocolError(`decoder stopped by an earlier error (${this.failure.message}); reset it first`);
    }
    const packets: MqttPacket[] = [];
    try {
      let at = 0;
      while (at < bytes.length) {
        if (this.body === undefined) {
          this.header[this.headerLength++] = bytes[at++];
          this.readHeader();
        } else {
          const count = Math.min(bytes.length - at, this.body.length - this.bodyFilled);
          this.body.set(bytes.subarray(at, at + count), this.bodyFilled);
          this.bodyFilled += count;
          at += count;
        }
        if (this.body !== undefined && this.bodyFilled === this.body.length) {
          const body = this.body;
          this.clear();
          packets.push(decodePacket(this.firstByte, body));
        }
      }
    } catch (error) {
      this.clear();
      this.failure = error instanceof MqttProtocolError ? error : new MqttProtocolError(`internal decoder error: ${String(error)}`);
      throw error;
    }
    return packets;
  }

  /** Forgets any partial packet and a previous error (for a new connection). */
  reset(): void {
    this.clear();
    this.failure = undefined;
  }

  /** Called after each header byte: allocates the body once the Remaining Length is complete. */
  private readHeader(): void {
    if (this.headerLength === 1) {
      checkFixedHeader(this.header[0]);
      return;
    }
    const length = decodeRemainingLength(this.header, 1, this.headerLength);
    if (length === undefined) {
      // More length bytes follow, so the packet is longer than what is held already.
      if (this.headerLength >= this.maxPacketSize) {
        throw new MqttProtocolError(`incoming packet exceeds the maximum of ${this.maxPacketSize} bytes`);
      }
      return;
    }
    const total = this.headerLength + length.value;
    if (total > this.maxPacketSize) {
      throw new MqttProtocolError(`incoming packet of ${total} bytes exceeds the maximum of ${this.maxPacketSize}`);
    }
    this.firstByte = this.header[0];
    this.body = new Uint8Array(length.value);
    this.bodyFilled = 0;
  }

  private clear(): void {
    this.headerLength = 0;
    this.body = undefined;
    this.bodyFilled = 0;
  }
}
