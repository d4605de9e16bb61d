/**
 * The fixed header's Remaining Length: 1 to 4 bytes, 7 bits each, least significant first,
 * high bit meaning "more bytes follow" (MQTT 3.1.1 section 2.2.3).
 */
import { MqttProtocolError } from './errors';

/** The largest Remaining Length four bytes can carry (256 MB). */
export const MAX_REMAINING_LENGTH = 268_435_455;

/** How many bytes `length` takes; throws MqttProtocolError beyond MAX_REMAINING_LENGTH. */
export function remainingLengthSize(length: number): number {
  if (!Number.isInteger(length) || length < 0 || length > MAX_REMAINING_LENGTH) {
    throw new MqttProtocolError(`remaining length ${length} is outside 0..${MAX_REMAINING_LENGTH}`);
  }
  if (length < 128) return 1;
  if (length < 16_384) return 2;
  if (length < 2_097_152) return 3;
  return 4;
}

/** Writes `length` at `offset`; returns the offset after it. */
export function writeRemainingLength(length: number, target: Uint8Array, offset: number): number {
  const size = remainingLengthSize(length);
  let rest = length;
  for (let i = 0; i < size; i++) {
    const low = rest % 128;
    rest = Math.floor(rest / 128);
    target[offset + i] = i < size - 1 ? low | 0x80 : low;
  }
  return offset + size;
}

export function encodeRemainingLength(length: number): Uint8Array {
  const bytes = new Uint8Array(remainingLengthSize(length));
  writeRemainingLength(length, bytes, 0);
  return bytes;
}

/**
 * Reads a Remaining Length from `bytes[start..end)`. Returns undefined while more bytes are
 * needed; throws MqttProtocolError when a fourth byte still says "more follow".
 */
export function decodeRemainingLength(
  bytes: Uint8Array,
  start: number,
  end: number,
): { value: number; size: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 4; i++) {
    if (start + i >= end) return undefined;
    const byte = bytes[start + i];
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return { value, size: i + 1 };
    scale *= 128;
  }
  throw new MqttProtocolError('remaining length runs past 4 bytes (malformed fixed header)');
}
