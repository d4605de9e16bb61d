/**
 * URL encoding and property bags: edge cases, and round trips over arbitrary properties
 * (fast-check). The encoder is cross-checked against the Node SDK's
 * `encodeUriComponentStrict` (azure-iot-common), which encodes what RFC 3986 reserves.
 */
import fc from 'fast-check';
import { encodeUriComponentStrict } from 'azure-iot-common/dist/authorization';
import { encodePropertyBag, MAX_PROPERTY_BAG_ENTRIES, parsePropertyBag, parseQuery, percentDecode, percentEncode, type PropertyEntry } from '../../firmware/iot/azure/url';
import { parseC2dTopic, telemetryTopic } from '../../firmware/iot/azure/topics';
import { isValidTopicName } from '../../firmware/iot/mqtt/topic';

/** Strings of any code points, lone surrogates excluded (they have no UTF-8 form). */
const anyText = fc.string({ unit: 'grapheme' });
const edgeText = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-', '.', '_', '~', ' ', '+', '&', '=', '%', '/', '?', '#', '$', '!', "'", '(', ')', '*', 'é', '€', '😀', '\u0000', '\u007f') });
const text = fc.oneof(anyText, edgeText);
const entries = fc.array(fc.record({ name: text.filter((name) => name.length > 0), value: fc.option(text, { nil: null }) }), { maxLength: 12 });

describe('percentEncode / percentDecode', () => {
  test('unreserved characters stay; everything else is %XX of UTF-8, upper-case hex', () => {
    expect(percentEncode('AZaz09-._~')).toBe('AZaz09-._~');
    expect(percentEncode(' +&=%/?#$')).toBe('%20%2B%26%3D%25%2F%3F%23%24');
    expect(percentEncode("!'()*")).toBe('%21%27%28%29%2A');
    expect(percentEncode('é€😀')).toBe('%C3%A9%E2%82%AC%F0%9F%98%80');
    expect(percentEncode('\u0000')).toBe('%00');
    expect(percentEncode('\uD800')).toBe('%EF%BF%BD'); // a lone surrogate becomes U+FFFD
  });

  test('agrees with the Node SDK encoder on every string (it writes the hex of !\'()* in lower case)', () => {
    const upperHex = (encoded: string): string => encoded.replace(/%[0-9a-f]{2}/gi, (escape) => escape.toUpperCase());
    fc.assert(fc.property(text, (value) => expect(percentEncode(value)).toBe(upperHex(encodeUriComponentStrict(value)))), { numRuns: 3000 });
  });

  test('decode inverts encode', () => {
    fc.assert(fc.property(text, (value) => expect(percentDecode(percentEncode(value))).toBe(value)), { numRuns: 3000 });
  });

  test('decode: lower-case hex, text without escapes, + stays +; broken input is undefined, not a throw', () => {
    expect(percentDecode('%2f%2F')).toBe('//');
    expect(percentDecode('a+b')).toBe('a+b');
    expect(percentDecode('plain')).toBe('plain');
    for (const broken of ['%', '%2', '%zz', '%C3', '%C3%28', '%ED%A0%80', '%F8%88%80%80%80', '%C0%AF', '%FF']) expect(percentDecode(broken)).toBeUndefined();
  });
});

describe('property bags', () => {
  test('null is the bare name, empty is name=, order is kept', () => {
    expect(encodePropertyBag([{ name: 'prop1', value: null }, { name: 'prop2', value: '' }, { name: 'prop3', value: 'a string' }])).toBe('prop1&prop2=&prop3=a%20string');
    expect(() => encodePropertyBag([{ name: '', value: 'x' }])).toThrow(RangeError);
  });

  test('round trip: parse(encode(entries)) = entries', () => {
    fc.assert(fc.property(entries, (list: PropertyEntry[]) => expect(parsePropertyBag(encodePropertyBag(list))).toEqual({ ok: true, value: list })), { numRuns: 1000 });
  });

  test('round trip through a C2D topic, and every telemetry topic is a valid MQTT topic', () => {
    fc.assert(
      fc.property(entries, (list: PropertyEntry[]) => {
        const parsed = parseC2dTopic(`devices/d1/messages/devicebound/${encodePropertyBag(list)}`, 'd1');
        expect(parsed).toEqual({ ok: true, value: { deviceId: 'd1', properties: list } });
        const application = list.filter((entry) => !entry.name.startsWith('$') && entry.value !== null);
        expect(isValidTopicName(telemetryTopic({ hostName: 'h', deviceId: 'd1' }, { messageId: 'x' }, application))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  test('empty segments are skipped; a leading ? is skipped; = inside a value is kept', () => {
    expect(parsePropertyBag('&&a=1&&b')).toEqual({ ok: true, value: [{ name: 'a', value: '1' }, { name: 'b', value: null }] });
    expect(parsePropertyBag('?a=1')).toEqual({ ok: true, value: [{ name: 'a', value: '1' }] });
    expect(parsePropertyBag('a=b=c')).toEqual({ ok: true, value: [{ name: 'a', value: 'b=c' }] });
    expect(parsePropertyBag('')).toEqual({ ok: true, value: [] });
  });

  test(`at most ${MAX_PROPERTY_BAG_ENTRIES} properties are parsed (bounded memory)`, () => {
    const many = Array.from({ length: MAX_PROPERTY_BAG_ENTRIES + 1 }, (_, i) => `p${i}=1`).join('&');
    expect(parsePropertyBag(many)).toMatchObject({ ok: false, error: { code: 'malformed', message: expect.stringMatching(/more than 64/) } });
    expect(parseQuery(many)).toMatchObject({ ok: false });
  });

  test('parsing arbitrary text never throws', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '=', '&', '%', '2', 'F', 'C', '3', '?', 'é') }), (bag) => {
        const result = parsePropertyBag(bag);
        if (!result.ok) expect(result.error.code).toBe('malformed');
      }),
      { numRuns: 3000 },
    );
  });
});
