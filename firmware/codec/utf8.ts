/**
 * Strict UTF-8 in plain JavaScript, shared by the MQTT and CBOR codecs: XS on ESP32 has no
 * TextEncoder/TextDecoder; MQTT requires well-formed UTF-8 (no surrogate code points, no
 * overlong forms) [MQTT-1.5.3-1], and invalid UTF-8 makes a CBOR text string not
 * well-formed (RFC 8949 §3.1).
 */

/** UTF-8 byte length of `text`, or -1 when it holds a lone surrogate (which UTF-8 cannot encode). */
export function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) length += 1;
    else if (unit < 0x800) length += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      const low = text.charCodeAt(i + 1); // NaN past the end
      if (!(low >= 0xdc00 && low <= 0xdfff)) return -1;
      length += 4;
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return -1;
    else length += 3;
  }
  return length;
}

/**
 * Writes the UTF-8 form of `text` at `offset` and returns the offset after it.
 * `text` must have passed `utf8Length` (no lone surrogates) and `target` must have room.
 */
export function writeUtf8(text: string, target: Uint8Array, offset: number): number {
  let at = offset;
  for (let i = 0; i < text.length; i++) {
    let point = text.charCodeAt(i);
    if (point >= 0xd800 && point <= 0xdbff) {
      point = 0x10000 + ((point - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
    }
    if (point < 0x80) {
      target[at++] = point;
    } else if (point < 0x800) {
      target[at++] = 0xc0 | (point >> 6);
      target[at++] = 0x80 | (point & 0x3f);
    } else if (point < 0x10000) {
      target[at++] = 0xe0 | (point >> 12);
      target[at++] = 0x80 | ((point >> 6) & 0x3f);
      target[at++] = 0x80 | (point & 0x3f);
    } else {
      target[at++] = 0xf0 | (point >> 18);
      target[at++] = 0x80 | ((point >> 12) & 0x3f);
      target[at++] = 0x80 | ((point >> 6) & 0x3f);
      target[at++] = 0x80 | (point & 0x3f);
    }
  }
  return at;
}

/** UTF-8 bytes of `text`, or undefined when it holds a lone surrogate. */
export function encodeUtf8(text: string): Uint8Array | undefined {
  const length = utf8Length(text);
  if (length < 0) return undefined;
  const bytes = new Uint8Array(length);
  writeUtf8(text, bytes, 0);
  return bytes;
}

/** Code units are turned into a string this many at a time, to keep argument lists short on XS. */
const CHUNK_UNITS = 1024;

/**
 * The string encoded by `bytes[start..end)`, or undefined when they are not well-formed UTF-8
 * (truncated or overlong sequences, stray continuation bytes, surrogates, beyond U+10FFFF).
 */
export function decodeUtf8(bytes: Uint8Array, start = 0, end = bytes.length): string | undefined {
  let text = '';
  const units: number[] = [];
  let i = start;
  while (i < end) {
    const lead = bytes[i];
    let point: number;
    let extra: number;
    let min: number;
    if (lead < 0x80) {
      point = lead;
      extra = 0;
      min = 0;
    } else if (lead >= 0xc2 && lead <= 0xdf) {
      point = lead & 0x1f;
      extra = 1;
      min = 0x80;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      point = lead & 0x0f;
      extra = 2;
      min = 0x800;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      point = lead & 0x07;
      extra = 3;
      min = 0x10000;
    } else {
      return undefined; // continuation byte without lead, 0xc0/0xc1 (overlong) or 0xf5..0xff
    }
    if (i + extra >= end) return undefined; // truncated sequence
    for (let k = 1; k <= extra; k++) {
      const next = bytes[i + k];
      if ((next & 0xc0) !== 0x80) return undefined;
      point = (point << 6) | (next & 0x3f);
    }
    if (point < min || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff)) return undefined;
    i += extra + 1;
    if (point >= 0x10000) {
      point -= 0x10000;
      units.push(0xd800 + (point >> 10), 0xdc00 + (point & 0x3ff));
    } else {
      units.push(point);
    }
    if (units.length >= CHUNK_UNITS) {
      text += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return text + String.fromCharCode(...units);
}
