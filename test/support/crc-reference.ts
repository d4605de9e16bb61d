/**
 * CRC-32 straight from its definition, independent of the table-driven code under test:
 * polynomial 0x04C11DB7 processed MSB-first, input bytes and the result bit-reflected
 * (refin = refout = true), with the given initial register and final XOR.
 */
function reflect(value: number, bits: number): number {
  let result = 0;
  for (let i = 0; i < bits; i++) result = ((result << 1) | ((value >>> i) & 1)) >>> 0;
  return result;
}

export function crcFromDefinition(bytes: Uint8Array, init: number, xorout: number): number {
  let register = init >>> 0;
  for (const byte of bytes) {
    register = (register ^ (reflect(byte, 8) << 24)) >>> 0;
    for (let bit = 0; bit < 8; bit++) {
      register = register & 0x80000000 ? ((register << 1) ^ 0x04c11db7) >>> 0 : (register << 1) >>> 0;
    }
  }
  return (reflect(register, 32) ^ xorout) >>> 0;
}
