/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320: zlib's and ESP-IDF's
 * esp_rom_crc32_le), incremental so a record's header and payload are checked without
 * copying them together. The table costs 1 KB once.
 */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The register before any byte: pass it to `crc32Update`, then `crc32Final`. */
export const CRC32_START = 0xffffffff;

/** Feeds `bytes[from, to)` into a running CRC register. */
export function crc32Update(crc: number, bytes: Uint8Array, from = 0, to = bytes.length): number {
  let c = crc;
  for (let i = from; i < to; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

export function crc32Final(crc: number): number {
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32 of `bytes[from, to)`. */
export function crc32(bytes: Uint8Array, from = 0, to = bytes.length): number {
  return crc32Final(crc32Update(CRC32_START, bytes, from, to));
}
