/**
 * OtaService, the shell, on a fake HAL: virtual time, a fake network with an HTTPS image
 * server that honours Range, the fake device's slots and KV. End to end: request, download
 * with a broken connection, restart after the report went out, self-test, outcome.
 */
import type { Hal } from '../../hal';
import type { OtaStatus } from '../../firmware/ota/agent';
import { OtaService, type OtaServiceOptions } from '../../firmware/ota/ota-service';
import { FakeNet, MemoryLog, VirtualTime, head, type FakeConnection, type FakeRequest } from '../http/fake-net';
import { BOARD, FakeDevice, KEYS, makeUpdate, portsFor, type Update } from './fake-device';

interface ServerOptions {
  /** Break the first N connections after this many body bytes. */
  dropAfter?: number;
  drops?: number;
  /** Answer every request with this status. */
  status?: number;
}

function imageServer(update: Update, options: ServerOptions = {}) {
  const log = { requests: [] as FakeRequest[], bodyBytes: 0 };
  let drops = options.drops ?? 0;
  const serve = (request: FakeRequest, connection: FakeConnection) => {
    log.requests.push(request);
    if (options.status) {
      connection.send(head(options.status, 'Error', [['Content-Length', 0]]));
      return;
    }
    const image = update.image;
    const range = /^bytes=(\d+)-$/.exec(request.headers.get('range') ?? '');
    const start = range ? Number(range[1]) : 0;
    const body = image.subarray(start);
    connection.send(
      range
        ? head(206, 'Partial Content', [['Content-Range', `bytes ${start}-${image.length - 1}/${image.length}`], ['Content-Length', body.length]])
        : head(200, 'OK', [['Content-Length', body.length]]),
    );
    const limit = drops > 0 ? Math.min(options.dropAfter ?? body.length, body.length) : body.length;
    for (let at = 0; at < limit; at += 1460) {
      const piece = body.subarray(at, Math.min(limit, at + 1460));
      log.bodyBytes += piece.length;
      connection.send(piece);
    }
    if (drops > 0) {
      drops--;
      connection.error('reset');
    } else connection.close();
  };
  return { log, serve };
}

class FakeHal {
  readonly time: VirtualTime;
  readonly net: FakeNet;
  readonly log = new MemoryLog();
  restarts = 0;
  rollbacks = 0;
  readonly hal: Hal;

  constructor(
    readonly device: FakeDevice,
    time?: VirtualTime,
  ) {
    this.time = time ?? new VirtualTime();
    this.net = new FakeNet(this.time);
    const ports = portsFor(device);
    this.hal = {
      clock: this.time.clock,
      timers: this.time.timers,
      net: this.net,
      kv: device.kv,
      crypto: { ...ports.crypto, hmacSha256: () => new Uint8Array(32) },
      text: { ...ports.text, toBase64: (bytes: Uint8Array) => Buffer.from(bytes).toString('base64'), fromHex: (hex: string) => new Uint8Array(Buffer.from(hex, 'hex')) },
      ota: {
        runningSlot: () => `ota_${device.running}`,
        runningState: () => device.state,
        openNext: (resume: boolean) => device.openNext(resume),
        markValid: () => device.markValid(),
        rollback: () => {
          this.rollbacks++;
          device.rollback();
        },
      },
      system: {
        restart: () => {
          this.restarts++;
          device.restart();
        },
        resetReason: () => 'software',
        freeHeap: () => 100_000,
        firmwareVersion: () => device.version,
        deviceId: () => 'device-1',
      },
      log: this.log,
      board: { name: BOARD } as Hal['board'],
      config: {},
    } as unknown as Hal;
  }
}

function service(fake: FakeHal, options: OtaServiceOptions = {}) {
  const statuses: OtaStatus[] = [];
  const ota = new OtaService(fake.hal, {
    publicKey: KEYS.publicKeyRaw,
    agent: { resumeDelayMs: 1_000 },
    onStatus: (status) => void statuses.push(status),
    ...options,
  });
  return { ota, statuses };
}

