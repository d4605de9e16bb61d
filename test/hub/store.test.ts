/** The hub's SQLite store: persistence across reopen, migrations, C2D life cycle and expiry, bounds, validation. */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { HubError } from '../../hub/errors';
import { deriveDeviceKey } from '../../hub/sas';
import { EnrollmentStore, HubStore, SCHEMA_VERSION, StoreError } from '../../hub/store';
import { tempDir } from './support';

function errorOf(fn: () => unknown): HubError {
  try {
    fn();
  } catch (error) {
    if (error instanceof HubError) return error;
    throw error;
  }
  throw new Error('expected a HubError');
}

class Clock {
  constructor(public t = Date.parse('2030-01-01T00:00:00Z')) {}
  now = () => this.t;
  advance(ms: number) {
    this.t += ms;
  }
}

describe('persistence', () => {
  test('everything survives closing and reopening the file (WAL mode, schema version recorded)', () => {
    const file = path.join(tempDir('thingkit-store-'), 'hub.db');
    const store = HubStore.open({ file });
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    const device = store.devices.create({ deviceId: 'dev1' });
    store.devices.create({ deviceId: 'dev2', authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: 'ab:cd' + '0'.repeat(36) } } });
    store.twins.update('dev1', { tags: { room: 'lab' }, properties: { desired: { interval: 30 } } });
    store.twins.patchReported('dev1', { fw: '1.0' });
    const message = store.c2d.enqueue('dev1', { payload: Buffer.from([0, 1, 2, 255]), properties: { k: 'v' }, ack: 'full' });
    store.telemetry.ingest({ deviceId: 'dev1', properties: { a: '1' }, systemProperties: { contentType: 'application/json' }, payload: Buffer.from('{"t":1}') });
    store.enrollments.putEnrollment('reg-1', { attestation: { type: 'symmetricKey' } });
    store.enrollments.putGroup('group-1', {});
    store.methods.begin({ deviceId: 'dev1', methodName: 'reboot', requestId: '1', payload: { a: 1 }, responseTimeoutMs: 30000, connectTimeoutMs: 0 });
    store.close();
    expect(existsSync(file)).toBe(true);

    const again = HubStore.open({ file });
    expect(again.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(again.devices.get('dev1')).toEqual(device);
    expect(again.devices.get('dev2')!.authentication.x509Thumbprint!.primaryThumbprint).toBe('ABCD' + '0'.repeat(36));
    const twin = again.twins.get('dev1')!;
    expect(twin.tags).toEqual({ room: 'lab' });
    expect(twin.desired.properties).toEqual({ interval: 30 });
    expect(twin.desired.version).toBe(2);
    expect(twin.reported.properties).toEqual({ fw: '1.0' });
    expect(twin.version).toBe(3);
    const stored = again.c2d.get(message.messageId)!;
    expect(stored.payload).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(stored).toEqual(expect.objectContaining({ state: 'queued', ack: 'full', properties: { k: 'v' } }));
    expect(again.telemetry.recent('dev1')[0]).toEqual(expect.objectContaining({ properties: { a: '1' }, systemProperties: { contentType: 'application/json' } }));
    expect(again.enrollments.getEnrollment('reg-1')!.attestation.type).toBe('symmetricKey');
    expect(again.enrollments.getGroup('group-1')).toBeDefined();
    // A call left pending by a previous run is failed when the hub starts again.
    expect(again.methods.failPending()).toBe(1);
    expect(again.methods.list('dev1')[0].outcome).toBe('failed');
    again.close();
  });

  test('a file written by a newer schema is refused with a clear error', () => {
    const file = path.join(tempDir('thingkit-store-'), 'hub.db');
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => HubStore.open({ file })).toThrow(StoreError);
    expect(() => HubStore.open({ file })).toThrow(/newer than this thingkit understands/);
  });

  test('a file that is not a database is refused with a clear error', () => {
    const file = path.join(tempDir('thingkit-store-'), 'hub.db');
    require('node:fs').writeFileSync(file, 'this is not sqlite'.repeat(100));
    expect(() => HubStore.open({ file })).toThrow(/cannot use the hub data file/);
  });
});

