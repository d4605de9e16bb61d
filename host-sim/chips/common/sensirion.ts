/**
 * How the Sensirion chips (SHT3x, SHT4x, SCD4x) put numbers on the wire: 16-bit words, MSB
 * first, each followed by its CRC-8 (SHT3x-DIS datasheet §4.12, Table 20; SHT4x §4.3; SCD4x
 * §3.11): polynomial 0x31, initial value 0xFF, no reflection, no final XOR; CRC(0xBEEF) = 0x92.
 *
 * Deliberately not the firmware's implementation: this one does the polynomial long
 * division over the whole 16-bit word at once (with the init value folded into the top
 * byte), so a mistake in one is unlikely to be repeated in the other and the tests can
 * play them against each other and the known answer.
 */
const GENERATOR = 0x131; // x^8 + x^5 + x^4 + 1, with the x^8 term

export function wordCrc(word: number): number {
  // Initial value 0xFF XORed into the first 8 message bits, then 8 zero bits appended.
  let remainder = ((word ^ 0xff00) & 0xffff) << 8;
  for (let bit = 23; bit >= 8; bit--) {
    if (remainder & (1 << bit)) remainder ^= GENERATOR << (bit - 8);
  }
  return remainder & 0xff;
}

/** Words MSB first, each followed by its CRC. */
export function encodeWords(words: number[]): Uint8Array {
  const bytes = new Uint8Array(words.length * 3);
  words.forEach((word, i) => {
    bytes[i * 3] = word >> 8;
    bytes[i * 3 + 1] = word & 0xff;
    bytes[i * 3 + 2] = wordCrc(word);
  });
  return bytes;
}

/** A scaled raw value clamped to what 16 bits can say and rounded to the nearest code. */
export function toWord(scaled: number): number {
  return Math.round(Math.min(65535, Math.max(0, scaled)));
}
