/** The hub's HTTP API: JSON in and out, 4xx with what was wrong and what to do. */
import type { Hub } from '../../hub/hub';
import { connectDevice, http, RawClient, startTestHub, until } from './support';

let hub: Hub;
const open: RawClient[] = [];

beforeAll(async () => {
  ({ hub } = await startTestHub());
});

afterEach(() => {
  for (const client of open.splice(0)) client.destroy();
});

afterAll(async () => {
  await hub.close();
});

async function online(deviceId: string, key: string, ...topics: string[]): Promise<RawClient> {
  const client = await connectDevice(hub, deviceId, key);
  open.push(client);
  if (topics.length) await client.subscribe(...topics);
  await until(() => hub.front.isConnected(deviceId));
  return client;
}

describe('devices', () => {
  test('create (generated keys), get, list, disable, delete', async () => {
    const created = await http(hub, 'POST', '/devices', { deviceId: 'h1' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual(
      expect.objectContaining({
        deviceId: 'h1',
        status: 'enabled',
        connectionState: 'Disconnected',
        authentication: { type: 'sas', symmetricKey: { primaryKey: expect.any(String), secondaryKey: expect.any(String) } },
        connectionString: expect.stringMatching(/^HostName=thingkit-test-hub.local;DeviceId=h1;SharedAccessKey=.+;GatewayHostName=127.0.0.1:\d+$/),
      }),
    );
    expect((await http(hub, 'GET', '/devices/h1')).body.deviceId).toBe('h1');
    expect((await http(hub, 'GET', '/devices')).body.map((d: { deviceId: string }) => d.deviceId)).toContain('h1');
    const client = await online('h1', created.body.authentication.symmetricKey.primaryKey);
    expect((await http(hub, 'GET', '/devices/h1')).body.connectionState).toBe('Connected');
    const disabled = await http(hub, 'PATCH', '/devices/h1', { status: 'disabled', statusReason: 'stolen' });
    expect(disabled.body).toEqual(expect.objectContaining({ status: 'disabled', statusReason: 'stolen' }));
    await client.waitClosed();
    expect((await http(hub, 'DELETE', '/devices/h1')).status).toBe(204);
    const gone = await http(hub, 'GET', '/devices/h1');
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ errorCode: 404001, message: 'device "h1" is not registered', hint: expect.stringMatching(/thingkit hub device create h1/) });
  });

  test('PUT /devices/{id} creates with given keys or an X.509 thumbprint', async () => {
    const key = Buffer.alloc(32, 9).toString('base64');
    const sas = await http(hub, 'PUT', '/devices/h2', { authentication: { symmetricKey: { primaryKey: key, secondaryKey: key } } });
    expect(sas.status).toBe(201);
    expect(sas.body.authentication.symmetricKey.primaryKey).toBe(key);
    const x509 = await http(hub, 'PUT', '/devices/h3', { authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: 'ab'.repeat(20) } } });
    expect(x509.body.authentication).toEqual({ type: 'selfSigned', x509Thumbprint: { primaryThumbprint: 'AB'.repeat(20), secondaryThumbprint: null } });
    expect(x509.body.connectionString).toMatch(/;x509=true;/);
  });

  test.each([
    ['POST', '/devices', { deviceId: 'bad id' }, 400, /not a valid device id/],
    ['POST', '/devices', { deviceId: 'h2' }, 409, /already exists/],
    ['POST', '/devices', '{"deviceId":', 400, /not valid JSON/],
    ['PUT', '/devices/h9', { deviceId: 'other' }, 400, /differs from the path/],
    ['PATCH', '/devices/h2', { status: 'sleeping' }, 400, /status must be/],
    ['PATCH', '/devices/h2', {}, 400, /send \{"status"/],
    ['DELETE', '/devices', undefined, 405, /not supported/],
    ['GET', '/nowhere', undefined, 404, /does not exist/],
  ])('%s %s %j → %d with a message and a hint', async (method, pathname, body, status, message) => {
    const response = await http(hub, method, pathname, body);
    expect(response.status).toBe(status);
    expect(response.body.message).toMatch(message);
    expect(response.body.errorCode).toEqual(expect.any(Number));
  });

  test('a body that is not JSON is 415', async () => {
    const response = await http(hub, 'POST', '/devices', 'deviceId=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(response.status).toBe(415);
    expect(response.body.hint).toMatch(/application\/json/);
  });

  test('GET / lists the routes', async () => {
    const index = await http(hub, 'GET', '/');
    expect(index.body.routes).toEqual(expect.arrayContaining(['POST /twins/{id}/methods']));
  });
});

