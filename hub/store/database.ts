/**
 * The hub's SQLite file: opened in WAL mode with foreign keys on, and brought to the current schema by
 * numbered migrations recorded in `PRAGMA user_version`. Each migration runs in one transaction, so a
 * crash mid-migration leaves the file at the previous version.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { OTA_MIGRATION } from './ota';
import { TELEMETRY_STATS_MIGRATION } from './telemetry';

export type Db = Database.Database;

interface Migration {
  version: number;
  description: string;
  /** SQL, or a function for a migration that must look at the file first. */
  up: string | ((db: Db) => void);
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'registry, twins, cloud-to-device messages, method calls, DPS enrollments and registrations, telemetry',
    up: `
      CREATE TABLE devices (
        device_id TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
        status_reason TEXT,
        auth_type TEXT NOT NULL CHECK (auth_type IN ('sas', 'selfSigned', 'certificateAuthority')),
        primary_key TEXT,
        secondary_key TEXT,
        primary_thumbprint TEXT,
        secondary_thumbprint TEXT,
        generation_id TEXT NOT NULL,
        etag_counter INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_activity_at INTEGER
      );
      CREATE TABLE twins (
        device_id TEXT PRIMARY KEY REFERENCES devices(device_id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        tags TEXT NOT NULL,
        desired TEXT NOT NULL,
        desired_metadata TEXT NOT NULL,
        desired_version INTEGER NOT NULL,
        reported TEXT NOT NULL,
        reported_metadata TEXT NOT NULL,
        reported_version INTEGER NOT NULL
      );
      CREATE TABLE c2d_messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
        payload BLOB NOT NULL,
        properties TEXT NOT NULL,
        correlation_id TEXT,
        user_id TEXT,
        content_type TEXT,
        content_encoding TEXT,
        ack TEXT NOT NULL CHECK (ack IN ('none', 'positive', 'negative', 'full')),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'completed', 'expired', 'rejected')),
        delivery_count INTEGER NOT NULL DEFAULT 0,
        delivered_at INTEGER,
        finished_at INTEGER,
        feedback_status TEXT,
        feedback_description TEXT
      );
      CREATE INDEX c2d_by_device ON c2d_messages(device_id, state, seq);
      CREATE INDEX c2d_by_message_id ON c2d_messages(message_id);
      CREATE TABLE method_calls (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL,
        method_name TEXT NOT NULL,
        request_id TEXT NOT NULL,
        request_payload TEXT,
        response_timeout_ms INTEGER NOT NULL,
        connect_timeout_ms INTEGER NOT NULL,
        invoked_at INTEGER NOT NULL,
        finished_at INTEGER,
        outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'answered', 'offline', 'timeout', 'failed')),
        status INTEGER,
        response_payload TEXT
      );
      CREATE INDEX method_calls_by_device ON method_calls(device_id, seq);
      CREATE TABLE enrollments (
        registration_id TEXT PRIMARY KEY,
        attestation TEXT NOT NULL CHECK (attestation IN ('symmetricKey', 'x509')),
        primary_key TEXT,
        secondary_key TEXT,
        primary_thumbprint TEXT,
        secondary_thumbprint TEXT,
        device_id TEXT,
        initial_twin TEXT,
        provisioning_status TEXT NOT NULL CHECK (provisioning_status IN ('enabled', 'disabled')),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE enrollment_groups (
        group_id TEXT PRIMARY KEY,
        attestation TEXT NOT NULL CHECK (attestation IN ('symmetricKey')),
        primary_key TEXT NOT NULL,
        secondary_key TEXT NOT NULL,
        initial_twin TEXT,
        provisioning_status TEXT NOT NULL CHECK (provisioning_status IN ('enabled', 'disabled')),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE registrations (
        registration_id TEXT PRIMARY KEY,
        group_id TEXT REFERENCES enrollment_groups(group_id) ON DELETE SET NULL,
        device_id TEXT NOT NULL,
        assigned_hub TEXT NOT NULL,
        status TEXT NOT NULL,
        substatus TEXT NOT NULL,
        operation_id TEXT NOT NULL,
        payload TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        etag_counter INTEGER NOT NULL DEFAULT 1
      );
      CREATE INDEX registrations_by_group ON registrations(group_id);
      CREATE UNIQUE INDEX registrations_by_operation ON registrations(operation_id);
      CREATE TABLE telemetry (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL,
        enqueued_at INTEGER NOT NULL,
        properties TEXT NOT NULL,
        system_properties TEXT NOT NULL,
        payload BLOB NOT NULL
      );
      CREATE INDEX telemetry_by_device ON telemetry(device_id, seq);
    `,
  },
  OTA_MIGRATION,
  TELEMETRY_STATS_MIGRATION,
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

/** Opens (creating if need be) the hub's data file and migrates it. `:memory:` gives a throwaway store. */
export function openDatabase(file: string): Db {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  let db: Db;
  try {
    db = new Database(file);
  } catch (error) {
    throw new StoreError(`cannot open the hub data file ${file}: ${(error as Error).message}`);
  }
  try {
    if (file !== ':memory:') {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw new StoreError(`the hub data file ${file} cannot use write-ahead logging (journal mode stays "${mode}")`);
    }
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    migrate(db, file);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof StoreError) throw error;
    throw new StoreError(`cannot use the hub data file ${file}: ${(error as Error).message}`);
  }
}

function migrate(db: Db, file: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new StoreError(`the hub data file ${file} has schema version ${current}, newer than this thingkit understands (${SCHEMA_VERSION}): upgrade thingkit or use another data file`);
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      if (typeof migration.up === 'string') db.exec(migration.up);
      else migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}
