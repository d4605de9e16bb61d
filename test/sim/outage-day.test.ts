/**
 * Store-and-forward on virtual time, both engines: scenarios/day-of-outages.json, a day of
 * outages with lost acknowledgements, broker restarts, device restarts and a power cut in the
 * middle of an outbox write, accounted reading by reading at the local hub (which drops
 * duplicates by message id).
 */
import { readFileSync } from 'node:fs';
import { parseScenario, startScenario } from '../../host-sim/scenario';
import type { SimEvent } from '../../host-sim/sim-event';
import { ENGINES } from '../support/simulate';

const HOUR = 3_600_000;

describe.each(ENGINES)('a day of outages (%s engine)', (engine) => {
  test('24 h, a reading a minute, 30 % offline, acknowledgements lost twice, 2 broker restarts, 3 device restarts, a power cut during an outbox write: every reading exactly once, in order', async () => {
    const scenario = parseScenario(readFileSync('scenarios/day-of-outages.json', 'utf8'));
    expect(scenario.durationMs).toBe(24 * HOUR);
    expect(scenario.config.telemetryIntervalMs).toBe(60_000);
    const outages = scenario.events.flatMap((e) => (e.do === 'outage' && e.kind === 'down' ? [e] : []));
    const offline = outages.reduce((sum, o) => sum + o.forMs, 0);
    expect(Math.abs(offline - 0.3 * 24 * HOUR)).toBeLessThan(60_000);
    expect(Math.max(...outages.map((o) => o.forMs))).toBeLessThanOrEqual(3 * HOUR);

    const events: SimEvent[] = [];
    const run = await startScenario(scenario, { engine, board: 'esp32-devkitc', sink: (e) => events.push(e) });
    const device = run.simulation.devices[0]!.id;
    const summary = await run.run();

    // What the devices went through.
    expect(events.filter((e) => e.type === 'scenario' && e.event === 'broker-restart')).toHaveLength(2);
    expect(summary.restarts).toBe(3);
    expect(summary.powerCuts).toBe(1);
    expect(events.filter((e) => e.type === 'power-cut')).toHaveLength(1);
    expect(summary.connections).toBeGreaterThan(outages.length);

    // Every reading stored during the day arrived once (duplicates were dropped), none is lost.
    const stored = run.ledger.storedIds(device, 24 * HOUR);
    expect(stored.length).toBeGreaterThanOrEqual(24 * 60 - 2); // one a minute, less the one the power cut tore
    const received = run.ledger.receivedIds(device);
    expect(new Set(received).size).toBe(received.length);
    const receivedSet = new Set(received);
    expect(stored.filter((mid) => !receivedSet.has(mid))).toEqual([]);
    expect(summary).toMatchObject({ sent: stored.length, unique: stored.length, dropped: 0, notStored: 0, lost: 0, outOfOrder: 0 });
    expect(summary.received).toBe(summary.unique + summary.duplicates);
    // The lost acknowledgements made the device send again what the hub had: dropped as duplicates.
    expect(summary.duplicates).toBeGreaterThan(0);
  }, 300_000);
});
