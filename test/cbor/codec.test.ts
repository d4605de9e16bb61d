/** The encoder's choices and bounds, and the decoder's data-model rules, one by one. */
import { decodeCbor } from '../../firmware/codec/cbor/decode';
import { encodeCbor } from '../../firmware/codec/cbor/encode';
import { CborError } from '../../firmware/codec/cbor/errors';
import { halfToNumber, numberToHalf } from '../../firmware/codec/cbor/float';
import type { CborEncodable } from '../../firmware/codec/cbor/value';
import { hex, unhex } from './support';

function error(run: () => unknown): CborError {
  try {
    run();
  } catch (caught) {
    expect(caught).toBeInstanceOf(CborError);
    return caught as CborError;
  }
  throw new Error('no error');
}

describe('encodeCbor', () => {
  test.each([
    [23, '17'],
    [24, '1818'],
    [255, '18ff'],
    [256, '190100'],
    [65535, '19ffff'],
    [65536, '1a00010000'],
    [2 ** 32 - 1, '1affffffff'],
    [2 ** 32, '1b0000000100000000'],
    [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
    [-24, '37'],
    [-25, '3818'],
    [-256, '38ff'],
    [-257, '390100'],
    [-(2 ** 32), '3affffffff'],
    [-Number.MAX_SAFE_INTEGER, '3b001ffffffffffffe'],
  ])('integer %d takes the shortest head: %s', (value, bytes) => {
    expect(hex(encodeCbor(value))).toBe(bytes);
  });

  test.each([
    ['a half (3 bytes)', 21.25, 'f94d50'],
    ['a half subnormal', 2 ** -20, 'f90010'],
    ['a single (5 bytes)', Math.fround(21.3), 'fa41aa6666'],
    ['a double (9 bytes)', 21.3, 'fb40354ccccccccccd'],
    ['2^53, beyond the safe integers, as the float that holds it', 2 ** 53, 'fa5a000000'],
    ['-(2^53 + 2) as a double', -(2 ** 53 + 2), 'fbc340000000000001'],
    ['65504, the largest half, as an integer', 65504, '19ffe0'],
    ['65520 rounds in half: a single', 65520.5, 'fa477ff080'],
  ])('floats: %s', (_name, value, bytes) => {
    expect(hex(encodeCbor(value))).toBe(bytes);
    expect(Object.is(decodeCbor(unhex(bytes)), value)).toBe(true);
  });

  test('every half bit pattern converts both ways', () => {
    for (let bits = 0; bits <= 0xffff; bits++) {
      const value = halfToNumber(bits);
      const exponent = (bits >> 10) & 0x1f;
      if (exponent === 31 && (bits & 0x3ff) !== 0) expect(numberToHalf(value)).toBe(0x7e00);
      else expect(numberToHalf(value)).toBe(bits);
    }
  });

  test('a telemetry message', () => {
    const message = { seq: 7, uptimeMs: 120000, readings: { sht31: { temperature: 21.25, humidity: 48.7 } } };
    const bytes = encodeCbor(message);
    expect(hex(bytes)).toBe('a3' + '63736571' + '07' + '68757074696d654d73' + '1a0001d4c0' + '6872656164696e6773' + 'a1' + '657368743331' + 'a2' + '6b74656d7065726174757265' + 'f94d50' + '6868756d6964697479' + 'fb40485999999999 9a'.replace(' ', ''));
    expect(bytes.length).toBeLessThan(new TextEncoder().encode(JSON.stringify(message)).length);
    expect(decodeCbor(bytes)).toEqual(message);
  });

  test('undefined members are left out and undefined elements are null, as JSON.stringify does', () => {
    const value = { a: 1, b: undefined, c: [undefined, 2] } as CborEncodable;
    expect(decodeCbor(encodeCbor(value))).toEqual(JSON.parse(JSON.stringify(value)));
    expect(hex(encodeCbor(value))).toBe('a26161016163' + '82f602');
  });

  test('the output is exactly as long as its buffer (measured first, allocated once)', () => {
    const bytes = encodeCbor({ list: [1, 2.5, 'three', new Uint8Array(300)] });
    expect(bytes.buffer.byteLength).toBe(bytes.length);
  });

  test('maxBytes bounds the output', () => {
    expect(encodeCbor('x'.repeat(8189)).length).toBe(8192);
    const tooLarge = error(() => encodeCbor('x'.repeat(8190)));
    expect(tooLarge.code).toBe('too-large');
    expect(tooLarge.message).toBe('the encoded value is larger than the limit of 8192 bytes');
    expect(error(() => encodeCbor(new Array(100).fill(1000), { maxBytes: 100 })).code).toBe('too-large');
    expect(encodeCbor(new Array(100).fill(1000), { maxBytes: 302 }).length).toBe(302);
  });

  test('maxDepth bounds nesting, and catches cycles', () => {
    expect(encodeCbor([[[1]]], { maxDepth: 3 })).toEqual(unhex('81818101'));
    const deep = error(() => encodeCbor({ a: [[{}]] }, { maxDepth: 3 }));
    expect(deep.code).toBe('too-deep');
    expect(deep.message).toBe('the value at .a[0][0] nests arrays and maps deeper than the limit of 3 (a cycle?)');
    const cyclic: { [key: string]: unknown } = {};
    cyclic.self = cyclic;
    expect(error(() => encodeCbor(cyclic as CborEncodable)).code).toBe('too-deep');
  });

  test.each([
    ['a function', { f: () => 1 }, /the value at \.f is function/],
    ['a bigint', [1n], /the value at \[0\] is bigint/],
    ['a symbol', Symbol('s'), /is symbol/],
    ['a Map', new Map(), /is a Map/],
    ['a Date', { when: new Date(0) }, /the value at \.when is a Date/],
    ['a Uint16Array', new Uint16Array(2), /is a Uint16Array/],
    ['undefined at the top', undefined, /the value is undefined/],
    ['a lone surrogate', { t: 'a\ud800' }, /the value at \.t has a lone surrogate/],
    ['a lone surrogate in a key', { ['\udc00']: 1 }, /the key of the value at \.\udc00 has a lone surrogate/],
  ])('refuses %s as unencodable', (_name, value, message) => {
    const refused = error(() => encodeCbor(value as unknown as CborEncodable));
    expect(refused.code).toBe('unencodable');
    expect(refused.message).toMatch(message);
  });

  test('objects without a prototype are plain data too', () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    expect(hex(encodeCbor(bare as CborEncodable))).toBe('a1616101');
  });

  test('invalid limits are programming errors (RangeError)', () => {
    expect(() => encodeCbor(1, { maxBytes: 0 })).toThrow(RangeError);
    expect(() => decodeCbor(unhex('01'), { maxDepth: -1 })).toThrow(RangeError);
  });
});

