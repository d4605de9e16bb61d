/**
 * The hub's rollout campaigns (hub/ota/campaigns.ts) over a real store, with a hand-driven clock:
 * who is picked (deterministically, by SHA-256 of the device id), how a campaign widens, how
 * device reports are read (stale ones ignored), when it halts by itself, and what halting does.
 */
import Database from 'better-sqlite3';
import * as path from 'node:path';
import { HubError } from '../../hub/errors';
import { HubLog } from '../../hub/log';
import { CampaignEngine, deviceReport, haltReason, selectionKey, targetCount } from '../../hub/ota/campaigns';
import { publishImage } from '../../hub/ota/images';
import { HubStore, SCHEMA_VERSION } from '../../hub/store';
import type { CampaignDevice } from '../../hub/store';
import { generateKeyPair } from '../../host-sim/ota/keys';
import { signImage } from '../../host-sim/ota/manifest';
import { tempDir } from '../hub/support';

const MINUTE = 60_000;
const BOARD = 'esp32-devkitc';
const keys = generateKeyPair();

class Fixture {
  t = Date.parse('2030-01-01T00:00:00Z');
  readonly store = HubStore.open({ file: ':memory:', now: () => this.t });
  readonly log = new HubLog(1000, () => this.t);
  readonly engine = new CampaignEngine({
    store: this.store,
    log: this.log,
    now: () => this.t,
    updateDesired: (deviceId, desired) => void this.store.twins.update(deviceId, { properties: { desired } }),
  });

  advance(ms: number): void {
    this.t += ms;
  }

  /** A registered device that has reported its board and version, as the firmware does after connecting. */
  device(id: string, options: { board?: string | null; version?: string; status?: 'enabled' | 'disabled' } = {}): void {
    this.store.devices.create({ deviceId: id, status: options.status ?? 'enabled' });
    const reported: { [key: string]: string } = { firmwareVersion: options.version ?? '1.0.0' };
    if (options.board !== null) reported.board = options.board ?? BOARD;
    this.store.twins.patchReported(id, reported);
  }

  publish(version: string, board = BOARD): void {
    const { image, envelope } = signImage({ bundle: `/* firmware ${version} */`, version, board, url: `https://hub.test:8443/ota/images/${board}-${version}.bin`, privateKeyPem: keys.privateKeyPem });
    publishImage(this.store, this.log, { envelope, image: Buffer.from(image).toString('base64') }, ['https://hub.test:8443']);
  }

  /** What the device reports while and after updating. */
  report(id: string, firmwareUpdate: { [key: string]: unknown }, firmwareVersion?: string): void {
    this.store.twins.patchReported(id, { firmwareUpdate: firmwareUpdate as never, ...(firmwareVersion ? { firmwareVersion } : {}) });
  }

  desiredFirmware(id: string): unknown {
    return (this.store.twins.get(id)!.desired.properties as { firmware?: unknown }).firmware;
  }

  targeted(id: number): string[] {
    return this.store.ota.campaignDevices(id).map((d) => d.deviceId);
  }

  states(id: number): { [deviceId: string]: string } {
    return Object.fromEntries(this.store.ota.campaignDevices(id).map((d) => [d.deviceId, d.state]));
  }
}

function byKey(ids: string[]): string[] {
  return [...ids].sort((a, b) => (selectionKey(a) < selectionKey(b) ? -1 : 1));
}

function hubError(fn: () => unknown): HubError {
  try {
    fn();
  } catch (error) {
    if (error instanceof HubError) return error;
    throw error;
  }
  throw new Error('expected a HubError');
}

const fleet = (n: number) => Array.from({ length: n }, (_, i) => `dev-${String(i + 1).padStart(2, '0')}`);

