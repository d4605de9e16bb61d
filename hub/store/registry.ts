/** The device registry: identities, their status and credentials, and when they were last active. */
import { randomBytes } from 'node:crypto';
import { badRequest, conflict, deviceNotFound, ErrorCodes } from '../errors';
import { generateSymmetricKey } from '../sas';
import type { Db } from './database';
import { checkDeviceId, checkKey, checkObject, normalizeThumbprint } from './validate';

export type DeviceStatus = 'enabled' | 'disabled';
export type AuthenticationType = 'sas' | 'selfSigned' | 'certificateAuthority';

export interface DeviceAuthentication {
  type: AuthenticationType;
  symmetricKey?: { primaryKey: string; secondaryKey: string };
  x509Thumbprint?: { primaryThumbprint: string | null; secondaryThumbprint: string | null };
}

export interface Device {
  deviceId: string;
  status: DeviceStatus;
  statusReason: string | null;
  authentication: DeviceAuthentication;
  generationId: string;
  /** Changes whenever the identity changes. */
  etag: string;
  createdAt: number;
  updatedAt: number;
  lastActivityAt: number | null;
}

/** A device to create: anything left out is defaulted (SAS with generated keys, enabled). */
export interface NewDevice {
  deviceId: string;
  status?: DeviceStatus;
  statusReason?: string;
  authentication?: {
    type?: AuthenticationType;
    symmetricKey?: { primaryKey?: string; secondaryKey?: string };
    x509Thumbprint?: { primaryThumbprint?: string; secondaryThumbprint?: string };
  };
}

interface Row {
  device_id: string;
  status: DeviceStatus;
  status_reason: string | null;
  auth_type: AuthenticationType;
  primary_key: string | null;
  secondary_key: string | null;
  primary_thumbprint: string | null;
  secondary_thumbprint: string | null;
  generation_id: string;
  etag_counter: number;
  created_at: number;
  updated_at: number;
  last_activity_at: number | null;
}

function fromRow(row: Row): Device {
  const authentication: DeviceAuthentication = { type: row.auth_type };
  if (row.auth_type === 'sas') authentication.symmetricKey = { primaryKey: row.primary_key!, secondaryKey: row.secondary_key! };
  if (row.auth_type === 'selfSigned') authentication.x509Thumbprint = { primaryThumbprint: row.primary_thumbprint, secondaryThumbprint: row.secondary_thumbprint };
  return {
    deviceId: row.device_id,
    status: row.status,
    statusReason: row.status_reason,
    authentication,
    generationId: row.generation_id,
    etag: Buffer.from(String(row.etag_counter)).toString('base64'),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastActivityAt: row.last_activity_at,
  };
}

/** Checks a device description and fills in the defaults; throws 400 saying what is wrong. */
export function normalizeNewDevice(input: unknown): Required<Pick<NewDevice, 'deviceId' | 'status'>> & { statusReason: string | null; authentication: DeviceAuthentication } {
  const body = checkObject(input, 'the device');
  const deviceId = checkDeviceId(body.deviceId);
  const status = body.status ?? 'enabled';
  if (status !== 'enabled' && status !== 'disabled') throw badRequest(`status must be "enabled" or "disabled" (got ${JSON.stringify(status)})`);
  const auth = checkObject(body.authentication, 'authentication');
  const symmetric = checkObject(auth.symmetricKey, 'authentication.symmetricKey');
  const x509 = checkObject(auth.x509Thumbprint, 'authentication.x509Thumbprint');
  const hasThumbprint = x509.primaryThumbprint !== undefined || x509.secondaryThumbprint !== undefined;
  const type = auth.type ?? (hasThumbprint ? 'selfSigned' : 'sas');
  if (type !== 'sas' && type !== 'selfSigned' && type !== 'certificateAuthority') {
    throw badRequest(`authentication.type must be "sas", "selfSigned" or "certificateAuthority" (got ${JSON.stringify(type)})`);
  }
  const statusReason = typeof body.statusReason === 'string' ? body.statusReason : null;
  if (type === 'sas') {
    if (hasThumbprint) throw badRequest('a SAS device has no X.509 thumbprints', 'use authentication.type "selfSigned" for thumbprints');
    const primaryKey = symmetric.primaryKey === undefined ? generateSymmetricKey() : checkKey(symmetric.primaryKey, 'authentication.symmetricKey.primaryKey');
    const secondaryKey = symmetric.secondaryKey === undefined ? generateSymmetricKey() : checkKey(symmetric.secondaryKey, 'authentication.symmetricKey.secondaryKey');
    return { deviceId, status, statusReason, authentication: { type, symmetricKey: { primaryKey, secondaryKey } } };
  }
  if (symmetric.primaryKey !== undefined || symmetric.secondaryKey !== undefined) throw badRequest(`a ${type} device has no symmetric keys`, 'leave authentication.symmetricKey out, or use type "sas"');
  if (type === 'certificateAuthority') {
    if (hasThumbprint) throw badRequest('a CA-authenticated device has no thumbprints: its certificate must be signed by the hub\'s CA and name the device id as its common name');
    return { deviceId, status, statusReason, authentication: { type } };
  }
  if (x509.primaryThumbprint === undefined) throw badRequest('a selfSigned device needs authentication.x509Thumbprint.primaryThumbprint', 'give the SHA-1 or SHA-256 fingerprint of the device certificate');
  const primaryThumbprint = normalizeThumbprint(x509.primaryThumbprint, 'authentication.x509Thumbprint.primaryThumbprint');
  const secondaryThumbprint = x509.secondaryThumbprint === undefined || x509.secondaryThumbprint === null ? null : normalizeThumbprint(x509.secondaryThumbprint, 'authentication.x509Thumbprint.secondaryThumbprint');
  return { deviceId, status, statusReason, authentication: { type, x509Thumbprint: { primaryThumbprint, secondaryThumbprint } } };
}

