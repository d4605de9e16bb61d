/**
 * An outage longer than the outbox holds, on virtual time: the overflow policy decides which
 * readings go, the device counts them, and exactly those are missing at the hub.
 */
import { readFileSync } from 'node:fs';
import { parseScenario, startScenario } from '../../host-sim/scenario';
import type { SimEvent } from '../../host-sim/sim-event';

const HOUR = 3_600_000;

/** The sequence number in a message id (`device-logid-seq`). */
const seqOf = (mid: string) => Number(mid.slice(mid.lastIndexOf('-') + 1));

describe('an outage longer than the outbox holds', () => {
  // scenarios/outbox-overflow.json: a reading every 5 s for 12 h 40 min offline, about 9,100
  // readings for an outbox of about 8,400; each test picks the policy.
  const scenario = parseScenario(readFileSync('scenarios/outbox-overflow.json', 'utf8'));

  async function runOverflow(engine: 'node' | 'xs', policy: string) {
    const events: SimEvent[] = [];
    const reported: { dropped: number; queued: number }[] = [];
    const run = await startScenario(scenario, {
      engine,
      config: { outboxOverflow: policy },
      board: 'esp32-devkitc',
      sink: (e) => events.push(e),
      onHubStarted: (hub) =>
        hub.front.on('reported', (r: { patch: { outbox?: { dropped: number; queued: number } } }) => {
          if (r.patch.outbox) reported.push(r.patch.outbox);
        }),
    });
    const device = run.simulation.devices[0]!.id;
    const summary = await run.run();
    return { events, reported, summary, stored: run.ledger.storedIds(device, 13 * HOUR), received: new Set(run.ledger.receivedIds(device)) };
  }

  test('drop-oldest (xs engine): exactly the readings counted as dropped are missing, and they are the oldest of the outage', async () => {
    const { events, reported, summary, stored, received } = await runOverflow('xs', 'drop-oldest');
    const missing = stored.filter((mid) => !received.has(mid));
    const counted = events.reduce((sum, e) => sum + (typeof e.droppedOldest === 'number' ? e.droppedOldest : 0), 0);
    expect(counted).toBeGreaterThan(100);
    expect(missing).toHaveLength(counted);
    expect(summary).toMatchObject({ dropped: counted, lost: 0, outOfOrder: 0 });
    // The twin said so too: the counters reported when the link came back.
    expect(reported.some((r) => r.dropped === counted)).toBe(true);
    // The policy chose: the missing ones are older than every reading of the outage that arrived.
    const firstMissing = Math.min(...missing.map(seqOf));
    const laterArrivals = stored.filter((mid) => received.has(mid) && seqOf(mid) > firstMissing).map(seqOf);
    expect(Math.max(...missing.map(seqOf))).toBeLessThan(Math.min(...laterArrivals));
    expect(received.has(stored[stored.length - 1]!)).toBe(true); // the newest reading got through
  }, 400_000);

  test('drop-newest (node engine): the readings refused when full are the ones missing, the newest of the outage; all stored ones arrive', async () => {
    const { events, reported, summary, stored, received } = await runOverflow('node', 'drop-newest');
    const readings = events.filter((e) => e.type === 'telemetry' || e.type === 'alert');
    const refused = readings.filter((e) => e.sent === false);
    expect(refused.length).toBeGreaterThan(100);
    expect(refused.every((e) => /full/.test(String(e.reason)))).toBe(true);
    expect(stored.filter((mid) => !received.has(mid))).toEqual([]);
    expect(summary).toMatchObject({ dropped: refused.length, lost: 0, outOfOrder: 0 });
    expect(reported.some((r) => r.dropped === refused.length)).toBe(true);
    // The policy chose: once the outbox was full, every later reading of the outage was refused,
    // until the drain made room again after the link came back.
    const firstRefused = readings.indexOf(refused[0]!);
    const lastRefused = readings.indexOf(refused[refused.length - 1]!);
    expect(readings.slice(firstRefused, lastRefused + 1).every((e) => e.sent === false)).toBe(true);
  }, 400_000);
});
