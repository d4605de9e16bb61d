import fc from 'fast-check';
import { decodeUtf8, encodeUtf8, utf8Length } from '../../firmware/codec/utf8';
import { hex, toHex } from './support';

describe('UTF-8', () => {
  test('encodes like Node for all well-formed strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
        const ours = encodeUtf8(text) as Uint8Array;
        expect(toHex(ours)).toBe(toHex(new Uint8Array(Buffer.from(text, 'utf8'))));
        expect(utf8Length(text)).toBe(ours.length);
        expect(decodeUtf8(ours)).toBe(text);
      }),
    );
  });

  test('the spec example "A\\u{2A6D4}"', () => {
    expect(toHex(encodeUtf8('A\u{2A6D4}') as Uint8Array)).toBe('41 f0 aa 9b 94');
    expect(decodeUtf8(hex('41 f0 aa 9b 94'))).toBe('A\u{2A6D4}');
  });

  test('boundaries of each sequence length', () => {
    for (const point of [0, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff]) {
      const text = String.fromCodePoint(point);
      expect(decodeUtf8(encodeUtf8(text) as Uint8Array)).toBe(text);
    }
  });

  test('lone surrogates cannot be encoded', () => {
    expect(utf8Length('\ud800')).toBe(-1);
    expect(utf8Length('a\udfff')).toBe(-1);
    expect(utf8Length('\ud800a')).toBe(-1);
    expect(encodeUtf8('\udbff')).toBeUndefined();
  });

  test.each([
    ['lone continuation', '80'],
    ['overlong 2-byte', 'c0 80'],
    ['overlong 2-byte (c1)', 'c1 bf'],
    ['overlong 3-byte', 'e0 80 80'],
    ['overlong 4-byte', 'f0 80 80 80'],
    ['surrogate D800', 'ed a0 80'],
    ['surrogate DFFF', 'ed bf bf'],
    ['beyond U+10FFFF', 'f4 90 80 80'],
    ['lead byte F5', 'f5 80 80 80'],
    ['lead byte FF', 'ff'],
    ['truncated 2-byte', 'c3'],
    ['truncated 4-byte', 'f0 9f 98'],
    ['bad continuation', 'e2 28 a1'],
  ])('rejects %s', (_name, bytes) => {
    expect(decodeUtf8(hex(bytes))).toBeUndefined();
  });

  test('agrees with Node on which byte strings are well-formed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
        const ours = decodeUtf8(bytes);
        const node = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // MQTT keeps a leading BOM too
        let expected: string | undefined;
        try {
          expected = node.decode(bytes);
        } catch {
          expected = undefined;
        }
        expect(ours).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  test('long strings decode in chunks', () => {
    const text = '😀é'.repeat(3000);
    expect(decodeUtf8(encodeUtf8(text) as Uint8Array)).toBe(text);
  });

  test('decodes a range of a buffer', () => {
    expect(decodeUtf8(hex('ff 61 62 ff'), 1, 3)).toBe('ab');
  });
});