describe('selection', () => {
  test('targetCount: a share of the population rounded down, at least one, all at 100 %', () => {
    expect(targetCount(34, 3)).toBe(1);
    expect(targetCount(67, 3)).toBe(2);
    expect(targetCount(100, 3)).toBe(3);
    expect(targetCount(1, 3)).toBe(1);
    expect(targetCount(10, 20)).toBe(2);
    expect(targetCount(99.9, 1000)).toBe(999);
    expect(targetCount(30, 0)).toBe(0);
  });

  test('the first wave is the devices with the smallest SHA-256 of their id, whatever the registration order', () => {
    const ids = fleet(10);
    const picks: string[][] = [];
    for (const order of [ids, [...ids].reverse()]) {
      const f = new Fixture();
      for (const id of order) f.device(id);
      f.publish('1.1.0');
      const campaign = f.engine.create({ version: '1.1.0', percent: 30 });
      picks.push(f.targeted(campaign.id));
      for (const id of f.targeted(campaign.id)) expect(f.desiredFirmware(id)).toMatchObject({ manifest: { version: '1.1.0', board: BOARD }, signature: expect.any(String) });
      for (const id of ids.filter((d) => !f.targeted(campaign.id).includes(d))) expect(f.desiredFirmware(id)).toBeUndefined();
    }
    expect(new Set(picks[0])).toEqual(new Set(byKey(ids).slice(0, 3)));
    expect(new Set(picks[1])).toEqual(new Set(picks[0]));
  });

  test('only enabled devices of a board with an image, not already on the version or newer, are in the population', () => {
    const f = new Fixture();
    f.device('plain');
    f.device('other-board', { board: 'esp32-s3-devkitc-1' });
    f.device('silent', { board: null });
    f.device('disabled', { status: 'disabled' });
    f.device('current', { version: '1.1.0' });
    f.device('newer', { version: '2.0.0' });
    f.device('pre', { version: '1.1.0-rc.1' });
    f.publish('1.1.0');
    const campaign = f.engine.create({ version: '1.1.0', board: BOARD, percent: 100 });
    expect(f.targeted(campaign.id).sort()).toEqual(['plain', 'pre']);
    expect(f.engine.view(f.store.ota.getCampaign(campaign.id)!)).toMatchObject({ population: 2, counts: { targeted: 2, pending: 2 } });
  });

  test('a campaign without a board offers each board its own image', () => {
    const f = new Fixture();
    f.device('a');
    f.device('b', { board: 'esp32-s3-devkitc-1' });
    f.device('c', { board: 'm5stack-core2' });
    f.publish('1.1.0');
    f.publish('1.1.0', 'esp32-s3-devkitc-1');
    const campaign = f.engine.create({ version: '1.1.0', percent: 100 });
    expect(f.targeted(campaign.id).sort()).toEqual(['a', 'b']);
    expect(f.desiredFirmware('b')).toMatchObject({ manifest: { board: 'esp32-s3-devkitc-1' } });
    expect(f.store.ota.campaignDevices(campaign.id).find((d) => d.deviceId === 'b')!.imageName).toBe('esp32-s3-devkitc-1-1.1.0.bin');
  });

  test('a device registering later joins at the next tick, in its place', () => {
    const f = new Fixture();
    for (const id of fleet(4)) f.device(id);
    f.publish('1.1.0');
    const campaign = f.engine.create({ version: '1.1.0', percent: 100 });
    expect(f.targeted(campaign.id)).toHaveLength(4);
    f.device('late');
    f.engine.tick();
    expect(f.targeted(campaign.id)).toContain('late');
  });
});