describe('device registry', () => {
  let store: HubStore;
  beforeEach(() => {
    store = HubStore.open({ file: ':memory:' });
  });
  afterEach(() => store.close());

  test('creates SAS devices with generated 32-byte keys, or given ones', () => {
    const generated = store.devices.create({ deviceId: 'a' });
    expect(Buffer.from(generated.authentication.symmetricKey!.primaryKey, 'base64')).toHaveLength(32);
    expect(generated.authentication.symmetricKey!.primaryKey).not.toBe(generated.authentication.symmetricKey!.secondaryKey);
    const key = Buffer.alloc(32, 3).toString('base64');
    expect(store.devices.create({ deviceId: 'b', authentication: { symmetricKey: { primaryKey: key } } }).authentication.symmetricKey!.primaryKey).toBe(key);
  });

  test.each([
    [{ deviceId: 'has space' }, 400, /not a valid device id/],
    [{ deviceId: 'x'.repeat(129) }, 400, /not a valid device id/],
    [{}, 400, /device id is required/],
    [{ deviceId: 'k', authentication: { symmetricKey: { primaryKey: 'short' } } }, 400, /not a valid symmetric key/],
    [{ deviceId: 't', authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: 'xyz' } } }, 400, /not a certificate thumbprint/],
    [{ deviceId: 's', authentication: { type: 'selfSigned' } }, 400, /needs authentication.x509Thumbprint.primaryThumbprint/],
    [{ deviceId: 'u', status: 'paused' }, 400, /status must be/],
    [{ deviceId: 'v', authentication: { type: 'psk' } }, 400, /authentication.type must be/],
  ])('refuses %j with %d', (input, status, message) => {
    const error = errorOf(() => store.devices.create(input));
    expect(error.status).toBe(status);
    expect(error.message).toMatch(message);
    expect(store.devices.count()).toBe(0);
  });

  test('device ids with IoT Hub\'s special characters are fine', () => {
    const id = "a-b:c.d+e%f_g#h*i?j!k(l)m,n=o@p;q$r's";
    expect(store.devices.create({ deviceId: id }).deviceId).toBe(id);
  });

  test('a duplicate id is refused with 409 (409001)', () => {
    store.devices.create({ deviceId: 'dup' });
    expect(errorOf(() => store.devices.create({ deviceId: 'dup' }))).toMatchObject({ status: 409, errorCode: 409001 });
  });

  test('status changes, last activity, and delete removing everything kept for the device', () => {
    store.devices.create({ deviceId: 'd' });
    expect(store.devices.setStatus('d', 'disabled', 'lost').status).toBe('disabled');
    store.devices.touch('d', 1234);
    expect(store.devices.get('d')!.lastActivityAt).toBe(1234);
    store.c2d.enqueue('d', { payload: 'x' });
    store.telemetry.ingest({ deviceId: 'd', properties: {}, systemProperties: {}, payload: Buffer.from('x') });
    store.devices.delete('d');
    expect(store.devices.get('d')).toBeUndefined();
    expect(store.twins.get('d')).toBeUndefined();
    expect(store.c2d.list('d')).toEqual([]);
    expect(store.telemetry.recent('d')).toEqual([]);
    expect(errorOf(() => store.devices.delete('d'))).toMatchObject({ status: 404, errorCode: 404001 });
  });
});

