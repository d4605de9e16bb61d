/** The data model the codec supports: JSON's, plus byte strings. */

/** What the decoder returns (and the encoder writes). */
export type CborValue = null | boolean | number | string | Uint8Array | CborValue[] | CborMap;
export interface CborMap {
  [key: string]: CborValue;
}

/**
 * What the encoder takes: a CborValue, where (as with JSON.stringify) object members whose
 * value is undefined are left out and undefined array elements are written as null.
 */
export type CborEncodable = null | undefined | boolean | number | string | Uint8Array | readonly CborEncodable[] | { readonly [key: string]: CborEncodable };

/** Initial bytes of the major types (RFC 8949 §3.1), already shifted. */
export const MAJOR_UNSIGNED = 0x00;
export const MAJOR_NEGATIVE = 0x20;
export const MAJOR_BYTES = 0x40;
export const MAJOR_TEXT = 0x60;
export const MAJOR_ARRAY = 0x80;
export const MAJOR_MAP = 0xa0;
export const MAJOR_TAG = 0xc0;
export const MAJOR_SIMPLE = 0xe0;

export const FALSE = 0xf4;
export const TRUE = 0xf5;
export const NULL = 0xf6;
export const UNDEFINED = 0xf7;
export const FLOAT16 = 0xf9;
export const FLOAT32 = 0xfa;
export const FLOAT64 = 0xfb;
