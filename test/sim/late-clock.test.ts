/**
 * Readings taken before the wall clock is known are stored with uptime and go out with their
 * creation time corrected once the clock is set (scenarios/late-clock.json), on both engines.
 */
import { readFileSync } from 'node:fs';
import { parseScenario, startScenario } from '../../host-sim/scenario';
import { ENGINES } from '../support/simulate';

const MINUTE = 60_000;

describe.each(ENGINES)('a late clock (%s engine)', (engine) => {
  test('readings sent before time sync carry no $.ctime; those still queued when the clock is set carry the corrected time of their reading', async () => {
    const scenario = parseScenario(readFileSync('scenarios/late-clock.json', 'utf8'));
    const arrivals = new Map<string, string | undefined>();
    const run = await startScenario(scenario, {
      engine,
      board: 'esp32-devkitc',
      onHubStarted: (hub) =>
        hub.front.on('telemetry', (m: { systemProperties: { [name: string]: string } }) => arrivals.set(m.systemProperties.messageId!, m.systemProperties.creationTimeUtc)),
    });
    const device = run.simulation.devices[0]!.id;
    const simulation = run.simulation;
    const summary = await run.run();
    expect(summary).toMatchObject({ lost: 0, outOfOrder: 0 });
    expect(summary.unique).toBe(summary.sent);

    const stored = run.ledger.storedIds(device, 2 * 60 * MINUTE);
    const takenAt = (mid: string) => run.ledger.storedAt(device, mid)!;
    const live = stored.filter((mid) => takenAt(mid) < 30 * MINUTE);
    const queuedWithoutClock = stored.filter((mid) => takenAt(mid) >= 30 * MINUTE + MINUTE && takenAt(mid) < 60 * MINUTE);
    const afterSync = stored.filter((mid) => takenAt(mid) > 60 * MINUTE);
    expect(live.length).toBeGreaterThan(20);
    expect(queuedWithoutClock.length).toBeGreaterThan(20);
    expect(afterSync.length).toBeGreaterThan(20);
    // Sent while the clock was unknown: no creation time.
    for (const mid of live) expect(arrivals.get(mid)).toBeUndefined();
    // Stored with uptime, sent after the clock was set: the wall time of the reading, to the ms.
    for (const mid of [...queuedWithoutClock, ...afterSync]) {
      expect(arrivals.get(mid)).toBe(new Date(simulation.wallTime(takenAt(mid))).toISOString());
    }
  }, 120_000);
});