describe('widening', () => {
  test('percent grows by the step once per interval, up to 100 %, and a targeted device stays targeted', () => {
    const f = new Fixture();
    const ids = fleet(10);
    for (const id of ids) f.device(id);
    f.publish('1.1.0');
    const campaign = f.engine.create({ version: '1.1.0', percent: 20, stepPercent: 30, stepIntervalSeconds: 600 });
    expect(f.targeted(campaign.id).sort()).toEqual(byKey(ids).slice(0, 2).sort());
    f.advance(9 * MINUTE);
    f.engine.tick();
    expect(f.store.ota.getCampaign(campaign.id)!.percent).toBe(20);
    f.advance(MINUTE);
    f.engine.tick();
    expect(f.store.ota.getCampaign(campaign.id)!.percent).toBe(50);
    expect(f.targeted(campaign.id).sort()).toEqual(byKey(ids).slice(0, 5).sort());
    // A long pause (the hub was stopped) is one step, not several.
    f.advance(60 * MINUTE);
    f.engine.tick();
    expect(f.store.ota.getCampaign(campaign.id)!.percent).toBe(80);
    f.advance(10 * MINUTE);
    f.engine.tick();
    const last = f.store.ota.getCampaign(campaign.id)!;
    expect(last.percent).toBe(100);
    expect(f.targeted(campaign.id)).toHaveLength(10);
    expect(f.engine.view(last).nextStepTime).toBeNull();
    expect(f.log.recent({ event: 'ota.campaign.widened' }).map((e) => e.message)).toEqual([
      expect.stringMatching(/widened to 50%/),
      expect.stringMatching(/widened to 80%/),
      expect.stringMatching(/widened to 100%/),
    ]);
  });

  test('a step of 0 holds the campaign at its percent; it completes when that wave has finished', () => {
    const f = new Fixture();
    for (const id of fleet(4)) f.device(id);
    f.publish('1.1.0');
    const campaign = f.engine.create({ version: '1.1.0', percent: 50, stepPercent: 0, stepIntervalSeconds: 1 });
    f.advance(60 * MINUTE);
    f.engine.tick();
    expect(f.targeted(campaign.id)).toHaveLength(2);
    for (const id of f.targeted(campaign.id)) f.report(id, { state: 'succeeded', version: '1.1.0', targetVersion: '1.1.0' }, '1.1.0');
    f.engine.tick();
    expect(f.store.ota.getCampaign(campaign.id)).toMatchObject({ state: 'completed', percent: 50, reason: '2 succeeded, 0 failed, 0 rolled back' });
  });
});

describe('following device reports', () => {
  test('progress, success, and a completed campaign at 100 %', () => {
    const f = new Fixture();
    for (const id of fleet(3)) f.device(id);
    f.publish('1.1.0');
    const campaign = f.engine.create({ version: '1.1.0', percent: 100 });
    const [a, b, c] = f.targeted(campaign.id);
    f.advance(1000);
    f.report(a, { state: 'downloading', version: '1.0.0', targetVersion: '1.1.0', percent: 40 });
    f.report(b, { state: 'rebooting', version: '1.0.0', targetVersion: '1.1.0', percent: 100 });
    f.engine.tick();
    expect(f.states(campaign.id)).toEqual({ [a]: 'downloading', [b]: 'rebooting', [c]: 'pending' });
    expect(f.store.ota.campaignDevices(campaign.id).find((d) => d.deviceId === a)!.progress).toBe(40);
    // The new image reports its version before the self-test's outcome.
    f.report(b, { state: 'verifying', version: '1.1.0', targetVersion: '1.1.0', percent: 100 }, '1.1.0');
    f.engine.tick();
    expect(f.states(campaign.id)[b]).toBe('verifying');
    for (const id of [a, b, c]) f.report(id, { state: 'succeeded', version: '1.1.0', targetVersion: '1.1.0' }, '1.1.0');
    f.engine.tick();
    const done = f.store.ota.getCampaign(campaign.id)!;
    expect(done).toMatchObject({ state: 'completed', reason: '3 succeeded, 0 failed, 0 rolled back' });
    expect(f.engine.view(done)).toMatchObject({ counts: { targeted: 3, succeeded: 3, finished: 3 }, failureRate: 0, halted: false });
    // A later update to 1.2.0 does not turn the outcome back into pending.
    f.report(a, { state: 'downloading', version: '1.1.0', targetVersion: '1.2.0' });
    f.engine.tick();
    expect(f.states(campaign.id)[a]).toBe('succeeded');
  });

  test('a report from before the device was targeted does not count', () => {
    const f = new Fixture();
    f.device('d1');
    // An earlier attempt at 1.1.0 failed and is still in the twin.
    f.report('d1', { state: 'failed', version: '1.0.0', targetVersion: '1.1.0', reason: 'old news' });
    f.advance(1000);
    f.publish('1.1.0');
    const campaign = f.engine.create({ version: '1.1.0', percent: 100 });
    f.engine.tick();
    expect(f.states(campaign.id)).toEqual({ d1: 'pending' });
    expect(f.store.ota.getCampaign(campaign.id)!.state).toBe('running');
    const twin = f.store.twins.get('d1')!;
    expect(deviceReport(twin, '1.1.0', f.t)).toMatchObject({ state: 'pending' });
    expect(deviceReport(twin, '1.1.0', f.t - 5000)).toMatchObject({ state: 'failed', reason: 'old news' });
  });
});

