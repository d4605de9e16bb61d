import { DrainPlanner, messageId, Outbox, type DrainPlannerOptions, type PlannedPublish } from '../../firmware/store/outbox';
import { MemoryPartition, openMemory, payloadFor, seeded, UPTIME } from './support';

function setup(options: Partial<DrainPlannerOptions> = {}, sectors = 8): { flash: MemoryPartition; outbox: Outbox; planner: DrainPlanner } {
  const flash = new MemoryPartition(sectors);
  const outbox = Outbox.open(flash, { random: () => 0.75 });
  const planner = new DrainPlanner(outbox, {
    deviceId: 'dev-1',
    ratePerSecond: 10,
    burst: 10,
    startJitterMs: 0,
    random: () => 0,
    window: 8,
    ...options,
  });
  return { flash, outbox, planner };
}

function appendN(outbox: Outbox, n: number, size = 20): number[] {
  return Array.from({ length: n }, (_, i) => outbox.append(payloadFor(outbox.nextSeq + i, size), UPTIME(i)).seq);
}

const seqsOf = (publish: PlannedPublish[]) => publish.map((p) => p.record.seq);

describe('message ids', () => {
  test('are device-logId-seq, stable across reopen and resend; another log gives other ids', () => {
    expect(messageId('dev-1', 0xbf, 42)).toBe('dev-1-000000bf-42');
    const { flash, outbox, planner } = setup();
    appendN(outbox, 3);
    planner.connected(0);
    const first = planner.plan(0).publish.map((p) => p.messageId);
    expect(first).toEqual(['dev-1-c0000000-1', 'dev-1-c0000000-2', 'dev-1-c0000000-3']);
    // after a reboot the same records keep their ids
    const reopened = openMemory(flash);
    const again = new DrainPlanner(reopened, { deviceId: 'dev-1', ratePerSecond: 10, burst: 10, startJitterMs: 0, random: () => 0, window: 8 });
    again.connected(0);
    expect(again.plan(0).publish.map((p) => p.messageId)).toEqual(first);
    // a fresh log (erased partition) has another random log id
    const fresh = Outbox.open(new MemoryPartition(2), { random: () => 0.1 });
    expect(fresh.logId).not.toBe(reopened.logId);
  });
});

describe('connection and start delay', () => {
  test('nothing while disconnected; after connecting, nothing before the jittered start', () => {
    const { outbox, planner } = setup({ minStartDelayMs: 500, startJitterMs: 2000, random: () => 0.25 });
    appendN(outbox, 5);
    expect(planner.plan(0)).toEqual({ publish: [], nextPlanAtMs: undefined, waiting: 'disconnected' });
    planner.connected(10_000);
    expect(planner.plan(10_000)).toEqual({ publish: [], nextPlanAtMs: 11_000, waiting: 'start-delay' });
    expect(planner.plan(10_999).publish).toEqual([]);
    expect(seqsOf(planner.plan(11_000).publish)).toEqual([1, 2, 3, 4, 5]);
    planner.disconnected();
    expect(planner.plan(11_001).waiting).toBe('disconnected');
  });

  test('the start delay is spread by the injected random: a fleet does not come back together', () => {
    const starts = [0, 0.1, 0.5, 0.9, 0.999].map((r) => {
      const { outbox, planner } = setup({ startJitterMs: 30_000, random: () => r });
      appendN(outbox, 1);
      planner.connected(0);
      const plan = planner.plan(0);
      return plan.waiting === 'start-delay' ? plan.nextPlanAtMs : 0; // 0: sent at once
    });
    expect(starts).toEqual([0, 3000, 15000, 27000, 29970]);
    const { planner } = setup({ startJitterMs: 1000, random: () => 7 }); // a broken source cannot push it out
    planner.connected(0);
    expect(planner.plan(0).waiting).toBe('empty');
  });
});