describe('twins in the store', () => {
  let store: HubStore;
  beforeEach(() => {
    store = HubStore.open({ file: ':memory:' });
    store.devices.create({ deviceId: 'd' });
  });
  afterEach(() => store.close());

  test('a new twin has desired and reported $version 1', () => {
    const twin = store.twins.get('d')!;
    expect(twin.desired.version).toBe(1);
    expect(twin.reported.version).toBe(1);
    expect(twin.tags).toEqual({});
  });

  test('an update with one bad part changes nothing (tags and desired are applied together or not at all)', () => {
    const before = store.twins.get('d');
    expect(errorOf(() => store.twins.update('d', { tags: { ok: 1 }, properties: { desired: { 'bad.key': 1 } } })).status).toBe(400);
    expect(store.twins.get('d')).toEqual(before);
  });

  test('the service cannot write reported properties or unknown members', () => {
    expect(errorOf(() => store.twins.update('d', { properties: { reported: { a: 1 } } })).message).toMatch(/only properties.desired/);
    expect(errorOf(() => store.twins.update('d', { status: 'disabled' })).message).toMatch(/cannot change: status/);
    expect(errorOf(() => store.twins.update('d', {})).message).toMatch(/changes nothing/);
  });

  test('If-Match: a stale etag is refused with 412', () => {
    const { twin } = store.twins.update('d', { tags: { a: 1 } });
    expect(store.twins.update('d', { tags: { b: 2 } }, twin.etag).twin.tags).toEqual({ a: 1, b: 2 });
    expect(errorOf(() => store.twins.update('d', { tags: { c: 3 } }, twin.etag))).toMatchObject({ status: 412 });
    expect(store.twins.update('d', { tags: { c: 3 } }, '*').twin.tags).toEqual({ a: 1, b: 2, c: 3 });
  });

  test('a reported patch from the device that fails validation writes nothing and answers with the error', () => {
    const before = store.twins.get('d');
    const result = store.twins.patchReportedFromDevice('d', Buffer.from('{"a":'), '1');
    expect(result.response.topic).toBe('$iothub/twin/res/400/?$rid=1');
    expect(store.twins.get('d')).toEqual(before);
  });
});

