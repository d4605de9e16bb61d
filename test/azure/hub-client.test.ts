/**
 * AzureHubClient over the fake HAL and a scripted broker playing IoT Hub: CONNECT with SAS or
 * X.509, the four subscriptions, GET on every connection, desired/reported, telemetry with
 * properties and limits, direct methods, C2D, and SAS renewal by a planned reconnect that
 * loses no QoS 1 telemetry.
 */
import { AzureHubClient, type AzureHubClientOptions } from '../../firmware/iot/azure/hub-client';
import { verifySasToken } from '../../firmware/iot/azure/sas';
import { AzureError, type JsonObject } from '../../firmware/iot/azure/types';
import type { C2dMessage } from '../../firmware/iot/azure/c2d';
import type { ConnectPacket, PublishPacket, SubscribePacket } from '../../firmware/iot/mqtt/packets';
import { acceptingBroker, FakeWorld, json, nodeCodec, text, type BrokerConnection } from './support';

const KEY = Buffer.from('device key for d1, 32 bytes long').toString('base64');
const HOST = 'contoso.azure-devices.net';

/** A broker that answers twin requests like IoT Hub and records the rest. */
class MiniHub {
  desired: JsonObject = { interval: 10, $version: 3 };
  reported: JsonObject = { $version: 7 };
  telemetry: PublishPacket[] = [];
  methodResponses: PublishPacket[] = [];
  twinRequests: string[] = [];
  ackTelemetry = true;

  constructor(readonly world: FakeWorld) {
    acceptingBroker(world, (packet, connection) => this.onPublish(packet, connection), { ackPublishes: false });
  }

  get connection(): BrokerConnection {
    return this.world.connection;
  }

  private onPublish(packet: PublishPacket, connection: BrokerConnection): void {
    if (packet.qos === 1 && (this.ackTelemetry || !packet.topic.startsWith('devices/'))) connection.send({ type: 'puback', packetId: packet.packetId as number });
    const rid = /\?\$rid=([^&]+)/.exec(packet.topic)?.[1];
    if (packet.topic.startsWith('$iothub/twin/GET/')) {
      this.twinRequests.push('GET');
      connection.publish(`$iothub/twin/res/200/?$rid=${rid}`, json({ desired: this.desired, reported: this.reported }));
    } else if (packet.topic.startsWith('$iothub/twin/PATCH/properties/reported/')) {
      this.twinRequests.push('PATCH');
      const version = (this.reported.$version as number) + 1;
      this.reported = { ...this.reported, ...(JSON.parse(text(packet.payload)) as JsonObject), $version: version };
      connection.publish(`$iothub/twin/res/204/?$rid=${rid}&$version=${version}`, '');
    } else if (packet.topic.startsWith('$iothub/methods/res/')) {
      this.methodResponses.push(packet);
    } else if (packet.topic.startsWith('devices/')) {
      this.telemetry.push(packet);
    }
  }

  /** The service changes a desired property: IoT Hub notifies the connected device. */
  setDesired(patch: JsonObject): void {
    const version = (this.desired.$version as number) + 1;
    this.desired = { ...this.desired, ...patch, $version: version };
    this.connection.publish(`$iothub/twin/PATCH/properties/desired/?$version=${version}`, json({ ...patch, $version: version }), 1);
  }
}

function makeClient(world: FakeWorld, overrides: Partial<AzureHubClientOptions> = {}): AzureHubClient {
  return new AzureHubClient(world.hal, {
    hostName: HOST,
    deviceId: 'd1',
    auth: { kind: 'sas', deviceKey: KEY },
    tls: { ca: [new Uint8Array([1])] },
    ...overrides,
  });
}

const connectPackets = (world: FakeWorld): ConnectPacket[] =>
  world.connections.flatMap((connection) => connection.packets.filter((packet): packet is ConnectPacket => packet.type === 'connect'));