describe('decodeCbor', () => {
  test('heads need not be the shortest', () => {
    expect(decodeCbor(unhex('1800'))).toBe(0);
    expect(decodeCbor(unhex('1b0000000000000017'))).toBe(23);
    expect(decodeCbor(unhex('b900016161780161'))).toEqual({ a: 'a' });
    expect(decodeCbor(unhex('9a00000001f5'))).toEqual([true]);
  });

  test('the integer range is that of safe JavaScript integers', () => {
    expect(decodeCbor(unhex('1b001fffffffffffff'))).toBe(Number.MAX_SAFE_INTEGER);
    expect(decodeCbor(unhex('3b001ffffffffffffe'))).toBe(-Number.MAX_SAFE_INTEGER);
    expect(error(() => decodeCbor(unhex('1b0020000000000000'))).message).toBe('the integer at byte 0 is larger than 2^53 - 1');
    expect(error(() => decodeCbor(unhex('3b001fffffffffffff'))).message).toBe('the integer at byte 0 is smaller than -(2^53 - 1)');
  });

  test('byte strings are copies, not views of the input', () => {
    const input = unhex('420102');
    const value = decodeCbor(input) as Uint8Array;
    input[1] = 9;
    expect(value).toEqual(new Uint8Array([1, 2]));
  });

  test('a "__proto__" key is data, not the prototype', () => {
    const value = decodeCbor(unhex('a1695f5f70726f746f5f5fa1617801')) as { [key: string]: unknown };
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect(value['__proto__']).toEqual({ x: 1 });
    expect((value as { x?: unknown }).x).toBeUndefined();
  });

  test('a repeated key is malformed', () => {
    const repeated = error(() => decodeCbor(unhex('a2616101616102')));
    expect(repeated.code).toBe('malformed');
    expect(repeated.message).toBe('the map at byte 0 has the key "a" twice');
  });

  test('text must be UTF-8', () => {
    for (const bytes of ['61ff', '62c0af', '63eda080', '61 80', '62c3']) {
      const refused = error(() => decodeCbor(unhex(bytes)));
      expect(refused.code).toBe(bytes === '62c3' ? 'truncated' : 'malformed');
    }
    expect(error(() => decodeCbor(unhex('62c328'))).message).toBe('the text string at byte 0 is not valid UTF-8');
  });

  test('messages say what and where', () => {
    expect(error(() => decodeCbor(unhex('8201'))).message).toBe('the array of 2 item(s) at byte 0 needs 2 more byte(s); 1 remain');
    expect(error(() => decodeCbor(unhex('821801'))).message).toBe('an item at byte 3 needs 1 more byte(s); 0 remain');
    expect(error(() => decodeCbor(unhex('820102d8'))).message).toBe('1 byte(s) follow the item (at byte 3)');
    expect(error(() => decodeCbor(unhex('8101c0'))).code).toBe('malformed');
    expect(error(() => decodeCbor(unhex('81c100'))).message).toBe('tag 1 at byte 1 is not supported');
    expect(error(() => decodeCbor(unhex('9f01ff'))).message).toBe('the indefinite-length array at byte 0 is not supported');
  });
});