export class DeviceRegistry {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
    /** Called inside the creating transaction (the twin store creates the twin there). */
    private readonly onCreate: (deviceId: string, now: number) => void,
  ) {}

  /** Creates a device; 409 if the id is taken. */
  create(input: NewDevice | unknown): Device {
    const device = normalizeNewDevice(input);
    const now = this.now();
    this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM devices WHERE device_id = ?').get(device.deviceId)) {
        throw conflict(`device "${device.deviceId}" already exists`, 'delete it first, or pick another id', ErrorCodes.DeviceAlreadyExists);
      }
      const a = device.authentication;
      this.db
        .prepare(
          `INSERT INTO devices (device_id, status, status_reason, auth_type, primary_key, secondary_key, primary_thumbprint, secondary_thumbprint,
             generation_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          device.deviceId,
          device.status,
          device.statusReason,
          a.type,
          a.symmetricKey?.primaryKey ?? null,
          a.symmetricKey?.secondaryKey ?? null,
          a.x509Thumbprint?.primaryThumbprint ?? null,
          a.x509Thumbprint?.secondaryThumbprint ?? null,
          randomBytes(9).toString('base64url'),
          now,
          now,
        );
      this.onCreate(device.deviceId, now);
    })();
    return this.get(device.deviceId)!;
  }

  get(deviceId: string): Device | undefined {
    const row = this.db.prepare('SELECT * FROM devices WHERE device_id = ?').get(deviceId) as Row | undefined;
    return row && fromRow(row);
  }

  /** The device, or a 404 HubError. */
  require(deviceId: string): Device {
    const device = this.get(deviceId);
    if (!device) throw deviceNotFound(deviceId);
    return device;
  }

  list(): Device[] {
    return (this.db.prepare('SELECT * FROM devices ORDER BY device_id').all() as Row[]).map(fromRow);
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM devices').get() as { n: number }).n;
  }

  setStatus(deviceId: string, status: DeviceStatus, statusReason?: string | null): Device {
    if (status !== 'enabled' && status !== 'disabled') throw badRequest(`status must be "enabled" or "disabled" (got ${JSON.stringify(status)})`);
    const result = this.db
      .prepare('UPDATE devices SET status = ?, status_reason = ?, updated_at = ?, etag_counter = etag_counter + 1 WHERE device_id = ?')
      .run(status, statusReason ?? null, this.now(), deviceId);
    if (result.changes === 0) throw deviceNotFound(deviceId);
    return this.get(deviceId)!;
  }

  /** Deletes the device and everything kept for it (twin, messages, method log, telemetry and its statistics). 404 if unknown. */
  delete(deviceId: string): void {
    this.db.transaction(() => {
      const result = this.db.prepare('DELETE FROM devices WHERE device_id = ?').run(deviceId);
      if (result.changes === 0) throw deviceNotFound(deviceId);
      this.db.prepare('DELETE FROM method_calls WHERE device_id = ?').run(deviceId);
      // Telemetry, and the message ids and counters kept for it: a new device with this id starts afresh.
      for (const table of ['telemetry', 'telemetry_message_ids', 'telemetry_stats', 'telemetry_minutes']) this.db.prepare(`DELETE FROM ${table} WHERE device_id = ?`).run(deviceId);
    })();
  }

  /** Records activity (connect, message sent or received). */
  touch(deviceId: string, at = this.now()): void {
    this.db.prepare('UPDATE devices SET last_activity_at = ? WHERE device_id = ?').run(at, deviceId);
  }
}
