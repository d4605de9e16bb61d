/**
 * Staged OTA rollouts ("campaigns"). A campaign offers one version to a growing share of the fleet by
 * setting the desired property `firmware` to the version's signed envelope, follows what each device
 * reports in `firmwareUpdate` / `firmwareVersion`, widens step by step, and halts by itself when too many
 * updates fail.
 *
 * Every `tick(now)` (the hub runs one every few seconds; tests call it):
 *  1. **Follow** each targeted device: its state is its reported `firmwareUpdate.state` when that report is
 *     about this version (`targetVersion`) and newer than the moment the device was targeted (the twin's
 *     `$metadata.firmwareUpdate.$lastUpdated`), so an outcome left over from an earlier attempt does not
 *     count; a device reporting `firmwareVersion` = the version has succeeded; otherwise it is `pending`.
 *  2. **Halt** when finished ≥ minFinished and (failed + rolled-back) / finished > maxFailureRate, where
 *     finished = succeeded + failed + rolled-back. A halted campaign never widens again, and devices it
 *     targeted that have not started yet (`pending`) get their desired `firmware` removed (`withdrawn`).
 *     Devices already updating carry on and are still followed.
 *  3. **Widen**: once `stepInterval` has passed since the last step, percent += step (at most 100).
 *  4. **Select**: the population is the devices the campaign may update — enabled, reporting a `board` that
 *     has an image of the version (and is the campaign's board, if it has one), not already running this
 *     version or a newer one — plus those already targeted. The campaign targets
 *     max(1, ⌊percent × population / 100⌋) of them (all of them at 100 %), adding devices in the order of
 *     SHA-256(device id): deterministic, independent of when devices registered, and a device once
 *     targeted stays targeted.
 *  5. **Complete** when no further step can come (100 %, or a step of 0) and every targeted device has
 *     finished (succeeded, failed or rolled back): state `completed`.
 */
import { createHash } from 'node:crypto';
import { compareSemver, isSemver } from '../../host-sim/ota/image';
import { badRequest, conflict, notFound } from '../errors';
import type { HubLog } from '../log';
import type { Campaign, CampaignDevice, CampaignDeviceState, HubStore, OtaImage, Twin } from '../store';
import type { JsonObject } from '../twin';

export const CAMPAIGN_DEFAULTS = {
  stepIntervalMs: 10 * 60_000,
  maxFailureRate: 0.1,
  minFinished: 1,
} as const;

const TERMINAL: ReadonlySet<CampaignDeviceState> = new Set(['succeeded', 'failed', 'rolled-back', 'withdrawn']);
const IN_PROGRESS: ReadonlySet<string> = new Set(['downloading', 'verifying', 'applying', 'rebooting']);
const BOARD = /^[A-Za-z0-9._-]{1,32}$/;

/** The order devices are picked in: SHA-256 of the device id, in hex. */
export function selectionKey(deviceId: string): string {
  return createHash('sha256').update(deviceId, 'utf8').digest('hex');
}

/** How many of `population` devices a campaign at `percent` targets. */
export function targetCount(percent: number, population: number): number {
  if (population === 0) return 0;
  if (percent >= 100) return population;
  return Math.min(population, Math.max(1, Math.floor((percent * population) / 100 + 1e-9)));
}

export interface DeviceReport {
  state: CampaignDeviceState;
  progress: number | null;
  reason: string | null;
  runningVersion: string | null;
}

/** What a targeted device's twin says about its update to `version` (rule 1 above). */
export function deviceReport(twin: Twin, version: string, targetedAt: number): DeviceReport {
  const reported = twin.reported.properties as { [key: string]: unknown };
  const running = typeof reported.firmwareVersion === 'string' ? reported.firmwareVersion : null;
  const update = reported.firmwareUpdate as { state?: unknown; targetVersion?: unknown; percent?: unknown; reason?: unknown } | undefined;
  const meta = (twin.reported.metadata as { [key: string]: unknown }).firmwareUpdate as { $lastUpdated?: string } | undefined;
  const updatedAt = meta?.$lastUpdated ? Date.parse(meta.$lastUpdated) : NaN;
  const fresh = Number.isFinite(updatedAt) && updatedAt >= targetedAt;
  if (update && typeof update === 'object' && fresh && typeof update.state === 'string') {
    const aboutThis = update.targetVersion === version || (update.targetVersion === undefined && update.state === 'failed');
    if (aboutThis && (IN_PROGRESS.has(update.state) || update.state === 'succeeded' || update.state === 'failed' || update.state === 'rolled-back')) {
      return {
        state: update.state as CampaignDeviceState,
        progress: typeof update.percent === 'number' ? update.percent : null,
        reason: typeof update.reason === 'string' ? update.reason : null,
        runningVersion: running,
      };
    }
  }
  if (running === version) return { state: 'succeeded', progress: null, reason: null, runningVersion: running };
  return { state: 'pending', progress: null, reason: null, runningVersion: running };
}