describe('AzureHubClient: connecting', () => {
  test('CONNECT with client id, user name and a SAS token valid for an hour; TLS to port 8883', async () => {
    const world = new FakeWorld();
    new MiniHub(world);
    const client = makeClient(world);
    client.start();
    await world.advance(100);
    expect(client.connected).toBe(true);
    expect(world.connection.options).toEqual({ host: HOST, port: 8883, tls: { ca: [new Uint8Array([1])] }, connectTimeoutMs: 10_000 });
    const [connect] = connectPackets(world);
    expect(connect).toMatchObject({ clientId: 'd1', username: `${HOST}/d1/?api-version=2021-04-12`, cleanSession: false, keepAliveSeconds: 60 });
    const token = text(connect.password as Uint8Array);
    expect(token).toMatch(/^SharedAccessSignature sr=contoso\.azure-devices\.net%2Fdevices%2Fd1&sig=[^&]+&se=1700003600$/); // wall clock 1 700 000 000 s + 1 h
    expect(verifySasToken(nodeCodec, token, KEY, 1_700_000_000)).toBe(true);
  });

  test('subscribes twin responses, desired notifications (QoS 1), methods (QoS 0), C2D (QoS 1); then GETs the twin', async () => {
    const world = new FakeWorld();
    const hub = new MiniHub(world);
    const client = makeClient(world);
    client.start();
    await world.advance(100);
    const packets = world.connection.packets;
    const subscribe = packets.find((packet): packet is SubscribePacket => packet.type === 'subscribe') as SubscribePacket;
    expect(subscribe.subscriptions).toEqual([
      { filter: '$iothub/twin/res/#', qos: 1 },
      { filter: '$iothub/twin/PATCH/properties/desired/#', qos: 1 },
      { filter: '$iothub/methods/POST/#', qos: 0 },
      { filter: 'devices/d1/messages/devicebound/#', qos: 1 },
    ]);
    const order = packets.map((packet) => (packet.type === 'publish' ? packet.topic.split('?')[0] : packet.type));
    expect(order.slice(0, 3)).toEqual(['connect', 'subscribe', '$iothub/twin/GET/']);
    expect(hub.twinRequests).toEqual(['GET']);
  });

  test('X.509: the user name alone, the certificate in TLS', async () => {
    const world = new FakeWorld();
    new MiniHub(world);
    const tls = { ca: [new Uint8Array([1])], certificate: new Uint8Array([2]), key: new Uint8Array([3]) };
    const client = makeClient(world, { auth: { kind: 'x509' }, tls });
    client.start();
    await world.advance(100);
    expect(connectPackets(world)[0]).toMatchObject({ username: `${HOST}/d1/?api-version=2021-04-12` });
    expect(connectPackets(world)[0].password).toBeUndefined();
    expect(world.connection.options.tls).toBe(tls);
  });

  test('a module with a model id: module client id and user name, no C2D subscription', async () => {
    const world = new FakeWorld();
    new MiniHub(world);
    const client = makeClient(world, { moduleId: 'm1', modelId: 'dtmi:com:example:Thermostat;1' });
    client.start();
    await world.advance(100);
    expect(connectPackets(world)[0]).toMatchObject({ clientId: 'd1/m1', username: `${HOST}/d1/m1/?api-version=2021-04-12&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1` });
    const token = text(connectPackets(world)[0].password as Uint8Array);
    expect(token).toContain('sr=contoso.azure-devices.net%2Fdevices%2Fd1%2Fmodules%2Fm1&');
    const subscribe = world.connection.packets.find((packet): packet is SubscribePacket => packet.type === 'subscribe') as SubscribePacket;
    expect(subscribe.subscriptions.map((s) => s.filter)).not.toContain('devices/d1/messages/devicebound/#');
  });

  test('without a wall clock no token can be made: attempts wait (with backoff) until the clock is set', async () => {
    const world = new FakeWorld();
    world.wallAtZero = undefined;
    new MiniHub(world);
    const client = makeClient(world);
    client.start();
    await world.advance(5_000);
    expect(client.connected).toBe(false);
    expect(connectPackets(world)).toEqual([]);
    world.hal.clock.setWallTime(1_700_000_000_000);
    await world.advance(70_000);
    expect(client.connected).toBe(true);
  });

  test('a refused CONNECT is logged as a credentials problem and reported to the application', async () => {
    const world = new FakeWorld();
    acceptingBroker(world, undefined, { connackCode: 4 });
    const changes: unknown[][] = [];
    const client = makeClient(world);
    client.onConnectionChange((...args) => changes.push(args));
    client.start();
    await world.advance(100);
    expect(changes[0]).toEqual([false, 'bad user name or password', 4]);
    expect(world.logs.some((log) => log.level === 'error' && /check the device key/.test(log.message))).toBe(true);
    client.stop();
  });
});

