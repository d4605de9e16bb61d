/** Twin semantics (hub/twin.ts): pure functions, IoT Hub's rules. */
import fc from 'fast-check';
import { HubError } from '../../hub/errors';
import {
  applySectionPatch,
  applyTagsPatch,
  desiredPatchExchange,
  mergePatch,
  newSection,
  parsePatch,
  reportedPatchExchange,
  twinGetResponse,
  twinSize,
  validatePatch,
  type JsonObject,
  type TwinSection,
} from '../../hub/twin';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const T1 = new Date('2030-01-01T00:01:00.000Z');
const T2 = new Date('2030-01-01T00:02:00.000Z');

function status(fn: () => unknown): number | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    if (error instanceof HubError) return error.status;
    throw error;
  }
}

describe('mergePatch', () => {
  test('members replace, objects merge recursively, null deletes', () => {
    const doc = { a: 1, b: { c: 2, d: 3 }, e: [1, 2], f: 'x' };
    expect(mergePatch(doc, { a: 5, b: { c: null, g: true }, e: [3], f: null })).toEqual({ a: 5, b: { d: 3, g: true }, e: [3] });
    expect(doc).toEqual({ a: 1, b: { c: 2, d: 3 }, e: [1, 2], f: 'x' });
  });

  test('an object replacing a leaf drops nulls inside it', () => {
    expect(mergePatch({ a: 1 }, { a: { b: null, c: 1 } })).toEqual({ a: { c: 1 } });
  });

  test('agrees with RFC 7386 (a reference model) and never leaves a null member behind', () => {
    const key = fc.constantFrom('a', 'b', 'c');
    const leaf = fc.oneof(fc.integer(), fc.boolean(), fc.string({ maxLength: 3 }));
    const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, leaf, fc.constant(null), fc.dictionary(key, tie('v'), { maxKeys: 3 })),
    })).v;
    const doc = fc.dictionary(key, value, { maxKeys: 3 }) as fc.Arbitrary<JsonObject>;
    const reference = (target: unknown, patch: unknown): unknown => {
      if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
      const out: { [k: string]: unknown } = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as object) } : {};
      for (const [k, v] of Object.entries(patch)) {
        if (v === null) delete out[k];
        else out[k] = reference(out[k], v);
      }
      return out;
    };
    const noNulls = (v: unknown): boolean => (typeof v === 'object' && v !== null ? Object.values(v).every((x) => x !== null && noNulls(x)) : true);
    fc.assert(
      fc.property(doc.filter(noNulls), doc, (target, patch) => {
        const merged = mergePatch(target, patch);
        expect(merged).toEqual(reference(target, patch));
        expect(noNulls(merged)).toBe(true);
      }),
    );
  });
});

describe('applySectionPatch', () => {
  test('bumps $version and stamps $metadata.$lastUpdated at every level touched', () => {
    let reported: TwinSection = newSection(T0);
    reported = applySectionPatch(reported, { fw: '1.0', net: { rssi: -60, ssid: 'home' } }, 'reported', T1);
    expect(reported.version).toBe(2);
    expect(reported.metadata).toEqual({
      $lastUpdated: T1.toISOString(),
      fw: { $lastUpdated: T1.toISOString() },
      net: { $lastUpdated: T1.toISOString(), rssi: { $lastUpdated: T1.toISOString() }, ssid: { $lastUpdated: T1.toISOString() } },
    });
    reported = applySectionPatch(reported, { net: { rssi: -70, ssid: null } }, 'reported', T2);
    expect(reported.version).toBe(3);
    expect(reported.properties).toEqual({ fw: '1.0', net: { rssi: -70 } });
    expect(reported.metadata).toEqual({
      $lastUpdated: T2.toISOString(),
      fw: { $lastUpdated: T1.toISOString() },
      // The object's own stamp records the removal of ssid.
      net: { $lastUpdated: T2.toISOString(), rssi: { $lastUpdated: T2.toISOString() } },
    });
  });

  test('desired metadata also records $lastUpdatedVersion', () => {
    const desired = applySectionPatch(newSection(T0, true), { interval: 30 }, 'desired', T1);
    expect(desired.metadata.interval).toEqual({ $lastUpdated: T1.toISOString(), $lastUpdatedVersion: 2 });
    expect(desired.metadata.$lastUpdatedVersion).toBe(2);
  });

  test('a leaf replaced by an object (and back) gets fresh metadata', () => {
    let s = applySectionPatch(newSection(T0), { a: 1 }, 'reported', T1);
    s = applySectionPatch(s, { a: { b: 2 } }, 'reported', T2);
    expect(s.metadata.a).toEqual({ $lastUpdated: T2.toISOString(), b: { $lastUpdated: T2.toISOString() } });
    s = applySectionPatch(s, { a: 'x' }, 'reported', T2);
    expect(s.metadata.a).toEqual({ $lastUpdated: T2.toISOString() });
  });

  test('a section over 32 KB is refused with 403 and error code 403100; nothing changes', () => {
    const before = applySectionPatch(newSection(T0), { keep: 1 }, 'reported', T1);
    const patch: JsonObject = {};
    for (let i = 0; i < 9; i++) patch[`k${i}`] = 'y'.repeat(4000);
    let error: HubError | undefined;
    try {
      applySectionPatch(before, patch, 'reported', T2);
    } catch (e) {
      error = e as HubError;
    }
    expect(error).toMatchObject({ status: 403, errorCode: 403100, message: expect.stringMatching(/'Properties.Reported' size should be less than 32768 bytes/) });
    expect(before.properties).toEqual({ keep: 1 });
    // Just under the limit is fine.
    const ok: JsonObject = {};
    for (let i = 0; i < 8; i++) ok[`k${i}`] = 'y'.repeat(4000);
    expect(applySectionPatch(before, ok, 'reported', T2).version).toBe(3);
  });

  test('tags are limited to 8 KB', () => {
    expect(status(() => applyTagsPatch({}, { a: 'z'.repeat(4000), b: 'z'.repeat(4000), c: 'z'.repeat(300) }))).toBe(403);
    expect(applyTagsPatch({ x: 1 }, { y: 'z', x: null })).toEqual({ y: 'z' });
  });
});

