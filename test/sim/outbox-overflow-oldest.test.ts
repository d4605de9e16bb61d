/**
 * An outage longer than the outbox holds, on virtual time, with the drop-oldest policy: the
 * device erases the oldest sector, counts what it erased, and exactly those readings are
 * missing at the hub.
 */
import { runOverflow, seqOf } from '../support/overflow-run';

describe('an outage longer than the outbox holds', () => {
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
});