describe('halting', () => {
  function rolloutOfTen(options: { [key: string]: unknown } = {}) {
    const f = new Fixture();
    for (const id of fleet(10)) f.device(id);
    f.publish('1.1.0');
    const campaign = f.engine.create({ version: '1.1.0', percent: 30, stepPercent: 30, stepIntervalSeconds: 600, ...options });
    f.advance(1000);
    return { f, campaign, wave: f.targeted(campaign.id) };
  }

  test('a failure rate above the threshold halts: no widening, pending devices withdrawn, the reason kept', () => {
    const { f, campaign, wave } = rolloutOfTen({ maxFailureRate: 0.2 });
    expect(wave).toHaveLength(3);
    f.report(wave[0], { state: 'failed', version: '1.0.0', targetVersion: '1.1.0', reason: 'bad signature' });
    f.report(wave[1], { state: 'downloading', version: '1.0.0', targetVersion: '1.1.0', percent: 5 });
    f.engine.tick();
    const halted = f.store.ota.getCampaign(campaign.id)!;
    expect(halted.state).toBe('halted');
    expect(halted.reason).toBe(`1 of 1 finished update(s) failed or rolled back (100% > 20%): ${wave[0]} failed: bad signature`);
    expect(f.states(campaign.id)).toEqual({ [wave[0]]: 'failed', [wave[1]]: 'downloading', [wave[2]]: 'withdrawn' });
    expect(f.desiredFirmware(wave[2])).toBeUndefined(); // removed: the device will not start
    expect(f.desiredFirmware(wave[1])).toBeDefined(); // already downloading: left alone
    expect(f.log.recent({ event: 'ota.campaign.halted' })).toHaveLength(1);

    // Time passes: nothing widens; the device already updating is still followed.
    f.advance(60 * MINUTE);
    f.report(wave[1], { state: 'rolled-back', version: '1.0.0', targetVersion: '1.1.0', reason: 'self-test failed' });
    f.engine.tick();
    expect(f.targeted(campaign.id)).toHaveLength(3);
    expect(f.store.ota.getCampaign(campaign.id)!).toMatchObject({ state: 'halted', percent: 30 });
    expect(f.states(campaign.id)[wave[1]]).toBe('rolled-back');
    expect(f.engine.view(f.store.ota.getCampaign(campaign.id)!)).toMatchObject({ halted: true, counts: { failed: 1, rolledBack: 1, withdrawn: 1, finished: 2 }, failureRate: 1 });
  });

  test('rolled-back updates count as failures', () => {
    const { f, campaign, wave } = rolloutOfTen({ maxFailureRate: 0.5 });
    f.report(wave[0], { state: 'succeeded', version: '1.1.0', targetVersion: '1.1.0' }, '1.1.0');
    f.report(wave[1], { state: 'rolled-back', version: '1.0.0', targetVersion: '1.1.0', reason: 'self-test failed' });
    f.engine.tick();
    expect(f.store.ota.getCampaign(campaign.id)!.state).toBe('running'); // 1 of 2 = 50 %: not above
    f.report(wave[2], { state: 'failed', version: '1.0.0', targetVersion: '1.1.0', reason: 'download failed' });
    f.engine.tick();
    expect(f.store.ota.getCampaign(campaign.id)!.state).toBe('halted'); // 2 of 3
  });

  test('under the threshold the campaign goes on widening', () => {
    const { f, campaign, wave } = rolloutOfTen({ maxFailureRate: 0.4 });
    f.report(wave[0], { state: 'succeeded', version: '1.1.0', targetVersion: '1.1.0' }, '1.1.0');
    f.report(wave[1], { state: 'succeeded', version: '1.1.0', targetVersion: '1.1.0' }, '1.1.0');
    f.report(wave[2], { state: 'failed', version: '1.0.0', targetVersion: '1.1.0', reason: 'flaky' });
    f.advance(10 * MINUTE);
    f.engine.tick();
    expect(f.store.ota.getCampaign(campaign.id)!).toMatchObject({ state: 'running', percent: 60 });
    expect(f.targeted(campaign.id)).toHaveLength(6);
  });

  test('minFinished: no verdict until that many updates have finished', () => {
    const { f, campaign, wave } = rolloutOfTen({ maxFailureRate: 0, minFinished: 3 });
    f.report(wave[0], { state: 'failed', version: '1.0.0', targetVersion: '1.1.0', reason: 'x' });
    f.report(wave[1], { state: 'succeeded', version: '1.1.0', targetVersion: '1.1.0' }, '1.1.0');
    f.engine.tick();
    expect(f.store.ota.getCampaign(campaign.id)!.state).toBe('running');
    f.report(wave[2], { state: 'succeeded', version: '1.1.0', targetVersion: '1.1.0' }, '1.1.0');
    f.engine.tick();
    expect(f.store.ota.getCampaign(campaign.id)!.state).toBe('halted');
  });

  test('haltReason is the rule alone', () => {
    const device = (state: CampaignDevice['state']): CampaignDevice =>
      ({ campaignId: 1, deviceId: state, board: BOARD, imageName: 'x', targetedAt: 0, wavePercent: 10, state, progress: null, reason: null, runningVersion: null, updatedAt: 0 }) as CampaignDevice;
    expect(haltReason({ maxFailureRate: 0.1, minFinished: 1 }, [])).toBeUndefined();
    expect(haltReason({ maxFailureRate: 0.1, minFinished: 1 }, [device('pending'), device('downloading')])).toBeUndefined();
    expect(haltReason({ maxFailureRate: 0, minFinished: 1 }, [device('failed')])).toMatch(/100% > 0%/);
    expect(haltReason({ maxFailureRate: 1, minFinished: 1 }, [device('failed')])).toBeUndefined();
    const nine = Array.from({ length: 9 }, () => device('succeeded'));
    expect(haltReason({ maxFailureRate: 0.1, minFinished: 1 }, [...nine, device('failed')])).toBeUndefined(); // 10 % is not above 10 %
    expect(haltReason({ maxFailureRate: 0.1, minFinished: 1 }, [...nine, device('failed'), device('rolled-back')])).toMatch(/2 of 11/);
  });
});