export interface CampaignCounts {
  targeted: number;
  pending: number;
  inProgress: number;
  succeeded: number;
  failed: number;
  rolledBack: number;
  withdrawn: number;
  /** succeeded + failed + rolled back */
  finished: number;
}

export function countDevices(devices: CampaignDevice[]): CampaignCounts {
  const counts: CampaignCounts = { targeted: devices.length, pending: 0, inProgress: 0, succeeded: 0, failed: 0, rolledBack: 0, withdrawn: 0, finished: 0 };
  for (const d of devices) {
    if (d.state === 'pending') counts.pending++;
    else if (d.state === 'succeeded') counts.succeeded++;
    else if (d.state === 'failed') counts.failed++;
    else if (d.state === 'rolled-back') counts.rolledBack++;
    else if (d.state === 'withdrawn') counts.withdrawn++;
    else counts.inProgress++;
  }
  counts.finished = counts.succeeded + counts.failed + counts.rolledBack;
  return counts;
}

/** The halting rule (rule 2 above): the reason to halt, or undefined. */
export function haltReason(campaign: Pick<Campaign, 'maxFailureRate' | 'minFinished'>, devices: CampaignDevice[]): string | undefined {
  const counts = countDevices(devices);
  if (counts.finished === 0 || counts.finished < campaign.minFinished) return undefined;
  const failures = counts.failed + counts.rolledBack;
  const rate = failures / counts.finished;
  if (!(rate > campaign.maxFailureRate)) return undefined;
  const examples = devices
    .filter((d) => d.state === 'failed' || d.state === 'rolled-back')
    .slice(0, 3)
    .map((d) => `${d.deviceId} ${d.state}${d.reason ? `: ${d.reason}` : ''}`);
  return `${failures} of ${counts.finished} finished update(s) failed or rolled back (${percentText(rate)} > ${percentText(campaign.maxFailureRate)}): ${examples.join('; ')}`;
}

function percentText(fraction: number): string {
  return `${+(fraction * 100).toFixed(1)}%`;
}

export interface CampaignEngineOptions {
  store: HubStore;
  log: HubLog;
  now: () => number;
  /** Applies a desired-properties patch to a device's twin (and notifies the device if it is connected). */
  updateDesired(deviceId: string, desired: JsonObject): void;
}

export class CampaignEngine {
  private timer: NodeJS.Timeout | undefined;
  /** Devices whose twin could not be updated, per campaign: logged once. */
  private readonly refused = new Set<string>();

  constructor(private readonly options: CampaignEngineOptions) {}

  private get store(): HubStore {
    return this.options.store;
  }

