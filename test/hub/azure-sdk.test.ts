/**
 * THE INTEROPERABILITY TEST: Azure's own Node.js device SDK against the local hub. If the SDK and the hub
 * disagree, the hub is wrong.
 *
 * Pointing the SDK at a local port without patching it:
 * - SAS: the connection string's `GatewayHostName=127.0.0.1:{port}` (the SDK connects to
 *   `mqtts://{GatewayHostName || HostName}`; HostName stays the hub name used in the user name and the SAS
 *   resource). `client.setOptions({ ca })` trusts the development CA.
 * - X.509: a connection string with `x509=true` has no room for GatewayHostName, so the test builds the SDK's
 *   own X509AuthenticationProvider with `gatewayHostName` in its credentials (TransportConfig) and uses
 *   `Client.fromAuthenticationProvider`.
 * - DPS: `ProvisioningDeviceClient.create('127.0.0.1:{port}', idScope, ...)` (the transport connects to
 *   `mqtts://{provisioningHost}`); the CA goes in through the transport's MqttBase.
 */
import { Client, Message, X509AuthenticationProvider, type DeviceMethodRequest, type DeviceMethodResponse, type Twin } from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';
import { ProvisioningDeviceClient } from 'azure-iot-provisioning-device';
import { Mqtt as ProvisioningMqtt } from 'azure-iot-provisioning-device-mqtt';
import { SymmetricKeySecurityClient } from 'azure-iot-security-symmetric-key';
import { createRequire } from 'node:module';
import type { Hub } from '../../hub/hub';
import { deriveDeviceKey } from '../../hub/sas';
import { thumbprints } from '../../hub/x509';
import { readPem, type DevelopmentPki } from '../../host-sim/tls/certificates';
import { HOST_NAME, ID_SCOPE, startTestHub, until } from './support';

let hub: Hub;
let pki: DevelopmentPki;
let ca: string;

beforeAll(async () => {
  const started = await startTestHub({ secure: true });
  hub = started.hub;
  pki = started.pki!;
  ca = started.ca!;
});

afterAll(async () => {
  await hub.close();
});

function reportedUpdate(twin: Twin, patch: object): Promise<void> {
  return new Promise((resolve, reject) => (twin.properties.reported as { update: (p: object, done: (err?: Error) => void) => void }).update(patch, (err) => (err ? reject(err) : resolve())));
}

