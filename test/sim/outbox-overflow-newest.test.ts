/**
 * An outage longer than the outbox holds, on virtual time, with the drop-newest policy: the
 * device refuses new readings while full and counts them; every stored reading arrives.
 */
import { runOverflow } from '../support/overflow-run';

describe('an outage longer than the outbox holds', () => {
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