describe('creating and cancelling', () => {
  test('bad requests, a version with no image, and overlapping campaigns are refused', () => {
    const f = new Fixture();
    f.device('d1');
    f.publish('1.1.0');
    expect(hubError(() => f.engine.create({ version: '1.1', percent: 10 })).status).toBe(400);
    expect(hubError(() => f.engine.create({ version: '1.1.0', percent: 0 })).message).toMatch(/percent/);
    expect(hubError(() => f.engine.create({ version: '1.1.0', percent: 101 })).status).toBe(400);
    expect(hubError(() => f.engine.create({ version: '1.1.0', percent: 10, maxFailureRate: 2 })).message).toMatch(/maxFailureRate/);
    expect(hubError(() => f.engine.create({ version: '1.1.0', percent: 10, stepIntervalSeconds: 0 })).status).toBe(400);
    expect(hubError(() => f.engine.create({ version: '1.1.0', percent: 10, minFinished: 0.5 })).status).toBe(400);
    expect(hubError(() => f.engine.create({ version: '1.1.0', percent: 10, colour: 'red' })).message).toMatch(/unknown campaign field colour/);
    const missing = hubError(() => f.engine.create({ version: '1.2.0', percent: 10 }));
    expect(missing.status).toBe(404);
    expect(missing.hint).toMatch(/thingkit ota publish/);
    expect(hubError(() => f.engine.create({ version: '1.1.0', board: 'esp32-s3-devkitc-1', percent: 10 })).status).toBe(404);
    const first = f.engine.create({ version: '1.1.0', board: BOARD, percent: 10 });
    const overlap = hubError(() => f.engine.create({ version: '1.1.0', percent: 10 }));
    expect(overlap.status).toBe(409);
    expect(overlap.hint).toMatch(new RegExp(`thingkit ota cancel ${first.id}`));
  });

  test('cancel stops a running campaign and withdraws devices that have not started', () => {
    const f = new Fixture();
    for (const id of fleet(4)) f.device(id);
    f.publish('1.1.0');
    const campaign = f.engine.create({ version: '1.1.0', percent: 100 });
    const [a, b] = f.targeted(campaign.id);
    f.report(a, { state: 'downloading', version: '1.0.0', targetVersion: '1.1.0' });
    const cancelled = f.engine.cancel(campaign.id);
    expect(cancelled).toMatchObject({ state: 'cancelled', reason: 'cancelled' });
    expect(f.states(campaign.id)[a]).toBe('downloading');
    expect(f.states(campaign.id)[b]).toBe('withdrawn');
    expect(f.desiredFirmware(b)).toBeUndefined();
    expect(hubError(() => f.engine.cancel(campaign.id)).status).toBe(409);
    expect(hubError(() => f.engine.cancel(99)).status).toBe(404);
    // Another campaign may start now.
    expect(f.engine.create({ version: '1.1.0', percent: 10 }).state).toBe('running');
  });
});