describe('twins', () => {
  let key: string;
  beforeAll(async () => {
    key = (await http(hub, 'POST', '/devices', { deviceId: 't1' })).body.authentication.symmetricKey.primaryKey;
  });

  test('GET shows tags, desired and reported with $metadata and $version', async () => {
    const twin = await http(hub, 'GET', '/twins/t1');
    expect(twin.status).toBe(200);
    expect(twin.body).toEqual(
      expect.objectContaining({
        deviceId: 't1',
        etag: expect.any(String),
        tags: {},
        properties: {
          desired: { $metadata: { $lastUpdated: expect.any(String), $lastUpdatedVersion: 1 }, $version: 1 },
          reported: { $metadata: { $lastUpdated: expect.any(String) }, $version: 1 },
        },
      }),
    );
  });

  test('PATCH desired notifies the connected device; tags stay on the service side', async () => {
    const client = await online('t1', key, '$iothub/twin/PATCH/properties/desired/#');
    const response = await http(hub, 'PATCH', '/twins/t1', { tags: { site: 'lab' }, properties: { desired: { interval: 45 } } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-thingkit-device-notified')).toBe('true');
    expect(response.body.tags).toEqual({ site: 'lab' });
    expect(response.body.properties.desired).toEqual(expect.objectContaining({ interval: 45, $version: 2 }));
    const notification = await client.waitFor((m) => m.topic.startsWith('$iothub/twin/PATCH/properties/desired/'));
    expect(JSON.parse(notification.payload.toString())).toEqual({ interval: 45, $version: 2 });
  });

  test('If-Match with a stale etag is 412; bad patches are 400 and change nothing', async () => {
    const { body: before } = await http(hub, 'GET', '/twins/t1');
    await http(hub, 'PATCH', '/twins/t1', { tags: { n: 1 } });
    expect((await http(hub, 'PATCH', '/twins/t1', { tags: { n: 2 } }, { 'if-match': before.etag })).status).toBe(412);
    const snapshot = (await http(hub, 'GET', '/twins/t1')).body;
    expect((await http(hub, 'PATCH', '/twins/t1', { properties: { desired: { 'a.b': 1 } }, tags: { z: 1 } })).status).toBe(400);
    expect((await http(hub, 'PATCH', '/twins/t1', { properties: { reported: { a: 1 } } })).body.message).toMatch(/only properties.desired/);
    expect((await http(hub, 'PATCH', '/twins/t1', [1])).status).toBe(400);
    expect((await http(hub, 'GET', '/twins/t1')).body).toEqual(snapshot);
  });
});

describe('direct methods', () => {
  let key: string;
  beforeAll(async () => {
    key = (await http(hub, 'POST', '/devices', { deviceId: 'm1' })).body.authentication.symmetricKey.primaryKey;
  });

  test('POST /twins/{id}/methods → 200 {status, payload} from the device', async () => {
    const client = await online('m1', key, '$iothub/methods/POST/#');
    const call = http(hub, 'POST', '/twins/m1/methods', { methodName: 'getStatus', payload: { verbose: true }, responseTimeoutInSeconds: 10 });
    const request = await client.waitFor((m) => m.topic.startsWith('$iothub/methods/POST/getStatus/'));
    const rid = /\$rid=(.+)$/.exec(request.topic)![1];
    await client.publish(`$iothub/methods/res/202/?$rid=${rid}`, JSON.stringify({ uptime: 5 }));
    const response = await call;
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 202, payload: { uptime: 5 } });
    const log = await http(hub, 'GET', '/devices/m1/methods');
    expect(log.body.at(-1)).toEqual(expect.objectContaining({ methodName: 'getStatus', outcome: 'answered', status: 202, requestPayload: { verbose: true }, responsePayload: { uptime: 5 } }));
  });

  test('an offline device → 404 with errorCode 404103; bad requests → 400', async () => {
    await until(() => !hub.front.isConnected('m1'));
    const offline = await http(hub, 'POST', '/twins/m1/methods', { methodName: 'getStatus' });
    expect(offline.status).toBe(404);
    expect(offline.body).toEqual(expect.objectContaining({ errorCode: 404103, hint: expect.any(String) }));
    expect((await http(hub, 'POST', '/twins/m1/methods', {})).status).toBe(400);
    expect((await http(hub, 'POST', '/twins/m1/methods', { methodName: 'x', responseTimeoutInSeconds: 1000 })).status).toBe(400);
    expect((await http(hub, 'POST', '/twins/nobody/methods', { methodName: 'x' })).body.errorCode).toBe(404001);
  });
});

