/**
 * DpsClient over the fake HAL and a scripted broker playing DPS (flow and shapes from the
 * DPS MQTT article and azure-sdk-for-c's provisioning parser tests).
 */
import { DpsClient, DpsProvisioningError, provisionDevice, type DpsClientOptions } from '../../firmware/iot/azure/dps-client';
import { deriveGroupDeviceKey, verifySasToken } from '../../firmware/iot/azure/sas';
import type { ConnectPacket, PublishPacket, SubscribePacket } from '../../firmware/iot/mqtt/packets';
import { acceptingBroker, FakeWorld, json, nodeCodec, text, type BrokerConnection } from './support';

const GROUP_KEY = '8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==';
const REGISTRATION = 'sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6';
const OPERATION = '4.d0a671905ea5b2c8.e7173b7b-0e54-4aa0-9d20-aeb1b89e6c7d';

/** Plays DPS: 202 then, on the poll, 200 assigned (or what `answer` says). */
function fakeDps(world: FakeWorld, answer?: (packet: PublishPacket, connection: BrokerConnection, rid: string) => boolean): PublishPacket[] {
  const requests: PublishPacket[] = [];
  acceptingBroker(world, (packet, connection) => {
    requests.push(packet);
    const rid = /\$rid=([^&]+)/.exec(packet.topic)?.[1] as string;
    if (answer?.(packet, connection, rid)) return;
    if (packet.topic.startsWith('$dps/registrations/PUT/iotdps-register/')) {
      connection.publish(`$dps/registrations/res/202/?$rid=${rid}&retry-after=3`, json({ operationId: OPERATION, status: 'assigning' }), 1);
    } else if (packet.topic.startsWith('$dps/registrations/GET/iotdps-get-operationstatus/')) {
      connection.publish(
        `$dps/registrations/res/200/?$rid=${rid}`,
        json({ operationId: OPERATION, status: 'assigned', registrationState: { registrationId: REGISTRATION, assignedHub: 'contoso.azure-devices.net', deviceId: REGISTRATION, status: 'assigned', substatus: 'initialAssignment' } }),
        1,
      );
    }
  });
  return requests;
}

const options: DpsClientOptions = { idScope: '0ne00000A0A', registrationId: REGISTRATION, auth: { kind: 'sas-group', groupKey: GROUP_KEY }, tls: {} };