describe('storage', () => {
  test('images and campaigns survive a restart; a file from before OTA is migrated', () => {
    const file = path.join(tempDir('thingkit-ota-store-'), 'hub.db');
    // A data file of schema version 1, as thingkit wrote it before OTA.
    const old = new Database(file);
    old.exec('CREATE TABLE devices (device_id TEXT PRIMARY KEY)');
    old.pragma('user_version = 1');
    old.close();
    const first = HubStore.open({ file });
    expect(first.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    first.close();

    const fileStore = path.join(tempDir('thingkit-ota-store-'), 'hub.db');
    const store = HubStore.open({ file: fileStore });
    const { image, envelope } = signImage({ bundle: 'x', version: '1.1.0', board: BOARD, url: 'https://h/ota/images/a', privateKeyPem: keys.privateKeyPem });
    const log = new HubLog();
    publishImage(store, log, { envelope, image: Buffer.from(image).toString('base64') }, []);
    store.devices.create({ deviceId: 'd1' });
    store.twins.patchReported('d1', { board: BOARD, firmwareVersion: '1.0.0' });
    const engine = new CampaignEngine({ store, log, now: Date.now, updateDesired: (id, desired) => void store.twins.update(id, { properties: { desired } }) });
    const campaign = engine.create({ version: '1.1.0', percent: 100 });
    store.close();
    const again = HubStore.open({ file: fileStore });
    expect(again.ota.getImage('esp32-devkitc-1.1.0.bin')).toMatchObject({ size: image.length, envelope });
    expect(Buffer.compare(again.ota.imageBytes('esp32-devkitc-1.1.0.bin')!, Buffer.from(image))).toBe(0);
    expect(again.ota.getCampaign(campaign.id)).toMatchObject({ state: 'running', version: '1.1.0' });
    expect(again.ota.campaignDevices(campaign.id).map((d) => d.deviceId)).toEqual(['d1']);
    again.close();
  });
});
