/**
 * DPS enrollments and registrations. An individual enrollment names one registration id and its
 * attestation (a symmetric key pair, or X.509 certificate thumbprints); a symmetric-key enrollment group
 * admits any registration id whose key is base64(HMAC-SHA256(registrationId)) under the group's key.
 * A registration records what DPS assigned: the device id and the hub.
 */
import { randomUUID } from 'node:crypto';
import { badRequest, notFound } from '../errors';
import { deriveDeviceKey, generateSymmetricKey } from '../sas';
import { isJsonObject, validatePatch, type JsonObject } from '../twin';
import type { Db } from './database';
import { checkDeviceId, checkKey, checkObject, checkRegistrationId, normalizeThumbprint } from './validate';

export type ProvisioningStatus = 'enabled' | 'disabled';

export type Attestation =
  | { type: 'symmetricKey'; symmetricKey: { primaryKey: string; secondaryKey: string } }
  | { type: 'x509'; x509: { thumbprint: { primary: string; secondary: string | null } } };

export interface InitialTwin {
  tags?: JsonObject;
  properties?: { desired?: JsonObject };
}

export interface Enrollment {
  registrationId: string;
  attestation: Attestation;
  /** The device id DPS assigns (default: the registration id). */
  deviceId: string | null;
  initialTwin: InitialTwin | null;
  provisioningStatus: ProvisioningStatus;
  createdAt: number;
  updatedAt: number;
}

export interface EnrollmentGroup {
  enrollmentGroupId: string;
  attestation: { type: 'symmetricKey'; symmetricKey: { primaryKey: string; secondaryKey: string } };
  initialTwin: InitialTwin | null;
  provisioningStatus: ProvisioningStatus;
  createdAt: number;
  updatedAt: number;
}

export interface Registration {
  registrationId: string;
  enrollmentGroupId: string | null;
  deviceId: string;
  assignedHub: string;
  status: 'assigned';
  substatus: 'initialAssignment' | 'reprovisionedToInitialAssignment';
  operationId: string;
  payload: unknown;
  createdAt: number;
  updatedAt: number;
  etag: string;
}

interface EnrollmentRow {
  registration_id: string;
  attestation: 'symmetricKey' | 'x509';
  primary_key: string | null;
  secondary_key: string | null;
  primary_thumbprint: string | null;
  secondary_thumbprint: string | null;
  device_id: string | null;
  initial_twin: string | null;
  provisioning_status: ProvisioningStatus;
  created_at: number;
  updated_at: number;
}

interface GroupRow {
  group_id: string;
  attestation: 'symmetricKey';
  primary_key: string;
  secondary_key: string;
  initial_twin: string | null;
  provisioning_status: ProvisioningStatus;
  created_at: number;
  updated_at: number;
}

interface RegistrationRow {
  registration_id: string;
  group_id: string | null;
  device_id: string;
  assigned_hub: string;
  status: 'assigned';
  substatus: Registration['substatus'];
  operation_id: string;
  payload: string | null;
  created_at: number;
  updated_at: number;
  etag_counter: number;
}

