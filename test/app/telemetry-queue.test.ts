/**
 * TelemetryQueue on a fake HAL (virtual time, a settable wall clock, an outbox partition in
 * RAM) and a fake uplink that records what it is asked to send: the creation time `$.ctime`
 * of readings taken before the wall clock was known, the time fix surviving a reboot, the
 * twin's outbox report, and the "drained" callback.
 */
import type { Hal } from '../../hal';
import { Outbox } from '../../firmware/store/outbox';
import { TelemetryQueue, type TelemetryQueueOptions } from '../../firmware/app/telemetry-queue';
import type { Uplink, UplinkSystemProperties } from '../../firmware/app/uplink';
import { isoTimeUtc } from '../../firmware/codec/iso-time';
import { VirtualTime } from '../http/fake-net';
import { MemoryPartition, seeded } from '../outbox/support';

const WALL = Date.UTC(2025, 2, 14, 9, 26, 53, 589);

/** The HAL parts the queue uses: clock (the wall clock runs with uptime once set), timers, random bytes, the `outbox` partition. */
/** Settings in RAM (the queue keeps its lifetime drop counts there); pass the same one to a "rebooted" queue. */
function memoryKv() {
  const map = new Map<string, unknown>();
  return {
    get: (domain: string, key: string) => map.get(`${domain}/${key}`),
    set: (domain: string, key: string, value: unknown) => void map.set(`${domain}/${key}`, value),
    delete: (domain: string, key: string) => void map.delete(`${domain}/${key}`),
    keys: (domain: string) => [...map.keys()].filter((k) => k.startsWith(`${domain}/`)).map((k) => k.slice(domain.length + 1)),
  };
}

function fakeHal(partition: MemoryPartition, time = new VirtualTime(), kv = memoryKv()) {
  let offset: number | undefined;
  const random = seeded(11);
  const setWallTime = (unixMs: number) => void (offset = unixMs - time.now);
  const hal = {
    clock: { now: () => time.now, wallTime: () => (offset === undefined ? undefined : time.now + offset), setWallTime },
    timers: time.timers,
    crypto: { randomBytes: (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256)) },
    flash: { open: (label: string) => (label === 'outbox' ? partition : undefined) },
    kv,
  };
  return { hal: hal as unknown as Hal, time, setWallTime };
}

interface Sent {
  packetId: number;
  payload: string;
  properties: { [name: string]: string };
  system: UplinkSystemProperties;
}

class FakeUplink implements Uplink {
  connected = true;
  readonly sent: Sent[] = [];
  private nextId = 1;
  start(): void {}
  stop(): void {}
  send(payload: Uint8Array, properties: { [name: string]: string }, system: UplinkSystemProperties = {}): number {
    const packetId = this.nextId++;
    this.sent.push({ packetId, payload: new TextDecoder().decode(payload), properties, system });
    return packetId;
  }
}

function options(bootCount: number, extra: Partial<TelemetryQueueOptions> = {}): TelemetryQueueOptions {
  return {
    deviceId: 'dev-1',
    bootCount,
    ratePerSecond: 100,
    startJitterMs: 0,
    window: 1,
    overflow: 'drop-oldest',
    properties: () => ({}),
    ...extra,
  };
}

const text = (s: string) => new TextEncoder().encode(s);

