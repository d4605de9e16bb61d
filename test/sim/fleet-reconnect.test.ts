/**
 * A fleet coming back together after a site-wide outage (power and network),
 * scenarios/fleet-reconnect.json: the drain's rate limit and jittered start keep the hub's
 * busiest second under the drain rate x the fleet.
 */
import { readFileSync } from 'node:fs';
import type { EngineKind } from '../../host-sim/engines/engine';
import { parseScenario, startScenario } from '../../host-sim/scenario';

// 2 messages a second per device; without the limit each device would send its 20-reading backlog at once.
const scenario = parseScenario(readFileSync('scenarios/fleet-reconnect.json', 'utf8'));

describe.each<[EngineKind, number]>([
  ['node', 200],
  ['xs', 20],
])('a fleet coming back at once (%s engine, %i devices)', (engine, devices) => {
  test('they reconnect together after a site-wide outage: the hub never gets more than the drain rate x the fleet in one second', async () => {
    expect(scenario.config.drainRatePerSecond).toBe(2);
    const run = await startScenario(scenario, { engine, board: 'esp32-devkitc', devices });
    const summary = await run.run();
    expect(summary.devices).toBe(devices);
    expect(summary.powerCuts).toBe(devices);
    expect(summary.drainLimitPerSecond).toBe(2 * devices);
    expect(summary.peakPerSecond).toBeLessThanOrEqual(2 * devices);
    // The backlog did come back together: the busiest second is near the limit, not spread thin.
    expect(summary.peakPerSecond).toBeGreaterThan(devices);
    expect(summary).toMatchObject({ lost: 0, dropped: 0, outOfOrder: 0 });
    expect(summary.unique).toBe(summary.sent);
  }, 900_000); // 50–70 s alone; a loaded 2-core runner has taken 295 s
});
