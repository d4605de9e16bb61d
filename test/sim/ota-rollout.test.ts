/**
 * Publishing and staged rollouts end to end on the XS engine, through the command line:
 * `thingkit build` makes a 1.1.0 image, `thingkit ota publish` signs it for the hub's HTTPS
 * download URL and uploads it, `thingkit ota rollout` starts a campaign at 34 % that widens
 * by 33 % per interval; three simulated devices download over HTTPS from the hub, boot 1.1.0
 * and report it, and the campaign completes with all three succeeded. Then a 1.2.0 signed
 * with a key the devices do not trust: the first device refuses it, reports `failed`, and
 * the campaign halts by itself and never widens.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildCommand, otaCommand } from '../../cli/ota-commands';
import type { HubCommandIo } from '../../cli/hub-commands';
import { keygen } from '../../host-sim/ota/keys';
import { selectionKey } from '../../hub/ota/campaigns';
import { startSimulation, type TestRun } from '../support/simulate';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DEVICES = ['esp32-devkitc-001', 'esp32-devkitc-002', 'esp32-devkitc-003'];
/** The order the campaign picks devices in. */
const ORDER = [...DEVICES].sort((a, b) => (selectionKey(a) < selectionKey(b) ? -1 : 1));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(command: typeof otaCommand, ...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: HubCommandIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} };
  const code = await command(argv, io);
  return { code, stdout, stderr };
}

