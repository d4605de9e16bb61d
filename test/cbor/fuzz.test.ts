/**
 * The decoder under hostile input: random bytes, truncations and mutations of valid
 * encodings, forged lengths and deep nesting. It returns a value or throws a CborError,
 * nothing else, and its work is bounded by its limits.
 */
import fc from 'fast-check';
import { decodeCbor } from '../../firmware/codec/cbor/decode';
import { encodeCbor } from '../../firmware/codec/cbor/encode';
import { CborError } from '../../firmware/codec/cbor/errors';
import { foreignDecoder, normalize, unhex, valueArb } from './support';

const RUNS = { numRuns: 5000 };
const LIMITS = { maxBytes: 1 << 20 };

/** The decoder's outcome: the value, or the CborError (anything else fails the test). */
function attempt(bytes: Uint8Array, limits = LIMITS): { value: unknown } | { error: CborError } {
  try {
    return { value: decodeCbor(bytes, limits) };
  } catch (error) {
    if (!(error instanceof CborError)) throw new Error(`threw ${String(error)} instead of a CborError`);
    expect(error.message.length).toBeGreaterThan(0);
    return { error };
  }
}

describe('the decoder under hostile input', () => {
  test('random bytes: a value or a CborError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        attempt(bytes);
      }),
      { numRuns: 20_000 },
    );
  });

  test('random bytes biased towards heads of every kind: a value or a CborError', () => {
    const head = fc.oneof(
      fc.integer({ min: 0, max: 255 }).map((b) => [b]),
      fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 24, max: 27 }), fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([major, info, arg]) => [(major << 5) | info, ...arg.subarray(0, 1 << (info - 24))]),
    );
    fc.assert(
      fc.property(fc.array(head, { maxLength: 24 }), (heads) => {
        attempt(new Uint8Array(heads.flat()));
      }),
      RUNS,
    );
  });

  test('every proper prefix of a valid encoding is refused as truncated', () => {
    fc.assert(
      fc.property(valueArb, (value) => {
        const bytes = encodeCbor(value, LIMITS);
        for (let end = 0; end < bytes.length; end++) {
          const outcome = attempt(bytes.subarray(0, end));
          expect('error' in outcome && outcome.error.code).toBe('truncated');
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('mutated valid encodings: a CborError, or a value cbor-x decodes the same', () => {
    fc.assert(
      fc.property(valueArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (value, mutations) => {
        const bytes = encodeCbor(value, LIMITS).slice();
        for (const [index, byte] of mutations) if (bytes.length) bytes[index % bytes.length] = byte;
        const outcome = attempt(bytes);
        // What we accept is well-formed CBOR in our data model: the independent decoder agrees on it.
        if ('value' in outcome) expect(outcome.value).toEqual(normalize(foreignDecoder.decode(bytes)));
      }),
      RUNS,
    );
  });

  test('forged lengths are refused before anything is allocated', () => {
    for (const forged of ['5bffffffffffffffff', '7b001fffffffffffff', '9b00000000ffffffff', 'bb0000000100000000', '9affffffff00', 'baffffffff0000']) {
      const outcome = attempt(unhex(forged));
      expect('error' in outcome && outcome.error.code).toBe('truncated');
    }
  });

  test('nesting deeper than maxDepth is refused, with the recursion bounded', () => {
    const deep = new Uint8Array(8000).fill(0x81); // [[[[...
    const outcome = attempt(deep, { maxBytes: 8192 });
    expect('error' in outcome && outcome.error.code).toBe('too-deep');
    expect(() => decodeCbor(unhex('8181818100'), { maxDepth: 3 })).toThrow(/deeper than the limit of 3/);
    expect(decodeCbor(unhex('81818100'), { maxDepth: 3 })).toEqual([[[0]]]);
    expect(() => decodeCbor(unhex('a161618100'), { maxDepth: 1 })).toThrow(CborError);
  });

  test('input longer than maxBytes is refused whole', () => {
    expect(() => decodeCbor(new Uint8Array(8193))).toThrow(expect.objectContaining({ code: 'too-large' }));
    expect(() => decodeCbor(unhex('4401020304'), { maxBytes: 4 })).toThrow(/5 bytes, more than the limit of 4/);
  });
});
