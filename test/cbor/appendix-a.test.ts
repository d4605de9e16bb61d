/**
 * RFC 8949 Appendix A (examples of encoded CBOR data items) in both directions, and
 * Appendix F (examples of CBOR data items that are not well-formed).
 */
import { decodeCbor } from '../../firmware/codec/cbor/decode';
import { encodeCbor } from '../../firmware/codec/cbor/encode';
import { CborError, type CborErrorCode } from '../../firmware/codec/cbor/errors';
import type { CborValue } from '../../firmware/codec/cbor/value';
import { hex, unhex } from './support';

const oneToTwentyFive = Array.from({ length: 25 }, (_, i) => i + 1);

/** [diagnostic notation, value, bytes]: the encoder writes exactly these bytes, and the decoder reads them back. */
const BOTH_WAYS: [string, CborValue, string][] = [
  ['0', 0, '00'],
  ['1', 1, '01'],
  ['10', 10, '0a'],
  ['23', 23, '17'],
  ['24', 24, '1818'],
  ['25', 25, '1819'],
  ['100', 100, '1864'],
  ['1000', 1000, '1903e8'],
  ['1000000', 1000000, '1a000f4240'],
  ['1000000000000', 1000000000000, '1b000000e8d4a51000'],
  ['-1', -1, '20'],
  ['-10', -10, '29'],
  ['-100', -100, '3863'],
  ['-1000', -1000, '3903e7'],
  ['-0.0', -0, 'f98000'],
  ['1.1', 1.1, 'fb3ff199999999999a'],
  ['1.5', 1.5, 'f93e00'],
  ['3.4028234663852886e+38', 3.4028234663852886e38, 'fa7f7fffff'],
  ['1.0e+300', 1.0e300, 'fb7e37e43c8800759c'],
  ['5.960464477539063e-8', 5.960464477539063e-8, 'f90001'],
  ['0.00006103515625', 0.00006103515625, 'f90400'],
  ['-4.1', -4.1, 'fbc010666666666666'],
  ['Infinity', Infinity, 'f97c00'],
  ['NaN', NaN, 'f97e00'],
  ['-Infinity', -Infinity, 'f9fc00'],
  ['false', false, 'f4'],
  ['true', true, 'f5'],
  ['null', null, 'f6'],
  ["h''", new Uint8Array(0), '40'],
  ["h'01020304'", new Uint8Array([1, 2, 3, 4]), '4401020304'],
  ['""', '', '60'],
  ['"a"', 'a', '6161'],
  ['"IETF"', 'IETF', '6449455446'],
  ['"\\"\\\\"', '"\\', '62225c'],
  ['"\\u00fc"', '\u00fc', '62c3bc'],
  ['"\\u6c34"', '\u6c34', '63e6b0b4'],
  ['"\\ud800\\udd51"', '\ud800\udd51', '64f0908591'],
  ['[]', [], '80'],
  ['[1, 2, 3]', [1, 2, 3], '83010203'],
  ['[1, [2, 3], [4, 5]]', [1, [2, 3], [4, 5]], '8301820203820405'],
  ['[1, 2, ..., 25]', oneToTwentyFive, '98190102030405060708090a0b0c0d0e0f101112131415161718181819'],
  ['{}', {}, 'a0'],
  ['{"a": 1, "b": [2, 3]}', { a: 1, b: [2, 3] }, 'a26161016162820203'],
  ['["a", {"b": "c"}]', ['a', { b: 'c' }], '826161a161626163'],
  ['{"a": "A", ..., "e": "E"}', { a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, 'a56161614161626142616361436164614461656145'],
];

/** Floats whose value is an integer: JavaScript cannot tell 1.0 from 1, so the encoder writes them as integers; the decoder reads the float forms. */
const DECODE_ONLY: [string, CborValue, string][] = [
  ['0.0', 0, 'f90000'],
  ['1.0', 1, 'f93c00'],
  ['65504.0', 65504, 'f97bff'],
  ['100000.0', 100000, 'fa47c35000'],
  ['-4.0', -4, 'f9c400'],
  ['Infinity (single)', Infinity, 'fa7f800000'],
  ['NaN (single)', NaN, 'fa7fc00000'],
  ['-Infinity (single)', -Infinity, 'faff800000'],
  ['Infinity (double)', Infinity, 'fb7ff0000000000000'],
  ['NaN (double)', NaN, 'fb7ff8000000000000'],
  ['-Infinity (double)', -Infinity, 'fbfff0000000000000'],
];

/** Well-formed items outside the supported subset: refused as 'unsupported'. */
const UNSUPPORTED: [string, string][] = [
  ['18446744073709551615', '1bffffffffffffffff'],
  ['18446744073709551616 (tag 2 bignum)', 'c249010000000000000000'],
  ['-18446744073709551616', '3bffffffffffffffff'],
  ['-18446744073709551617 (tag 3 bignum)', 'c349010000000000000000'],
  ['undefined', 'f7'],
  ['simple(16)', 'f0'],
  ['simple(255)', 'f8ff'],
  ['0("2013-03-21T20:04:00Z")', 'c074323031332d30332d32315432303a30343a30305a'],
  ['1(1363896240)', 'c11a514b67b0'],
  ['1(1363896240.5)', 'c1fb41d452d9ec200000'],
  ["23(h'01020304')", 'd74401020304'],
  ["24(h'6449455446')", 'd818456449455446'],
  ['32("http://www.example.com")', 'd82076687474703a2f2f7777772e6578616d706c652e636f6d'],
  ['{1: 2, 3: 4}', 'a201020304'],
  ["(_ h'0102', h'030405')", '5f42010243030405ff'],
  ['(_ "strea", "ming")', '7f657374726561646d696e67ff'],
  ['[_ ]', '9fff'],
  ['[_ 1, [2, 3], [_ 4, 5]]', '9f018202039f0405ffff'],
  ['[_ 1, [2, 3], [4, 5]]', '9f01820203820405ff'],
  ['[1, [2, 3], [_ 4, 5]]', '83018202039f0405ff'],
  ['[1, [_ 2, 3], [4, 5]]', '83019f0203ff820405'],
  ['[_ 1, 2, ..., 25]', '9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff'],
  ['{_ "a": 1, "b": [_ 2, 3]}', 'bf61610161629f0203ffff'],
  ['["a", {_ "b": "c"}]', '826161bf61626163ff'],
  ['{_ "Fun": true, "Amt": -2}', 'bf6346756ef563416d7421ff'],
];

/** Appendix F: not well-formed. */
const NOT_WELL_FORMED: [string, string, CborErrorCode][] = [
  ...['18', '19', '1a', '1b', '1901', '1a0102', '1b01020304050607', '38', '58', '78', '98', '9a01ff00', 'b8', 'd8', 'f8', 'f900', 'fa0000', 'fb000000'].map(
    (h): [string, string, CborErrorCode] => [`end of input in a head: ${h}`, h, 'truncated'],
  ),
  ...['41', '61', '5affffffff00', '5bffffffffffffffff010203', '7affffffff00', '7b7fffffffffffffff010203'].map(
    (h): [string, string, CborErrorCode] => [`definite-length string with short data: ${h}`, h, 'truncated'],
  ),
  ...['81', '818181818181818181', '8200', 'a1', 'a20102', 'a100', 'a2000000'].map((h): [string, string, CborErrorCode] => [`array or map not closed with enough items: ${h}`, h, 'truncated']),
  ...['1c', '1d', '1e', '3c', '3d', '3e', '5c', '5d', '5e', '7c', '7d', '7e', '9c', '9d', '9e', 'bc', 'bd', 'be', 'dc', 'dd', 'de', 'fc', 'fd', 'fe'].map(
    (h): [string, string, CborErrorCode] => [`reserved additional information: ${h}`, h, 'malformed'],
  ),
  ...['f800', 'f801', 'f818', 'f81f'].map((h): [string, string, CborErrorCode] => [`reserved two-byte simple value: ${h}`, h, 'malformed']),
  ...['ff', '81ff', '8200ff', 'a1ff00', 'a2616100ff'].map((h): [string, string, CborErrorCode] => [`break outside an indefinite-length item: ${h}`, h, 'malformed']),
  // The first problem found is the one reported: here a key that is not text, and a map whose pairs cannot fit the bytes left.
  ['break after a non-text map key: a100ff', 'a100ff', 'unsupported'],
  ['break in a map too short for its pairs: a1ff', 'a1ff', 'truncated'],
  ['break in a map too short for its pairs: a20000ff', 'a20000ff', 'truncated'],
  ['bytes after the item: 6161ff', '6161ff', 'malformed'],
  ...['1f', '3f', 'df'].map((h): [string, string, CborErrorCode] => [`major type 0, 1 or 6 with additional information 31: ${h}`, h, 'malformed']),
];

function refusal(bytes: Uint8Array): CborError {
  try {
    decodeCbor(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(CborError);
    return error as CborError;
  }
  throw new Error('decoded without an error');
}

describe('RFC 8949 Appendix A', () => {
  test.each(BOTH_WAYS)('encodes %s as its bytes', (_name, value, bytes) => {
    expect(hex(encodeCbor(value))).toBe(bytes);
  });

  test.each([...BOTH_WAYS, ...DECODE_ONLY])('decodes %s from its bytes', (_name, value, bytes) => {
    expect(decodeCbor(unhex(bytes))).toEqual(value);
  });

  test('-0.0 decodes to -0 and 0.0 to +0', () => {
    expect(Object.is(decodeCbor(unhex('f98000')), -0)).toBe(true);
    expect(Object.is(decodeCbor(unhex('f90000')), 0)).toBe(true);
  });

  test.each(UNSUPPORTED)('refuses %s as unsupported', (_name, bytes) => {
    const error = refusal(unhex(bytes));
    expect(error.code).toBe('unsupported');
    expect(error.message).toMatch(/not supported|larger than|smaller than|not a text string/);
  });
});

describe('RFC 8949 Appendix F: not well-formed', () => {
  test.each(NOT_WELL_FORMED)('%s', (_name, bytes, code) => {
    const error = refusal(unhex(bytes));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(/at byte \d+/);
  });
});
