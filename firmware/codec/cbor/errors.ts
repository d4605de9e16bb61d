/**
 * The one kind of failure the CBOR codec reports for its input. Invalid limits passed as
 * options are programming errors and throw RangeError instead (as the MQTT core does).
 */

export type CborErrorCode =
  /** The input ends inside an item, or a length claims more bytes than remain. */
  | 'truncated'
  /** Not well-formed CBOR (RFC 8949 §3, Appendix F): reserved values, a stray break, bad UTF-8, duplicate keys, trailing bytes. */
  | 'malformed'
  /** Well-formed CBOR outside the supported subset: tags, indefinite lengths, undefined, simple values, non-text map keys, integers beyond ±(2^53 - 1). */
  | 'unsupported'
  /** Arrays and maps nested deeper than `maxDepth`. */
  | 'too-deep'
  /** The encoded form is (or would be) larger than `maxBytes`. */
  | 'too-large'
  /** The encoder was given a value CBOR telemetry cannot carry (a function, a bigint, a Map, a string with a lone surrogate, ...). */
  | 'unencodable';

export class CborError extends Error {
  constructor(
    readonly code: CborErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CborError';
  }
}