/** Everything a device does, with the SDK: telemetry, twin get/patch/desired, a direct method, a C2D message. */
async function exercise(client: Client, deviceId: string): Promise<void> {
  await client.open();
  await until(() => hub.front.isConnected(deviceId), 5000, 'the SDK to connect');

  // Telemetry with system and application properties.
  const message = new Message(JSON.stringify({ temperature: 21.5 }));
  message.messageId = `${deviceId}-m1`;
  message.contentType = 'application/json';
  message.contentEncoding = 'utf-8';
  message.properties.add('alert', 'true');
  message.properties.add('note', 'a b&c=d');
  await client.sendEvent(message);
  const [stored] = hub.store.telemetry.recent(deviceId, { limit: 1 });
  expect(JSON.parse(stored.payload.toString())).toEqual({ temperature: 21.5 });
  expect(stored.properties).toEqual({ alert: 'true', note: 'a b&c=d' });
  expect(stored.systemProperties).toEqual(expect.objectContaining({ messageId: `${deviceId}-m1`, contentType: 'application/json', contentEncoding: 'utf-8' }));

  // Twin: the desired properties set before the device connected come with GET.
  const twin = await client.getTwin();
  expect(twin.properties.desired).toEqual(expect.objectContaining({ interval: 30, $version: 2 }));

  // Reported properties: merged into the hub's twin (null deletes).
  await reportedUpdate(twin, { firmware: '2.0.1', battery: 90 });
  await reportedUpdate(twin, { battery: null });
  const reported = hub.store.twins.get(deviceId)!.reported;
  expect(reported.properties).toEqual({ firmware: '2.0.1' });
  expect(reported.version).toBe(3);

  // A desired-property update reaches the SDK's twin.
  const desiredSeen = new Promise<unknown>((resolve) => {
    twin.on('properties.desired.interval', (value: unknown) => {
      if (value === 60) resolve(value);
    });
  });
  // The SDK subscribes to desired updates when the first listener is added: wait for that before patching.
  await until(() => hub.front.isSubscribed(deviceId, '$iothub/twin/PATCH/properties/desired/?$version=3'), 5000, 'the desired-properties subscription');
  hub.service.updateTwin(deviceId, { properties: { desired: { interval: 60 } } });
  await expect(desiredSeen).resolves.toBe(60);
  expect(twin.properties.desired.$version).toBe(3);

  // A direct method answered by the SDK's handler.
  client.onDeviceMethod('reboot', (request: DeviceMethodRequest, response: DeviceMethodResponse) => {
    response.send(200, { rebooting: true, delay: (request.payload as { delay: number }).delay }, () => undefined);
  });
  const result = await hub.service.invokeMethod(deviceId, { methodName: 'reboot', payload: { delay: 3 }, connectTimeoutInSeconds: 10, responseTimeoutInSeconds: 10 });
  expect(result).toEqual({ status: 200, payload: { rebooting: true, delay: 3 } });

  // A cloud-to-device message, with properties, completed by the SDK's PUBACK.
  const received = new Promise<Message>((resolve) => client.on('message', (msg: Message) => {
    client.complete(msg, () => undefined);
    resolve(msg);
  }));
  const sent = hub.service.sendC2d(deviceId, { payload: 'hello device', messageId: `${deviceId}-c1`, correlationId: 'corr-1', properties: { color: 'red', 'with space': 'x y' }, ack: 'full' });
  const c2d = await received;
  expect(c2d.data.toString()).toBe('hello device');
  expect(c2d.messageId).toBe(`${deviceId}-c1`);
  expect(c2d.correlationId).toBe('corr-1');
  expect(c2d.to).toBe(`/devices/${deviceId}/messages/deviceBound`);
  expect(c2d.properties.getValue('color')).toBe('red');
  expect(c2d.properties.getValue('with space')).toBe('x y');
  expect(c2d.properties.getValue('iothub-ack')).toBe('full');
  await until(() => hub.store.c2d.get(sent.messageId)!.state === 'completed', 5000, 'the C2D PUBACK');
  expect(hub.store.c2d.get(sent.messageId)!.feedback).toEqual(expect.objectContaining({ statusCode: 'Success' }));

  await client.close();
  await until(() => !hub.front.isConnected(deviceId), 5000, 'the SDK to disconnect');
}

test('azure-iot-device over MQTT with a SAS connection string', async () => {
  const device = hub.service.createDevice({ deviceId: 'sdk-sas' });
  hub.service.updateTwin('sdk-sas', { properties: { desired: { interval: 30 } } });
  const connectionString = hub.service.connectionString(device);
  expect(connectionString).toBe(`HostName=${HOST_NAME};DeviceId=sdk-sas;SharedAccessKey=${device.authentication.symmetricKey!.primaryKey};GatewayHostName=${hub.gatewayHostName}`);
  const client = Client.fromConnectionString(connectionString, Mqtt);
  await client.setOptions({ ca: pki.ca.cert });
  try {
    await exercise(client, 'sdk-sas');
  } finally {
    await client.close().catch(() => undefined);
  }
  // Nothing was refused along the way.
  expect(hub.log.recent({ deviceId: 'sdk-sas' }).filter((e) => e.level !== 'info')).toEqual([]);
});

