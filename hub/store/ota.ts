/**
 * OTA in the hub's SQLite file: published app images (their bytes and the developer-signed envelope that
 * points at them), rollout campaigns, and each campaign's devices with what they last reported.
 *
 * The hub never holds the signing key: an image is published with its envelope already signed, and the hub
 * stores both as they came. The campaign engine (hub/ota/campaigns.ts) owns the rules; this module only
 * reads and writes rows.
 */
import type { Db } from './database';

/** Schema migration 2 (hub/store/database.ts runs it after migration 1). */
export const OTA_MIGRATION = {
  version: 2,
  description: 'OTA: published images, rollout campaigns and their devices',
  up: `
    CREATE TABLE ota_images (
      name TEXT PRIMARY KEY,
      board TEXT NOT NULL,
      version TEXT NOT NULL,
      security_version INTEGER NOT NULL,
      size INTEGER NOT NULL,
      sha256 TEXT NOT NULL,
      url TEXT NOT NULL,
      envelope TEXT NOT NULL,
      bytes BLOB NOT NULL,
      published_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      UNIQUE (board, version)
    );
    CREATE TABLE ota_campaigns (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      version TEXT NOT NULL,
      board TEXT,
      state TEXT NOT NULL CHECK (state IN ('running', 'halted', 'completed', 'cancelled')),
      percent REAL NOT NULL,
      start_percent REAL NOT NULL,
      step_percent REAL NOT NULL,
      step_interval_ms INTEGER NOT NULL,
      max_failure_rate REAL NOT NULL,
      min_finished INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      last_step_at INTEGER NOT NULL,
      finished_at INTEGER,
      reason TEXT
    );
    CREATE TABLE ota_campaign_devices (
      campaign_id INTEGER NOT NULL REFERENCES ota_campaigns(id) ON DELETE CASCADE,
      device_id TEXT NOT NULL,
      board TEXT NOT NULL,
      image_name TEXT NOT NULL,
      targeted_at INTEGER NOT NULL,
      wave_percent REAL NOT NULL,
      state TEXT NOT NULL,
      progress INTEGER,
      reason TEXT,
      running_version TEXT,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (campaign_id, device_id)
    );
  `,
};

export interface OtaImage {
  /** `{board}-{version}.bin`: the last segment of its download URL (/ota/images/{name}). */
  name: string;
  board: string;
  version: string;
  securityVersion: number;
  size: number;
  sha256: string;
  /** The manifest's url, as signed. */
  url: string;
  /** The signed envelope `{manifest, signature}`, as published. */
  envelope: { manifest: { [key: string]: unknown }; signature: string };
  publishedAt: number;
  updatedAt: number;
}

export type CampaignState = 'running' | 'halted' | 'completed' | 'cancelled';

export interface Campaign {
  id: number;
  version: string;
  /** Only devices of this board; null: every board with an image of the version. */
  board: string | null;
  state: CampaignState;
  /** The share of the fleet targeted now (0 < percent <= 100). */
  percent: number;
  startPercent: number;
  /** Added to `percent` every `stepIntervalMs` while the campaign runs (0: never widened). */
  stepPercent: number;
  stepIntervalMs: number;
  /** Halt when (failed + rolled-back) / finished exceeds this (0 … 1). */
  maxFailureRate: number;
  /** … once at least this many targeted devices have finished. */
  minFinished: number;
  createdAt: number;
  updatedAt: number;
  lastStepAt: number;
  finishedAt: number | null;
  /** Why it halted, completed or was cancelled. */
  reason: string | null;
}

/** What a targeted device's update is doing, from its reported `firmwareUpdate` and `firmwareVersion`. */
export type CampaignDeviceState = 'pending' | 'downloading' | 'verifying' | 'applying' | 'rebooting' | 'succeeded' | 'failed' | 'rolled-back' | 'withdrawn';

export interface CampaignDevice {
  campaignId: number;
  deviceId: string;
  board: string;
  imageName: string;
  targetedAt: number;
  /** The campaign's percent when the device was picked. */
  wavePercent: number;
  state: CampaignDeviceState;
  /** Download progress (0 … 100) while in progress. */
  progress: number | null;
  reason: string | null;
  /** The firmware version the device last reported running. */
  runningVersion: string | null;
  updatedAt: number;
}

