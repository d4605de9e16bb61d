/**
 * Text and binary encodings. On the device these are XS built-ins (`ArrayBuffer.fromString`,
 * `String.fromArrayBuffer`, `Uint8Array.fromBase64`, `toBase64`, `toHex`); the host engines
 * implement them, because xsnap's XS lacks them and has `TextEncoder`, which the device lacks.
 */
export interface Text {
  /** UTF-8 bytes of a string. */
  encode(text: string): Uint8Array;
  /** A string from UTF-8 bytes; malformed sequences become U+FFFD. */
  decode(bytes: Uint8Array): string;
  toBase64(bytes: Uint8Array): string;
  /** Throws on characters outside the base64 alphabet. */
  fromBase64(text: string): Uint8Array;
  toHex(bytes: Uint8Array): string;
  fromHex(text: string): Uint8Array;
}
