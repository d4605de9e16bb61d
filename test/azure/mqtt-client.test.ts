/**
 * The MQTT client shell's additions for Azure: credentials evaluated at every CONNECT (a
 * fresh SAS token each time), a planned reconnect() that loses no QoS 1 message, the
 * CONNACK refusal code in onDisconnected, and handlers that stop the client.
 */
import { MqttClient, type MqttClientHandlers } from '../../firmware/iot/mqtt/client';
import type { ConnectPacket, PublishPacket } from '../../firmware/iot/mqtt/packets';
import { acceptingBroker, FakeWorld, text, utf8 } from './support';

function client(world: FakeWorld, handlers: MqttClientHandlers = {}, credentials?: () => { username?: string; password?: Uint8Array }): MqttClient {
  return new MqttClient(world.hal, { host: 'hub.local', port: 8883, clientId: 'd1', username: 'static', keepAliveSeconds: 60, credentials, backoff: { baseMs: 1_000 } }, handlers);
}

const connects = (world: FakeWorld): ConnectPacket[] =>
  world.connections.flatMap((connection) => connection.packets.filter((packet): packet is ConnectPacket => packet.type === 'connect'));

describe('MqttClient credentials and planned reconnects', () => {
  test('credentials() is called for every CONNECT and replaces user name and password', async () => {
    const world = new FakeWorld();
    acceptingBroker(world);
    let n = 0;
    const mqtt = client(world, {}, () => ({ username: 'user', password: utf8(`token-${++n}`) }));
    mqtt.start();
    await world.advance(100);
    expect(mqtt.connected).toBe(true);
    mqtt.reconnect('renew');
    await world.advance(100);
    expect(connects(world).map((packet) => [packet.username, text(packet.password as Uint8Array)])).toEqual([
      ['user', 'token-1'],
      ['user', 'token-2'],
    ]);
  });

  test('reconnect(): DISCONNECT, close, connect again at once; unacknowledged QoS 1 messages are sent again', async () => {
    const world = new FakeWorld();
    acceptingBroker(world, undefined, { ackPublishes: false });
    const disconnected: [string, number][] = [];
    const published: number[] = [];
    const mqtt = client(world, { onDisconnected: (reason, retry) => disconnected.push([reason, retry]), onPublished: (id) => published.push(id) });
    mqtt.start();
    await world.advance(100);
    const id = mqtt.publish('devices/d1/messages/events/', utf8('m1'), { qos: 1 });
    await world.advance(100);
    const first = world.connection;
    mqtt.reconnect('SAS token renewal');
    expect(first.packets.map((packet) => packet.type)).toEqual(['connect', 'publish', 'disconnect']);
    expect(first.closed).toBe(true);
    expect(disconnected).toEqual([['SAS token renewal', 0]]);
    acceptingBroker(world); // the new connection acknowledges
    await world.advance(50);
    expect(world.connections).toHaveLength(2);
    const resent = world.connection.packets.filter((packet): packet is PublishPacket => packet.type === 'publish');
    expect(resent).toEqual([expect.objectContaining({ packetId: id, payload: utf8('m1'), qos: 1 })]);
    await world.advance(50);
    expect(published).toEqual([id]);
  });

  test('reconnect() while waiting to retry connects now; before start() it does nothing', async () => {
    const world = new FakeWorld();
    world.onConnection = (connection) => connection.drop(); // refuses at the TCP level
    // Backoff's jitter at one half: the retry comes 500 ms after the refusal, not by chance within the first 10 ms.
    world.hal.crypto.randomBytes = (count) => new Uint8Array(count).fill(0x80);
    const mqtt = client(world, {});
    mqtt.reconnect();
    expect(world.connections).toHaveLength(0);
    mqtt.start();
    await world.advance(10);
    expect(world.connections).toHaveLength(1);
    mqtt.reconnect();
    expect(world.connections).toHaveLength(2);
    mqtt.stop();
  });

  test('credentials() that throws fails the attempt, which is retried with backoff', async () => {
    const world = new FakeWorld();
    acceptingBroker(world);
    const reasons: string[] = [];
    let ready = false;
    const mqtt = client(world, { onDisconnected: (reason) => reasons.push(reason) }, () => {
      if (!ready) throw new Error('clock not set');
      return { username: 'u', password: utf8('p') };
    });
    mqtt.start();
    await world.advance(100);
    expect(mqtt.connected).toBe(false);
    expect(reasons.length).toBeGreaterThan(0); // the first retry may already have come and failed (full-jitter backoff)
    expect(new Set(reasons)).toEqual(new Set(['no credentials for CONNECT: clock not set']));
    expect(world.connections[0].closed).toBe(true);
    ready = true;
    await world.advance(2_000);
    expect(mqtt.connected).toBe(true);
  });

  test('a connect that times out closes its socket, so its late handshake cannot disturb the next attempt', async () => {
    const world = new FakeWorld();
    world.latencyMs = 15_000; // a thin link: the handshake takes longer than the 10 s connect timeout
    acceptingBroker(world);
    const reasons: string[] = [];
    const mqtt = client(world, { onDisconnected: (reason) => reasons.push(reason) });
    mqtt.start();
    await world.advance(10_000);
    expect(reasons).toEqual(['no connection to hub.local:8883 within 10000 ms']);
    expect(world.connections[0]!.closed).toBe(true);
    expect(world.connections[0]!.options.connectTimeoutMs).toBe(10_000); // the socket's own limit is the attempt's
    // The first socket's handshake completes at 15 s, during the second attempt: it is ignored.
    await world.advance(6_000);
    expect(world.connections).toHaveLength(2);
    expect(world.connections[0]!.packets).toEqual([]);
    world.latencyMs = 5; // the link recovers
    await world.advance(60_000);
    expect(mqtt.connected).toBe(true);
    expect(world.connection.packets.map((packet) => packet.type)).toContain('connect');
  });

  test('a refusal reaches onDisconnected with its return code; a handler may stop the client', async () => {
    const world = new FakeWorld();
    acceptingBroker(world, undefined, { connackCode: 5 });
    const calls: unknown[][] = [];
    const mqtt = client(world, {
      onDisconnected: (...args) => {
        calls.push(args);
        mqtt.stop();
      },
    });
    mqtt.start();
    await world.advance(100_000);
    expect(calls).toEqual([['not authorized', expect.any(Number), 5]]);
    expect(world.connections).toHaveLength(1); // stopped: no more attempts
  });
});
