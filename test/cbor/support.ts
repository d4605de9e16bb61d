/** Shared pieces of the CBOR tests: hex, arbitraries of our data model, cbor-x set up for it. */
import { Decoder, Encoder } from 'cbor-x';
import fc from 'fast-check';
import { halfToNumber } from '../../firmware/codec/cbor/float';
import type { CborValue } from '../../firmware/codec/cbor/value';

export const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
export const unhex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

/** cbor-x as an independent implementation: byte strings as plain major type 2 (no tag 64), maps as objects, 64-bit integers as numbers. */
export const foreignEncoder = new Encoder({ tagUint8Array: false, useRecords: false, mapsAsObjects: true });
const decoderOptions = { useRecords: false, mapsAsObjects: true, int64AsNumber: true }; // int64AsNumber is missing from cbor-x's typings
export const foreignDecoder = new Decoder(decoderOptions);

/** cbor-x's result in our data model's terms: Buffers are Uint8Arrays. */
export function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  return value;
}

/** Numbers of every kind the encoder must handle: integers around each head size, and floats of each width. */
export const numberArb: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -30, max: 30 }),
  fc.constantFrom(23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -24, -25, -256, -257, -65536, -65537, -(2 ** 32), -(2 ** 32) - 1, -Number.MAX_SAFE_INTEGER),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(), // NaN, ±Infinity, -0, subnormals included
  fc.float(), // float32 values
  fc.integer({ min: 0, max: 0xffff }).map(halfToNumber), // half values
  fc.double({ min: -100, max: 100, noNaN: true }).map((x) => Math.round(x * 100) / 100), // readings
);

// No "__proto__" keys: cbor-x deliberately decodes that key as "__proto_" (we keep it as data: see codec.test.ts).
const keyArb = fc.string({ maxLength: 10, unit: 'binary' }).filter((key) => key !== '__proto__');
const textArb = fc.string({ maxLength: 40, unit: 'binary' });

/** Values of our data model (CborValue). */
export const valueArb: fc.Arbitrary<CborValue> = fc.letrec<{ value: CborValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    numberArb,
    textArb,
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 6 }),
    fc.dictionary(keyArb, tie('value'), { maxKeys: 6, noNullPrototype: true }),
  ),
})).value;

/** A telemetry body as the app sends it. */
export const telemetryArb = fc.record({
  seq: fc.nat(),
  uptimeMs: fc.maxSafeNat(),
  readings: fc.dictionary(fc.constantFrom('sht31', 'bme280', 'scd41', 'bh1750'), fc.dictionary(fc.constantFrom('temperature', 'humidity', 'pressure', 'co2', 'lux'), numberArb, { maxKeys: 4, noNullPrototype: true }), { maxKeys: 4, noNullPrototype: true }),
});
