/**
 * Telemetry de-duplication by `$.mid`, per-device statistics and silent devices: over MQTT with the raw
 * client (test/hub/support.ts), over HTTP, on the command line, and in the store (the id window's bounds,
 * the schema 3 migration). The hub runs on an injected clock.
 */
import Database from 'better-sqlite3';
import * as path from 'node:path';
import { hubCommand } from '../../cli/hub-commands';
import { main } from '../../cli/main';
import type { Hub } from '../../hub/hub';
import { HubStore, SCHEMA_VERSION } from '../../hub/store';
import { connectDevice, deviceToken, http, RawClient, startTestHub, tempDir, until } from './support';

const MINUTE = 60_000;
const HOUR = 3_600_000;
/** The test clock starts 5 s into a minute (per-minute counts are by whole minutes). */
const T0 = Math.floor(Date.now() / MINUTE) * MINUTE + 5_000;
let clock = T0;

let hub: Hub;
const keys: { [deviceId: string]: string } = {};
const open: RawClient[] = [];

/** Connects with a week-long token (the clock moves ahead of real time). */
async function device(deviceId: string): Promise<RawClient> {
  const client = await connectDevice(hub, deviceId, keys[deviceId], { password: deviceToken(deviceId, keys[deviceId], 7 * 86_400) });
  open.push(client);
  expect(client.connack).toBe(0);
  await until(() => hub.front.isConnected(deviceId), 5000, `${deviceId} connected`);
  return client;
}

function send(client: RawClient, deviceId: string, payload: string, mid?: string, qos: 0 | 1 = 1): Promise<void> {
  return client.publish(`devices/${deviceId}/messages/events/${mid === undefined ? '' : `%24.mid=${encodeURIComponent(mid)}&`}n=${encodeURIComponent(payload)}`, payload, qos);
}

const payloads = (deviceId: string) => hub.store.telemetry.recent(deviceId).map((m) => m.payload.toString());

beforeAll(async () => {
  ({ hub } = await startTestHub({ now: () => clock, otaTickMs: 0 }));
  for (const id of ['d1', 'd2', 'd3', 's1', 's2', 's3', 's4']) keys[id] = hub.service.createDevice({ deviceId: id }).authentication.symmetricKey!.primaryKey;
});

afterEach(() => {
  for (const client of open.splice(0)) client.destroy();
});

afterAll(async () => {
  await hub.close();
});

describe('de-duplication by $.mid at ingest', () => {
  test('a message sent again with the same $.mid is acknowledged (PUBACK) but stored once, and counted', async () => {
    const stored: string[] = [];
    const onTelemetry = (m: { deviceId: string; payload: Buffer }) => m.deviceId === 'd1' && stored.push(m.payload.toString());
    hub.front.on('telemetry', onTelemetry);
    const client = await device('d1');
    await send(client, 'd1', 'first', 'm-1'); // resolves on the PUBACK
    await send(client, 'd1', 'first again', 'm-1');
    await send(client, 'd1', 'second', 'm-2');
    await send(client, 'd1', 'first, third time', 'm-1');
    expect(payloads('d1')).toEqual(['first', 'second']);
    expect(hub.store.telemetry.recent('d1')[0].systemProperties.messageId).toBe('m-1');
    const stats = (await http(hub, 'GET', '/devices/d1/stats')).body;
    expect(stats).toEqual(expect.objectContaining({ messagesReceived: 2, duplicatesDropped: 2, messagesLastHour: 2, duplicatesLastHour: 2 }));
    expect(stats.messageIds).toEqual({ remembered: 2, maxIds: 10_000, maxAgeMs: 24 * HOUR });
    const logged = hub.log.recent({ deviceId: 'd1', event: 'telemetry.duplicate' });
    expect(logged).toHaveLength(2);
    expect(logged[1]).toEqual(expect.objectContaining({ messageId: 'm-1', message: expect.stringMatching(/"m-1" received again .*acknowledged, not stored \(2 duplicates from this device\)/) }));
    await until(() => stored.length === 2);
    expect(stored).toEqual(['first', 'second']); // duplicates are not streamed as telemetry either
    hub.front.off('telemetry', onTelemetry);
    expect(client.closed).toBe(false);
  });

  test('the re-send after a reconnect (at-least-once) is recognized; QoS 0 duplicates are dropped too', async () => {
    const before = await device('d1');
    before.destroy(); // no DISCONNECT, as when the link drops before the PUBACK arrives
    await until(() => !hub.front.isConnected('d1'));
    const after = await device('d1');
    await send(after, 'd1', 'second, re-sent', 'm-2');
    await send(after, 'd1', 'second, at QoS 0', 'm-2', 0);
    await send(after, 'd1', 'third', 'm-3');
    expect(payloads('d1')).toEqual(['first', 'second', 'third']);
    expect(hub.store.telemetry.stats('d1').duplicates).toBe(4);
  });

  test('different devices may use the same $.mid', async () => {
    const d2 = await device('d2');
    await send(d2, 'd2', 'd2 first', 'm-1');
    await send(d2, 'd2', 'd2 again', 'm-1');
    expect(payloads('d2')).toEqual(['d2 first']);
    expect(payloads('d1')).toEqual(['first', 'second', 'third']);
    expect(hub.store.telemetry.stats('d2')).toEqual(expect.objectContaining({ messages: 1, duplicates: 1 }));
  });

  test('messages without a $.mid (or with an empty one) are always stored', async () => {
    const d3 = await device('d3');
    await send(d3, 'd3', 'same');
    await send(d3, 'd3', 'same');
    await send(d3, 'd3', 'empty id', '');
    await send(d3, 'd3', 'empty id', '');
    expect(payloads('d3')).toEqual(['same', 'same', 'empty id', 'empty id']);
    expect(hub.store.telemetry.stats('d3')).toEqual(expect.objectContaining({ messages: 4, duplicates: 0, messageIdsRemembered: 0 }));
  });
});

