/**
 * Bad updates on both engines: an image that throws at boot, and one that boots but cannot
 * reach its hub, so its self-test times out. Either way the bootloader (ESP-IDF's rollback state machine) returns to the old
 * image, which reports `rolled-back` with the reason in the twin and keeps working.
 */
import * as path from 'node:path';
import { bundleFirmware } from '../../host-sim/engines/firmware-bundle';
import { generateKeyPair } from '../../host-sim/ota/keys';
import { signImage } from '../../host-sim/ota/manifest';
import { ImageServer } from '../support/image-server';
import { ENGINES, startSimulation } from '../support/simulate';

const DEVICE = 'esp32-devkitc-001';
const MINUTE = 60_000;
const fixture = (name: string) => path.join(__dirname, '..', 'fixtures', name);

describe.each(ENGINES)('OTA rollback on the %s engine', (engine) => {
  const keys = generateKeyPair();

  test.each([
    ['throws at boot', 'crashing-firmware.ts', 'crashing-firmware'],
    ['cannot connect', 'unreachable-firmware.ts', 'unreachable-firmware'],
  ])('an update that %s is rolled back and reported', async (_what, module, marker) => {
    const images = await ImageServer.start();
    const run = await startSimulation({ engine, hub: true, config: { otaPublicKey: Buffer.from(keys.publicKeyRaw).toString('hex') } });
    try {
      await run.simulation.run(MINUTE);
      const { image, envelope } = signImage({
        bundle: bundleFirmware({ board: 'esp32-devkitc', firmwareModule: fixture(module) }),
        version: '2.0.0',
        board: 'esp32-devkitc',
        url: images.url('bad.bin'),
        privateKeyPem: keys.privateKeyPem,
      });
      images.put('bad.bin', image);
      const hub = run.simulation.localHub!;
      hub.service.updateTwin(DEVICE, { properties: { desired: { firmware: envelope } } });
      await run.simulation.run(run.simulation.scheduler.now() + 8 * MINUTE);

      const bad = run.of(marker, DEVICE);
      expect(bad.length).toBeGreaterThanOrEqual(1); // the bad image did run (its own boot marker)
      expect(bad[0].version).toBe('2.0.0');
      const boots = run.of('boot', DEVICE).map((e) => e.version);
      expect(boots[0]).toBe('1.0.0');
      expect(boots.at(-1)).toBe('1.0.0'); // back on the old image
      expect(run.of('bootloader', DEVICE).some((e) => e.rolledBack === true)).toBe(true);
      const reported = hub.store.twins.get(DEVICE)!.reported.properties as { firmwareVersion: string; firmwareUpdate: { state: string; reason?: string; targetVersion?: string } };
      expect(reported.firmwareVersion).toBe('1.0.0');
      expect(reported.firmwareUpdate).toMatchObject({ state: 'rolled-back', targetVersion: '2.0.0' });
      expect(reported.firmwareUpdate.reason).toEqual(expect.any(String));
      const lastTelemetry = run.of('telemetry', DEVICE).at(-1)!;
      expect(lastTelemetry.sent).toBe(true); // and it keeps working
    } finally {
      await run.simulation.stop();
      await images.close();
    }
  });
});
