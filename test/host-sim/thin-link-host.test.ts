/**
 * The device host over a thin link, on virtual time against a real TCP echo server on
 * loopback: when the firmware sees a connection and bytes, that bytes keep their order when
 * the link changes under them, and that a close follows what was written before it.
 */
import * as net from 'node:net';
import { findBoard } from '../../boards';
import type { HostEvent } from '../../hal/host/protocol';
import { DeviceHost, type BootResources } from '../../host-sim/device-host';
import { NetQuiet } from '../../host-sim/net-quiet';
import { Scheduler } from '../../host-sim/scheduler';

interface Rig {
  host: DeviceHost;
  scheduler: Scheduler;
  /** What the firmware was told, with the simulation time. */
  events: { at: number; event: HostEvent }[];
  /** Bytes the echo server received, as text, and whether the device's side ended. */
  server: { received: string; ended: boolean };
  port: number;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const server = { received: '', ended: false };
  const sockets = new Set<net.Socket>();
  const echo = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (data) => {
      server.received += data.toString('latin1');
      socket.write(data);
    });
    socket.on('end', () => (server.ended = true));
    socket.on('close', () => (server.ended = true));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const scheduler = new Scheduler('virtual');
  const netQuiet = new NetQuiet();
  scheduler.addQuiescent(netQuiet);
  const events: Rig['events'] = [];
  const host = new DeviceHost({
    deviceId: 'thin-1',
    board: findBoard('esp32-devkitc'),
    scheduler,
    netQuiet,
    buses: [],
    emit: (event) => events.push({ at: scheduler.now(), event }),
    report: () => undefined,
    freeHeap: () => 0,
    requestRestart: () => undefined,
    powerLost: () => undefined,
  });
  host.beginBoot({ storage: {} } as BootResources); // sockets only: no flash is touched
  return {
    host,
    scheduler,
    events,
    server,
    port: (echo.address() as net.AddressInfo).port,
    async close() {
      host.endBoot();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => echo.close(() => resolve()));
    },
  };
}

const request = (r: Rig, op: object) => {
  const reply = r.host.handle(op as Parameters<DeviceHost['handle']>[0]);
  expect(reply).not.toHaveProperty('error');
};
const text = (char: string, count: number) => new Uint8Array(count).fill(char.charCodeAt(0));
const received = (r: Rig) =>
  r.events.flatMap(({ event }) => (event.type === 'net.data' ? [Buffer.from(event.bytes).toString('latin1')] : [])).join('');
const lastDataAt = (r: Rig) => Math.max(...r.events.filter(({ event }) => event.type === 'net.data').map(({ at }) => at));

/** Makes the link thin, then opens socket 1 to the echo server and waits until the firmware would see it connected. */
async function connectOver(r: Rig, quality: { bytesPerSecond: number; latencyMs: number }): Promise<void> {
  r.host.setLinkQuality(quality);
  request(r, { op: 'net.connect', id: 1, host: '127.0.0.1', port: r.port });
  await r.scheduler.run(60_000, () => r.events.length > 0);
}

test('a connection takes a round trip, and bytes their sending time plus the latency, each way', async () => {
  const r = await rig();
  try {
    await connectOver(r, { bytesPerSecond: 100, latencyMs: 500 });
    expect(r.events).toEqual([{ at: 1_000, event: { type: 'net.connect', id: 1 } }]); // SYN, SYN-ACK: 2 × 500 ms
    request(r, { op: 'net.write', id: 1, bytes: text('A', 200) });
    await r.scheduler.run(60_000, () => received(r).length === 200);
    // Up: 2 s on the line + 0.5 s; the echo back down: the same again.
    expect(lastDataAt(r)).toBe(1_000 + 2 * (2_000 + 500));
    expect(r.host.linkQuality).toEqual({ bytesPerSecond: 100, latencyMs: 500 });
  } finally {
    await r.close();
  }
});

test('bytes sent after the link becomes fast again do not overtake those still on the thin link', async () => {
  const r = await rig();
  try {
    await connectOver(r, { bytesPerSecond: 50, latencyMs: 1_000 });
    request(r, { op: 'net.write', id: 1, bytes: text('B', 100) }); // 2 s + 1 s on its way
    r.host.setLinkQuality(undefined);
    request(r, { op: 'net.write', id: 1, bytes: text('C', 1) });
    await r.scheduler.run(60_000, () => received(r).length === 101);
    expect(r.server.received).toBe('B'.repeat(100) + 'C');
    expect(received(r)).toBe('B'.repeat(100) + 'C');
    expect(r.host.linkQuality).toBeUndefined();
  } finally {
    await r.close();
  }
});

test('the device\'s close reaches the far end after what it wrote before it', async () => {
  const r = await rig();
  try {
    await connectOver(r, { bytesPerSecond: 20, latencyMs: 300 });
    request(r, { op: 'net.write', id: 1, bytes: text('D', 40) });
    request(r, { op: 'net.close', id: 1 });
    await r.scheduler.run(60_000, () => r.server.ended);
    expect(r.server.received).toBe('D'.repeat(40));
    expect(r.scheduler.now()).toBeGreaterThanOrEqual(600 + 2_000 + 300);
  } finally {
    await r.close();
  }
});

test('the link going down loses what is in flight: the far end never gets it', async () => {
  const r = await rig();
  try {
    await connectOver(r, { bytesPerSecond: 10, latencyMs: 100 });
    request(r, { op: 'net.write', id: 1, bytes: text('E', 50) }); // 5 s on the line
    await r.scheduler.run(r.scheduler.now() + 1_000);
    r.host.setLink(false);
    expect(r.events.at(-1)?.event).toMatchObject({ type: 'net.error', id: 1, code: 'unreachable' });
    await r.scheduler.run(r.scheduler.now() + 60_000);
    expect(r.server.received).toBe('');
  } finally {
    await r.close();
  }
});