const last = (statuses: OtaStatus[]) => statuses[statuses.length - 1];

test('end to end: download over HTTPS with a broken connection, restart, self-test, succeeded', async () => {
  const device = new FakeDevice('1.0.0');
  const fake = new FakeHal(device);
  const update = makeUpdate('1.1.0', { payloadBytes: 150_000, url: 'https://updates.example/fw.bin?sig=SECRET' });
  const server = imageServer(update, { dropAfter: 60_000, drops: 1 });
  fake.net.servers.set('updates.example:443', server.serve);

  let reportsAcked = 0;
  const { ota, statuses } = service(fake, {
    tls: { ca: [new Uint8Array([1])] },
    onStatus: (status) => {
      statuses.push(status);
      // The twin patch is acknowledged 500 ms later.
      return new Promise<void>((resolve) => fake.time.later(500, () => (reportsAcked++, resolve())));
    },
  });
  ota.start();
  expect(last(statuses)).toMatchObject({ state: 'idle', version: '1.0.0' });
  expect(ota.request(update.envelope)).toEqual({ accepted: true });
  await fake.time.advance(60_000);

  expect(server.log.requests).toHaveLength(2);
  expect(server.log.requests[0].headers.has('range')).toBe(false);
  expect(server.log.requests[1].headers.get('range')).toMatch(/^bytes=\d+-$/);
  expect(server.log.requests[0].serverName).toBe('updates.example');
  expect(fake.net.connections[0].options.tls?.ca).toHaveLength(1);
  expect(server.log.bodyBytes).toBe(update.image.length);
  expect(statuses.some((status) => /^retry 1 of 7/.test(status.reason ?? ''))).toBe(true);
  expect(last(statuses)).toMatchObject({ state: 'rebooting', targetVersion: '1.1.0' });
  expect(fake.restarts).toBe(1);
  expect(reportsAcked).toBeGreaterThan(0);
  expect(JSON.stringify(fake.log.lines) + JSON.stringify(fake.log.events)).not.toMatch(/SECRET/);
  expect(fake.log.events.filter((event) => event.type === 'ota').length).toBe(statuses.length);

  // The new image boots: a new HAL and service on the same device.
  expect(device.state).toBe('pending-verify');
  const next = new FakeHal(device, fake.time);
  let resolveSelfTest: () => void = () => undefined;
  const second = service(next, { selfTest: () => new Promise<void>((resolve) => (resolveSelfTest = resolve)) });
  second.ota.start();
  expect(last(second.statuses)).toMatchObject({ state: 'verifying', version: '1.1.0' });
  await fake.time.advance(5_000);
  expect(device.stats.markValid).toBe(0);
  resolveSelfTest();
  await fake.time.advance(10);
  expect(device.stats.markValid).toBe(1);
  expect(last(second.statuses)).toMatchObject({ state: 'succeeded', version: '1.1.0', targetVersion: '1.1.0' });
  expect(next.time.pendingTimers).toBe(0);
});

test('the restart waits for the last report, at most reportGraceMs', async () => {
  const device = new FakeDevice('1.0.0');
  const fake = new FakeHal(device);
  const update = makeUpdate('1.1.0', { payloadBytes: 5_000, url: 'http://updates.example/fw.bin' });
  fake.net.servers.set('updates.example:80', imageServer(update).serve);
  const { ota } = service(fake, { reportGraceMs: 2_000, onStatus: () => new Promise<void>(() => undefined) });
  ota.start();
  ota.request(update.envelope);
  await fake.time.advance(100);
  expect(fake.restarts).toBe(0);
  await fake.time.advance(2_000);
  expect(fake.restarts).toBe(1);
});