describe('OTA rollouts through the local hub on the xs engine', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'thingkit-rollout-'));
  const keys = keygen(path.join(dir, 'keys'));
  let run: TestRun;
  let hubUrl: string;
  /** The campaign engine's clock, moved on by hand for the interval between steps. */
  let clock = Date.now();

  beforeAll(async () => {
    run = await startSimulation({ engine: 'xs', hub: true, devices: 3, config: { otaPublicKey: keys.publicKeyHex } });
    hubUrl = run.simulation.localHub!.httpUrl;
    await run.simulation.run(MINUTE);
  }, 120_000);
  afterAll(async () => {
    await run?.simulation.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const hub = () => run.simulation.localHub!;
  const reported = (id: string) => hub().store.twins.get(id)!.reported.properties as { [key: string]: any };
  const advance = async (ms: number) => {
    await run.simulation.run(run.simulation.scheduler.now() + ms);
    // The device's last reports may still be on their way to the hub.
    await new Promise((resolve) => setTimeout(resolve, 200));
  };
  const status = async (id: number) => {
    const result = await cli(otaCommand, 'status', '--campaign', String(id), '--hub', hubUrl, '--json');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    return JSON.parse(result.stdout);
  };

  test('the devices start on 1.0.0 and report their board', () => {
    for (const id of DEVICES) expect(reported(id)).toMatchObject({ firmwareVersion: '1.0.0', board: 'esp32-devkitc' });
  });

  test('1.1.0 is built, published over HTTPS, rolled out in three steps and booted by every device', async () => {
    const image = path.join(dir, 'fw-1.1.0.bin');
    expect(await cli(buildCommand, '--target', 'host', '--version', '1.1.0', '--out', image)).toMatchObject({ code: 0, stderr: '' });
    const published = await cli(otaCommand, 'publish', '--image', image, '--key', keys.privateKeyPath, '--hub', hubUrl, '--json');
    expect(published).toMatchObject({ code: 0, stderr: '' });
    const record = JSON.parse(published.stdout);
    expect(record).toMatchObject({ name: 'esp32-devkitc-1.1.0.bin', version: '1.1.0', urlPointsHere: true });
    expect(record.url).toBe(`${hub().otaUrl}/ota/images/esp32-devkitc-1.1.0.bin`);
    expect(record.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);

    const started = await cli(otaCommand, 'rollout', '--version', '1.1.0', '--percent', '34', '--step', '33', '--interval', '1h', '--hub', hubUrl, '--json');
    expect(started).toMatchObject({ code: 0, stderr: '' });
    const campaign = JSON.parse(started.stdout);
    expect(campaign).toMatchObject({ id: 1, state: 'running', percent: 34, population: 3, counts: { targeted: 1 } });
    expect(campaign.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual([ORDER[0]]);
    clock = Date.parse(campaign.lastStepTime);

    // Wave 1: one device.
    await advance(5 * MINUTE);
    hub().ota.tick(clock);
    let view = await status(1);
    expect(view.counts).toMatchObject({ targeted: 1, succeeded: 1, failed: 0 });
    expect(reported(ORDER[0]).firmwareVersion).toBe('1.1.0');
    expect(reported(ORDER[1]).firmwareVersion).toBe('1.0.0');
    expect(run.of('boot', ORDER[1])).toHaveLength(1);

    // Wave 2 after the interval: 67 %, two devices.
    clock += HOUR;
    hub().ota.tick(clock);
    view = await status(1);
    expect(view).toMatchObject({ percent: 67, state: 'running', counts: { targeted: 2 } });
    expect(view.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual(ORDER.slice(0, 2));
    await advance(5 * MINUTE);

    // Wave 3: everyone.
    clock += HOUR;
    hub().ota.tick(clock);
    await advance(5 * MINUTE);
    hub().ota.tick(clock + MINUTE);
    view = await status(1);
    expect(view).toMatchObject({ state: 'completed', percent: 100, counts: { targeted: 3, succeeded: 3, failed: 0, rolledBack: 0 } });
    for (const device of view.devices) expect(device).toMatchObject({ state: 'succeeded', runningVersion: '1.1.0' });

    for (const id of DEVICES) {
      expect(reported(id).firmwareVersion).toBe('1.1.0');
      expect(reported(id).firmwareUpdate).toMatchObject({ state: 'succeeded', version: '1.1.0' });
      const boots = run.of('boot', id);
      expect(boots).toHaveLength(2);
      expect(boots.at(-1)).toMatchObject({ version: '1.1.0', resetReason: 'software' });
      expect(run.of('ota', id).map((e) => e.state)).toEqual(expect.arrayContaining(['downloading', 'verifying', 'applying', 'rebooting', 'succeeded']));
    }
    const human = await cli(otaCommand, 'status', '--hub', hubUrl);
    expect(human.stdout).toMatch(/campaign 1: version 1\.1\.0 on every board: completed at 100%/);
    expect(human.stdout).toMatch(/targeted 3: 3 succeeded, 0 failed, 0 rolled back/);
  }, 240_000);

  test('a 1.2.0 signed with a key the devices do not trust fails on the first device and the campaign halts', async () => {
    const image = path.join(dir, 'fw-1.2.0.bin');
    expect((await cli(buildCommand, '--target', 'host', '--version', '1.2.0', '--out', image)).code).toBe(0);
    const stranger = keygen(path.join(dir, 'other-keys'));
    expect((await cli(otaCommand, 'publish', '--image', image, '--key', stranger.privateKeyPath, '--hub', hubUrl)).code).toBe(0);
    const started = await cli(otaCommand, 'rollout', '--version', '1.2.0', '--percent', '34', '--step', '33', '--interval', '1h', '--max-failure-rate', '20%', '--hub', hubUrl, '--json');
    expect(started).toMatchObject({ code: 0, stderr: '' });
    const id = JSON.parse(started.stdout).id as number;
    clock = Date.parse(JSON.parse(started.stdout).lastStepTime);

    await advance(2 * MINUTE);
    hub().ota.tick(clock);
    let view = await status(id);
    expect(view).toMatchObject({ state: 'halted', halted: true, percent: 34, counts: { targeted: 1, failed: 1, succeeded: 0 } });
    expect(view.reason).toMatch(/1 of 1 finished update\(s\) failed or rolled back \(100% > 20%\)/);
    expect(view.devices[0]).toMatchObject({ deviceId: ORDER[0], state: 'failed' });
    expect(view.devices[0].reason).toMatch(/signature/i);

    // Halted means halted: time passes, nothing widens, nobody else is offered 1.2.0.
    clock += 3 * HOUR;
    hub().ota.tick(clock);
    await advance(5 * MINUTE);
    view = await status(id);
    expect(view).toMatchObject({ state: 'halted', percent: 34, counts: { targeted: 1 } });
    for (const device of DEVICES) {
      expect(reported(device).firmwareVersion).toBe('1.1.0');
      expect(run.of('boot', device)).toHaveLength(2);
    }
    for (const device of ORDER.slice(1)) expect(hub().store.twins.get(device)!.desired.properties.firmware).toMatchObject({ manifest: { version: '1.1.0' } });
    const human = await cli(otaCommand, 'status', '--campaign', String(id), '--hub', hubUrl);
    expect(human.stdout).toMatch(/halted: 1 of 1 finished/);
  }, 120_000);
});
