/**
 * Text and binary encodings over XS built-ins that Moddable's ESP32 build has (moddable-notes
 * "Globals on an ESP32 build"): `ArrayBuffer.fromString` (UTF-8 encode),
 * `String.fromArrayBuffer` (UTF-8 decode), `Uint8Array.fromBase64` / `toBase64` and
 * `Uint8Array.fromHex` / `toHex`.
 *
 * `String.fromArrayBuffer` is only given well-formed UTF-8 without NUL bytes (XS keeps
 * strings as C strings); anything else is decoded here with U+FFFD for each malformed
 * sequence, as the HAL promises.
 */
import type { Text } from "../text";

function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    : bytes.slice().buffer;
}

/** Length of the well-formed UTF-8 sequence starting at `i`, or 0 when it is malformed. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) length = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    if (b0 === 0xe0) low = 0xa0; // no overlong forms
    if (b0 === 0xed) high = 0x9f; // no surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    if (b0 === 0xf0) low = 0x90;
    if (b0 === 0xf4) high = 0x8f; // nothing above U+10FFFF
  } else return 0;
  if (i + length > bytes.length) return 0;
  const b1 = bytes[i + 1]!;
  if (b1 < low || b1 > high) return 0;
  for (let k = 2; k < length; k++) {
    const b = bytes[i + k]!;
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return length;
}

/** True when `bytes` is well-formed UTF-8 without NUL: safe for `String.fromArrayBuffer`. */
export function isPlainUtf8(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; ) {
    if (bytes[i] === 0) return false;
    const length = sequenceLength(bytes, i);
    if (length === 0) return false;
    i += length;
  }
  return true;
}

/** Bytes of the longest prefix of a well-formed sequence at `i` (the WHATWG "maximal subpart"). */
function maximalSubpart(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  let need: number;
  let low = 0x80;
  let high = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 2;
    if (b0 === 0xe0) low = 0xa0;
    if (b0 === 0xed) high = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 3;
    if (b0 === 0xf0) low = 0x90;
    if (b0 === 0xf4) high = 0x8f;
  } else return 1;
  let taken = 1;
  while (need > 0 && i + taken < bytes.length) {
    const b = bytes[i + taken]!;
    if (b < low || b > high) break;
    low = 0x80;
    high = 0xbf;
    taken++;
    need--;
  }
  return taken;
}

/** UTF-8 to string with U+FFFD replacement, for input `String.fromArrayBuffer` must not see. */
export function decodeUtf8Lossy(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const length = sequenceLength(bytes, i);
    if (length === 0) {
      out += "\ufffd";
      i += maximalSubpart(bytes, i);
      continue;
    }
    const b0 = bytes[i]!;
    let code: number;
    if (length === 1) code = b0;
    else if (length === 2) code = ((b0 & 0x1f) << 6) | (bytes[i + 1]! & 0x3f);
    else if (length === 3) code = ((b0 & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f);
    else code = ((b0 & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f);
    out += String.fromCodePoint(code);
    i += length;
  }
  return out;
}

export const moddableText: Text = {
  encode(text: string): Uint8Array {
    return new Uint8Array(ArrayBuffer.fromString(text));
  },
  decode(bytes: Uint8Array): string {
    if (bytes.length === 0) return "";
    return isPlainUtf8(bytes) ? String.fromArrayBuffer(exactBuffer(bytes)) : decodeUtf8Lossy(bytes);
  },
  toBase64(bytes: Uint8Array): string {
    return bytes.toBase64();
  },
  fromBase64(text: string): Uint8Array {
    return Uint8Array.fromBase64(text);
  },
  toHex(bytes: Uint8Array): string {
    return bytes.toHex();
  },
  fromHex(text: string): Uint8Array {
    return Uint8Array.fromHex(text);
  },
};

/** UTF-8 byte length of a string (for the KV limits). */
export function utf8ByteLength(text: string): number {
  return ArrayBuffer.fromString(text).byteLength;
}