describe('cloud-to-device messages', () => {
  let store: HubStore;
  let clock: Clock;
  beforeEach(() => {
    clock = new Clock();
    store = HubStore.open({ file: ':memory:', now: clock.now });
    store.devices.create({ deviceId: 'd' });
  });
  afterEach(() => store.close());

  test('queued → delivered → completed, with Success feedback when ack asks for it', () => {
    const m = store.c2d.enqueue('d', { payload: 'x', ack: 'positive', messageId: 'm1' });
    expect(store.c2d.takeDeliverable('d').map((x) => x.messageId)).toEqual(['m1']);
    store.c2d.markDelivered(m.seq);
    expect(store.c2d.takeDeliverable('d')).toEqual([]);
    clock.advance(10);
    const done = store.c2d.complete(m.seq)!;
    expect(done).toEqual(expect.objectContaining({ state: 'completed', deliveryCount: 1 }));
    expect(done.feedback).toEqual({ statusCode: 'Success', description: 'Success', enqueuedTimeUtc: new Date(clock.t).toISOString() });
    expect(store.c2d.feedback()).toEqual([expect.objectContaining({ originalMessageId: 'm1', deviceId: 'd', statusCode: 'Success' })]);
  });

  test('expiry: a queued message past its time to live expires, with Expired feedback for negative/full acks only', () => {
    const full = store.c2d.enqueue('d', { payload: 'a', ttlMs: 1000, ack: 'full' });
    const none = store.c2d.enqueue('d', { payload: 'b', ttlMs: 1000 });
    const positive = store.c2d.enqueue('d', { payload: 'c', ttlMs: 1000, ack: 'positive' });
    const later = store.c2d.enqueue('d', { payload: 'd', ttlMs: 5000 });
    clock.advance(999);
    expect(store.c2d.expire()).toEqual([]);
    clock.advance(1);
    expect(store.c2d.expire().map((m) => m.messageId).sort()).toEqual([full.messageId, none.messageId, positive.messageId].sort());
    expect(store.c2d.get(full.messageId)!.feedback).toEqual(expect.objectContaining({ statusCode: 'Expired', description: 'Message expired' }));
    expect(store.c2d.get(none.messageId)!.feedback).toBeNull();
    expect(store.c2d.get(positive.messageId)!.feedback).toBeNull();
    expect(store.c2d.takeDeliverable('d').map((m) => m.messageId)).toEqual([later.messageId]);
  });

  test('an in-flight message returns to the queue and can then expire', () => {
    const m = store.c2d.enqueue('d', { payload: 'x', ttlMs: 1000 });
    store.c2d.markDelivered(m.seq);
    clock.advance(2000);
    expect(store.c2d.expire()).toEqual([]);
    store.c2d.requeue([m.seq]);
    expect(store.c2d.expire().map((x) => x.messageId)).toEqual([m.messageId]);
  });

  test('default time to live one hour, at most two days; absolute expiry accepted', () => {
    expect(store.c2d.enqueue('d', { payload: 'x' }).expiresAt).toBe(clock.t + 3_600_000);
    expect(store.c2d.enqueue('d', { payload: 'x', expiryTimeUtc: new Date(clock.t + 60_000).toISOString() }).expiresAt).toBe(clock.t + 60_000);
    expect(errorOf(() => store.c2d.enqueue('d', { payload: 'x', ttlMs: 49 * 3_600_000 })).status).toBe(400);
    expect(errorOf(() => store.c2d.enqueue('d', { payload: 'x', expiryTimeUtc: 'yesterday' })).status).toBe(400);
  });

  test('at most 50 messages wait per device (403004); bad input is refused without queuing anything', () => {
    for (let i = 0; i < 50; i++) store.c2d.enqueue('d', { payload: String(i) });
    expect(errorOf(() => store.c2d.enqueue('d', { payload: 'one too many' }))).toMatchObject({ status: 403, errorCode: 403004 });
    store.devices.create({ deviceId: 'e' });
    expect(errorOf(() => store.c2d.enqueue('e', { payload: 'x', properties: { n: 1 as unknown as string } })).status).toBe(400);
    expect(errorOf(() => store.c2d.enqueue('e', { payload: 'x', properties: { $x: 'y' } })).status).toBe(400);
    expect(errorOf(() => store.c2d.enqueue('e', { payload: 'x', ack: 'sometimes' as never })).status).toBe(400);
    expect(errorOf(() => store.c2d.enqueue('e', { payload: undefined })).status).toBe(400);
    expect(errorOf(() => store.c2d.enqueue('e', { payload: Buffer.alloc(65 * 1024) })).status).toBe(413);
    expect(errorOf(() => store.c2d.enqueue('ghost', { payload: 'x' })).status).toBe(404);
    expect(store.c2d.list('e')).toEqual([]);
  });

  test('after a restart, delivered-but-unacknowledged messages are queued again', () => {
    const m = store.c2d.enqueue('d', { payload: 'x' });
    store.c2d.markDelivered(m.seq);
    expect(store.c2d.requeueAllDelivered()).toBe(1);
    expect(store.c2d.get(m.messageId)!.state).toBe('queued');
  });
});

describe('telemetry and the method log are bounded', () => {
  test('only the last N telemetry messages per device are kept', () => {
    const store = HubStore.open({ file: ':memory:', telemetryPerDevice: 5 });
    for (let i = 0; i < 8; i++) store.telemetry.ingest({ deviceId: 'a', properties: {}, systemProperties: {}, payload: Buffer.from(String(i)) });
    store.telemetry.ingest({ deviceId: 'b', properties: {}, systemProperties: {}, payload: Buffer.from('b') });
    expect(store.telemetry.recent('a').map((m) => m.payload.toString())).toEqual(['3', '4', '5', '6', '7']);
    expect(store.telemetry.recent('a', { limit: 2 }).map((m) => m.payload.toString())).toEqual(['6', '7']);
    const third = store.telemetry.recent('a')[2].seq;
    expect(store.telemetry.recent('a', { afterSeq: third }).map((m) => m.payload.toString())).toEqual(['6', '7']);
    expect(store.telemetry.count('b')).toBe(1);
    store.close();
  });

  test('the method log keeps 200 calls per device', () => {
    const store = HubStore.open({ file: ':memory:' });
    for (let i = 0; i < 210; i++) store.methods.begin({ deviceId: 'a', methodName: `m${i}`, requestId: String(i), payload: undefined, responseTimeoutMs: 1, connectTimeoutMs: 0 });
    const calls = store.methods.list('a', 1000);
    expect(calls).toHaveLength(200);
    expect(calls[0].methodName).toBe('m10');
    store.close();
  });
});