describe('AzureHubClient: twin', () => {
  test('full desired on connect, notifications after, reported patches acknowledged', async () => {
    const world = new FakeWorld();
    const hub = new MiniHub(world);
    const client = makeClient(world);
    const desired: [JsonObject, number, boolean][] = [];
    const reported: [number, number | undefined][] = [];
    client.onDesired((patch, version, full) => desired.push([patch, version, full]));
    client.onReported((id, version) => reported.push([id, version]));
    client.start();
    await world.advance(100);
    expect(desired).toEqual([[{ interval: 10 }, 3, true]]);
    hub.setDesired({ interval: 20 });
    await world.advance(100);
    expect(desired[1]).toEqual([{ interval: 20 }, 4, false]);
    expect(client.desired).toEqual({ interval: 20 });
    const id = client.reportProperties({ interval: 20, firmware: '1.2.0' });
    await world.advance(100);
    expect(reported).toEqual([[id, 8]]);
    expect(hub.reported).toMatchObject({ interval: 20, firmware: '1.2.0', $version: 8 });
  });

  test('every reconnection GETs the twin again; a change made while offline arrives as a full document', async () => {
    const world = new FakeWorld();
    const hub = new MiniHub(world);
    const client = makeClient(world);
    const desired: [JsonObject, number, boolean][] = [];
    client.onDesired((patch, version, full) => desired.push([patch, version, full]));
    client.start();
    await world.advance(100);
    world.connection.drop();
    hub.desired = { interval: 99, $version: 9 }; // changed while the device was away: no notification
    await world.advance(70_000);
    expect(client.connected).toBe(true);
    expect(hub.twinRequests).toEqual(['GET', 'GET']);
    expect(desired[desired.length - 1]).toEqual([{ interval: 99 }, 9, true]);
  });

  test('reportProperties enforces the 32 KB limit before sending', () => {
    const world = new FakeWorld();
    const client = makeClient(world);
    const big: JsonObject = {};
    for (let i = 0; i < 10; i++) big[`k${i}`] = 'x'.repeat(4_000);
    expect(() => client.reportProperties(big)).toThrow(expect.objectContaining({ code: 'too-large' }));
  });
});

describe('AzureHubClient: telemetry', () => {
  test('QoS 1 to the events topic with properties; JSON gets $.ce=utf-8; onPublished on PUBACK', async () => {
    const world = new FakeWorld();
    const hub = new MiniHub(world);
    const client = makeClient(world);
    const published: number[] = [];
    client.onPublished((id) => published.push(id));
    client.start();
    await world.advance(100);
    const id = client.sendTelemetry('{"t":21.5}', { alert: 'none' }, 'application/json', { messageId: 'm-1' });
    await world.advance(100);
    expect(hub.telemetry).toHaveLength(1);
    expect(hub.telemetry[0]).toMatchObject({ qos: 1, topic: 'devices/d1/messages/events/%24.mid=m-1&%24.ct=application%2Fjson&%24.ce=utf-8&alert=none' });
    expect(text(hub.telemetry[0].payload)).toBe('{"t":21.5}');
    expect(published).toEqual([id]);
  });

  test('bytes without a content type go as they are; over 256 KB is a clear error and nothing is queued', async () => {
    const world = new FakeWorld();
    const hub = new MiniHub(world);
    const client = makeClient(world, { mqtt: { maxQueuedBytes: 512 * 1024 } });
    client.start();
    await world.advance(100);
    client.sendTelemetry(new Uint8Array([1, 2, 3]));
    expect(() => client.sendTelemetry(new Uint8Array(256 * 1024))).toThrow(AzureError);
    expect(() => client.sendTelemetry(new Uint8Array(256 * 1024))).toThrow(/at most 262144 per device-to-cloud message/);
    await world.advance(100);
    expect(hub.telemetry.map((packet) => packet.topic)).toEqual(['devices/d1/messages/events/']);
  });

  test('telemetry sent while offline is held and delivered after connecting', async () => {
    const world = new FakeWorld();
    const hub = new MiniHub(world);
    const client = makeClient(world);
    client.sendTelemetry('early');
    client.start();
    await world.advance(100);
    expect(hub.telemetry.map((packet) => text(packet.payload))).toEqual(['early']);
  });
});