function enrollmentFromRow(row: EnrollmentRow): Enrollment {
  const attestation: Attestation =
    row.attestation === 'symmetricKey'
      ? { type: 'symmetricKey', symmetricKey: { primaryKey: row.primary_key!, secondaryKey: row.secondary_key! } }
      : { type: 'x509', x509: { thumbprint: { primary: row.primary_thumbprint!, secondary: row.secondary_thumbprint } } };
  return {
    registrationId: row.registration_id,
    attestation,
    deviceId: row.device_id,
    initialTwin: row.initial_twin ? JSON.parse(row.initial_twin) : null,
    provisioningStatus: row.provisioning_status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function groupFromRow(row: GroupRow): EnrollmentGroup {
  return {
    enrollmentGroupId: row.group_id,
    attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: row.primary_key, secondaryKey: row.secondary_key } },
    initialTwin: row.initial_twin ? JSON.parse(row.initial_twin) : null,
    provisioningStatus: row.provisioning_status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function registrationFromRow(row: RegistrationRow): Registration {
  return {
    registrationId: row.registration_id,
    enrollmentGroupId: row.group_id,
    deviceId: row.device_id,
    assignedHub: row.assigned_hub,
    status: row.status,
    substatus: row.substatus,
    operationId: row.operation_id,
    payload: row.payload === null ? null : JSON.parse(row.payload),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    etag: Buffer.from(String(row.etag_counter)).toString('base64'),
  };
}

function checkStatus(value: unknown): ProvisioningStatus {
  const status = value ?? 'enabled';
  if (status !== 'enabled' && status !== 'disabled') throw badRequest(`provisioningStatus must be "enabled" or "disabled" (got ${JSON.stringify(status)})`);
  return status;
}

function checkInitialTwin(value: unknown): InitialTwin | null {
  if (value === undefined || value === null) return null;
  const twin = checkObject(value, 'initialTwin');
  const out: InitialTwin = {};
  if (twin.tags !== undefined) {
    if (!isJsonObject(twin.tags)) throw badRequest('initialTwin.tags must be a JSON object');
    validatePatch(twin.tags, 'tags');
    out.tags = twin.tags;
  }
  if (twin.properties !== undefined) {
    const properties = checkObject(twin.properties, 'initialTwin.properties');
    if (properties.desired !== undefined) {
      if (!isJsonObject(properties.desired)) throw badRequest('initialTwin.properties.desired must be a JSON object');
      validatePatch(properties.desired, 'desired');
      out.properties = { desired: properties.desired };
    }
  }
  return out;
}

function checkSymmetric(value: unknown): { primaryKey: string; secondaryKey: string } {
  const keys = checkObject(value, 'attestation.symmetricKey');
  return {
    primaryKey: keys.primaryKey === undefined ? generateSymmetricKey() : checkKey(keys.primaryKey, 'attestation.symmetricKey.primaryKey'),
    secondaryKey: keys.secondaryKey === undefined ? generateSymmetricKey() : checkKey(keys.secondaryKey, 'attestation.symmetricKey.secondaryKey'),
  };
}

export class EnrollmentStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  // ---- individual enrollments ----

  /** Creates or replaces an individual enrollment (PUT semantics). Keys left out are generated. */
  putEnrollment(registrationId: string, input: unknown): { enrollment: Enrollment; created: boolean } {
    checkRegistrationId(registrationId);
    const body = checkObject(input, 'the enrollment');
    if (body.registrationId !== undefined && body.registrationId !== registrationId) {
      throw badRequest(`the body's registrationId "${String(body.registrationId)}" differs from the one in the path "${registrationId}"`);
    }
    const attestationIn = checkObject(body.attestation, 'attestation');
    const type = attestationIn.type ?? (attestationIn.x509 !== undefined ? 'x509' : 'symmetricKey');
    let attestation: Attestation;
    if (type === 'symmetricKey') {
      attestation = { type, symmetricKey: checkSymmetric(attestationIn.symmetricKey) };
    } else if (type === 'x509') {
      const thumbprint = checkObject(checkObject(attestationIn.x509, 'attestation.x509').thumbprint, 'attestation.x509.thumbprint');
      if (thumbprint.primary === undefined) throw badRequest('an X.509 enrollment needs attestation.x509.thumbprint.primary', 'give the SHA-1 or SHA-256 fingerprint of the device certificate (its common name must be the registration id)');
      attestation = {
        type,
        x509: {
          thumbprint: {
            primary: normalizeThumbprint(thumbprint.primary, 'attestation.x509.thumbprint.primary'),
            secondary: thumbprint.secondary === undefined || thumbprint.secondary === null ? null : normalizeThumbprint(thumbprint.secondary, 'attestation.x509.thumbprint.secondary'),
          },
        },
      };
    } else {
      throw badRequest(`attestation.type must be "symmetricKey" or "x509" (got ${JSON.stringify(type)})`, 'TPM attestation is not supported by the local hub');
    }
    const deviceId = body.deviceId === undefined || body.deviceId === null ? null : checkDeviceId(body.deviceId);
    const initialTwin = checkInitialTwin(body.initialTwin);
    const provisioningStatus = checkStatus(body.provisioningStatus);
    const now = this.now();
    const created = this.db.transaction(() => {
      const existing = this.db.prepare('SELECT created_at FROM enrollments WHERE registration_id = ?').get(registrationId) as { created_at: number } | undefined;
      this.db
        .prepare(
          `INSERT OR REPLACE INTO enrollments (registration_id, attestation, primary_key, secondary_key, primary_thumbprint, secondary_thumbprint, device_id, initial_twin, provisioning_status, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          registrationId,
          attestation.type,
          attestation.type === 'symmetricKey' ? attestation.symmetricKey.primaryKey : null,
          attestation.type === 'symmetricKey' ? attestation.symmetricKey.secondaryKey : null,
          attestation.type === 'x509' ? attestation.x509.thumbprint.primary : null,
          attestation.type === 'x509' ? attestation.x509.thumbprint.secondary : null,
          deviceId,
          initialTwin ? JSON.stringify(initialTwin) : null,
          provisioningStatus,
          existing?.created_at ?? now,
          now,
        );
      return !existing;
    })();
    return { enrollment: this.getEnrollment(registrationId)!, created };
  }

  getEnrollment(registrationId: string): Enrollment | undefined {
    const row = this.db.prepare('SELECT * FROM enrollments WHERE registration_id = ?').get(registrationId) as EnrollmentRow | undefined;
    return row && enrollmentFromRow(row);
  }

  listEnrollments(): Enrollment[] {
    return (this.db.prepare('SELECT * FROM enrollments ORDER BY registration_id').all() as EnrollmentRow[]).map(enrollmentFromRow);
  }

  deleteEnrollment(registrationId: string): void {
    if (this.db.prepare('DELETE FROM enrollments WHERE registration_id = ?').run(registrationId).changes === 0) {
      throw notFound(`enrollment "${registrationId}"`, 'list enrollments with GET /enrollments');
    }
  }

  // ---- enrollment groups ----

  putGroup(groupId: string, input: unknown): { group: EnrollmentGroup; created: boolean } {
    checkRegistrationId(groupId, 'enrollment group id');
    const body = checkObject(input, 'the enrollment group');
    const attestationIn = checkObject(body.attestation, 'attestation');
    const type = attestationIn.type ?? 'symmetricKey';
    if (type !== 'symmetricKey') throw badRequest(`enrollment groups of the local hub use symmetric keys (attestation.type "symmetricKey"), not ${JSON.stringify(type)}`);
    const keys = checkSymmetric(attestationIn.symmetricKey);
    const initialTwin = checkInitialTwin(body.initialTwin);
    const provisioningStatus = checkStatus(body.provisioningStatus);
    const now = this.now();
    const created = this.db.transaction(() => {
      const existing = this.db.prepare('SELECT created_at FROM enrollment_groups WHERE group_id = ?').get(groupId) as { created_at: number } | undefined;
      if (existing) {
        this.db
          .prepare('UPDATE enrollment_groups SET primary_key = ?, secondary_key = ?, initial_twin = ?, provisioning_status = ?, updated_at = ? WHERE group_id = ?')
          .run(keys.primaryKey, keys.secondaryKey, initialTwin ? JSON.stringify(initialTwin) : null, provisioningStatus, now, groupId);
      } else {
        this.db
          .prepare('INSERT INTO enrollment_groups (group_id, attestation, primary_key, secondary_key, initial_twin, provisioning_status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
          .run(groupId, 'symmetricKey', keys.primaryKey, keys.secondaryKey, initialTwin ? JSON.stringify(initialTwin) : null, provisioningStatus, now, now);
      }
      return !existing;
    })();
    return { group: this.getGroup(groupId)!, created };
  }

  getGroup(groupId: string): EnrollmentGroup | undefined {
    const row = this.db.prepare('SELECT * FROM enrollment_groups WHERE group_id = ?').get(groupId) as GroupRow | undefined;
    return row && groupFromRow(row);
  }

  listGroups(): EnrollmentGroup[] {
    return (this.db.prepare('SELECT * FROM enrollment_groups ORDER BY group_id').all() as GroupRow[]).map(groupFromRow);
  }

  deleteGroup(groupId: string): void {
    if (this.db.prepare('DELETE FROM enrollment_groups WHERE group_id = ?').run(groupId).changes === 0) {
      throw notFound(`enrollment group "${groupId}"`, 'list groups with GET /enrollmentGroups');
    }
  }

  /** The group-derived device keys for a registration id (what a device under the group must sign with). */
  static derivedKeys(group: EnrollmentGroup, registrationId: string): { primaryKey: string; secondaryKey: string } {
    return {
      primaryKey: deriveDeviceKey(group.attestation.symmetricKey.primaryKey, registrationId),
      secondaryKey: deriveDeviceKey(group.attestation.symmetricKey.secondaryKey, registrationId),
    };
  }

  // ---- registrations ----

  /** Records (or renews) the assignment of a registration; a new operation id each time. */
  recordAssignment(assignment: { registrationId: string; groupId: string | null; deviceId: string; assignedHub: string; payload: unknown }): Registration {
    const now = this.now();
    const operationId = `4.${now.toString(16)}.${randomUUID()}`;
    this.db.transaction(() => {
      const existing = this.db.prepare('SELECT created_at, etag_counter FROM registrations WHERE registration_id = ?').get(assignment.registrationId) as
        | { created_at: number; etag_counter: number }
        | undefined;
      this.db
        .prepare(
          `INSERT OR REPLACE INTO registrations (registration_id, group_id, device_id, assigned_hub, status, substatus, operation_id, payload, created_at, updated_at, etag_counter)
           VALUES (?, ?, ?, ?, 'assigned', ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          assignment.registrationId,
          assignment.groupId,
          assignment.deviceId,
          assignment.assignedHub,
          existing ? 'reprovisionedToInitialAssignment' : 'initialAssignment',
          operationId,
          assignment.payload === undefined || assignment.payload === null ? null : JSON.stringify(assignment.payload),
          existing?.created_at ?? now,
          now,
          (existing?.etag_counter ?? 0) + 1,
        );
    })();
    return this.getRegistration(assignment.registrationId)!;
  }

  getRegistration(registrationId: string): Registration | undefined {
    const row = this.db.prepare('SELECT * FROM registrations WHERE registration_id = ?').get(registrationId) as RegistrationRow | undefined;
    return row && registrationFromRow(row);
  }

  registrationByOperation(operationId: string): Registration | undefined {
    const row = this.db.prepare('SELECT * FROM registrations WHERE operation_id = ?').get(operationId) as RegistrationRow | undefined;
    return row && registrationFromRow(row);
  }

  listRegistrations(groupId?: string): Registration[] {
    const rows = (groupId === undefined
      ? this.db.prepare('SELECT * FROM registrations ORDER BY registration_id').all()
      : this.db.prepare('SELECT * FROM registrations WHERE group_id = ? ORDER BY registration_id').all(groupId)) as RegistrationRow[];
    return rows.map(registrationFromRow);
  }

  deleteRegistration(registrationId: string): void {
    if (this.db.prepare('DELETE FROM registrations WHERE registration_id = ?').run(registrationId).changes === 0) {
      throw notFound(`registration "${registrationId}"`);
    }
  }
}