test('a failing self-test rolls back; the previous image reports rolled-back', async () => {
  const device = new FakeDevice('1.0.0');
  const fake = new FakeHal(device);
  const update = makeUpdate('1.2.0', { payloadBytes: 5_000, url: 'http://updates.example/fw.bin' });
  fake.net.servers.set('updates.example:80', imageServer(update).serve);
  service(fake).ota.request(update.envelope);
  await fake.time.advance(10_000);
  expect(fake.restarts).toBe(1);

  const trial = new FakeHal(device, fake.time);
  const first = service(trial, { selfTest: () => Promise.reject(new Error('no connection to the hub')) });
  first.ota.start();
  await fake.time.advance(5_000);
  expect(trial.rollbacks).toBe(1);
  expect(device.version).toBe('1.0.0');
  expect(last(first.statuses)).toMatchObject({ state: 'rolled-back', reason: 'self-test failed: no connection to the hub' });

  const back = new FakeHal(device, fake.time);
  const again = service(back);
  again.ota.start();
  expect(again.statuses).toEqual([expect.objectContaining({ state: 'rolled-back', version: '1.0.0', targetVersion: '1.2.0', reason: 'self-test failed: no connection to the hub' })]);
  expect(again.ota.request(update.envelope).accepted).toBe(false);
});

test('a self-test that never settles rolls back at the deadline; one resolving false fails', async () => {
  for (const selfTest of [() => new Promise<void>(() => undefined), () => Promise.resolve(false)]) {
    const device = new FakeDevice('1.0.0');
    const fake = new FakeHal(device);
    const update = makeUpdate('1.2.0', { payloadBytes: 5_000, url: 'http://updates.example/fw.bin' });
    fake.net.servers.set('updates.example:80', imageServer(update).serve);
    service(fake).ota.request(update.envelope);
    await fake.time.advance(10_000);
    const trial = new FakeHal(device, fake.time);
    const { ota, statuses } = service(trial, { selfTest, agent: { selfTestTimeoutMs: 30_000 } });
    ota.start();
    await fake.time.advance(40_000);
    expect(trial.rollbacks).toBe(1);
    expect(last(statuses).reason).toMatch(/within 30000 ms|returned false/);
  }
});

test('a download interrupted by a power cut resumes at the next boot', async () => {
  const device = new FakeDevice('1.0.0');
  const fake = new FakeHal(device);
  const update = makeUpdate('1.4.0', { payloadBytes: 300_000, url: 'http://updates.example/fw.bin' });
  const server = imageServer(update, { dropAfter: 200_000, drops: 1 });
  fake.net.servers.set('updates.example:80', server.serve);
  const first = service(fake, { agent: { retry: { baseMs: 60_000, capMs: 60_000 } } });
  first.ota.request(update.envelope);
  await fake.time.advance(1_000); // the connection broke; the retry is a minute away
  first.ota.stop(); // power cut

  const after = new FakeHal(device, fake.time);
  after.net.servers.set('updates.example:80', server.serve);
  const second = service(after);
  second.ota.start();
  expect(last(second.statuses)).toMatchObject({ state: 'downloading', reason: 'resuming after a restart' });
  await fake.time.advance(10_000);
  expect(server.log.requests).toHaveLength(2);
  expect(server.log.requests[1].headers.get('range')).toBe('bytes=196608-');
  expect(after.restarts).toBe(1);
  expect(device.slots[1].data.subarray(0, update.image.length)).toEqual(update.image);
});

test('HTTP 404 fails the update without retrying', async () => {
  const device = new FakeDevice('1.0.0');
  const fake = new FakeHal(device);
  const update = makeUpdate('1.1.0', { url: 'http://updates.example/missing.bin' });
  const server = imageServer(update, { status: 404 });
  fake.net.servers.set('updates.example:80', server.serve);
  const { ota, statuses } = service(fake);
  ota.request(update.envelope);
  await fake.time.advance(600_000);
  expect(server.log.requests).toHaveLength(1);
  expect(last(statuses)).toMatchObject({ state: 'failed', reason: expect.stringMatching(/answered 404/) });
  expect(fake.time.pendingTimers).toBe(0);
});
