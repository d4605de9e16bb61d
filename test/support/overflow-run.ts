/**
 * Runs scenarios/outbox-overflow.json (a reading every 5 s for 12 h 40 min offline: about
 * 9,100 readings for an outbox of about 8,400) with one overflow policy, and collects what
 * the device said, what the twin was told and what the hub received.
 */
import { readFileSync } from 'node:fs';
import type { EngineKind } from '../../host-sim/engines/engine';
import { parseScenario, startScenario } from '../../host-sim/scenario';
import type { SimEvent } from '../../host-sim/sim-event';

const HOUR = 3_600_000;

/** The sequence number in a message id (`device-logid-seq`). */
export const seqOf = (mid: string) => Number(mid.slice(mid.lastIndexOf('-') + 1));

export async function runOverflow(engine: EngineKind, policy: 'drop-oldest' | 'drop-newest') {
  const scenario = parseScenario(readFileSync('scenarios/outbox-overflow.json', 'utf8'));
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
