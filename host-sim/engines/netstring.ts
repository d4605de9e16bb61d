/** Netstrings (`<length>:<bytes>,`), the framing xsnap-worker speaks on its pipes. */
export function encodeNetstring(...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const header = new TextEncoder().encode(`${length}:`);
  const out = new Uint8Array(header.length + length + 1);
  out.set(header, 0);
  let at = header.length;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  out[at] = 0x2c; // ','
  return out;
}

/** Accumulates bytes and yields whole netstrings; throws on a malformed frame. */
export class NetstringReader {
  private buffer = new Uint8Array(0);

  constructor(private readonly maxLength = 64 * 1024 * 1024) {}

  push(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer, 0);
    joined.set(chunk, this.buffer.length);
    const messages: Uint8Array[] = [];
    let at = 0;
    for (;;) {
      const colon = joined.indexOf(0x3a, at);
      if (colon < 0) {
        if (joined.length - at > 12) throw new Error('netstring length prefix is too long');
        break;
      }
      const digits = new TextDecoder().decode(joined.subarray(at, colon));
      if (!/^\d+$/.test(digits)) throw new Error(`malformed netstring length "${digits.slice(0, 20)}"`);
      const length = Number(digits);
      if (length > this.maxLength) throw new Error(`netstring of ${length} bytes exceeds ${this.maxLength}`);
      const end = colon + 1 + length;
      if (end >= joined.length) break;
      if (joined[end] !== 0x2c) throw new Error('netstring is missing its trailing comma');
      messages.push(joined.slice(colon + 1, end));
      at = end + 1;
    }
    this.buffer = joined.slice(at);
    return messages;
  }
}