interface ImageRow {
  name: string;
  board: string;
  version: string;
  security_version: number;
  size: number;
  sha256: string;
  url: string;
  envelope: string;
  published_at: number;
  updated_at: number;
}

interface CampaignRow {
  id: number;
  version: string;
  board: string | null;
  state: CampaignState;
  percent: number;
  start_percent: number;
  step_percent: number;
  step_interval_ms: number;
  max_failure_rate: number;
  min_finished: number;
  created_at: number;
  updated_at: number;
  last_step_at: number;
  finished_at: number | null;
  reason: string | null;
}

interface DeviceRow {
  campaign_id: number;
  device_id: string;
  board: string;
  image_name: string;
  targeted_at: number;
  wave_percent: number;
  state: CampaignDeviceState;
  progress: number | null;
  reason: string | null;
  running_version: string | null;
  updated_at: number;
}

const IMAGE_COLUMNS = 'name, board, version, security_version, size, sha256, url, envelope, published_at, updated_at';

function imageFromRow(row: ImageRow): OtaImage {
  return {
    name: row.name,
    board: row.board,
    version: row.version,
    securityVersion: row.security_version,
    size: row.size,
    sha256: row.sha256,
    url: row.url,
    envelope: JSON.parse(row.envelope),
    publishedAt: row.published_at,
    updatedAt: row.updated_at,
  };
}

function campaignFromRow(row: CampaignRow): Campaign {
  return {
    id: row.id,
    version: row.version,
    board: row.board,
    state: row.state,
    percent: row.percent,
    startPercent: row.start_percent,
    stepPercent: row.step_percent,
    stepIntervalMs: row.step_interval_ms,
    maxFailureRate: row.max_failure_rate,
    minFinished: row.min_finished,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastStepAt: row.last_step_at,
    finishedAt: row.finished_at,
    reason: row.reason,
  };
}

function deviceFromRow(row: DeviceRow): CampaignDevice {
  return {
    campaignId: row.campaign_id,
    deviceId: row.device_id,
    board: row.board,
    imageName: row.image_name,
    targetedAt: row.targeted_at,
    wavePercent: row.wave_percent,
    state: row.state,
    progress: row.progress,
    reason: row.reason,
    runningVersion: row.running_version,
    updatedAt: row.updated_at,
  };
}

export interface NewCampaign {
  version: string;
  board: string | null;
  percent: number;
  stepPercent: number;
  stepIntervalMs: number;
  maxFailureRate: number;
  minFinished: number;
}

