/**
 * Benchmark firmware: appends to and drains the persistent outbox on the device's `outbox`
 * partition in measured batches. Phases, one timer tick each: idle (the cost of a batch),
 * append (OPS telemetry-sized records), drain (OPS records read and released in order).
 */
import type { Hal } from '../../hal';
import { Outbox } from '../../firmware/store/outbox';

export const OPS = 50;
export const PHASES = ['idle', 'append', 'drain'] as const;

export function boot(hal: Hal): void {
  const random = () => hal.crypto.randomBytes(1)[0] / 256;
  const outbox = Outbox.open(hal.flash.open('outbox'), { overflow: 'drop-oldest', random });
  const payload = hal.text.encode(JSON.stringify({ seq: 1234, uptimeMs: 3_600_000, readings: { sht31: { temperature: 21.53, humidity: 48.2 } } }));
  let round = 0;
  hal.timers.repeat(() => {
    const phase = PHASES[round++ % PHASES.length];
    if (phase === 'append') {
      for (let i = 0; i < OPS; i++) outbox.append(payload, { bootCount: 1, uptimeMs: hal.clock.now() });
    } else if (phase === 'drain') {
      for (const record of outbox.peek(OPS)) outbox.release(record.seq);
    }
    hal.log.event('bench', { phase, ops: phase === 'idle' ? 0 : OPS });
  }, 1000);
}