describe('AzureHubClient: direct methods and C2D', () => {
  async function connected(): Promise<{ world: FakeWorld; hub: MiniHub; client: AzureHubClient }> {
    const world = new FakeWorld();
    const hub = new MiniHub(world);
    const client = makeClient(world);
    client.start();
    await world.advance(100);
    return { world, hub, client };
  }

  test('a handler’s status and payload go back on $iothub/methods/res/{status}/?$rid=', async () => {
    const { world, hub, client } = await connected();
    client.onMethod('setLed', (payload) => ({ status: 200, payload: { led: (payload as JsonObject).on ? 'on' : 'off' } }));
    hub.connection.publish('$iothub/methods/POST/setLed/?$rid=5', '{"on":true}');
    await world.advance(100);
    expect(hub.methodResponses).toHaveLength(1);
    expect(hub.methodResponses[0].topic).toBe('$iothub/methods/res/200/?$rid=5');
    expect(JSON.parse(text(hub.methodResponses[0].payload))).toEqual({ led: 'on' });
  });

  test('unknown: 404; throwing: 500 with the message; bad JSON: 400', async () => {
    const { world, hub, client } = await connected();
    client.onMethod('boom', () => {
      throw new Error('sensor offline');
    });
    hub.connection.publish('$iothub/methods/POST/nope/?$rid=1', '');
    hub.connection.publish('$iothub/methods/POST/boom/?$rid=2', '{}');
    hub.connection.publish('$iothub/methods/POST/boom/?$rid=3', '{bad');
    await world.advance(100);
    const byRid = Object.fromEntries(hub.methodResponses.map((packet) => [/\$rid=(\w+)/.exec(packet.topic)?.[1], [packet.topic.split('/')[3], JSON.parse(text(packet.payload))]]));
    expect(byRid['1']).toEqual(['404', { message: 'no handler for method "nope" on this device' }]);
    expect(byRid['2']).toEqual(['500', { message: 'method "boom" failed: sensor offline' }]);
    expect(byRid['3'][0]).toBe('400');
    expect(byRid['3'][1].message).toMatch(/not valid JSON/);
  });

  test('an async handler answers when it resolves', async () => {
    const { world, hub, client } = await connected();
    client.onMethod('slow', async (payload) => ({ status: 202, payload }));
    hub.connection.publish('$iothub/methods/POST/slow/?$rid=abc', '[1,2]');
    await world.advance(100);
    expect(hub.methodResponses.map((packet) => [packet.topic, text(packet.payload)])).toEqual([['$iothub/methods/res/202/?$rid=abc', '[1,2]']]);
  });

  test('C2D messages reach onC2D with their properties, and are acknowledged (QoS 1)', async () => {
    const { world, hub, client } = await connected();
    const received: C2dMessage[] = [];
    client.onC2D((message) => received.push(message));
    hub.connection.publish('devices/d1/messages/devicebound/%24.mid=abc&%24.to=%2Fdevices%2Fd1%2Fmessages%2FdeviceBound&iothub-ack=full&color=red', 'hello', 1);
    await world.advance(100);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ deviceId: 'd1', messageId: 'abc', ack: 'full', to: '/devices/d1/messages/deviceBound' });
    expect(received[0].properties.color).toBe('red');
    expect(text(received[0].payload)).toBe('hello');
    expect(hub.connection.packets.some((packet) => packet.type === 'puback')).toBe(true);
  });

  test('a handler that throws is logged and the client carries on', async () => {
    const { world, hub, client } = await connected();
    client.onC2D(() => {
      throw new Error('app bug');
    });
    hub.connection.publish('devices/d1/messages/devicebound/', 'x', 1);
    await world.advance(100);
    expect(world.logs.some((log) => /application handler threw: app bug/.test(log.message))).toBe(true);
    expect(client.connected).toBe(true);
  });
});

describe('AzureHubClient: SAS renewal', () => {
  test('before expiry, a planned reconnect with a fresh token; QoS 1 telemetry in flight is not lost; the twin is fetched again', async () => {
    const world = new FakeWorld();
    const hub = new MiniHub(world);
    const client = makeClient(world, { auth: { kind: 'sas', deviceKey: KEY, ttlSeconds: 600, renewAfter: 0.5 } });
    const published: number[] = [];
    client.onPublished((id) => published.push(id));
    client.start();
    await world.advance(100);
    const firstToken = text(connectPackets(world)[0].password as Uint8Array);

    await world.advance(299_000); // just before 300 s
    expect(world.connections).toHaveLength(1);
    hub.ackTelemetry = false;
    const id = client.sendTelemetry('in flight during renewal');
    await world.advance(100);
    expect(hub.telemetry).toHaveLength(1);
    expect(published).toEqual([]); // not acknowledged on the old connection

    hub.ackTelemetry = true; // the new connection acknowledges
    await world.advance(2_000);
    expect(world.connections).toHaveLength(2);
    const old = world.connections[0].packets;
    expect(old[old.length - 1].type).toBe('disconnect');
    const secondToken = text(connectPackets(world)[1].password as Uint8Array);
    expect(secondToken).not.toBe(firstToken);
    expect(verifySasToken(nodeCodec, secondToken, KEY, Math.floor((world.hal.clock.wallTime() as number) / 1000) + 590)).toBe(true);
    const resent = world.connections[1].packets.filter((packet): packet is PublishPacket => packet.type === 'publish' && packet.topic.startsWith('devices/'));
    expect(resent.map((packet) => [packet.packetId, text(packet.payload)])).toEqual([[id, 'in flight during renewal']]);
    expect(published).toEqual([id]);
    expect(hub.twinRequests).toEqual(['GET', 'GET']);
    expect(world.logs.some((log) => /renewing the SAS token/.test(log.message))).toBe(true);

    // And again 300 s later, with no backoff counted against it.
    await world.advance(300_000);
    expect(world.connections).toHaveLength(3);
    client.stop();
    expect(client.connected).toBe(false);
  });
});
