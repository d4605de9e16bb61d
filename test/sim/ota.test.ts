/**
 * Over-the-air update end to end on both engines: a signed manifest set as a desired
 * property takes the device from 1.0.0 to 1.1.0 through download, verification, the
 * bootloader's new → pending-verify → valid states, and the self-test; a tampered manifest
 * is refused with the reason in the twin while the old image keeps running.
 */
import { OtaOps } from '../../host-sim/boot/bootloader';
import { OtaImgState } from '../../host-sim/boot/otadata';
import { bundleFirmware } from '../../host-sim/engines/firmware-bundle';
import { generateKeyPair } from '../../host-sim/ota/keys';
import { signImage } from '../../host-sim/ota/manifest';
import { ImageServer } from '../support/image-server';
import { ENGINES, startSimulation, type TestRun } from '../support/simulate';

const DEVICE = 'esp32-devkitc-001';
const MINUTE = 60_000;

describe.each(ENGINES)('OTA on the %s engine', (engine) => {
  let run: TestRun;
  let images: ImageServer;
  const keys = generateKeyPair();

  beforeAll(async () => {
    images = await ImageServer.start();
    run = await startSimulation({
      engine,
      hub: true,
      config: { otaPublicKey: Buffer.from(keys.publicKeyRaw).toString('hex') },
    });
    await run.simulation.run(MINUTE);
  });
  afterAll(async () => {
    await run?.simulation.stop();
    await images?.close();
  });

  const hub = () => run.simulation.localHub!;
  const reported = () => hub().store.twins.get(DEVICE)!.reported.properties as { [key: string]: any };
  const signedFor = (version: string, board: string) => {
    const { image, envelope } = signImage({ bundle: bundleFirmware({ board }), version, board, url: images.url(`fw-${board}-${version}.bin`), privateKeyPem: keys.privateKeyPem });
    images.put(`fw-${board}-${version}.bin`, image);
    return envelope;
  };
  const flipped = (version: string) => {
    const { image, envelope } = signImage({ bundle: bundleFirmware({ board: 'esp32-devkitc' }), version, board: 'esp32-devkitc', url: images.url(`flipped-${version}.bin`), privateKeyPem: keys.privateKeyPem });
    const corrupt = image.slice();
    corrupt[5000] ^= 0x20;
    images.put(`flipped-${version}.bin`, corrupt);
    return envelope;
  };
  const signed = (version: string) => {
    const { image, envelope } = signImage({ bundle: bundleFirmware({ board: 'esp32-devkitc' }), version, board: 'esp32-devkitc', url: images.url(`fw-${version}.bin`), privateKeyPem: keys.privateKeyPem });
    images.put(`fw-${version}.bin`, image);
    return { image, envelope };
  };

  test('a tampered manifest is refused and the device keeps running 1.0.0', async () => {
    const { envelope } = signed('1.0.5');
    const tampered = { ...envelope, manifest: { ...envelope.manifest, size: envelope.manifest.size + 1 } };
    hub().service.updateTwin(DEVICE, { properties: { desired: { firmware: tampered } } });
    await run.simulation.run(run.simulation.scheduler.now() + MINUTE);
    const refusals = run.of('ota', DEVICE).filter((e) => e.state === 'refused' || e.state === 'failed');
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(refusals.at(-1))).toMatch(/signature/i);
    expect(run.of('boot', DEVICE)).toHaveLength(1);
  });

  test.each([
    ['another board', (v: string) => signedFor(v, 'esp32-s3-devkitc-1'), /board/i],
    ['an older version', () => signed('0.9.0').envelope, /newer|downgrade|older/i],
    ['a flipped byte in the image', (v: string) => flipped(v), /sha-?256|hash|digest/i],
  ])('%s is refused with the reason in the twin; the old image keeps running', async (_what, make, reason) => {
    const envelope = make('1.0.7');
    hub().service.updateTwin(DEVICE, { properties: { desired: { firmware: envelope } } });
    await run.simulation.run(run.simulation.scheduler.now() + 3 * MINUTE);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the last reported patch is on its way
    await run.simulation.run(run.simulation.scheduler.now() + 1000);
    const update = reported().firmwareUpdate as { state: string; reason: string };
    expect(['failed', 'refused']).toContain(update.state);
    expect(update.reason).toMatch(reason);
    expect(reported().firmwareVersion).toBe('1.0.0');
    expect(run.of('boot', DEVICE)).toHaveLength(1);
  });

  test('a signed 1.1.0 is downloaded, booted, self-tested and reported', async () => {
    images.cuts = [60_000, 200_000]; // two network cuts mid-download: it resumes with ranged requests
    const { image, envelope } = signed('1.1.0');
    images.bytesSent = 0;
    hub().service.updateTwin(DEVICE, { properties: { desired: { firmware: envelope } } });
    await run.simulation.run(run.simulation.scheduler.now() + 5 * MINUTE);
    const states = run.of('ota', DEVICE).map((e) => e.state);
    expect(states).toEqual(expect.arrayContaining(['downloading', 'verifying', 'applying', 'rebooting', 'succeeded']));
    // Each status is one event: the device does not log a status twice.
    const statuses = run.of('ota', DEVICE).map(({ t: _t, ...status }) => JSON.stringify(status));
    for (let i = 1; i < statuses.length; i++) expect(statuses[i]).not.toBe(statuses[i - 1]);
    const boots = run.of('boot', DEVICE);
    expect(boots.at(-1)).toMatchObject({ version: '1.1.0', resetReason: 'software' });
    expect(run.of('bootloader', DEVICE).some((e) => e.version === '1.1.0')).toBe(true);
    expect(reported().firmwareVersion).toBe('1.1.0');
    expect(reported().firmwareUpdate).toMatchObject({ state: 'succeeded', version: '1.1.0' });
    const device = run.simulation.devices[0];
    const slot = device.bootResult!.slot;
    expect(slot).toBe('ota_1');
    expect(new OtaOps(device.flashImage!, slot).runningState()).toBe(OtaImgState.VALID); // marked valid after the self-test
    expect(images.requests.filter((r) => r.path === '/fw-1.1.0.bin' && r.range).length).toBeGreaterThanOrEqual(2); // resumed twice
    const sentForThisImage = images.bytesSent;
    expect(sentForThisImage).toBeGreaterThanOrEqual(image.length);
    expect(sentForThisImage).toBeLessThan(image.length * 1.1); // each byte about once
  });
});
