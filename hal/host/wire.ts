/**
 * How bridge messages cross between the XS engine and the host: JSON for structure, with
 * every Uint8Array moved out into a binary attachment so bytes are not inflated.
 * Layout: u32 JSON length | JSON (UTF-8) | per attachment: u32 length | bytes (little endian).
 * Plain JavaScript: it runs inside XS and in Node.
 */
import { utf8Decode, utf8Encode } from './text';

const ATTACHMENT_KEY = '$bin';

/** UTF-8 for the wire; the XS bridge passes the engine's native codec, which is faster. */
export interface WireText {
  encode(text: string): Uint8Array;
  decode(bytes: Uint8Array): string;
}

const PLAIN_TEXT: WireText = { encode: utf8Encode, decode: utf8Decode };

export function encodeMessage(message: unknown, text: WireText = PLAIN_TEXT): Uint8Array {
  const attachments: Uint8Array[] = [];
  const json = JSON.stringify(message, function (this: unknown, _key: string, value: unknown) {
    if (value instanceof Uint8Array) {
      attachments.push(value);
      return { [ATTACHMENT_KEY]: attachments.length - 1 };
    }
    return value;
  });
  const jsonBytes = text.encode(json ?? 'null');
  let size = 4 + jsonBytes.length;
  for (const a of attachments) size += 4 + a.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, jsonBytes.length, true);
  out.set(jsonBytes, 4);
  let at = 4 + jsonBytes.length;
  for (const a of attachments) {
    view.setUint32(at, a.length, true);
    out.set(a, at + 4);
    at += 4 + a.length;
  }
  return out;
}

export function decodeMessage<T = unknown>(bytes: Uint8Array, text: WireText = PLAIN_TEXT): T {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw new Error(`bridge message of ${bytes.length} bytes is too short`);
  const jsonLength = view.getUint32(0, true);
  if (4 + jsonLength > bytes.length) throw new Error('bridge message is truncated');
  const attachments: Uint8Array[] = [];
  for (let at = 4 + jsonLength; at < bytes.length; ) {
    const length = view.getUint32(at, true);
    attachments.push(bytes.slice(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return JSON.parse(text.decode(bytes.subarray(4, 4 + jsonLength)), (_key, value) => {
    if (value !== null && typeof value === 'object' && ATTACHMENT_KEY in value && Object.keys(value).length === 1) {
      return attachments[value[ATTACHMENT_KEY]];
    }
    return value;
  }) as T;
}
