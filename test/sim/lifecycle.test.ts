/**
 * Device lifecycle on both engines: restarts keep the flash and start a fresh engine, with
 * the reset reason a real device would report; an exception after boot restarts the device
 * instead of killing the simulator; an exception at boot is an error the caller sees.
 */
import * as path from 'node:path';
import { FirmwareError } from '../../host-sim/engines/engine';
import { ENGINES, startSimulation, type TestRun } from '../support/simulate';

const fixture = (name: string) => path.join(__dirname, '..', 'fixtures', name);

describe.each(ENGINES)('device lifecycle on the %s engine', (engine) => {
  let run: TestRun;

  beforeAll(async () => {
    run = await startSimulation({ engine, firmwareModule: fixture('lifecycle-firmware.ts') });
    await run.simulation.run(10_000);
  });

  afterAll(() => run?.simulation.stop());

  test('boots three times: power-on, software restart, exception restart; KV survives each', () => {
    const boots = run.of('boot-count').map((e) => [e.count, e.resetReason]);
    expect(boots).toEqual([
      [1, 'power-on'],
      [2, 'software'],
      [3, 'exception'],
    ]);
    expect(run.of('restart').map((e) => e.reason)).toEqual(['software', 'exception']);
  });

  test('the exception is reported as an error event with its message', () => {
    const errors = run.of('error');
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toContain('deliberate failure after boot');
    expect(errors[0].during).toBe('event');
  });

  test('device time starts again at each boot', () => {
    for (const boot of run.of('boot-count')) expect(boot.t).toBe(0);
  });

  if (engine === 'xs') {
    test('the firmware sees only the globals an ESP32 build has', () => {
      const globals = run.of('boot-count')[0].globals as { [name: string]: string };
      for (const [name, type] of Object.entries(globals)) expect([name, type]).toEqual([name, 'undefined']);
    });
  }

  test('an exception at boot fails the start with the firmware message', async () => {
    const events: unknown[] = [];
    const start = startSimulation({ engine, firmwareModule: fixture('boot-throwing-firmware.ts'), sink: (e) => events.push(e) });
    await expect(start).rejects.toThrow(FirmwareError);
    await expect(start).rejects.toThrow(/sensor table is empty/);
  });
});
