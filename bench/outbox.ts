/**
 * bench/outbox: what the persistent outbox costs. Prints one JSON object:
 * - xs: compute steps per append and per drained (read and released) record on the real
 *   XS engine, through the HAL's flash (a batch of 50 less an idle batch, medians);
 * - wear: erases per sector for one simulated day at one reading a minute (each reading
 *   appended, then released after its acknowledgement), on the esp32-devkitc outbox partition;
 * - node: records a full outbox holds and the time to drain it on the Node engine.
 * Usage: npx ts-node --transpile-only bench/outbox.ts [--rounds N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import esp32DevkitC from '../boards/esp32-devkitc';
import { Outbox } from '../firmware/store/outbox';
import { DeviceFlash } from '../host-sim/flash/device-flash';
import { FlashImage } from '../host-sim/flash/flash-image';
import { OPS, PHASES } from './firmware/outbox-ops';
import { median, xsPhaseMeters } from './xs-phases';

const PAYLOAD = new TextEncoder().encode(JSON.stringify({ seq: 1234, uptimeMs: 3_600_000, readings: { sht31: { temperature: 21.53, humidity: 48.2 } } }));

async function xsFigures(rounds: number) {
  const byPhase = await xsPhaseMeters('outbox-ops.ts', rounds * PHASES.length * 1000 + 500);
  const compute = (phase: string) => median(byPhase.get(phase)!.compute);
  const per = (phase: string) => Math.round((compute(phase) - compute('idle')) / OPS);
  return { computePerAppend: per('append'), computePerDrainedRecord: per('drain') };
}

function withOutbox<T>(work: (outbox: Outbox) => T): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'thingkit-bench-outbox-'));
  const image = FlashImage.open(path.join(dir, 'flash.bin'), esp32DevkitC);
  try {
    let seed = 1;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    return work(Outbox.open(new DeviceFlash(image).open('outbox'), { overflow: 'drop-oldest', random }));
  } finally {
    image.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function wearFigures() {
  return withOutbox((outbox) => {
    for (let minute = 0; minute < 24 * 60; minute++) {
      const { seq } = outbox.append(PAYLOAD, { bootCount: 1, uptimeMs: minute * 60_000 });
      outbox.release(seq);
    }
    const erases = Array.from(outbox.eraseCounts().sinceOpen);
    const total = erases.reduce((a, b) => a + b, 0);
    return {
      readingsPerDay: 24 * 60,
      sectors: erases.length,
      erasesPerDay: total,
      meanErasesPerSectorPerDay: +(total / erases.length).toFixed(3),
      maxErasesPerSectorPerDay: Math.max(...erases),
    };
  });
}

function drainFigures() {
  return withOutbox((outbox) => {
    let records = 0;
    for (;;) {
      const { dropped } = outbox.append(PAYLOAD, { bootCount: 1, uptimeMs: records * 60_000 });
      if (dropped > 0) break; // full: the next append pushed the oldest out
      records++;
    }
    const start = performance.now();
    let drained = 0;
    for (;;) {
      const batch = outbox.peek(64);
      if (batch.length === 0) break;
      for (const record of batch) outbox.release(record.seq);
      drained += batch.length;
    }
    // recordsBeforeFull: appends before the first one that dropped the oldest sector; drained: what it then held.
    return { recordsBeforeFull: records, payloadBytes: PAYLOAD.length, drained, drainMs: Math.round(performance.now() - start) };
  });
}

async function main(): Promise<void> {
  const roundsArg = process.argv.indexOf('--rounds');
  const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 5;
  const xs = await xsFigures(rounds);
  console.log(JSON.stringify({ bench: 'outbox', rounds, xs, wear: wearFigures(), node: drainFigures() }, null, 2));
}

main().catch((error) => {
  console.error(`bench/outbox: ${error.message}`);
  process.exitCode = 1;
});
