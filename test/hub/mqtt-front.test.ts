/**
 * The MQTT front with a raw MQTT client (mqtt-packet): what goes over the wire is exactly what Azure's
 * "Communicate with an IoT hub using the MQTT protocol" and the DPS MQTT article describe.
 */
import { createSasToken, deriveDeviceKey } from '../../hub/sas';
import type { Hub } from '../../hub/hub';
import { thumbprints } from '../../hub/x509';
import { readPem } from '../../host-sim/tls/certificates';
import { connectDevice, deviceToken, HOST_NAME, hubUsername, ID_SCOPE, RawClient, startTestHub, until } from './support';

let hub: Hub;
let key: string;
const open: RawClient[] = [];

async function device(id: string, extra = {}): Promise<RawClient> {
  const client = await connectDevice(hub, id, key, extra);
  open.push(client);
  return client;
}

beforeAll(async () => {
  ({ hub } = await startTestHub());
  key = hub.service.createDevice({ deviceId: 'dev1' }).authentication.symmetricKey!.primaryKey;
  hub.service.createDevice({ deviceId: 'dev2', authentication: { symmetricKey: { primaryKey: key, secondaryKey: key } } });
});

afterEach(() => {
  for (const client of open.splice(0)) client.destroy();
});

afterAll(async () => {
  await hub.close();
});

function lastRefusal(event: string): string | undefined {
  return hub.log.recent({ event }).at(-1)?.reason as string | undefined;
}

describe('CONNECT authentication', () => {
  test('a SAS token signed with the primary key is accepted (CONNACK 0)', async () => {
    const client = await device('dev1');
    expect(client.connack).toBe(0);
    await until(() => hub.front.isConnected('dev1'));
  });

  test('the secondary key works too', async () => {
    const secondary = hub.store.devices.get('dev1')!.authentication.symmetricKey!.secondaryKey;
    const client = await RawClient.connect({ port: hub.mqttPort, clientId: 'dev1', username: hubUsername('dev1'), password: deviceToken('dev1', secondary) });
    open.push(client);
    expect(client.connack).toBe(0);
  });

  test('the user name as azure-iot-device-mqtt writes it (no "?") is accepted', async () => {
    const client = await device('dev1', { username: `${HOST_NAME}/dev1/api-version=2020-09-30&DeviceClientType=test%2F1.0` });
    expect(client.connack).toBe(0);
  });

  test.each([
    ['a wrong signature', () => deviceToken('dev1', Buffer.alloc(32, 7).toString('base64')), /signature does not match/],
    ['an expired token', () => deviceToken('dev1', key, -10), /expired/],
    ['a token for another device', () => deviceToken('dev2', key), /not ".*\/devices\/dev1"/],
    ['a token for another hub', () => deviceToken('dev1', key, 3600, 'other.azure-devices.net'), /not "thingkit-test-hub.local\/devices\/dev1"/],
    ['a password that is not a SAS token', () => 'hunter2', /must start with "SharedAccessSignature "/],
    ['a policy token (skn)', () => createSasToken({ resourceUri: `${HOST_NAME}/devices/dev1`, key, expiry: Math.floor(Date.now() / 1000) + 60, keyName: 'iothubowner' }), /shared access policy/],
  ])('%s is refused with CONNACK 5 and the reason logged', async (_name, token, reason) => {
    const client = await RawClient.connect({ port: hub.mqttPort, clientId: 'dev1', username: hubUsername('dev1'), password: token() });
    open.push(client);
    expect(client.connack).toBe(5);
    await client.waitClosed();
    expect(lastRefusal('connect.refused')).toMatch(reason);
  });

  test('an unknown device is refused with CONNACK 5', async () => {
    const client = await RawClient.connect({ port: hub.mqttPort, clientId: 'ghost', username: hubUsername('ghost'), password: deviceToken('ghost', key) });
    open.push(client);
    expect(client.connack).toBe(5);
    expect(lastRefusal('connect.refused')).toMatch(/"ghost" is not registered/);
  });

  test.each([
    ['no device id', `${HOST_NAME}/`, 'dev1'],
    ['garbage', 'not-a-user-name', 'dev1'],
    ['a module identity', `${HOST_NAME}/dev1/module1/?api-version=2021-04-12`, 'dev1'],
    ['a client id that is not the device id', hubUsername('dev1'), 'dev2'],
    ['another hub host name', hubUsername('dev1', 'contoso.azure-devices.net'), 'dev1'],
  ])('a bad user name (%s) is refused with CONNACK 5, as IoT Hub does', async (_name, username, clientId) => {
    const client = await RawClient.connect({ port: hub.mqttPort, clientId, username, password: deviceToken('dev1', key) });
    open.push(client);
    expect(client.connack).toBe(5);
  });

  test('a disabled device is refused, and disabling a connected device disconnects it', async () => {
    const client = await device('dev2');
    expect(client.connack).toBe(0);
    hub.service.setStatus('dev2', 'disabled');
    await client.waitClosed();
    const again = await device('dev2');
    expect(again.connack).toBe(5);
    expect(lastRefusal('connect.refused')).toMatch(/disabled/);
    hub.service.setStatus('dev2', 'enabled');
  });

  test('the connection is closed when the SAS token expires', async () => {
    const client = await RawClient.connect({ port: hub.mqttPort, clientId: 'dev1', username: hubUsername('dev1'), password: deviceToken('dev1', key, 2) });
    open.push(client);
    expect(client.connack).toBe(0);
    await client.waitClosed(4000);
    expect(hub.log.recent({ event: 'token.expired' }).length).toBeGreaterThan(0);
  });

  test('a second connection for the same device replaces the first', async () => {
    const first = await device('dev1');
    const second = await device('dev1');
    await first.waitClosed();
    expect(second.closed).toBe(false);
  });
});