describe('rate limit', () => {
  test('a token bucket: the burst at once, then one every 1/rate s; nextPlanAtMs says when', () => {
    const { outbox, planner } = setup({ ratePerSecond: 2, burst: 3, window: 64 });
    appendN(outbox, 40);
    planner.connected(0);
    const sentAt: number[] = [];
    let now = 0;
    while (now <= 10_000) {
      const plan = planner.plan(now);
      for (const p of plan.publish) {
        sentAt.push(now);
        planner.acknowledged(p.record.seq);
      }
      expect(plan.waiting).toBe('rate');
      now = plan.nextPlanAtMs!;
    }
    expect(sentAt.slice(0, 5)).toEqual([0, 0, 0, 500, 1000]);
    expect(sentAt.filter((t) => t <= 10_000)).toHaveLength(3 + 20);
    // in any window of T ms, at most burst + rate * T / 1000
    for (let i = 0; i < sentAt.length; i++) {
      for (let j = i; j < sentAt.length; j++) expect(j - i + 1).toBeLessThanOrEqual(3 + (2 * (sentAt[j]! - sentAt[i]!)) / 1000);
    }
  });

  test('by default (burst 1) publishes are at least 1/rate apart: any one-second window holds at most `rate`', () => {
    const { outbox, planner } = setup({ ratePerSecond: 10, burst: undefined, window: 64 });
    appendN(outbox, 60);
    planner.connected(0);
    const sentAt: number[] = [];
    let now = 0;
    while (sentAt.length < 60) {
      const plan = planner.plan(now);
      for (const p of plan.publish) {
        sentAt.push(now);
        planner.acknowledged(p.record.seq);
      }
      now = plan.nextPlanAtMs ?? now + 1;
    }
    expect(sentAt.slice(0, 4)).toEqual([0, 100, 200, 300]);
    for (let i = 1; i < sentAt.length; i++) expect(sentAt[i]! - sentAt[i - 1]!).toBeGreaterThanOrEqual(100);
    for (let i = 0; i < sentAt.length; i++) expect(sentAt.filter((t) => t >= sentAt[i]! && t < sentAt[i]! + 1000).length).toBeLessThanOrEqual(10);
  });

  test('an idle bucket refills only up to the burst', () => {
    const { outbox, planner } = setup({ ratePerSecond: 1, burst: 2, window: 64 });
    planner.connected(0);
    expect(planner.plan(0).waiting).toBe('empty');
    appendN(outbox, 10);
    expect(planner.plan(60_000).publish).toHaveLength(2);
    expect(planner.plan(60_000)).toMatchObject({ publish: [], waiting: 'rate', nextPlanAtMs: 61_000 });
  });
});

describe('in-flight window', () => {
  test('at most `window` unacknowledged; an acknowledgement frees a slot and releases the record', () => {
    const { outbox, planner } = setup({ window: 3, ratePerSecond: 1000, burst: 100 });
    appendN(outbox, 10);
    planner.connected(0);
    const first = planner.plan(0);
    expect(seqsOf(first.publish)).toEqual([1, 2, 3]);
    expect(first).toMatchObject({ waiting: 'window', nextPlanAtMs: undefined });
    expect(planner.inFlight).toBe(3);
    expect(planner.plan(1).publish).toEqual([]);
    expect(planner.acknowledged(2)).toBe(true); // out of order
    expect(outbox.peek(64).map((r) => r.seq)).not.toContain(2);
    expect(seqsOf(planner.plan(2).publish)).toEqual([4]);
    expect(planner.acknowledged(2)).toBe(false); // duplicate PUBACK
  });

  test('in flight across a reconnect: kept by default (the MQTT session resends them), replanned when asked', () => {
    for (const keep of [true, false]) {
      const { outbox, planner } = setup({ window: 4, keepInFlightOnReconnect: keep });
      appendN(outbox, 6);
      planner.connected(0);
      expect(seqsOf(planner.plan(0).publish)).toEqual([1, 2, 3, 4]);
      planner.acknowledged(1);
      planner.disconnected();
      planner.connected(5_000);
      const again = seqsOf(planner.plan(5_000).publish);
      expect(again).toEqual(keep ? [5] : [2, 3, 4, 5]);
    }
  });

  test('a publish that failed locally is planned again, in order', () => {
    const { outbox, planner } = setup({ window: 8 });
    appendN(outbox, 4);
    planner.connected(0);
    expect(seqsOf(planner.plan(0).publish)).toEqual([1, 2, 3, 4]);
    planner.failed(2);
    planner.failed(99); // unknown: ignored
    expect(seqsOf(planner.plan(1_000).publish)).toEqual([2]);
  });

  test('an acknowledgement for a record dropped meanwhile frees the slot and says so', () => {
    const { outbox, planner } = setup({ window: 2 }, 2);
    appendN(outbox, 2, 1000);
    planner.connected(0);
    expect(seqsOf(planner.plan(0).publish)).toEqual([1, 2]);
    appendN(outbox, 6, 1000); // drop-oldest erases sector 0 (records 1 to 3)
    expect(outbox.peek(1)[0]!.seq).toBeGreaterThan(2);
    expect(planner.acknowledged(1)).toBe(false);
    expect(planner.inFlight).toBe(1);
  });
});