  /** Runs `tick` every `intervalMs` until stop(). */
  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => {
      try {
        if (this.store.isOpen) this.tick();
      } catch (error) {
        this.options.log.write({ level: 'error', event: 'ota.campaign.error', message: `the campaign engine failed: ${(error as Error).message}` });
      }
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Starts a campaign (the body of POST /ota/campaigns): {version, board?, percent, stepPercent?,
   * stepIntervalSeconds?, maxFailureRate?, minFinished?}. The first wave is targeted at once.
   */
  create(input: unknown): Campaign {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw badRequest('send {"version": "1.1.0", "percent": 10, "stepPercent": 10, "stepIntervalSeconds": 600, "maxFailureRate": 0.1}');
    }
    const body = input as { [key: string]: unknown };
    const known = ['version', 'board', 'percent', 'stepPercent', 'stepIntervalSeconds', 'maxFailureRate', 'minFinished'];
    const unknown = Object.keys(body).filter((key) => !known.includes(key));
    if (unknown.length) throw badRequest(`unknown campaign field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`, `a campaign has ${known.join(', ')}`);
    const { version, board } = body;
    if (!isSemver(version)) throw badRequest(`version ${JSON.stringify(version)} is not a semantic version`, 'e.g. "version": "1.1.0"');
    if (board !== undefined && board !== null && (typeof board !== 'string' || !BOARD.test(board))) throw badRequest(`board ${JSON.stringify(board)} is not a board name`);
    const number = (name: string, value: unknown, fallback: number | undefined, ok: (n: number) => boolean, rule: string): number => {
      if (value === undefined && fallback !== undefined) return fallback;
      if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) throw badRequest(`${name} must be ${rule} (got ${JSON.stringify(value)})`);
      return value;
    };
    const percent = number('percent', body.percent, undefined, (n) => n > 0 && n <= 100, 'a number greater than 0 and at most 100');
    const stepPercent = number('stepPercent', body.stepPercent, percent, (n) => n >= 0 && n <= 100, 'a number from 0 to 100');
    const stepIntervalMs = Math.round(number('stepIntervalSeconds', body.stepIntervalSeconds, CAMPAIGN_DEFAULTS.stepIntervalMs / 1000, (n) => n > 0, 'a positive number of seconds') * 1000);
    const maxFailureRate = number('maxFailureRate', body.maxFailureRate, CAMPAIGN_DEFAULTS.maxFailureRate, (n) => n >= 0 && n <= 1, 'a fraction from 0 to 1 (0.1 = 10 %)');
    const minFinished = number('minFinished', body.minFinished, CAMPAIGN_DEFAULTS.minFinished, (n) => Number.isInteger(n) && n >= 1, 'a whole number of at least 1');
    const boardOrNull = typeof board === 'string' ? board : null;
    const images = this.store.ota.imagesOfVersion(version, boardOrNull);
    if (images.length === 0) {
      throw notFound(`a published image of version ${version}${boardOrNull ? ` for board ${boardOrNull}` : ''}`, 'publish it first: thingkit ota publish --image FILE --key PRIVATE.pem');
    }
    const campaign = this.store.transaction(() => {
      const overlapping = this.store.ota
        .listCampaigns({ state: 'running' })
        .find((c) => c.board === null || boardOrNull === null || c.board === boardOrNull);
      if (overlapping) {
        throw conflict(
          `campaign ${overlapping.id} (version ${overlapping.version}${overlapping.board ? `, board ${overlapping.board}` : ', every board'}) is still running`,
          `one campaign at a time sets a device's desired firmware: wait for it, or cancel it: thingkit ota cancel ${overlapping.id}`,
        );
      }
      return this.store.ota.createCampaign({ version, board: boardOrNull, percent, stepPercent, stepIntervalMs, maxFailureRate, minFinished });
    });
    this.options.log.write({
      level: 'info',
      event: 'ota.campaign.started',
      message: `campaign ${campaign.id}: version ${version}${boardOrNull ? ` on ${boardOrNull}` : ''} to ${percent}% of the fleet, +${stepPercent}% every ${stepIntervalMs / 1000} s, halting above ${percentText(maxFailureRate)} failures`,
    });
    this.advance(campaign, this.options.now());
    return this.store.ota.getCampaign(campaign.id)!;
  }

  /** Stops a running campaign by hand: nothing more is targeted, and pending devices are withdrawn. */
  cancel(id: number): Campaign {
    const campaign = this.require(id);
    if (campaign.state !== 'running') throw conflict(`campaign ${id} is ${campaign.state}, not running`);
    this.refresh(campaign);
    this.withdrawPending(campaign);
    const done = this.store.ota.updateCampaign(id, { state: 'cancelled', finishedAt: this.options.now(), reason: 'cancelled' });
    this.options.log.write({ level: 'info', event: 'ota.campaign.cancelled', message: `campaign ${id} cancelled` });
    return done;
  }

  require(id: number): Campaign {
    const campaign = Number.isSafeInteger(id) ? this.store.ota.getCampaign(id) : undefined;
    if (!campaign) throw notFound(`campaign ${id}`, 'GET /ota/campaigns lists the campaigns');
    return campaign;
  }

  /** One round of the rules for every campaign that still has something to do. */
  tick(now: number = this.options.now()): void {
    for (const campaign of this.store.ota.listCampaigns()) {
      if (campaign.state === 'running') this.advance(campaign, now);
      else if (this.store.ota.campaignDevices(campaign.id).some((d) => !TERMINAL.has(d.state))) this.refresh(campaign);
    }
  }

  /** The devices the campaign may still target (rule 4), in selection order, and the images by board. */
  candidates(campaign: Campaign): { images: Map<string, OtaImage>; untargeted: { deviceId: string; board: string; runningVersion: string | null }[] } {
    const images = new Map(this.store.ota.imagesOfVersion(campaign.version, campaign.board).map((image) => [image.board, image]));
    const targeted = new Set(this.store.ota.campaignDevices(campaign.id).map((d) => d.deviceId));
    const untargeted: { deviceId: string; board: string; runningVersion: string | null; key: string }[] = [];
    for (const device of this.store.devices.list()) {
      if (device.status !== 'enabled' || targeted.has(device.deviceId)) continue;
      const twin = this.store.twins.get(device.deviceId);
      const reported = (twin?.reported.properties ?? {}) as { [key: string]: unknown };
      const board = reported.board;
      if (typeof board !== 'string' || !images.has(board)) continue;
      const running = typeof reported.firmwareVersion === 'string' ? reported.firmwareVersion : null;
      if (running !== null && isSemver(running) && compareSemver(running, campaign.version) >= 0) continue;
      untargeted.push({ deviceId: device.deviceId, board, runningVersion: running, key: selectionKey(device.deviceId) });
    }
    untargeted.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.deviceId < b.deviceId ? -1 : 1));
    return { images, untargeted: untargeted.map(({ key: _key, ...rest }) => rest) };
  }

  private advance(campaign: Campaign, now: number): void {
    const devices = this.refresh(campaign);
    const reason = haltReason(campaign, devices);
    if (reason) {
      this.withdrawPending(campaign);
      this.store.ota.updateCampaign(campaign.id, { state: 'halted', finishedAt: now, reason });
      this.options.log.write({ level: 'warn', event: 'ota.campaign.halted', message: `campaign ${campaign.id} (version ${campaign.version}) halted at ${campaign.percent}%`, reason });
      return;
    }
    let current = campaign;
    if (current.stepPercent > 0 && current.percent < 100 && now - current.lastStepAt >= current.stepIntervalMs) {
      const percent = Math.min(100, current.percent + current.stepPercent);
      current = this.store.ota.updateCampaign(current.id, { percent, lastStepAt: now });
      this.options.log.write({ level: 'info', event: 'ota.campaign.widened', message: `campaign ${current.id} (version ${current.version}) widened to ${percent}%` });
    }
    const { images, untargeted } = this.candidates(current);
    const population = devices.length + untargeted.length;
    let missing = targetCount(current.percent, population) - devices.length;
    for (const candidate of untargeted) {
      if (missing <= 0) break;
      const image = images.get(candidate.board)!;
      try {
        this.options.updateDesired(candidate.deviceId, { firmware: image.envelope as unknown as JsonObject });
      } catch (error) {
        const key = `${current.id}/${candidate.deviceId}`;
        if (!this.refused.has(key)) {
          this.refused.add(key);
          this.options.log.write({ level: 'error', event: 'ota.campaign.target', deviceId: candidate.deviceId, message: `campaign ${current.id} could not set the desired firmware of ${candidate.deviceId}: ${(error as Error).message}` });
        }
        continue;
      }
      this.store.ota.addCampaignDevice({
        campaignId: current.id,
        deviceId: candidate.deviceId,
        board: candidate.board,
        imageName: image.name,
        // The store's clock, which also stamps the twin's metadata: reports are compared with it.
        targetedAt: this.options.now(),
        wavePercent: current.percent,
        state: 'pending',
        runningVersion: candidate.runningVersion,
      });
      this.options.log.write({ level: 'info', event: 'ota.campaign.target', deviceId: candidate.deviceId, message: `campaign ${current.id} offers ${image.name} to ${candidate.deviceId}` });
      missing--;
    }
    const after = this.store.ota.campaignDevices(current.id);
    const lastStep = current.percent >= 100 || current.stepPercent === 0;
    if (lastStep && missing <= 0 && after.length > 0 && after.every((d) => TERMINAL.has(d.state))) {
      const counts = countDevices(after);
      const summary = `${counts.succeeded} succeeded, ${counts.failed} failed, ${counts.rolledBack} rolled back`;
      this.store.ota.updateCampaign(current.id, { state: 'completed', finishedAt: now, reason: summary });
      this.options.log.write({ level: 'info', event: 'ota.campaign.completed', message: `campaign ${current.id} (version ${current.version}) completed: ${summary}` });
    }
  }

  /** Rule 1: brings every targeted device's state up to date from its twin. */
  private refresh(campaign: Campaign): CampaignDevice[] {
    const devices = this.store.ota.campaignDevices(campaign.id);
    for (const device of devices) {
      const twin = this.store.twins.get(device.deviceId);
      if (!twin) continue; // deleted: keeps its last state
      const report = deviceReport(twin, campaign.version, device.targetedAt);
      // An outcome stays unless the device reports anew about this version (a retry).
      if (TERMINAL.has(device.state) && report.state === 'pending') continue;
      if (report.state === device.state && report.progress === device.progress && report.reason === device.reason && report.runningVersion === device.runningVersion) continue;
      if (report.state !== device.state) {
        this.options.log.write({
          level: report.state === 'failed' || report.state === 'rolled-back' ? 'warn' : 'info',
          event: 'ota.device',
          deviceId: device.deviceId,
          message: `campaign ${campaign.id}: ${device.deviceId} ${report.state}${report.reason ? ` (${report.reason})` : ''}`,
        });
      }
      this.store.ota.updateCampaignDevice(campaign.id, device.deviceId, report);
      Object.assign(device, report);
    }
    return devices;
  }

  /** Removes the desired firmware from targeted devices that have not started (halt, cancel). */
  private withdrawPending(campaign: Campaign): void {
    for (const device of this.store.ota.campaignDevices(campaign.id)) {
      if (device.state !== 'pending') continue;
      try {
        this.options.updateDesired(device.deviceId, { firmware: null });
      } catch {
        // deleted meanwhile: nothing to withdraw
      }
      this.store.ota.updateCampaignDevice(campaign.id, device.deviceId, { state: 'withdrawn', progress: null, reason: `campaign ${campaign.id} stopped before the device started`, runningVersion: device.runningVersion });
    }
  }

  /** What the HTTP API shows of a campaign. */
  view(campaign: Campaign, options: { devices?: boolean } = {}): JsonObject {
    const devices = this.store.ota.campaignDevices(campaign.id);
    const counts = countDevices(devices);
    const population = campaign.state === 'running' ? devices.length + this.candidates(campaign).untargeted.length : null;
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const nextStep = campaign.state === 'running' && campaign.stepPercent > 0 && campaign.percent < 100 ? campaign.lastStepAt + campaign.stepIntervalMs : null;
    return {
      id: campaign.id,
      version: campaign.version,
      board: campaign.board,
      state: campaign.state,
      percent: campaign.percent,
      startPercent: campaign.startPercent,
      stepPercent: campaign.stepPercent,
      stepIntervalSeconds: campaign.stepIntervalMs / 1000,
      maxFailureRate: campaign.maxFailureRate,
      minFinished: campaign.minFinished,
      population,
      counts: { ...counts },
      failureRate: counts.finished === 0 ? 0 : (counts.failed + counts.rolledBack) / counts.finished,
      halted: campaign.state === 'halted',
      reason: campaign.reason,
      createdTime: iso(campaign.createdAt),
      updatedTime: iso(campaign.updatedAt),
      lastStepTime: iso(campaign.lastStepAt),
      nextStepTime: iso(nextStep),
      finishedTime: iso(campaign.finishedAt),
      ...(options.devices
        ? {
            devices: devices.map((d) => ({
              deviceId: d.deviceId,
              board: d.board,
              image: d.imageName,
              state: d.state,
              progress: d.progress,
              reason: d.reason,
              runningVersion: d.runningVersion,
              wavePercent: d.wavePercent,
              targetedTime: iso(d.targetedAt),
              updatedTime: iso(d.updatedAt),
            })),
          }
        : {}),
    };
  }
}