describe('topic ACLs', () => {
  test('subscriptions outside the documented filters are refused with SUBACK 0x80 and logged', async () => {
    const client = await device('dev1');
    expect(await client.subscribe('devices/dev2/messages/devicebound/#')).toEqual([128]);
    expect(lastRefusal('subscribe.refused')).toMatch(/only to its own topics/);
    expect(await client.subscribe('#')).toEqual([128]);
    expect(await client.subscribe('$iothub/#')).toEqual([128]);
    expect(await client.subscribe('$dps/registrations/res/#')).toEqual([128]);
    expect(await client.subscribe('devices/dev1/messages/devicebound/#', '$iothub/twin/res/#', '$iothub/twin/PATCH/properties/desired/#', '$iothub/methods/POST/#')).toEqual([1, 1, 1, 1]);
  });

  test('a QoS 2 subscription is granted QoS 1, as IoT Hub grants', async () => {
    const client = await device('dev1');
    expect(await client.subscribeQos('devices/dev1/messages/devicebound/#', 2)).toEqual([1]);
    hub.service.sendC2d('dev1', { payload: 'q' });
    const message = await client.waitFor((m) => m.topic.startsWith('devices/dev1/messages/devicebound/'));
    expect(message.qos).toBe(1);
  });

  test.each([
    ["another device's telemetry topic", 'devices/dev2/messages/events/', /another device's topic/],
    ['a made-up topic', 'sensors/temperature', /not an IoT Hub topic/],
    ['a hub-to-device topic', '$iothub/twin/res/200/?$rid=1', /not a topic a device may publish on/],
    ['the C2D topic', 'devices/dev1/messages/devicebound/', /not a topic a device may publish on/],
    ['a DPS topic on a hub connection', '$dps/registrations/PUT/iotdps-register/?$rid=1', /not to DPS/],
  ])('publishing on %s closes the connection and is logged', async (_name, topic, reason) => {
    const client = await device('dev1');
    await client.publish(topic, 'x', 0);
    await client.waitClosed();
    expect(lastRefusal('publish.refused')).toMatch(reason);
  });

  test('QoS 2 closes the connection', async () => {
    const client = await device('dev1');
    await client.publish('devices/dev1/messages/events/', 'x', 2).catch(() => undefined);
    await client.waitClosed();
    expect(lastRefusal('publish.refused')).toMatch(/QoS 2/);
  });

  test('nothing a device publishes reaches another device', async () => {
    const listener = await device('dev2');
    await listener.subscribe('$iothub/twin/res/#', '$iothub/methods/POST/#');
    const talker = await device('dev1');
    await talker.subscribe('$iothub/twin/res/#');
    await talker.publish('$iothub/twin/GET/?$rid=42', '', 0);
    await talker.waitFor((m) => m.topic === '$iothub/twin/res/200/?$rid=42');
    await talker.publish('$iothub/methods/res/200/?$rid=9', '{}', 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(listener.messages).toEqual([]);
  });
});

describe('telemetry', () => {
  test('QoS 1 telemetry is stored before the PUBACK, with its property bag parsed', async () => {
    const client = await device('dev1');
    const received: unknown[] = [];
    hub.front.on('telemetry', (m) => received.push(m));
    await client.publish('devices/dev1/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8&%24.mid=m-1&alert=true&note=a%20b&flag', JSON.stringify({ t: 21.5 }), 1);
    const [stored] = hub.store.telemetry.recent('dev1', { limit: 1 });
    expect(JSON.parse(stored.payload.toString())).toEqual({ t: 21.5 });
    expect(stored.properties).toEqual({ alert: 'true', note: 'a b', flag: null });
    expect(stored.systemProperties).toEqual({ contentType: 'application/json', contentEncoding: 'utf-8', messageId: 'm-1' });
    await until(() => received.length > 0);
  });

  test('a retained message is passed on with mqtt-retain and not kept', async () => {
    const client = await device('dev1');
    await client.publish('devices/dev1/messages/events/', 'r', 1, true);
    expect(hub.store.telemetry.recent('dev1', { limit: 1 })[0].properties).toEqual({ 'mqtt-retain': 'true' });
  });

  test('a will message becomes telemetry with iothub-MessageType=Will', async () => {
    const client = await device('dev1', { will: { topic: 'devices/dev1/messages/events/', payload: 'gone' } });
    await until(() => hub.front.isConnected('dev1'));
    client.destroy();
    await until(() => hub.store.telemetry.recent('dev1', { limit: 1 })[0]?.payload.toString() === 'gone');
    expect(hub.store.telemetry.recent('dev1', { limit: 1 })[0].properties).toEqual({ 'iothub-MessageType': 'Will' });
  });
});

describe('twins', () => {
  test('GET answers 200 with desired and reported and their $version', async () => {
    hub.service.updateTwin('dev1', { properties: { desired: { interval: 30 } } });
    const client = await device('dev1');
    await client.subscribe('$iothub/twin/res/#');
    await client.publish('$iothub/twin/GET/?$rid=abc', '', 0);
    const response = await client.waitFor((m) => m.topic.startsWith('$iothub/twin/res/'));
    expect(response.topic).toBe('$iothub/twin/res/200/?$rid=abc');
    const body = JSON.parse(response.payload.toString());
    expect(body.desired).toEqual(expect.objectContaining({ interval: 30, $version: expect.any(Number) }));
    expect(body.reported).toEqual(expect.objectContaining({ $version: expect.any(Number) }));
    expect(body.desired.$metadata).toBeUndefined();
  });

  test('a reported patch answers 204 with the new $version; null deletes', async () => {
    const client = await device('dev1');
    await client.subscribe('$iothub/twin/res/#');
    const before = hub.store.twins.get('dev1')!.reported.version;
    await client.publish('$iothub/twin/PATCH/properties/reported/?$rid=1', JSON.stringify({ fw: '1.0', battery: 80 }), 0);
    const first = await client.waitFor((m) => m.topic.includes('$rid=1'));
    expect(first.topic).toBe(`$iothub/twin/res/204/?$rid=1&$version=${before + 1}`);
    expect(first.payload.length).toBe(0);
    await client.publish('$iothub/twin/PATCH/properties/reported/?$rid=2', JSON.stringify({ battery: null }), 0);
    const second = await client.waitFor((m) => m.topic.includes('$rid=2'));
    expect(second.topic).toBe(`$iothub/twin/res/204/?$rid=2&$version=${before + 2}`);
    expect(hub.store.twins.get('dev1')!.reported.properties).toEqual(expect.objectContaining({ fw: '1.0' }));
    expect(hub.store.twins.get('dev1')!.reported.properties).not.toHaveProperty('battery');
  });

  test('malformed JSON and non-object patches answer 400 without changing the twin', async () => {
    const client = await device('dev1');
    await client.subscribe('$iothub/twin/res/#');
    const before = hub.store.twins.get('dev1')!;
    await client.publish('$iothub/twin/PATCH/properties/reported/?$rid=bad1', '{"a":', 0);
    await client.publish('$iothub/twin/PATCH/properties/reported/?$rid=bad2', '[1,2]', 0);
    const bad1 = await client.waitFor((m) => m.topic.includes('$rid=bad1'));
    const bad2 = await client.waitFor((m) => m.topic.includes('$rid=bad2'));
    expect(bad1.topic).toBe('$iothub/twin/res/400/?$rid=bad1');
    expect(JSON.parse(bad1.payload.toString())).toEqual(expect.objectContaining({ errorCode: 400004, message: expect.stringMatching(/Malformed JSON/) }));
    expect(bad2.topic).toBe('$iothub/twin/res/400/?$rid=bad2');
    expect(hub.store.twins.get('dev1')!.reported).toEqual(before.reported);
  });

  test('a patch making reported properties exceed 32 KB answers 403 (IoT Hub error 403100)', async () => {
    const client = await device('dev1');
    await client.subscribe('$iothub/twin/res/#');
    const patch: { [key: string]: string } = {};
    for (let i = 0; i < 10; i++) patch[`blob${i}`] = 'x'.repeat(4000);
    await client.publish('$iothub/twin/PATCH/properties/reported/?$rid=big', JSON.stringify(patch), 0);
    const response = await client.waitFor((m) => m.topic.includes('$rid=big'));
    expect(response.topic).toBe('$iothub/twin/res/403/?$rid=big');
    expect(JSON.parse(response.payload.toString()).errorCode).toBe(403100);
  });

  test('a desired update is notified on $iothub/twin/PATCH/properties/desired/?$version={v} with the patch and $version', async () => {
    const client = await device('dev1');
    await client.subscribe('$iothub/twin/PATCH/properties/desired/#');
    const { twin, notified } = hub.service.updateTwin('dev1', { properties: { desired: { interval: 60, mode: null } } });
    expect(notified).toBe(true);
    const v = twin.desired.version;
    const notification = await client.waitFor((m) => m.topic.startsWith('$iothub/twin/PATCH/properties/desired/'));
    expect(notification.topic).toBe(`$iothub/twin/PATCH/properties/desired/?$version=${v}`);
    expect(JSON.parse(notification.payload.toString())).toEqual({ interval: 60, mode: null, $version: v });
  });

  test('a device that did not subscribe to desired updates is not notified', async () => {
    const client = await device('dev1');
    await client.subscribe('$iothub/twin/res/#');
    const { notified } = hub.service.updateTwin('dev1', { properties: { desired: { quiet: true } } });
    expect(notified).toBe(false);
  });
});

describe('direct methods', () => {
  test('invoke → $iothub/methods/POST/{name}/?$rid= → the device answers → 200 with its status and payload', async () => {
    const client = await device('dev1');
    await client.subscribe('$iothub/methods/POST/#');
    const call = hub.service.invokeMethod('dev1', { methodName: 'reboot', payload: { delay: 5 }, responseTimeoutInSeconds: 10 });
    const request = await client.waitFor((m) => m.topic.startsWith('$iothub/methods/POST/'));
    const match = /^\$iothub\/methods\/POST\/reboot\/\?\$rid=(.+)$/.exec(request.topic);
    expect(match).not.toBeNull();
    expect(request.qos).toBe(0);
    expect(JSON.parse(request.payload.toString())).toEqual({ delay: 5 });
    await client.publish(`$iothub/methods/res/201/?$rid=${match![1]}`, JSON.stringify({ ok: true }), 0);
    await expect(call).resolves.toEqual({ status: 201, payload: { ok: true } });
    expect(hub.store.methods.list('dev1').at(-1)).toEqual(expect.objectContaining({ methodName: 'reboot', outcome: 'answered', status: 201 }));
  });

  test('an offline device gives 404 (DeviceNotOnline)', async () => {
    await expect(hub.service.invokeMethod('dev2', { methodName: 'reboot' })).rejects.toMatchObject({ status: 404, errorCode: 404103 });
  });

  test('a connected device not subscribed to methods gives 404 too', async () => {
    await device('dev2');
    await until(() => hub.front.isConnected('dev2'));
    await expect(hub.service.invokeMethod('dev2', { methodName: 'reboot' })).rejects.toMatchObject({ status: 404, message: expect.stringMatching(/not subscribed/) });
  });

  test('an unknown device gives 404 (DeviceNotFound)', async () => {
    await expect(hub.service.invokeMethod('ghost', { methodName: 'reboot' })).rejects.toMatchObject({ status: 404, errorCode: 404001 });
  });

  test('the connect timeout waits for the device to come online', async () => {
    const call = hub.service.invokeMethod('dev2', { methodName: 'ping', connectTimeoutInSeconds: 10, responseTimeoutInSeconds: 10 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const client = await device('dev2');
    await client.subscribe('$iothub/methods/POST/#');
    const request = await client.waitFor((m) => m.topic.startsWith('$iothub/methods/POST/ping/'));
    const rid = /\$rid=(.+)$/.exec(request.topic)![1];
    await client.publish(`$iothub/methods/res/200/?$rid=${rid}`, '', 0);
    await expect(call).resolves.toEqual({ status: 200, payload: null });
  });

  test('no answer within the response timeout gives 504', async () => {
    const client = await device('dev1');
    await client.subscribe('$iothub/methods/POST/#');
    await expect(hub.service.invokeMethod('dev1', { methodName: 'slow', responseTimeoutInSeconds: 5 })).rejects.toMatchObject({ status: 504, errorCode: 504101 });
    expect(hub.store.methods.list('dev1').at(-1)).toEqual(expect.objectContaining({ methodName: 'slow', outcome: 'timeout' }));
  }, 15_000);

  test('timeouts outside IoT Hub\'s range are refused with 400', async () => {
    await expect(hub.service.invokeMethod('dev1', { methodName: 'x', responseTimeoutInSeconds: 1 })).rejects.toMatchObject({ status: 400 });
    await expect(hub.service.invokeMethod('dev1', { methodName: 'x', connectTimeoutInSeconds: 301 })).rejects.toMatchObject({ status: 400 });
    await expect(hub.service.invokeMethod('dev1', { methodName: 'a/b' })).rejects.toMatchObject({ status: 400 });
  });
});

describe('cloud-to-device messages', () => {
  test('a queued message is delivered at QoS 1 on subscription, and the PUBACK completes it with Success feedback', async () => {
    const queued = hub.service.sendC2d('dev2', { payload: 'hello', properties: { color: 'red', empty: '', nothing: null }, ack: 'full', correlationId: 'c-1', contentType: 'text/plain' });
    expect(queued.state).toBe('queued');
    const client = await device('dev2', { autoAck: false });
    await client.subscribe('devices/dev2/messages/devicebound/#');
    const message = await client.waitFor((m) => m.topic.startsWith('devices/dev2/messages/devicebound/'));
    expect(message.qos).toBe(1);
    expect(message.payload.toString()).toBe('hello');
    const bag = message.topic.slice('devices/dev2/messages/devicebound/'.length);
    expect(bag).toBe(
      `%24.mid=${queued.messageId}&%24.to=%2Fdevices%2Fdev2%2Fmessages%2FdeviceBound&%24.cid=c-1&%24.ct=text%2Fplain&iothub-ack=full&color=red&empty=&nothing`,
    );
    expect(hub.store.c2d.get(queued.messageId)!.state).toBe('delivered');
    client.puback(message.messageId!);
    await until(() => hub.store.c2d.get(queued.messageId)!.state === 'completed');
    expect(hub.store.c2d.get(queued.messageId)!.feedback).toEqual(expect.objectContaining({ statusCode: 'Success' }));
    expect(hub.store.c2d.feedback({ deviceId: 'dev2' }).at(-1)).toEqual(expect.objectContaining({ originalMessageId: queued.messageId, statusCode: 'Success' }));
  });

  test('a message sent while the device is connected and subscribed goes out at once', async () => {
    const client = await device('dev1');
    await client.subscribe('devices/dev1/messages/devicebound/#');
    const sent = hub.service.sendC2d('dev1', { payload: { cmd: 'blink' } });
    const message = await client.waitFor((m) => m.topic.includes(`%24.mid=${sent.messageId}`));
    expect(JSON.parse(message.payload.toString())).toEqual({ cmd: 'blink' });
    await until(() => hub.store.c2d.get(sent.messageId)!.state === 'completed');
    expect(hub.store.c2d.get(sent.messageId)!.feedback).toBeNull();
  });

  test('an unacknowledged message goes back to the queue when the connection drops, and is delivered again', async () => {
    const first = await device('dev2', { autoAck: false });
    await first.subscribe('devices/dev2/messages/devicebound/#');
    const sent = hub.service.sendC2d('dev2', { payload: 'again' });
    await first.waitFor((m) => m.topic.includes(sent.messageId));
    first.destroy();
    await until(() => hub.store.c2d.get(sent.messageId)!.state === 'queued');
    const second = await device('dev2');
    await second.subscribe('devices/dev2/messages/devicebound/#');
    await second.waitFor((m) => m.topic.includes(sent.messageId));
    await until(() => hub.store.c2d.get(sent.messageId)!.state === 'completed');
    expect(hub.store.c2d.get(sent.messageId)!.deliveryCount).toBe(2);
  });

  test('a message whose time to live runs out expires, with Expired feedback', async () => {
    const sent = hub.service.sendC2d('dev2', { payload: 'late', ttlMs: 300, ack: 'negative' });
    await until(() => hub.store.c2d.get(sent.messageId)!.state === 'expired', 5000);
    expect(hub.store.c2d.get(sent.messageId)!.feedback).toEqual(expect.objectContaining({ statusCode: 'Expired' }));
  });
});

describe('DPS', () => {
  const dpsUsername = (registrationId: string) => `${ID_SCOPE}/registrations/${registrationId}/api-version=2019-03-31`;
  const dpsToken = (registrationId: string, signingKey: string, expiresIn = 3600) =>
    createSasToken({ resourceUri: `${ID_SCOPE}/registrations/${registrationId}`, key: signingKey, expiry: Math.floor(Date.now() / 1000) + expiresIn, keyName: 'registration' });

  async function provision(registrationId: string, signingKey: string): Promise<{ registrationState: any; client: RawClient }> {
    const client = await RawClient.connect({ port: hub.mqttPort, clientId: registrationId, username: dpsUsername(registrationId), password: dpsToken(registrationId, signingKey) });
    open.push(client);
    expect(client.connack).toBe(0);
    expect(await client.subscribe('$dps/registrations/res/#')).toEqual([1]);
    await client.publish('$dps/registrations/PUT/iotdps-register/?$rid=r1', JSON.stringify({ registrationId }), 1);
    const accepted = await client.waitFor((m) => m.topic.startsWith('$dps/registrations/res/'));
    expect(accepted.topic).toBe('$dps/registrations/res/202/?$rid=r1&retry-after=1');
    const operation = JSON.parse(accepted.payload.toString());
    expect(operation).toEqual({ operationId: expect.any(String), status: 'assigning' });
    await client.publish(`$dps/registrations/GET/iotdps-get-operationstatus/?$rid=r2&operationId=${operation.operationId}`, '', 1);
    const done = await client.waitFor((m) => m.topic.includes('$rid=r2'));
    expect(done.topic).toBe('$dps/registrations/res/200/?$rid=r2');
    const result = JSON.parse(done.payload.toString());
    expect(result).toEqual(expect.objectContaining({ operationId: operation.operationId, status: 'assigned' }));
    return { registrationState: result.registrationState, client };
  }

  test('individual enrollment: register, poll, assigned; the device is created with the enrollment key and can connect', async () => {
    const { enrollment } = hub.store.enrollments.putEnrollment('sensor-a', { attestation: { type: 'symmetricKey' }, initialTwin: { properties: { desired: { interval: 15 } } } });
    const enrollmentKey = (enrollment.attestation as { symmetricKey: { primaryKey: string } }).symmetricKey.primaryKey;
    const { registrationState } = await provision('sensor-a', enrollmentKey);
    expect(registrationState).toEqual(expect.objectContaining({ registrationId: 'sensor-a', assignedHub: HOST_NAME, deviceId: 'sensor-a', status: 'assigned', substatus: 'initialAssignment' }));
    const created = hub.store.devices.get('sensor-a')!;
    expect(created.authentication.symmetricKey!.primaryKey).toBe(enrollmentKey);
    expect(hub.store.twins.get('sensor-a')!.desired.properties).toEqual({ interval: 15 });
    const client = await connectDevice(hub, 'sensor-a', enrollmentKey);
    open.push(client);
    expect(client.connack).toBe(0);
  });

  test('group enrollment: the device signs with HMAC-SHA256(registrationId) under the group key', async () => {
    const { group } = hub.store.enrollments.putGroup('factory-1', {});
    const derived = deriveDeviceKey(group.attestation.symmetricKey.primaryKey, 'sensor-b');
    const { registrationState } = await provision('sensor-b', derived);
    expect(registrationState).toEqual(expect.objectContaining({ deviceId: 'sensor-b', assignedHub: HOST_NAME }));
    expect(hub.store.devices.get('sensor-b')!.authentication.symmetricKey!.primaryKey).toBe(derived);
    expect(hub.store.enrollments.listRegistrations('factory-1').map((r) => r.registrationId)).toEqual(['sensor-b']);
  });

  test('a key that is neither an enrollment key nor group-derived is refused with CONNACK 5', async () => {
    hub.store.enrollments.putGroup('factory-2', {});
    const client = await RawClient.connect({ port: hub.mqttPort, clientId: 'sensor-c', username: dpsUsername('sensor-c'), password: dpsToken('sensor-c', key) });
    open.push(client);
    expect(client.connack).toBe(5);
    expect(lastRefusal('connect.refused')).toMatch(/no individual enrollment/);
  });

  test('the wrong ID scope is refused', async () => {
    const client = await RawClient.connect({ port: hub.mqttPort, clientId: 'sensor-a', username: `0ne0WRONG/registrations/sensor-a/api-version=2019-03-31`, password: dpsToken('sensor-a', key) });
    open.push(client);
    expect(client.connack).toBe(5);
  });

  test('a DPS connection may not use hub topics, and an unknown operation gives 404', async () => {
    const { group } = hub.store.enrollments.putGroup('factory-3', {});
    const derived = deriveDeviceKey(group.attestation.symmetricKey.primaryKey, 'sensor-d');
    const client = await RawClient.connect({ port: hub.mqttPort, clientId: 'sensor-d', username: dpsUsername('sensor-d'), password: dpsToken('sensor-d', derived) });
    open.push(client);
    expect(await client.subscribe('$iothub/twin/res/#')).toEqual([128]);
    await client.subscribe('$dps/registrations/res/#');
    await client.publish('$dps/registrations/GET/iotdps-get-operationstatus/?$rid=q&operationId=nope', '', 0);
    const response = await client.waitFor((m) => m.topic.includes('$rid=q'));
    expect(response.topic).toBe('$dps/registrations/res/404/?$rid=q');
    await client.publish('devices/sensor-d/messages/events/', 'x', 0);
    await client.waitClosed();
  });

  test('a DPS registration does not take over a hub connection of the same id', async () => {
    const hubClient = await device('dev1');
    await until(() => hub.front.isConnected('dev1'));
    const { group } = hub.store.enrollments.putGroup('factory-4', {});
    const derived = deriveDeviceKey(group.attestation.symmetricKey.primaryKey, 'dev1');
    const dps = await RawClient.connect({ port: hub.mqttPort, clientId: 'dev1', username: dpsUsername('dev1'), password: dpsToken('dev1', derived) });
    open.push(dps);
    expect(dps.connack).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(hubClient.closed).toBe(false);
  });
});

describe('X.509', () => {
  let secure: Hub;
  let ca: string;
  let pki: NonNullable<Awaited<ReturnType<typeof startTestHub>>['pki']>;

  beforeAll(async () => {
    const started = await startTestHub({ secure: true });
    secure = started.hub;
    ca = started.ca!;
    pki = started.pki!;
  });

  afterAll(async () => {
    await secure.close();
  });

  function connectWithCertificate(deviceId: string, files: { cert: string; key: string }): Promise<RawClient> {
    return RawClient.connect({ port: secure.mqttPort, clientId: deviceId, username: hubUsername(deviceId), tls: { ca, cert: readPem(files.cert), key: readPem(files.key) } }).then((c) => {
      open.push(c);
      return c;
    });
  }

  test('a self-signed-registered device is accepted by its SHA-1 or SHA-256 thumbprint', async () => {
    const files = pki.client('x509-a');
    const { sha1, sha256 } = thumbprints(readPem(files.cert));
    secure.service.createDevice({ deviceId: 'x509-a', authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: sha1 } } });
    secure.service.createDevice({ deviceId: 'x509-b', authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: 'AA'.repeat(20), secondaryThumbprint: sha256 } } });
    expect((await connectWithCertificate('x509-a', files)).connack).toBe(0);
    expect((await connectWithCertificate('x509-b', files)).connack).toBe(0);
  });

  test('a certificate with another thumbprint is refused', async () => {
    const files = pki.client('x509-c');
    secure.service.createDevice({ deviceId: 'x509-c', authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: 'BB'.repeat(32) } } });
    expect((await connectWithCertificate('x509-c', files)).connack).toBe(5);
    expect(secure.log.recent({ event: 'connect.refused' }).at(-1)?.reason).toMatch(/matches neither registered thumbprint/);
  });

  test('a CA-authenticated device needs a certificate from the hub CA naming it', async () => {
    secure.service.createDevice({ deviceId: 'x509-ca', authentication: { type: 'certificateAuthority' } });
    expect((await connectWithCertificate('x509-ca', pki.client('x509-ca'))).connack).toBe(0);
    expect((await connectWithCertificate('x509-ca', pki.client('someone-else'))).connack).toBe(5);
  });

  test('an expired certificate is refused', async () => {
    const files = pki.client('x509-old', { expired: true });
    secure.service.createDevice({ deviceId: 'x509-old', authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: thumbprints(readPem(files.cert)).sha256 } } });
    expect((await connectWithCertificate('x509-old', files)).connack).toBe(5);
    expect(secure.log.recent({ event: 'connect.refused' }).at(-1)?.reason).toMatch(/not valid now/);
  });

  test('a SAS device still connects over TLS without a certificate', async () => {
    const sasKey = secure.service.createDevice({ deviceId: 'sas-over-tls' }).authentication.symmetricKey!.primaryKey;
    const client = await RawClient.connect({ port: secure.mqttPort, clientId: 'sas-over-tls', username: hubUsername('sas-over-tls'), password: deviceToken('sas-over-tls', sasKey), tls: { ca } });
    open.push(client);
    expect(client.connack).toBe(0);
  });
});