describe('live and backlog', () => {
  function drainWithLiveTraffic(options: Partial<DrainPlannerOptions>): PlannedPublish[] {
    const { outbox, planner } = setup({ ratePerSecond: 1000, burst: 1, window: 1, ...options });
    appendN(outbox, 20); // backlog: 1 to 20
    planner.connected(0);
    const sent: PlannedPublish[] = [];
    for (let t = 0; t < 40; t++) {
      if (t % 2 === 0) appendN(outbox, 1); // a live reading every other step: 21, 22, ...
      const plan = planner.plan(t * 1000);
      for (const p of plan.publish) {
        sent.push(p);
        planner.acknowledged(p.record.seq);
      }
    }
    return sent;
  }

  test('1 live : 4 backlog by default; each stream in order; when one runs dry the other takes its turn', () => {
    const sent = drainWithLiveTraffic({});
    const pattern = sent.slice(0, 15).map((p) => (p.live ? 'L' : 'B')).join('');
    expect(pattern).toBe('LBBBBLBBBBLBBBB');
    const backlog = sent.filter((p) => !p.live).map((p) => p.record.seq);
    const live = sent.filter((p) => p.live).map((p) => p.record.seq);
    expect(backlog).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(live).toEqual([...live].sort((a, b) => a - b));
    expect(live[0]).toBe(21);
    // once the backlog is done, live readings go out as they come
    expect(sent.slice(-5).every((p) => p.live)).toBe(true);
    expect(new Set(sent.map((p) => p.record.seq)).size).toBe(sent.length);
  });

  test('{ live: 0, backlog: 1 } sends strictly in sequence order', () => {
    const sent = drainWithLiveTraffic({ interleave: { live: 0, backlog: 1 } });
    const seqs = sent.map((p) => p.record.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  });

  test('other ratios: 2 live : 1 backlog', () => {
    const sent = drainWithLiveTraffic({ interleave: { live: 2, backlog: 1 } });
    expect(sent.slice(0, 9).map((p) => (p.live ? 'L' : 'B')).join('')).toMatch(/^(LLB|LB)/);
    expect(sent.filter((p) => !p.live).map((p) => p.record.seq).slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
  });
});

test('bad options are refused', () => {
  const outbox = openMemory(new MemoryPartition(2));
  const base: DrainPlannerOptions = { deviceId: 'd', ratePerSecond: 1, startJitterMs: 0, random: seeded(1), window: 1 };
  expect(() => new DrainPlanner(outbox, { ...base, deviceId: '' })).toThrow(/deviceId/);
  expect(() => new DrainPlanner(outbox, { ...base, ratePerSecond: 0 })).toThrow(/ratePerSecond/);
  expect(() => new DrainPlanner(outbox, { ...base, burst: 0.5 })).toThrow(/burst/);
  expect(() => new DrainPlanner(outbox, { ...base, window: 65 })).toThrow(/window must be 1 to 64/);
  expect(() => new DrainPlanner(outbox, { ...base, interleave: { live: 0, backlog: 0 } })).toThrow(/interleave/);
  expect(() => new DrainPlanner(outbox, { ...base, startJitterMs: -1 })).toThrow(/start delays/);
});