describe('DpsClient', () => {
  test('group enrollment: CONNECT as the registration, SAS with the derived key and skn=registration; register, poll, assigned', async () => {
    const world = new FakeWorld();
    const requests = fakeDps(world);
    let result: unknown;
    void provisionDevice(world.hal, options).then((assignment) => (result = assignment));
    await world.advance(100);
    const connection = world.connection;
    expect(connection.options).toEqual({ host: 'global.azure-devices-provisioning.net', port: 8883, tls: {}, connectTimeoutMs: 10_000 });
    const connect = connection.packets[0] as ConnectPacket;
    expect(connect).toMatchObject({ clientId: REGISTRATION, username: `0ne00000A0A/registrations/${REGISTRATION}/api-version=2019-03-31`, cleanSession: true });
    const token = text(connect.password as Uint8Array);
    expect(token).toMatch(/^SharedAccessSignature sr=0ne00000A0A%2Fregistrations%2Fsn-007-888-abc-mac-a1-b2-c3-d4-e5-f6&sig=[^&]+&se=\d+&skn=registration$/);
    const derived = deriveGroupDeviceKey(nodeCodec, GROUP_KEY, REGISTRATION);
    expect(derived).toBe('Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=');
    expect(verifySasToken(nodeCodec, token, derived, 1_700_000_000)).toBe(true);
    expect((connection.packets[1] as SubscribePacket).subscriptions).toEqual([{ filter: '$dps/registrations/res/#', qos: 1 }]);
    expect(requests.map((packet) => packet.topic)).toEqual(['$dps/registrations/PUT/iotdps-register/?$rid=1']);
    expect(JSON.parse(text(requests[0].payload))).toEqual({ registrationId: REGISTRATION });
    await world.advance(3_100);
    expect(requests.map((packet) => packet.topic)[1]).toBe(`$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=${OPERATION}`);
    expect(result).toEqual({ assignedHub: 'contoso.azure-devices.net', deviceId: REGISTRATION, registrationId: REGISTRATION, substatus: 'initialAssignment' });
    expect(connection.packets[connection.packets.length - 1].type).toBe('disconnect');
    await world.advance(600_000);
    expect(world.connections).toHaveLength(1); // done: no reconnects
    expect(JSON.parse(JSON.stringify(result))).toEqual(result); // a plain object, ready for KV
  });

  test('an individual enrollment key and a custom payload', async () => {
    const world = new FakeWorld();
    const requests = fakeDps(world);
    const key = Buffer.from('an individual enrollment key....').toString('base64');
    const client = new DpsClient(world.hal, { ...options, auth: { kind: 'sas', deviceKey: key }, payload: { modelId: 'dtmi:com:example:Thermostat;1' } });
    const done = client.provision();
    expect(client.provision()).toBe(done);
    await world.advance(5_000);
    await expect(done).resolves.toMatchObject({ deviceId: REGISTRATION });
    expect(verifySasToken(nodeCodec, text((world.connection.packets[0] as ConnectPacket).password as Uint8Array), key, 1_700_000_000)).toBe(true);
    expect(JSON.parse(text(requests[0].payload))).toEqual({ registrationId: REGISTRATION, payload: { modelId: 'dtmi:com:example:Thermostat;1' } });
  });

  test('X.509: no password', async () => {
    const world = new FakeWorld();
    fakeDps(world);
    const done = provisionDevice(world.hal, { ...options, auth: { kind: 'x509' }, tls: { certificate: new Uint8Array([1]), key: new Uint8Array([2]) } });
    await world.advance(5_000);
    await expect(done).resolves.toMatchObject({ assignedHub: 'contoso.azure-devices.net' });
    expect((world.connection.packets[0] as ConnectPacket).password).toBeUndefined();
  });

  test('a refused CONNECT (bad key) rejects at once with unauthorized', async () => {
    const world = new FakeWorld();
    acceptingBroker(world, undefined, { connackCode: 5 });
    const done = provisionDevice(world.hal, options);
    const failure = done.catch((error: unknown) => error);
    await world.advance(1_000);
    const error = await failure;
    expect(error).toBeInstanceOf(DpsProvisioningError);
    expect((error as DpsProvisioningError).error).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/not authorized/) });
    await world.advance(600_000);
    expect(world.connections).toHaveLength(1);
  });

  test('a 404 (no enrollment) rejects with the DPS error code and tracking id', async () => {
    const world = new FakeWorld();
    fakeDps(world, (packet, connection, rid) => {
      connection.publish(`$dps/registrations/res/404/?$rid=${rid}`, json({ errorCode: 404201, trackingId: 't-1', message: 'Device not found.' }), 1);
      return true;
    });
    const failure = provisionDevice(world.hal, options).catch((error: unknown) => error);
    await world.advance(1_000);
    expect(((await failure) as DpsProvisioningError).error).toEqual({
      code: 'not-found',
      status: 404,
      errorCode: 404201,
      trackingId: 't-1',
      message: 'DPS refused the registration with status 404: Device not found.',
    });
  });

  test('a dropped connection is retried; the registration resumes by polling its operation', async () => {
    const world = new FakeWorld();
    let dropped = false;
    const requests = fakeDps(world, (packet, connection) => {
      if (!dropped && packet.topic.includes('operationstatus')) {
        dropped = true;
        connection.drop();
        return true;
      }
      return false;
    });
    const done = provisionDevice(world.hal, options);
    await world.advance(70_000);
    await expect(done).resolves.toMatchObject({ deviceId: REGISTRATION });
    expect(world.connections.length).toBe(2);
    expect(requests.filter((packet) => packet.topic.includes('iotdps-register'))).toHaveLength(1);
  });

  test('no answer at all: the overall timeout rejects, and cancel() rejects at once', async () => {
    const world = new FakeWorld();
    fakeDps(world, () => true);
    const failure = provisionDevice(world.hal, { ...options, timeoutMs: 20_000 }).catch((error: unknown) => error);
    await world.advance(21_000);
    expect(((await failure) as DpsProvisioningError).error.code).toBe('timeout');

    const world2 = new FakeWorld();
    fakeDps(world2, () => true);
    const client = new DpsClient(world2.hal, options);
    const cancelled = client.provision().catch((error: unknown) => error);
    await world2.advance(100);
    client.cancel();
    expect(((await cancelled) as DpsProvisioningError).error).toEqual({ code: 'timeout', message: 'provisioning cancelled' });
  });
});
