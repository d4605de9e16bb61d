/**
 * Power cut at every flash write and erase of a whole update, one device per cut point
 * (Node engine: hundreds of devices in one simulation). Whatever the cut tore, the device
 * always boots a valid image and ends on the old version or the new one, never neither.
 */
import { bundleFirmware } from '../../host-sim/engines/firmware-bundle';
import { armPowerCut } from '../../host-sim/flash/power-cut';
import { generateKeyPair } from '../../host-sim/ota/keys';
import { signImage } from '../../host-sim/ota/manifest';
import { ImageServer } from '../support/image-server';
import { startSimulation, type TestRun } from '../support/simulate';

const MINUTE = 60_000;
const keys = generateKeyPair();
let images: ImageServer;
let envelope: unknown;

beforeAll(async () => {
  images = await ImageServer.start();
  const signed = signImage({ bundle: bundleFirmware({ board: 'esp32-devkitc' }), version: '1.1.0', board: 'esp32-devkitc', url: images.url('fw.bin'), privateKeyPem: keys.privateKeyPem });
  images.put('fw.bin', signed.image);
  envelope = signed.envelope;
});
afterAll(() => images?.close());

async function fleet(devices: number): Promise<TestRun> {
  const run = await startSimulation({ engine: 'node', devices, hub: true, config: { otaPublicKey: Buffer.from(keys.publicKeyRaw).toString('hex') } });
  await run.simulation.run(MINUTE);
  return run;
}

function update(run: TestRun): void {
  for (const device of run.simulation.devices) {
    run.simulation.localHub!.service.updateTwin(device.id, { properties: { desired: { firmware: envelope } } });
  }
}

test('every write and erase of an update, cut: always a valid image, old or new', async () => {
  // A reference update tells how many flash mutations an update makes.
  const reference = await fleet(1);
  let mutations = 0;
  const image = reference.simulation.devices[0].flashImage!;
  image.onBeforeMutation = () => void mutations++;
  update(reference);
  await reference.simulation.run(reference.simulation.scheduler.now() + 3 * MINUTE);
  image.onBeforeMutation = undefined;
  expect(reference.of('boot').at(-1)!.version).toBe('1.1.0');
  await reference.simulation.stop();
  expect(mutations).toBeGreaterThan(150);

  const run = await fleet(mutations);
  const cuts = run.simulation.devices.map((device, index) => armPowerCut(device.flashImage!, index, () => 0.5));
  update(run);
  await run.simulation.run(run.simulation.scheduler.now() + 10 * MINUTE);
  await run.simulation.stop();

  expect(cuts.filter((cut) => cut.fired)).toHaveLength(mutations);
  expect(run.of('power-cut')).toHaveLength(mutations);
  expect(run.events.filter((e) => e.type === 'error' && e.during === 'bootloader')).toEqual([]);
  const finalVersions = new Map<string, unknown>();
  for (const boot of run.of('boot')) finalVersions.set(boot.device, boot.version);
  expect(finalVersions.size).toBe(mutations);
  for (const version of finalVersions.values()) expect(['1.0.0', '1.1.0']).toContain(version);
  // The agent resumes after the power comes back, so (almost) every device completes the update.
  const updated = [...finalVersions.values()].filter((v) => v === '1.1.0').length;
  expect(updated).toBeGreaterThanOrEqual(mutations - 2);
}, 600_000);
