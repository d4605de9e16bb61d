/** CBOR (RFC 8949) for telemetry payloads: a bounded encoder and decoder. See README.md. */
export { decodeCbor } from './decode';
export { encodeCbor } from './encode';
export { CborError } from './errors';
export type { CborErrorCode } from './errors';
export { CBOR_DEFAULT_MAX_BYTES, CBOR_DEFAULT_MAX_DEPTH } from './limits';
export type { CborLimits } from './limits';
export { halfToNumber, numberToHalf } from './float';
export type { CborEncodable, CborMap, CborValue } from './value';