test('azure-iot-device over MQTT with an X.509 certificate (registered by thumbprint)', async () => {
  const files = pki.client('sdk-x509');
  const cert = readPem(files.cert);
  hub.service.createDevice({ deviceId: 'sdk-x509', authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: thumbprints(cert).sha1 } } });
  hub.service.updateTwin('sdk-x509', { properties: { desired: { interval: 30 } } });
  const provider = new X509AuthenticationProvider({ host: HOST_NAME, deviceId: 'sdk-x509', gatewayHostName: hub.gatewayHostName, x509: { cert, key: readPem(files.key) } });
  const client = Client.fromAuthenticationProvider(provider, Mqtt);
  await client.setOptions({ ca: pki.ca.cert });
  try {
    await exercise(client, 'sdk-x509');
  } finally {
    await client.close().catch(() => undefined);
  }
  expect(hub.log.recent({ deviceId: 'sdk-x509', event: 'connect' })[0].message).toMatch(/X\.509 certificate/);
  expect(hub.log.recent({ deviceId: 'sdk-x509' }).filter((e) => e.level !== 'info')).toEqual([]);
});

describe('azure-iot-provisioning-device over MQTT with symmetric keys', () => {
  type MqttBase = NonNullable<ConstructorParameters<typeof ProvisioningMqtt>[0]>;
  type SecurityClient = Parameters<typeof ProvisioningDeviceClient.create>[3];
  // The MqttBase the provisioning transport itself would construct (its own copy of azure-iot-mqtt-base),
  // given the development CA: the transport takes one as its constructor argument.
  const { MqttBase } = createRequire(require.resolve('azure-iot-provisioning-device-mqtt'))('azure-iot-mqtt-base') as { MqttBase: new () => MqttBase };

  function provisioningClient(registrationId: string, key: string) {
    const base = new MqttBase();
    base.setOptions({ ca });
    // The security package's copy of azure-iot-common differs from the provisioning client's; the objects are the same shape.
    return ProvisioningDeviceClient.create(hub.gatewayHostName, ID_SCOPE, new ProvisioningMqtt(base), new SymmetricKeySecurityClient(registrationId, key) as unknown as SecurityClient);
  }

  async function connectAssigned(deviceId: string, key: string): Promise<void> {
    const client = Client.fromConnectionString(`HostName=${HOST_NAME};DeviceId=${deviceId};SharedAccessKey=${key};GatewayHostName=${hub.gatewayHostName}`, Mqtt);
    await client.setOptions({ ca: pki.ca.cert });
    await client.open();
    await client.sendEvent(new Message('provisioned'));
    expect(hub.store.telemetry.recent(deviceId, { limit: 1 })[0].payload.toString()).toBe('provisioned');
    await client.close();
  }

  test('individual enrollment', async () => {
    const { enrollment } = hub.store.enrollments.putEnrollment('sdk-dps-1', { attestation: { type: 'symmetricKey' } });
    const key = (enrollment.attestation as { symmetricKey: { primaryKey: string } }).symmetricKey.primaryKey;
    const result = (await provisioningClient('sdk-dps-1', key).register()) as { assignedHub: string; deviceId: string };
    expect(result).toEqual(expect.objectContaining({ assignedHub: HOST_NAME, deviceId: 'sdk-dps-1', status: 'assigned' }));
    await connectAssigned(result.deviceId, key);
  });

  test('enrollment group with a derived device key', async () => {
    const { group } = hub.store.enrollments.putGroup('sdk-group', {});
    const key = deriveDeviceKey(group.attestation.symmetricKey.primaryKey, 'sdk-dps-2');
    const result = (await provisioningClient('sdk-dps-2', key).register()) as { assignedHub: string; deviceId: string };
    expect(result).toEqual(expect.objectContaining({ assignedHub: HOST_NAME, deviceId: 'sdk-dps-2' }));
    await connectAssigned(result.deviceId, key);
  });

  test('a wrong key is refused', async () => {
    hub.store.enrollments.putEnrollment('sdk-dps-3', { attestation: { type: 'symmetricKey' } });
    await expect(provisioningClient('sdk-dps-3', Buffer.alloc(32, 1).toString('base64')).register()).rejects.toThrow(/not authorized|Unauthorized/i);
  });
});