export class OtaStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  // ---- images ----

  /** Inserts or replaces the image called `image.name`. */
  putImage(image: Omit<OtaImage, 'publishedAt' | 'updatedAt'>, bytes: Uint8Array): { image: OtaImage; created: boolean } {
    const at = this.now();
    return this.db.transaction(() => {
      const existing = this.getImage(image.name);
      if (existing) {
        this.db
          .prepare('UPDATE ota_images SET security_version = ?, size = ?, sha256 = ?, url = ?, envelope = ?, bytes = ?, updated_at = ? WHERE name = ?')
          .run(image.securityVersion, image.size, image.sha256, image.url, JSON.stringify(image.envelope), Buffer.from(bytes), at, image.name);
      } else {
        this.db
          .prepare(`INSERT INTO ota_images (${IMAGE_COLUMNS}, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(image.name, image.board, image.version, image.securityVersion, image.size, image.sha256, image.url, JSON.stringify(image.envelope), at, at, Buffer.from(bytes));
      }
      return { image: this.getImage(image.name)!, created: !existing };
    })();
  }

  getImage(name: string): OtaImage | undefined {
    const row = this.db.prepare(`SELECT ${IMAGE_COLUMNS} FROM ota_images WHERE name = ?`).get(name) as ImageRow | undefined;
    return row && imageFromRow(row);
  }

  /** The image's bytes (the whole file: the hub serves ranges of it from memory). */
  imageBytes(name: string): Buffer | undefined {
    const row = this.db.prepare('SELECT bytes FROM ota_images WHERE name = ?').get(name) as { bytes: Buffer } | undefined;
    return row?.bytes;
  }

  listImages(): OtaImage[] {
    return (this.db.prepare(`SELECT ${IMAGE_COLUMNS} FROM ota_images ORDER BY board, published_at`).all() as ImageRow[]).map(imageFromRow);
  }

  /** Images of this version (for one board, or for every board). */
  imagesOfVersion(version: string, board: string | null): OtaImage[] {
    const rows = (board === null
      ? this.db.prepare(`SELECT ${IMAGE_COLUMNS} FROM ota_images WHERE version = ? ORDER BY board`).all(version)
      : this.db.prepare(`SELECT ${IMAGE_COLUMNS} FROM ota_images WHERE version = ? AND board = ?`).all(version, board)) as ImageRow[];
    return rows.map(imageFromRow);
  }

  deleteImage(name: string): boolean {
    return this.db.prepare('DELETE FROM ota_images WHERE name = ?').run(name).changes > 0;
  }

  // ---- campaigns ----

  createCampaign(input: NewCampaign): Campaign {
    const at = this.now();
    const id = this.db
      .prepare(
        `INSERT INTO ota_campaigns (version, board, state, percent, start_percent, step_percent, step_interval_ms, max_failure_rate, min_finished, created_at, updated_at, last_step_at)
         VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(input.version, input.board, input.percent, input.percent, input.stepPercent, input.stepIntervalMs, input.maxFailureRate, input.minFinished, at, at, at).lastInsertRowid;
    return this.getCampaign(Number(id))!;
  }

  getCampaign(id: number): Campaign | undefined {
    const row = this.db.prepare('SELECT * FROM ota_campaigns WHERE id = ?').get(id) as CampaignRow | undefined;
    return row && campaignFromRow(row);
  }

  listCampaigns(filter: { state?: CampaignState } = {}): Campaign[] {
    const rows = (filter.state
      ? this.db.prepare('SELECT * FROM ota_campaigns WHERE state = ? ORDER BY id').all(filter.state)
      : this.db.prepare('SELECT * FROM ota_campaigns ORDER BY id').all()) as CampaignRow[];
    return rows.map(campaignFromRow);
  }

  updateCampaign(id: number, change: Partial<Pick<Campaign, 'state' | 'percent' | 'lastStepAt' | 'finishedAt' | 'reason'>>): Campaign {
    const current = this.getCampaign(id);
    if (!current) throw new Error(`campaign ${id} does not exist`);
    const next = { ...current, ...change };
    this.db
      .prepare('UPDATE ota_campaigns SET state = ?, percent = ?, last_step_at = ?, finished_at = ?, reason = ?, updated_at = ? WHERE id = ?')
      .run(next.state, next.percent, next.lastStepAt, next.finishedAt, next.reason, this.now(), id);
    return this.getCampaign(id)!;
  }

  // ---- campaign devices ----

  addCampaignDevice(device: Omit<CampaignDevice, 'updatedAt' | 'progress' | 'reason' | 'runningVersion'> & { runningVersion?: string | null }): void {
    this.db
      .prepare(
        `INSERT INTO ota_campaign_devices (campaign_id, device_id, board, image_name, targeted_at, wave_percent, state, running_version, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(device.campaignId, device.deviceId, device.board, device.imageName, device.targetedAt, device.wavePercent, device.state, device.runningVersion ?? null, this.now());
  }

  campaignDevices(campaignId: number): CampaignDevice[] {
    return (this.db.prepare('SELECT * FROM ota_campaign_devices WHERE campaign_id = ? ORDER BY targeted_at, device_id').all(campaignId) as DeviceRow[]).map(deviceFromRow);
  }

  updateCampaignDevice(campaignId: number, deviceId: string, change: Pick<CampaignDevice, 'state' | 'progress' | 'reason' | 'runningVersion'>): void {
    this.db
      .prepare('UPDATE ota_campaign_devices SET state = ?, progress = ?, reason = ?, running_version = ?, updated_at = ? WHERE campaign_id = ? AND device_id = ?')
      .run(change.state, change.progress, change.reason, change.runningVersion, this.now(), campaignId, deviceId);
  }
}
