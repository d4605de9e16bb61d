/**
 * bench/footprint: the firmware's footprint on the real XS engine, at steady state.
 * Prints one JSON object:
 * - heapSlotsAfterGc: slots in use after a collection (engine total); firmwareSlots, beyond
 *   the bare engine (whose built-ins live in ROM on the device); stateSlots, beyond the loaded
 *   firmware code (which is preloaded into flash on the device): the RAM the firmware's state
 *   needs there, at 16 bytes a slot;
 * - computePerTelemetryCycle: XS compute steps for one telemetry interval (sample, publish,
 *   keepalive), averaged over several intervals;
 * - snapshotBytes: the size of an XS heap snapshot (xsnap's `w` command).
 * Usage: npx ts-node --transpile-only bench/footprint.ts [--minutes N]
 */
import type { SimEvent } from '../host-sim/sim-event';
import { Simulation } from '../host-sim/simulation';

async function main(): Promise<void> {
  const minutesArg = process.argv.indexOf('--minutes');
  const minutes = minutesArg > 0 ? Number(process.argv[minutesArg + 1]) : 30;
  const events: SimEvent[] = [];
  const simulation = await Simulation.start({
    engine: 'xs',
    devices: 1,
    board: 'esp32-devkitc',
    timeMode: 'virtual',
    sink: (event) => events.push(event),
  });
  const wallStart = performance.now();
  await simulation.run(minutes * 60_000);
  const wallMs = performance.now() - wallStart;
  const device = simulation.devices[0];
  const atRest = await device.measure();
  const snapshotBytes = await device.currentEngine!.snapshotSize!();
  await simulation.stop();

  // Compute per cycle: every meter after the first two cycles (warm-up), divided by the cycles.
  const telemetry = events.filter((e) => e.type === 'telemetry');
  const from = telemetry[2].t;
  const to = telemetry[telemetry.length - 1].t;
  const cycles = telemetry.length - 3;
  const compute = events.filter((e) => e.type === 'meter' && e.t > from && e.t <= to).reduce((sum, e) => sum + (e.compute as number), 0);
  const firmwareSlots = atRest!.firmwareSlots;

  console.log(
    JSON.stringify(
      {
        bench: 'footprint',
        engine: 'xs',
        simulatedMinutes: minutes,
        telemetryMessages: telemetry.length,
        heapSlotsAfterGc: atRest!.heapSlots,
        firmwareSlotsAfterGc: firmwareSlots,
        stateSlotsAfterGc: atRest!.stateSlots,
        stateHeapBytesOnDevice: atRest!.stateSlots * 16,
        computePerTelemetryCycle: Math.round(compute / cycles),
        snapshotBytes,
        wallMs: Math.round(wallMs),
      },
      null,
      2,
    ),
  );
}

main().catch((error) => {
  console.error(`bench/footprint: ${error.message}`);
  process.exitCode = 1;
});