describe('DPS enrollments', () => {
  let store: HubStore;
  beforeEach(() => {
    store = HubStore.open({ file: ':memory:' });
  });
  afterEach(() => store.close());

  test('individual enrollments: symmetric key (generated or given) or X.509 thumbprints; PUT replaces', () => {
    const { enrollment, created } = store.enrollments.putEnrollment('reg-1', { attestation: { type: 'symmetricKey' }, deviceId: 'dev-1' });
    expect(created).toBe(true);
    expect(enrollment).toEqual(expect.objectContaining({ registrationId: 'reg-1', deviceId: 'dev-1', provisioningStatus: 'enabled' }));
    const replaced = store.enrollments.putEnrollment('reg-1', { attestation: { type: 'x509', x509: { thumbprint: { primary: 'aa'.repeat(32) } } } });
    expect(replaced.created).toBe(false);
    expect(replaced.enrollment.attestation).toEqual({ type: 'x509', x509: { thumbprint: { primary: 'AA'.repeat(32), secondary: null } } });
    expect(replaced.enrollment.createdAt).toBe(enrollment.createdAt);
    expect(store.enrollments.listEnrollments()).toHaveLength(1);
    store.enrollments.deleteEnrollment('reg-1');
    expect(errorOf(() => store.enrollments.deleteEnrollment('reg-1')).status).toBe(404);
  });

  test.each([
    [{ attestation: { type: 'tpm' } }, /symmetricKey" or "x509"/],
    [{ attestation: { type: 'x509', x509: { thumbprint: {} } } }, /needs attestation.x509.thumbprint.primary/],
    [{ attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: '!!' } } }, /not a valid symmetric key/],
    [{ registrationId: 'other' }, /differs from the one in the path/],
    [{ initialTwin: { properties: { desired: { 'a.b': 1 } } } }, /contains "."/],
    [{ provisioningStatus: 'maybe' }, /provisioningStatus/],
  ])('a bad enrollment %j is refused with 400', (input, message) => {
    expect(errorOf(() => store.enrollments.putEnrollment('reg-x', input))).toMatchObject({ status: 400, message: expect.stringMatching(message) });
    expect(store.enrollments.getEnrollment('reg-x')).toBeUndefined();
  });

  test('groups: derived device keys are base64 HMAC-SHA256 of the registration id under the group key', () => {
    const groupKey = Buffer.from('a group key of thirty-two bytes!').toString('base64');
    const { group } = store.enrollments.putGroup('g', { attestation: { symmetricKey: { primaryKey: groupKey } } });
    const derived = EnrollmentStore.derivedKeys(group, 'device-7');
    expect(derived.primaryKey).toBe(require('node:crypto').createHmac('sha256', Buffer.from(groupKey, 'base64')).update('device-7').digest('base64'));
    expect(derived.primaryKey).toBe(deriveDeviceKey(groupKey, 'device-7'));
  });

  test('registrations record the assigned device; each assignment gets a new operation id', () => {
    store.enrollments.putGroup('g', {});
    const first = store.enrollments.recordAssignment({ registrationId: 'r', groupId: 'g', deviceId: 'r', assignedHub: 'hub', payload: { a: 1 } });
    const second = store.enrollments.recordAssignment({ registrationId: 'r', groupId: 'g', deviceId: 'r', assignedHub: 'hub', payload: undefined });
    expect(second.operationId).not.toBe(first.operationId);
    expect(second.substatus).toBe('reprovisionedToInitialAssignment');
    expect(store.enrollments.registrationByOperation(second.operationId)!.registrationId).toBe('r');
    expect(store.enrollments.registrationByOperation(first.operationId)).toBeUndefined();
    expect(store.enrollments.listRegistrations('g')).toHaveLength(1);
    store.enrollments.deleteGroup('g');
    expect(store.enrollments.getRegistration('r')!.enrollmentGroupId).toBeNull();
  });
});