describe('twinSize (IoT Hub\'s count)', () => {
  test('keys and strings by characters, numbers 8, booleans 4, nested objects summed', () => {
    expect(twinSize({ ab: 'xyz' })).toBe(5);
    expect(twinSize({ n: 1.5, b: true })).toBe(1 + 8 + 1 + 4);
    expect(twinSize({ o: { p: 'é', q: [1, 'ab'] } })).toBe(1 + (1 + 1) + (1 + 8 + 2));
  });
});

describe('validation (keys, values, depth)', () => {
  test.each([
    ['a dot in a key', { 'a.b': 1 }],
    ['a $ in a key', { $x: 1 }],
    ['a space in a key', { 'a b': 1 }],
    ['a control character in a key', { 'a\u0001': 1 }],
    ['an empty key', { '': 1 }],
    ['a key over 1 KB', { ['k'.repeat(1025)]: 1 }],
    ['a string over 4 KB', { s: 'x'.repeat(4097) }],
    ['an integer above 2^52 - 1', { n: 4503599627370496 }],
    ['an integer below -2^52', { n: -4503599627370497 }],
    ['a null in an array', { a: [1, null] }],
    ['a bad key deep inside', { a: { b: { 'c.d': 1 } } }],
  ])('%s is refused with 400', (_name, patch) => {
    expect(status(() => validatePatch(patch as JsonObject, 'reported'))).toBe(400);
  });

  test('the largest values allowed are accepted', () => {
    expect(() => validatePatch({ ['k'.repeat(1024)]: 'x'.repeat(4096), n: 4503599627370495, m: -4503599627370496, f: 1.5e300, a: [1, 'a', { b: true }] }, 'reported')).not.toThrow();
  });

  test('objects may nest 10 levels (the example in Azure\'s documentation), not 11', () => {
    const nest = (levels: number): JsonObject => {
      let doc: JsonObject = { property: 'value' };
      for (let i = levels; i >= 1; i--) doc = { [`level${i}`]: doc };
      return doc;
    };
    expect(() => validatePatch(nest(10), 'tags')).not.toThrow();
    expect(status(() => validatePatch(nest(11), 'tags'))).toBe(400);
  });
});

describe('parsePatch', () => {
  test.each([
    ['malformed JSON', '{"a":', /Malformed JSON/],
    ['an array', '[1]', /must be a JSON object, not an array/],
    ['null', 'null', /not null/],
    ['a number', '42', /not number/],
    ['an empty body', '', /empty/],
  ])('%s → 400', (_name, body, message) => {
    expect(() => parsePatch(Buffer.from(body), 'reported')).toThrow(message);
    expect(status(() => parsePatch(Buffer.from(body), 'reported'))).toBe(400);
  });

  test('bytes that are not UTF-8 → 400', () => {
    expect(status(() => parsePatch(Buffer.from([0x7b, 0xff, 0x7d]), 'reported'))).toBe(400);
  });
});

describe('the MQTT exchanges', () => {
  test('GET: $iothub/twin/res/200/?$rid={rid} with desired and reported and their $version (no metadata)', () => {
    const desired = applySectionPatch(newSection(T0, true), { interval: 30 }, 'desired', T1);
    const reported = newSection(T0);
    const response = twinGetResponse('7', desired, reported);
    expect(response.topic).toBe('$iothub/twin/res/200/?$rid=7');
    expect(JSON.parse(response.payload.toString())).toEqual({ desired: { interval: 30, $version: 2 }, reported: { $version: 1 } });
  });

  test('reported PATCH: 204 with $version on success; 400 with an error body on a bad patch; the section unchanged', () => {
    const reported = newSection(T0);
    const ok = reportedPatchExchange(reported, Buffer.from('{"a":1}'), 'r1', T1);
    expect(ok.response.topic).toBe('$iothub/twin/res/204/?$rid=r1&$version=2');
    expect(ok.response.payload.length).toBe(0);
    expect(ok.reported!.properties).toEqual({ a: 1 });
    const bad = reportedPatchExchange(reported, Buffer.from('{"a.b":1}'), 'r2', T1);
    expect(bad.reported).toBeUndefined();
    expect(bad.response.topic).toBe('$iothub/twin/res/400/?$rid=r2');
    expect(JSON.parse(bad.response.payload.toString())).toEqual(expect.objectContaining({ errorCode: 400004, message: expect.stringContaining('a.b') }));
    const noRid = reportedPatchExchange(reported, Buffer.from('{"a":1}'), undefined, T1);
    expect(noRid.response.topic).toBe('$iothub/twin/res/400/?$rid=');
  });

  test('desired PATCH: the notification carries the patch as sent (nulls included) and the new $version', () => {
    const desired = applySectionPatch(newSection(T0, true), { a: 1, b: 2 }, 'desired', T1);
    const { desired: next, notification } = desiredPatchExchange(desired, { a: null, c: { d: 1 } }, T2);
    expect(next.version).toBe(3);
    expect(next.properties).toEqual({ b: 2, c: { d: 1 } });
    expect(notification.topic).toBe('$iothub/twin/PATCH/properties/desired/?$version=3');
    expect(JSON.parse(notification.payload.toString())).toEqual({ a: null, c: { d: 1 }, $version: 3 });
  });
});
