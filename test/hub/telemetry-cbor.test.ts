/**
 * CBOR telemetry at the hub: a message with content type application/cbor is decoded (cbor-x)
 * into JSON values for the store's readers, the HTTP API and `thingkit hub telemetry`, and keeps
 * its bytes; one that is not CBOR is kept raw with a warning in the hub log, and the hub goes on.
 */
import { encode, Encoder, Tag } from 'cbor-x';
import type { Hub } from '../../hub/hub';
import { decodeCborBody, isCborContentType } from '../../hub/store/telemetry';
import { encodeCbor } from '../../firmware/codec/cbor/encode';
import { connectDevice, http, RawClient, startTestHub } from './support';

const CBOR_TOPIC = 'devices/cbor1/messages/events/%24.ct=application%2Fcbor';

let hub: Hub;
let client: RawClient;

beforeAll(async () => {
  ({ hub } = await startTestHub());
  const key = hub.service.createDevice({ deviceId: 'cbor1' }).authentication.symmetricKey!.primaryKey;
  client = await connectDevice(hub, 'cbor1', key);
});

afterAll(async () => {
  client?.destroy();
  await hub.close();
});

const last = () => hub.store.telemetry.recent('cbor1', { limit: 1 })[0]!;

test('a CBOR message is shown decoded and keeps its bytes', async () => {
  const message = { seq: 3, uptimeMs: 180000, readings: { sht31: { temperature: 21.25, humidity: 48.7 } } };
  const bytes = Buffer.from(encodeCbor(message));
  await client.publish(`${CBOR_TOPIC}&priority=high`, bytes, 1);
  const stored = last();
  expect(stored.systemProperties).toEqual({ contentType: 'application/cbor' });
  expect(stored.payload.equals(bytes)).toBe(true);
  expect(stored.cbor).toEqual({ body: message });
  const recent = await http(hub, 'GET', '/devices/cbor1/telemetry?limit=1');
  expect(recent.body).toEqual([expect.objectContaining({ body: message, properties: { priority: 'high' }, bodyBase64: bytes.toString('base64') })]);
});

test('values JSON lacks are shown as JSON can: bytes as base64, big integers, dates, tags, maps with other keys', async () => {
  const bytes = new Encoder({ tagUint8Array: false, useRecords: false }).encode({
    raw: new Uint8Array([1, 2, 3]),
    big: 2n ** 64n - 1n,
    count: 2n ** 40n,
    when: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
    tagged: new Tag('x', 40000),
    missing: undefined,
    nan: NaN,
    keys: new Map<unknown, unknown>([[1, 'one'], ['two', 2]]),
  });
  await client.publish(CBOR_TOPIC, bytes, 1);
  expect(last().cbor).toEqual({
    body: { raw: 'AQID', big: '18446744073709551615', count: 2 ** 40, when: '2025-01-02T03:04:05.000Z', tagged: { tag: 40000, value: 'x' }, missing: null, nan: null, keys: { '1': 'one', two: 2 } },
  });
});

test.each([
  ['text', Buffer.from('21.5 degrees')],
  ['a truncated item', Buffer.from([0x82, 0x01])],
  ['an empty payload', Buffer.alloc(0)],
  ['trailing bytes', Buffer.from([0x01, 0x02])],
  ['a reserved head', Buffer.from([0x1c])],
  ['nesting 200 000 deep', Buffer.concat([Buffer.alloc(200_000, 0x81), Buffer.from([0x00])])],
])('%s with content type application/cbor is kept raw, with a warning, and the hub goes on', async (_name, payload) => {
  const warnings = hub.log.recent({ event: 'telemetry.cbor' }).length;
  await client.publish(CBOR_TOPIC, payload, 1);
  const stored = last();
  expect(stored.payload.equals(payload)).toBe(true);
  expect(stored.cbor).toEqual({ error: expect.any(String) });
  const warning = hub.log.recent({ event: 'telemetry.cbor' }).at(-1)!;
  expect(hub.log.recent({ event: 'telemetry.cbor' })).toHaveLength(warnings + 1);
  expect(warning).toMatchObject({ level: 'warn', deviceId: 'cbor1', message: expect.stringMatching(/application\/cbor but cannot be decoded; kept as raw bytes/) });
  const view = (await http(hub, 'GET', '/devices/cbor1/telemetry?limit=1')).body[0];
  expect(view.body).toBeNull();
  expect(view.bodyBase64).toBe(payload.toString('base64'));
  // The connection is still up and the next message is stored.
  await client.publish(CBOR_TOPIC, encode({ ok: true }), 1);
  expect(last().cbor).toEqual({ body: { ok: true } });
  expect(client.closed).toBe(false);
});

test('JSON and untyped messages are shown as before', async () => {
  await client.publish('devices/cbor1/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8', JSON.stringify({ t: 20 }), 1);
  expect(last().cbor).toBeUndefined();
  expect((await http(hub, 'GET', '/devices/cbor1/telemetry?limit=1')).body[0].body).toEqual({ t: 20 });
  // CBOR bytes without the content type are not decoded: the hub does not guess.
  await client.publish('devices/cbor1/messages/events/', Buffer.from(encodeCbor({ t: 20 })), 1);
  expect(last().cbor).toBeUndefined();
});

test('content types are matched as media types: case and parameters aside', () => {
  expect(isCborContentType('application/cbor')).toBe(true);
  expect(isCborContentType('Application/CBOR; charset=binary')).toBe(true);
  expect(isCborContentType('application/cbor-seq')).toBe(false);
  expect(isCborContentType('application/json')).toBe(false);
  expect(isCborContentType(undefined)).toBe(false);
  expect(decodeCborBody(Buffer.from([0xa1, 0x61, 0x61, 0x01]))).toEqual({ body: { a: 1 } });
});
