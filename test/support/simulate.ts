/** Runs a simulation in a test and collects what it reports. */
import type { EngineKind } from '../../host-sim/engines/engine';
import type { SimEvent } from '../../host-sim/sim-event';
import { Simulation, type SimulationOptions } from '../../host-sim/simulation';

export const ENGINES: EngineKind[] = ['node', 'xs'];

export interface TestRun {
  simulation: Simulation;
  events: SimEvent[];
  of(type: string, device?: string): SimEvent[];
}

export async function startSimulation(options: Partial<SimulationOptions> & { engine: EngineKind }): Promise<TestRun> {
  const events: SimEvent[] = [];
  const simulation = await Simulation.start({
    devices: 1,
    board: 'esp32-devkitc',
    timeMode: 'virtual',
    sink: (event) => events.push(event),
    ...options,
  });
  return {
    simulation,
    events,
    of: (type, device) => events.filter((e) => e.type === type && (device === undefined || e.device === device)),
  };
}
