/**
 * A thin link (host-sim/link-shaper.ts): the backlog drains at the link's speed and nothing is
 * lost (scenarios/thin-link.json), on both engines; and a link too thin for the TLS handshake to finish within
 * the connect timeout makes the device retry, never crash, until the link recovers.
 */
import { readFileSync } from 'node:fs';
import { parseScenario, startScenario } from '../../host-sim/scenario';
import type { SimEvent } from '../../host-sim/sim-event';
import { ENGINES } from '../support/simulate';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe.each(ENGINES)('a thin link (%s engine)', (engine) => {
  test('a backlog drains over a thin link at the link\'s speed: every reading exactly once, in order', async () => {
    const scenario = parseScenario(readFileSync('scenarios/thin-link.json', 'utf8'));
    const slow = scenario.events.find((event) => event.do === 'slow-link')!;
    expect(slow).toMatchObject({ atMs: 4 * HOUR, forMs: 6 * HOUR, bytesPerSecond: 100, latencyMs: 1000 });
    const events: SimEvent[] = [];
    const run = await startScenario(scenario, { engine, board: 'esp32-devkitc', sink: (event) => events.push(event) });
    const device = run.simulation.devices[0]!.id;
    const summary = await run.run();
    expect(summary).toMatchObject({ sent: 720, unique: 720, lost: 0, outOfOrder: 0, restarts: 0 });
    expect(events.filter((event) => event.type === 'error')).toEqual([]);

    // The readings stored during the 1h–4h outage go out over the thin link.
    const arrivedAt = new Map(run.ledger.arrivals(device).map((a) => [a.mid, a.at]));
    const backlog = run.ledger.storedIds(device, 4 * HOUR).filter((mid) => run.ledger.storedAt(device, mid)! >= HOUR + MINUTE);
    expect(backlog.length).toBeGreaterThanOrEqual(178);
    for (const mid of backlog) expect(arrivedAt.get(mid)).toBeGreaterThan(4 * HOUR);
    // Their payloads alone need this long at 100 bytes a second; at full speed the drain (10 a second) would take 18 s.
    const payloadBytes = new Map(events.filter((e) => e.type === 'telemetry' && typeof e.mid === 'string').map((e) => [e.mid as string, e.bytes as number]));
    const backlogBytes = backlog.reduce((sum, mid) => sum + payloadBytes.get(mid)!, 0);
    const drainedBy = Math.max(...backlog.map((mid) => arrivedAt.get(mid)!));
    expect(drainedBy - 4 * HOUR).toBeGreaterThanOrEqual((backlogBytes / 100) * 1000);
    // …and it drained over the thin link itself: the file's connectTimeoutMs of 60 s lets the handshake finish.
    expect(drainedBy).toBeLessThan(10 * HOUR);
    // Never more in ten seconds than the link carries; the smallest payload bounds the count.
    const smallest = Math.min(...payloadBytes.values());
    expect(run.ledger.busiest(10_000, 4 * HOUR, 10 * HOUR)).toBeLessThanOrEqual(Math.ceil((10 * 100) / smallest));
    // After 10 h the link is fast again.
    expect(run.simulation.devices[0]!.linkQuality).toBeUndefined();
  }, 180_000);
});

describe.each(ENGINES)('a link too thin for the handshake (%s engine)', (engine) => {
  test('connect timeouts are retried without a crash, the late handshakes are ignored, and nothing is lost', async () => {
    const scenario = parseScenario(
      JSON.stringify({
        duration: '3h',
        config: { telemetryIntervalMs: 60_000 },
        events: [
          // 40 bytes a second and 1 s each way: the TLS handshake's certificates alone take half a minute.
          { at: '30m', do: 'slow-link', for: '1h', bytesPerSecond: 40, latency: '1s' },
          { at: '40m', do: 'outage', for: '5m' },
        ],
      }),
    );
    // Each event with the simulation time it happened at (an event's own `t` counts from the device's boot).
    const events: (SimEvent & { at: number })[] = [];
    let now = () => 0;
    const run = await startScenario(scenario, { engine, board: 'esp32-devkitc', sink: (event) => events.push({ ...event, at: now() }) });
    now = () => run.simulation.scheduler.now();
    const summary = await run.run();
    expect(summary).toMatchObject({ lost: 0, outOfOrder: 0, restarts: 0 });
    expect(summary.unique).toBe(summary.sent);
    expect(events.filter((event) => event.type === 'error' || event.type === 'restart')).toEqual([]);
    const connects = events.filter((event) => event.type === 'connected').map((event) => event.at);
    const timeouts = events.filter((event) => event.type === 'disconnected' && /within 10000 ms/.test(String(event.reason)));
    expect(timeouts.length).toBeGreaterThanOrEqual(3);
    for (const at of timeouts.map((event) => event.at)) expect(at).toBeGreaterThan(45 * MINUTE);
    // No connection from the outage's end until the link is fast again, then one.
    expect(connects.filter((t) => t > 45 * MINUTE && t < 90 * MINUTE)).toEqual([]);
    expect(connects.some((t) => t >= 90 * MINUTE)).toBe(true);
  }, 180_000);
});