describe('cloud-to-device messages', () => {
  let key: string;
  beforeAll(async () => {
    key = (await http(hub, 'POST', '/devices', { deviceId: 'c1' })).body.authentication.symmetricKey.primaryKey;
  });

  test('POST queues; the device gets it on subscription; the message and its feedback can be read', async () => {
    const sent = await http(hub, 'POST', '/devices/c1/messages/devicebound', { payload: { led: 'on' }, properties: { kind: 'cmd' }, ack: 'full', messageId: 'http-1', ttlSeconds: 600 });
    expect(sent.status).toBe(201);
    expect(sent.body).toEqual(expect.objectContaining({ messageId: 'http-1', state: 'queued', ack: 'full', properties: { kind: 'cmd' } }));
    const client = await online('c1', key, 'devices/c1/messages/devicebound/#');
    const message = await client.waitFor((m) => m.topic.includes('http-1'));
    expect(JSON.parse(message.payload.toString())).toEqual({ led: 'on' });
    await until(() => hub.store.c2d.get('http-1')?.state === 'completed');
    const read = await http(hub, 'GET', '/messages/devicebound/http-1');
    expect(read.body).toEqual(expect.objectContaining({ state: 'completed', deliveryCount: 1, feedback: expect.objectContaining({ statusCode: 'Success' }) }));
    const feedback = await http(hub, 'GET', '/messages/serviceBound/feedback?deviceId=c1');
    expect(feedback.body).toEqual([expect.objectContaining({ originalMessageId: 'http-1', statusCode: 'Success', deviceId: 'c1' })]);
    expect((await http(hub, 'GET', '/devices/c1/messages/devicebound')).body.map((m: { messageId: string }) => m.messageId)).toContain('http-1');
  });

  test('binary payloads go as payloadBase64; bad requests are 400 and queue nothing', async () => {
    const sent = await http(hub, 'POST', '/devices/c1/messages/devicebound', { payloadBase64: Buffer.from([1, 2, 3]).toString('base64') });
    expect(sent.body.payloadBase64).toBe('AQID');
    const before = (await http(hub, 'GET', '/devices/c1/messages/devicebound')).body.length;
    expect((await http(hub, 'POST', '/devices/c1/messages/devicebound', { payload: 'x', payloadBase64: 'AA==' })).status).toBe(400);
    expect((await http(hub, 'POST', '/devices/c1/messages/devicebound', { payload: 'x', ttlSeconds: -1 })).status).toBe(400);
    expect((await http(hub, 'POST', '/devices/c1/messages/devicebound', { payload: 'x', ack: 'always' })).status).toBe(400);
    expect((await http(hub, 'POST', '/devices/nobody/messages/devicebound', { payload: 'x' })).status).toBe(404);
    expect((await http(hub, 'GET', '/devices/c1/messages/devicebound')).body.length).toBe(before);
    expect((await http(hub, 'GET', '/messages/devicebound/nope')).status).toBe(404);
  });
});

