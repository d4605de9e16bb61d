/**
 * Shared by the benchmarks that run a bench firmware (bench/firmware/*-ops.ts) on one XS
 * device: the firmware reports a `bench` event per phase of work, and the meter of the batch
 * that did the work follows it. Returns, per phase, those meters' compute steps and heap slots.
 */
import * as path from 'node:path';
import type { SimEvent } from '../host-sim/sim-event';
import { Simulation } from '../host-sim/simulation';

export interface PhaseMeters {
  compute: number[];
  stateSlots: number[];
}

export async function xsPhaseMeters(firmware: string, durationMs: number): Promise<Map<string, PhaseMeters>> {
  const events: SimEvent[] = [];
  const simulation = await Simulation.start({
    engine: 'xs',
    devices: 1,
    board: 'esp32-devkitc',
    timeMode: 'virtual',
    firmwareModule: path.join(__dirname, 'firmware', firmware),
    sink: (event) => events.push(event),
  });
  await simulation.run(durationMs);
  await simulation.stop();
  const byPhase = new Map<string, PhaseMeters>();
  for (let i = 0; i < events.length - 1; i++) {
    if (events[i]!.type !== 'bench' || events[i + 1]!.type !== 'meter') continue;
    const phase = events[i]!.phase as string;
    const entry = byPhase.get(phase) ?? { compute: [], stateSlots: [] };
    entry.compute.push(events[i + 1]!.compute as number);
    entry.stateSlots.push(events[i + 1]!.stateSlots as number);
    byPhase.set(phase, entry);
  }
  return byPhase;
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