describe('statistics and silent devices (injected clock)', () => {
  const at = (ms: number) => new Date(ms).toISOString();
  const silentIds = async (query = '') => {
    const reply = await http(hub, 'GET', `/devices/silent${query}`);
    expect(reply.status).toBe(200);
    return reply.body.devices.map((d: { deviceId: string }) => d.deviceId);
  };

  beforeAll(async () => {
    clock = T0;
    // s1: 10 s from its desired properties; s2: 20 s as it acknowledged (and its outbox); s3: never sends
    // (default 60 s); s4: disabled.
    hub.service.updateTwin('s1', { properties: { desired: { telemetryInterval: 10_000 } } });
    hub.service.updateTwin('s2', { properties: { desired: { telemetryInterval: 20_000 } } });
    hub.service.setStatus('s4', 'disabled');
    const s1 = await device('s1');
    await send(s1, 's1', 'a', 'a');
    await send(s1, 's1', 'a', 'a');
    await send(s1, 's1', 'b', 'b');
    const s2 = await device('s2');
    await s2.subscribe('$iothub/twin/res/#');
    const reported = {
      telemetryInterval: { value: 20_000, ac: 200, av: 2, ad: 'applied' },
      outbox: { queued: 5, sent: 100, dropped: 1, oldestAgeMs: 42_000 },
    };
    await s2.publish('$iothub/twin/PATCH/properties/reported/?$rid=1', JSON.stringify(reported), 0);
    await s2.waitFor((m) => m.topic.startsWith('$iothub/twin/res/204/'));
    await send(s2, 's2', 'x');
    s1.disconnect();
    s2.disconnect();
    await until(() => !hub.front.isConnected('s1') && !hub.front.isConnected('s2'));
  });

  test('GET /devices/{id}/stats: last seen, last message, per hour, duplicates, interval, no backlog reported', async () => {
    clock = T0 + 20_000;
    const reply = await http(hub, 'GET', '/devices/s1/stats');
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(
      expect.objectContaining({
        deviceId: 's1',
        status: 'enabled',
        connectionState: 'Disconnected',
        time: at(T0 + 20_000),
        lastSeenTime: at(T0), // the disconnect, at T0
        lastMessageTime: at(T0),
        lastDuplicateTime: at(T0),
        messagesLastHour: 2,
        duplicatesLastHour: 1,
        messagesReceived: 2,
        duplicatesDropped: 1,
        telemetryIntervalMs: 10_000,
        telemetryIntervalSource: 'desired',
        backlog: null,
        silence: { factor: 3, thresholdMs: 30_000, silentForMs: 20_000, since: at(T0), silent: false },
      }),
    );
    expect(reply.body.hourly).toHaveLength(24);
    expect(reply.body.hourly[23]).toEqual({ from: at(Math.floor(clock / MINUTE) * MINUTE - 59 * MINUTE), to: at(Math.floor(clock / MINUTE) * MINUTE + MINUTE), messages: 2, duplicates: 1 });
    expect(reply.body.hourly.slice(0, 23).every((h: { messages: number }) => h.messages === 0)).toBe(true);
    expect((await http(hub, 'GET', '/devices/s1/stats?factor=1.5')).body.silence).toEqual(expect.objectContaining({ factor: 1.5, thresholdMs: 15_000, silent: true }));
  });

  test('the reported telemetryInterval acknowledgement wins over desired; the reported outbox is the backlog', async () => {
    const stats = (await http(hub, 'GET', '/devices/s2/stats')).body;
    expect(stats).toEqual(
      expect.objectContaining({
        telemetryIntervalMs: 20_000,
        telemetryIntervalSource: 'reported',
        backlog: { queued: 5, sent: 100, dropped: 1, oldestAgeMs: 42_000, reportedTime: at(T0) },
        messagesLastHour: 1,
      }),
    );
    const s3 = (await http(hub, 'GET', '/devices/s3/stats')).body;
    expect(s3).toEqual(expect.objectContaining({ lastMessageTime: null, lastSeenTime: null, telemetryIntervalMs: 60_000, telemetryIntervalSource: 'default', messagesReceived: 0 }));
    expect(s3.silence).toEqual(expect.objectContaining({ since: at(T0), silent: false })); // counted from its creation
  });

  test('GET /devices/silent lists enabled devices without a message for longer than factor × interval', async () => {
    clock = T0 + 25_000;
    expect(await silentIds()).toEqual([]);
    clock = T0 + 31_000; // s1: 31 s > 3 × 10 s
    expect(await silentIds()).toEqual(['s1']);
    expect(await silentIds('?factor=1.5')).toEqual(['s1', 's2']); // s2: 31 s > 1.5 × 20 s
    clock = T0 + 61_000;
    const reply = await http(hub, 'GET', '/devices/silent');
    expect(reply.body.factor).toBe(3);
    expect(reply.body.time).toBe(at(T0 + 61_000));
    // d1..d3 (default 60 s) sent at T0 too: 61 s is not over 180 s.
    expect(reply.body.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual(['s1', 's2']);
    expect(reply.body.devices[0]).toEqual({
      deviceId: 's1',
      connectionState: 'Disconnected',
      lastMessageTime: at(T0),
      lastSeenTime: at(T0),
      telemetryIntervalMs: 10_000,
      telemetryIntervalSource: 'desired',
      thresholdMs: 30_000,
      silentForMs: 61_000,
      since: at(T0),
    });
    expect(await silentIds('?factor=100')).toEqual([]);
  });

  test('a connection is "seen" but not a message; a device that never sent one is silent from its creation; disabled devices are left out', async () => {
    clock = T0 + 100_000;
    await device('s3'); // connects, sends nothing
    clock = T0 + 181_000;
    const reply = await http(hub, 'GET', '/devices/silent');
    expect(reply.body.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual(['d1', 'd2', 'd3', 's1', 's2', 's3']);
    const s3 = reply.body.devices.find((d: { deviceId: string }) => d.deviceId === 's3');
    expect(s3).toEqual(expect.objectContaining({ connectionState: 'Connected', lastMessageTime: null, lastSeenTime: at(T0 + 100_000), silentForMs: 181_000, since: at(T0) }));
    expect(reply.body.devices.map((d: { deviceId: string }) => d.deviceId)).not.toContain('s4');
    expect((await http(hub, 'GET', '/devices/s4/stats')).body.silence.silent).toBe(true); // the stats still say so
  });

  describe('on the command line', () => {
    async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
      let stdout = '';
      let stderr = '';
      const code = await hubCommand([...argv, '--hub', hub.httpUrl], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
      return { code, stdout, stderr };
    }

    test('thingkit silent [--factor N]', async () => {
      clock = T0 + 181_000;
      const human = await run('silent');
      expect(human).toEqual(expect.objectContaining({ code: 0, stderr: '' }));
      expect(human.stdout).toMatch(/^6 devices silent for longer than 3 × the telemetry interval:\n/);
      expect(human.stdout).toMatch(/^s1 +last message .* silent 3m1s \(limit 30s, interval 10s desired\) Disconnected$/m);
      expect(human.stdout).toMatch(/^s3 +never sent a message +silent 3m1s/m);
      const json = JSON.parse((await run('silent', '--factor', '2.5', '--json')).stdout);
      expect(json.factor).toBe(2.5);
      expect(json.devices.map((d: { deviceId: string }) => d.deviceId)).toContain('s2');
      expect((await run('silent', '--factor', '1000')).stdout).toBe('no device is silent for longer than 1000 × its telemetry interval\n');
      expect(await run('silent', '--factor', 'lots')).toEqual(expect.objectContaining({ code: 2, stderr: expect.stringMatching(/--factor must be a positive number/) }));
    });

    test('thingkit stats <id> [--factor N]', async () => {
      clock = T0 + 181_000;
      const human = await run('stats', 's2');
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/^device s2 \(enabled, Disconnected\)$/m);
      expect(human.stdout).toMatch(/^ {2}messages +1 in the last hour, 1 in all$/m);
      expect(human.stdout).toMatch(/^ {2}interval +20s \(reported\)$/m);
      expect(human.stdout).toMatch(/^ {2}backlog +queued 5, sent 100, dropped 1, oldest 42s \(reported /m);
      expect(human.stdout).toMatch(/^ {2}silent +yes: 3m1s without a message, limit 3 × 20s = 1m0s$/m);
      const json = JSON.parse((await run('stats', 's1', '--factor', '20', '--json')).stdout);
      expect(json.silence).toEqual(expect.objectContaining({ factor: 20, thresholdMs: 200_000, silent: false }));
      expect((await run('stats', 'nobody')).code).toBe(1);
      expect((await run('stats')).code).toBe(2);
    });

    test('thingkit silent and thingkit stats are hub client commands of the thingkit command', async () => {
      const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
      const writeError = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        expect(await main(['silent', '--hub', hub.httpUrl])).toBe(0);
        expect(await main(['stats', 's1', '--hub', hub.httpUrl])).toBe(0);
        expect(String(write.mock.calls.map((c) => c[0]).join(''))).toMatch(/device s1 \(enabled/);
      } finally {
        write.mockRestore();
        writeError.mockRestore();
      }
    });
  });

  test('a message ends the silence; per-hour counts roll over the last 24 hours', async () => {
    clock = T0 + 3 * MINUTE;
    const s1 = await device('s1');
    await send(s1, 's1', 'c', 'c');
    expect(await silentIds()).not.toContain('s1');
    clock = T0 + 2 * HOUR;
    const stats = (await http(hub, 'GET', '/devices/s1/stats')).body;
    expect(stats.hourly.map((h: { messages: number }) => h.messages).slice(20)).toEqual([0, 2, 1, 0]);
    expect(stats.hourly[21].duplicates).toBe(1);
    expect(stats).toEqual(expect.objectContaining({ messagesLastHour: 0, messagesReceived: 3, duplicatesDropped: 1, lastMessageTime: at(T0 + 3 * MINUTE) }));
    clock = T0 + 25 * HOUR;
    const later = (await http(hub, 'GET', '/devices/s1/stats')).body;
    expect(later.hourly.every((h: { messages: number; duplicates: number }) => h.messages === 0 && h.duplicates === 0)).toBe(true);
    expect(later).toEqual(expect.objectContaining({ messagesReceived: 3, duplicatesDropped: 1 }));
    expect(later.messageIds.remembered).toBe(0); // older than 24 h
  });

  test('a bad factor is 400, an unknown device 404; a device named "silent" is still reachable', async () => {
    for (const factor of ['abc', '0', '-1', '1e3', '20000']) {
      const reply = await http(hub, 'GET', `/devices/silent?factor=${factor}`);
      expect(reply.status).toBe(400);
      expect(reply.body.message).toMatch(/is not a positive number/);
    }
    expect((await http(hub, 'GET', '/devices/s1/stats?factor=x')).status).toBe(400);
    expect((await http(hub, 'GET', '/devices/nobody/stats')).status).toBe(404);
    expect((await http(hub, 'PUT', '/devices/silent', {})).status).toBe(201);
    expect((await http(hub, 'GET', '/devices/silent/stats')).body.deviceId).toBe('silent');
    expect((await http(hub, 'DELETE', '/devices/silent')).status).toBe(204);
    expect((await http(hub, 'GET', '/')).body.routes).toEqual(expect.arrayContaining(['GET /devices/{id}/stats', 'GET /devices/silent']));
  });

});

describe('the message-id window (store)', () => {
  test('ids are remembered per device, at most maxIds of them, none older than maxAgeMs (defaults 10 000 and 24 h)', () => {
    let now = 1_000_000;
    const store = HubStore.open({ file: ':memory:', now: () => now, messageIdWindow: { maxIds: 3, maxAgeMs: 10_000 } });
    const ingest = (mid: string, deviceId = 'a') => store.telemetry.ingest({ deviceId, properties: {}, systemProperties: { messageId: mid }, payload: Buffer.from(mid) }).duplicate;
    expect(['m1', 'm2', 'm3', 'm4'].map((m) => ingest(m))).toEqual([false, false, false, false]);
    expect(ingest('m2')).toBe(true); // m2..m4 are remembered
    expect(ingest('m1')).toBe(false); // m1 was the oldest of 4: forgotten (now m3, m4, m1 are remembered)
    expect(ingest('m3')).toBe(true);
    expect(ingest('m3', 'b')).toBe(false); // another device
    now += 10_000; // the ids are now 10 s old: forgotten
    expect(ingest('m4')).toBe(false);
    expect(ingest('m4')).toBe(true);
    expect(store.telemetry.stats('a')).toEqual(expect.objectContaining({ messages: 6, duplicates: 3, messageIdsRemembered: 1 }));
    store.close();
    const defaults = HubStore.open({ file: ':memory:' });
    expect(defaults.telemetry.messageIdWindow).toEqual({ maxIds: 10_000, maxAgeMs: 86_400_000 });
    defaults.close();
    expect(() => HubStore.open({ file: ':memory:', messageIdWindow: { maxIds: 0 } })).toThrow(/messageIdWindow.maxIds must be a whole number/);
  });

  test('deleting a device forgets its ids and counters: a new device with that id starts afresh', () => {
    const store = HubStore.open({ file: ':memory:' });
    store.devices.create({ deviceId: 'gone' });
    const ingest = () => store.telemetry.ingest({ deviceId: 'gone', properties: {}, systemProperties: { messageId: 'same' }, payload: Buffer.from('x') }).duplicate;
    expect([ingest(), ingest()]).toEqual([false, true]);
    store.devices.delete('gone');
    store.devices.create({ deviceId: 'gone' });
    expect(store.telemetry.stats('gone')).toEqual(expect.objectContaining({ messages: 0, duplicates: 0, lastMessageAt: null }));
    expect(ingest()).toBe(false);
    store.close();
  });

  test('migration 3 upgrades a schema 2 file: the kept messages\' ids are remembered and the last message times known', () => {
    const file = path.join(tempDir('thingkit-dedup-migrate-'), 'hub.db');
    HubStore.open({ file }).close();
    const raw = new Database(file);
    raw.exec('DROP TABLE telemetry_message_ids; DROP TABLE telemetry_stats; DROP TABLE telemetry_minutes; PRAGMA user_version = 2;');
    const insert = raw.prepare('INSERT INTO telemetry (device_id, enqueued_at, properties, system_properties, payload) VALUES (?, ?, ?, ?, ?)');
    insert.run('old', 5_000, '{}', JSON.stringify({ messageId: 'k1' }), Buffer.from('1'));
    insert.run('old', 6_000, '{}', JSON.stringify({}), Buffer.from('2'));
    insert.run('old', 7_000, '{}', JSON.stringify({ messageId: 'k2' }), Buffer.from('3'));
    raw.close();
    const store = HubStore.open({ file, now: () => 8_000 });
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(3);
    expect(store.telemetry.lastMessageTimes().get('old')).toBe(7_000);
    const ingest = (mid: string) => store.telemetry.ingest({ deviceId: 'old', properties: {}, systemProperties: { messageId: mid }, payload: Buffer.from(mid) }).duplicate;
    expect(ingest('k1')).toBe(true);
    expect(ingest('k2')).toBe(true);
    expect(ingest('k3')).toBe(false);
    expect(store.telemetry.stats('old')).toEqual(expect.objectContaining({ messages: 1, duplicates: 2, messageIdsRemembered: 3 }));
    store.close();
  });
});