describe('creation times ($.ctime)', () => {
  test('readings from before the wall clock was known go out corrected once it is set, and the fix survives a reboot', async () => {
    const partition = new MemoryPartition(4);
    const { hal, time, setWallTime } = fakeHal(partition);
    const queue = new TelemetryQueue(hal, options(3));
    await time.advance(1_000);
    queue.add('telemetry', text('a')); // uptime 1000, wall unknown
    await time.advance(1_000);
    queue.add('telemetry', text('b')); // uptime 2000, wall unknown
    await time.advance(1_000);
    queue.add('telemetry', text('c')); // uptime 3000, wall unknown

    const uplink = new FakeUplink();
    queue.attach(uplink);
    await time.advance(100);
    expect(uplink.sent.map((s) => s.payload)).toEqual(['a']); // window 1
    expect(uplink.sent[0]!.system.messageId).toMatch(/^dev-1-[0-9a-f]{8}-1$/);
    expect(uplink.sent[0]!.system).not.toHaveProperty('creationTimeUtc');

    // Time sync at uptime 5000: the wall clock of this boot is uptime + (WALL - 5000).
    await time.advance(5_000 - time.now);
    setWallTime(WALL);
    expect(hal.clock.wallTime()).toBe(WALL);
    queue.published(uplink.sent[0]!.packetId);
    await time.advance(100);
    expect(uplink.sent.map((s) => s.payload)).toEqual(['a', 'b']);
    expect(uplink.sent[1]!.system.creationTimeUtc).toBe(new Date(WALL - 5_000 + 2_000).toISOString());

    // A reading taken now is stored with the wall clock.
    await time.advance(400);
    queue.add('telemetry', text('d')); // uptime 5500, wall WALL + 500

    // Reboot before 'b' is acknowledged: the time fix is on flash.
    const records = Outbox.open(partition, { random: seeded(1) }).peek(8);
    expect(records.map((r) => [r.seq, r.time, r.wallMs])).toEqual([
      [2, 'corrected', WALL - 3_000],
      [3, 'corrected', WALL - 2_000],
      [4, 'wall', WALL + 500],
    ]);

    const after = fakeHal(partition);
    after.setWallTime(WALL + 60_000);
    const rebooted = new TelemetryQueue(after.hal, options(4, { window: 8 }));
    const second = new FakeUplink();
    rebooted.attach(second);
    await after.time.advance(1_000);
    expect(second.sent.map((s) => [s.payload, s.system.creationTimeUtc])).toEqual([
      ['b', new Date(WALL - 3_000).toISOString()],
      ['c', new Date(WALL - 2_000).toISOString()],
      ['d', new Date(WALL + 500).toISOString()],
    ]);
    expect(second.sent[0]!.system.messageId).toBe(uplink.sent[1]!.system.messageId); // the same message, again
  });

  test('a boot that ends before its clock is known leaves its readings without $.ctime; a boot that never needs a fix writes none', async () => {
    const partition = new MemoryPartition(4);
    const first = fakeHal(partition);
    const queue = new TelemetryQueue(first.hal, options(7));
    await first.time.advance(1_000);
    queue.add('telemetry', text('old'));

    const second = fakeHal(partition);
    second.setWallTime(WALL);
    const rebooted = new TelemetryQueue(second.hal, options(8, { window: 8 }));
    await second.time.advance(1_000);
    rebooted.add('telemetry', text('new'));
    const uplink = new FakeUplink();
    rebooted.attach(uplink);
    await second.time.advance(1_000);
    expect(uplink.sent.map((s) => [s.payload, s.system.creationTimeUtc])).toEqual([
      ['old', undefined],
      ['new', new Date(WALL + 1_000).toISOString()],
    ]);
    expect(Outbox.open(partition, { random: seeded(1) }).timeFixes()).toEqual([]);
  });

  test('the fix is given lazily at a drain, without a new reading', async () => {
    const partition = new MemoryPartition(4);
    const { hal, time, setWallTime } = fakeHal(partition);
    const queue = new TelemetryQueue(hal, options(2));
    await time.advance(2_000);
    queue.add('telemetry', text('x'));
    await time.advance(1_000);
    setWallTime(WALL);
    const uplink = new FakeUplink();
    queue.attach(uplink);
    await time.advance(100);
    expect(uplink.sent[0]!.system.creationTimeUtc).toBe(new Date(WALL - 1_000).toISOString());
    expect(Outbox.open(partition, { random: seeded(1) }).timeFixes()).toEqual([{ bootCount: 2, offsetMs: WALL - 3_000 }]);
  });
});