describe('telemetry', () => {
  let key: string;
  beforeAll(async () => {
    key = (await http(hub, 'POST', '/devices', { deviceId: 'tel1' })).body.authentication.symmetricKey.primaryKey;
  });

  test('recent messages, and the live stream as Server-Sent Events', async () => {
    const controller = new AbortController();
    const stream = await fetch(`${hub.httpUrl}/telemetry/stream?deviceId=tel1`, { signal: controller.signal });
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    const reader = stream.body!.getReader();
    const client = await online('tel1', key);
    await client.publish('devices/tel1/messages/events/unit=C', JSON.stringify({ t: 20 }), 1);
    let text = '';
    while (!text.includes('event: telemetry')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    while (!text.includes('\n\n', text.indexOf('event: telemetry'))) text += Buffer.from((await reader.read()).value!).toString();
    const data = JSON.parse(/event: telemetry\ndata: (.*)\n/.exec(text)![1]);
    expect(data).toEqual(expect.objectContaining({ deviceId: 'tel1', properties: { unit: 'C' }, body: { t: 20 } }));
    controller.abort();
    const recent = await http(hub, 'GET', '/devices/tel1/telemetry?limit=10');
    expect(recent.body).toEqual([expect.objectContaining({ deviceId: 'tel1', body: { t: 20 }, bodyBase64: Buffer.from('{"t":20}').toString('base64') })]);
    expect((await http(hub, 'GET', '/devices/tel1/telemetry?limit=many')).status).toBe(400);
  });

  test('the creation time a device sets ($.ctime) is shown as the system property creationTimeUtc', async () => {
    const client = await online('tel1', key);
    await client.publish('devices/tel1/messages/events/%24.mid=tel1-ctime-1&%24.ctime=2025-03-14T09%3A26%3A53.589Z&unit=C', JSON.stringify({ t: 21 }), 1);
    const recent = await http(hub, 'GET', '/devices/tel1/telemetry?limit=1');
    expect(recent.body).toEqual([
      expect.objectContaining({ properties: { unit: 'C' }, systemProperties: { messageId: 'tel1-ctime-1', creationTimeUtc: '2025-03-14T09:26:53.589Z' }, body: { t: 21 } }),
    ]);
  });
});

describe('enrollments', () => {
  test('individual: PUT creates (201) then replaces (200), GET, list, DELETE', async () => {
    const created = await http(hub, 'PUT', '/enrollments/e1', { attestation: { type: 'symmetricKey' }, deviceId: 'e1-device' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual(expect.objectContaining({ registrationId: 'e1', deviceId: 'e1-device', attestation: { type: 'symmetricKey', symmetricKey: expect.any(Object) } }));
    expect((await http(hub, 'PUT', '/enrollments/e1', { attestation: { type: 'x509', x509: { thumbprint: { primary: 'cd'.repeat(20) } } } })).status).toBe(200);
    expect((await http(hub, 'GET', '/enrollments/e1')).body.attestation.type).toBe('x509');
    expect((await http(hub, 'GET', '/enrollments')).body.map((e: { registrationId: string }) => e.registrationId)).toContain('e1');
    expect((await http(hub, 'DELETE', '/enrollments/e1')).status).toBe(204);
    expect((await http(hub, 'GET', '/enrollments/e1')).status).toBe(404);
    expect((await http(hub, 'PUT', '/enrollments/bad%20id', {})).status).toBe(400);
  });

  test('groups: PUT, GET with a derived key for a registration id, registrations, DELETE', async () => {
    const created = await http(hub, 'PUT', '/enrollmentGroups/g1', {});
    expect(created.status).toBe(201);
    const withKey = await http(hub, 'GET', '/enrollmentGroups/g1?deriveFor=sensor-9');
    expect(withKey.body.derivedKeys).toEqual({ registrationId: 'sensor-9', primaryKey: expect.any(String), secondaryKey: expect.any(String) });
    expect((await http(hub, 'GET', '/enrollmentGroups/g1/registrations')).body).toEqual([]);
    expect((await http(hub, 'PUT', '/enrollmentGroups/g2', { attestation: { type: 'x509' } })).status).toBe(400);
    expect((await http(hub, 'DELETE', '/enrollmentGroups/g1')).status).toBe(204);
    expect((await http(hub, 'GET', '/registrations/nobody')).status).toBe(404);
  });
});

test('GET /logs shows refusals with their reasons', async () => {
  const client = await RawClient.connect({ port: hub.mqttPort, clientId: 'intruder', username: 'thingkit-test-hub.local/intruder/?api-version=2021-04-12', password: 'nope' });
  open.push(client);
  expect(client.connack).toBe(5);
  const logs = await http(hub, 'GET', '/logs?event=connect.refused');
  expect(logs.body.at(-1)).toEqual(expect.objectContaining({ event: 'connect.refused', clientId: 'intruder', reason: expect.stringMatching(/"intruder" is not registered/) }));
});
