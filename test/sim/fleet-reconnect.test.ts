/**
 * A fleet coming back together after a site-wide outage (power and network): the drain's rate
 * limit and jittered start keep the hub's busiest second under the drain rate x the fleet.
 */
import { parseScenario, startScenario } from '../../host-sim/scenario';

describe('a fleet coming back at once', () => {
  test('200 devices (node engine) reconnect together after a site-wide outage: the hub never gets more than the drain rate x the fleet in one second', async () => {
    const scenario = parseScenario(
      JSON.stringify({
        description: 'a site loses power and network; everything comes back at once',
        duration: '28m',
        devices: 200,
        // 2 messages a second per device: 400/s for the fleet; without the limit each device would send its 20-reading backlog at once.
        config: { telemetryIntervalMs: 60_000, drainRatePerSecond: 2 },
        events: [
          { at: '2m', do: 'outage', for: '20m' },
          { at: '22m', do: 'power-cut' },
        ],
      }),
    );
    const run = await startScenario(scenario, { engine: 'node', board: 'esp32-devkitc' });
    const summary = await run.run();
    expect(summary.devices).toBe(200);
    expect(summary.powerCuts).toBe(200);
    expect(summary.drainLimitPerSecond).toBe(400);
    expect(summary.peakPerSecond).toBeLessThanOrEqual(400);
    // The backlog did come back together: the busiest second is near the limit, not spread thin.
    expect(summary.peakPerSecond).toBeGreaterThan(200);
    expect(summary).toMatchObject({ lost: 0, dropped: 0, outOfOrder: 0 });
    expect(summary.unique).toBe(summary.sent);
  }, 300_000);

  test('20 devices (xs engine) the same way: under 40 messages a second', async () => {
    const scenario = parseScenario(
      JSON.stringify({
        duration: '28m',
        devices: 20,
        config: { telemetryIntervalMs: 60_000, drainRatePerSecond: 2 },
        events: [
          { at: '2m', do: 'outage', for: '20m' },
          { at: '22m', do: 'power-cut' },
        ],
      }),
    );
    const run = await startScenario(scenario, { engine: 'xs', board: 'esp32-devkitc' });
    const summary = await run.run();
    expect(summary.powerCuts).toBe(20);
    expect(summary.peakPerSecond).toBeLessThanOrEqual(40);
    expect(summary.peakPerSecond).toBeGreaterThan(20);
    expect(summary).toMatchObject({ lost: 0, dropped: 0, outOfOrder: 0 });
  }, 300_000);
});