describe('the twin report', () => {
  test('includes the oldest record age (null when there is none) and onDrained fires once the backlog found at connect is delivered', async () => {
    const partition = new MemoryPartition(4);
    const { hal, time, setWallTime } = fakeHal(partition);
    setWallTime(WALL);
    let drained = 0;
    const queue = new TelemetryQueue(hal, options(1, { window: 8, onDrained: () => drained++ }));
    expect(queue.report()).toEqual({ queued: 0, sent: 0, dropped: 0, capacity: 4 * (4096 - 32), oldestAgeMs: null });

    queue.add('telemetry', text('1'));
    await time.advance(30_000);
    queue.add('alert', text('2'));
    await time.advance(15_000);
    expect(queue.report()).toEqual({ queued: 2, sent: 0, dropped: 0, capacity: 4 * (4096 - 32), oldestAgeMs: 45_000 });
    expect(queue.oldestAgeMs()).toBe(45_000);

    const uplink = new FakeUplink();
    queue.attach(uplink);
    await time.advance(100);
    expect(uplink.sent).toHaveLength(2);
    queue.published(uplink.sent[0]!.packetId);
    expect(drained).toBe(0);
    expect(queue.report().oldestAgeMs).toBe(15_100);
    queue.published(uplink.sent[1]!.packetId);
    expect(drained).toBe(1);
    expect(queue.report()).toMatchObject({ queued: 0, sent: 2, oldestAgeMs: null });

    // Live messages on a connection that found nothing queued do not fire it again.
    queue.add('telemetry', text('3'));
    await time.advance(100);
    queue.published(uplink.sent[2]!.packetId);
    expect(drained).toBe(1);
  });

  test('sent and dropped count over the device\'s life, across reboots; queued is what the flash holds', async () => {
    const partition = new MemoryPartition(2);
    const kv = memoryKv();
    const first = fakeHal(partition, new VirtualTime(), kv);
    first.setWallTime(WALL);
    const queue = new TelemetryQueue(first.hal, options(1, { window: 8 }));
    const uplink = new FakeUplink();
    queue.attach(uplink);
    await first.time.advance(10);
    for (let i = 0; i < 3; i++) queue.add('telemetry', text(`sent-${i}`));
    await first.time.advance(1_000);
    for (const sent of uplink.sent) queue.published(sent.packetId);
    expect(queue.report()).toMatchObject({ queued: 0, sent: 3, dropped: 0 });
    // Offline: fill both sectors and more; drop-oldest erases a sector of unsent records at a time.
    uplink.connected = false;
    queue.disconnected();
    const big = text('x'.repeat(1000));
    let erased = 0;
    for (let i = 0; i < 12; i++) erased += queue.add('telemetry', big).dropped;
    expect(erased).toBeGreaterThan(0);
    const before = queue.report();
    expect(before).toMatchObject({ sent: 3, dropped: erased });
    expect(before.queued).toBe(12 - erased);

    // A reboot: the outbox counts from zero, the report does not.
    const second = fakeHal(partition, new VirtualTime(), kv);
    second.setWallTime(WALL + 60_000);
    const rebooted = new TelemetryQueue(second.hal, options(2, { window: 8 }));
    expect(rebooted.stats()).toMatchObject({ released: 0, dropped: { overflow: 0, full: 0, corrupt: 0 } });
    expect(rebooted.report()).toMatchObject({ queued: before.queued, sent: 3, dropped: erased });
    const again = new FakeUplink();
    rebooted.attach(again);
    await second.time.advance(1_000);
    for (const sent of again.sent) rebooted.published(sent.packetId);
    expect(rebooted.report()).toMatchObject({ queued: 0, sent: 3 + before.queued, dropped: erased });
  });

  test('drop-newest: each refused reading is counted, across reboots', async () => {
    const partition = new MemoryPartition(2);
    const kv = memoryKv();
    const { hal } = fakeHal(partition, new VirtualTime(), kv);
    const queue = new TelemetryQueue(hal, options(1, { overflow: 'drop-newest' }));
    const big = text('x'.repeat(1000));
    let refused = 0;
    for (let i = 0; i < 12; i++) {
      try {
        queue.add('telemetry', big);
      } catch (error) {
        expect((error as Error).message).toMatch(/full/);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect(queue.report()).toMatchObject({ queued: 12 - refused, sent: 0, dropped: refused });
    const rebooted = new TelemetryQueue(fakeHal(partition, new VirtualTime(), kv).hal, options(2, { overflow: 'drop-newest' }));
    expect(rebooted.report()).toMatchObject({ queued: 12 - refused, sent: 0, dropped: refused });
  });

  test('an uptime-only record of this boot has an age before the clock is known', async () => {
    const { hal, time } = fakeHal(new MemoryPartition(4));
    const queue = new TelemetryQueue(hal, options(5));
    await time.advance(1_000);
    queue.add('telemetry', text('x'));
    await time.advance(9_000);
    expect(queue.report().oldestAgeMs).toBe(9_000);
  });
});

describe('isoTimeUtc', () => {
  test('writes what Date.prototype.toISOString writes', () => {
    const random = seeded(5);
    const samples = [0, -1, 1, 951_782_400_000, 4_107_542_399_999, 253_402_300_799_999, 253_402_300_800_000, -62_167_219_200_000, -62_167_219_200_001, 8.64e15, -8.64e15, 1.5, WALL];
    for (let i = 0; i < 2000; i++) samples.push(Math.floor((random() * 2 - 1) * 2 ** 48));
    for (const ms of samples) expect([ms, isoTimeUtc(ms)]).toEqual([ms, new Date(Math.floor(ms)).toISOString()]);
    expect(() => isoTimeUtc(Number.NaN)).toThrow(RangeError);
    expect(() => isoTimeUtc(8.64e15 + 1)).toThrow(RangeError);
  });
});
