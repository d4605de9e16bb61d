/*
 * thingkit's declarations for the byte/text helpers that Moddable's XS build of ESP32 has as
 * built-ins (documentation/xs/XS Differences.md; moddable-notes "Globals on an ESP32 build").
 * `String.fromArrayBuffer` and `ArrayBuffer.fromString` come from @moddable/typings' xs.d.ts;
 * the base64/hex helpers below are the TC39 "Uint8Array to/from base64" methods, which
 * TypeScript only has in lib "esnext" while this build uses lib "es2025".
 */

interface Uint8Array<TArrayBuffer extends ArrayBufferLike> {
  /** The bytes as standard base64 with padding. */
  toBase64(): string;
  /** The bytes as lowercase hexadecimal, two digits a byte. */
  toHex(): string;
}

interface Uint8ArrayConstructor {
  /** Decodes standard base64; throws SyntaxError on characters outside the alphabet. */
  fromBase64(text: string): Uint8Array<ArrayBuffer>;
  /** Decodes hexadecimal (an even number of digits); throws SyntaxError otherwise. */
  fromHex(text: string): Uint8Array<ArrayBuffer>;
}
