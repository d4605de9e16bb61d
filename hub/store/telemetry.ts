/**
 * Device-to-cloud messages as received: a bounded table keeping the last N messages per device.
 * Payloads are kept as sent; one whose content type is application/cbor is also decoded (with
 * cbor-x) into JSON values for the HTTP API and `thingkit hub telemetry`.
 *
 * De-duplication: devices publish at least once (QoS 1), and a device that re-sends after a reconnect
 * repeats the message's `$.mid`. The message ids of each device's recent messages are remembered
 * (`telemetry_message_ids`): the last 10 000 per device, none older than 24 h (both configurable). A
 * message whose id is remembered for that device is counted as a duplicate and not stored again; one
 * without a `$.mid` (or with an empty one) is always stored. Ids are per device: two devices may use the
 * same one.
 *
 * Statistics (`telemetry_stats`, `telemetry_minutes`): per device, messages stored and duplicates dropped
 * in all, when the last one arrived, and per-minute counts for the last 24 h (1440 rows per device at most).
 */
import { Decoder, Tag } from 'cbor-x';
import type { Db } from './database';

const STATS_TABLES = `
  CREATE TABLE telemetry_message_ids (
    device_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (device_id, message_id)
  ) WITHOUT ROWID;
  CREATE INDEX telemetry_message_ids_by_ordinal ON telemetry_message_ids(device_id, ordinal);
  CREATE INDEX telemetry_message_ids_by_age ON telemetry_message_ids(device_id, received_at);
  CREATE TABLE telemetry_stats (
    device_id TEXT PRIMARY KEY,
    messages INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    ids_recorded INTEGER NOT NULL DEFAULT 0,
    last_message_at INTEGER,
    last_stored_at INTEGER,
    last_duplicate_at INTEGER
  );
  CREATE TABLE telemetry_minutes (
    device_id TEXT NOT NULL,
    minute INTEGER NOT NULL,
    messages INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, minute)
  ) WITHOUT ROWID;
`;

/**
 * What a file from before knows: the kept messages' ids (so a re-send right after the upgrade is still
 * recognized) and when each device's last message came. Counters start at 0.
 */
const STATS_BACKFILL = `
  INSERT OR IGNORE INTO telemetry_message_ids (device_id, message_id, ordinal, received_at, seq)
    SELECT device_id, json_extract(system_properties, '$.messageId'), ROW_NUMBER() OVER (PARTITION BY device_id ORDER BY seq), enqueued_at, seq
    FROM telemetry
    WHERE json_type(system_properties, '$.messageId') = 'text' AND json_extract(system_properties, '$.messageId') <> '';
  INSERT INTO telemetry_stats (device_id, ids_recorded, last_message_at, last_stored_at)
    SELECT device_id, COUNT(*), MAX(enqueued_at), MAX(enqueued_at) FROM telemetry GROUP BY device_id;
`;

/** Schema migration 3 (hub/store/database.ts runs it after migration 2). */
export const TELEMETRY_STATS_MIGRATION = {
  version: 3,
  description: 'telemetry: recent message ids per device (de-duplication), per-device counters, per-minute counts',
  up(db: Db): void {
    db.exec(STATS_TABLES);
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'telemetry'").get()) db.exec(STATS_BACKFILL);
  },
};

/** Message ids remembered per device for de-duplication (defaults). */
export const DEFAULT_MESSAGE_ID_WINDOW = { maxIds: 10_000, maxAgeMs: 24 * 3_600_000 };

const MINUTE_MS = 60_000;
/** Per-minute counts are kept for this many minutes (24 h). */
const MINUTES_KEPT = 24 * 60;

/** What became of a received message: stored, or dropped as a duplicate of one stored before. */
export type IngestResult =
  | { duplicate: false; message: TelemetryMessage }
  | {
      duplicate: true;
      deviceId: string;
      messageId: string;
      /** The stored copy (it may since have been dropped from the kept messages). */
      firstSeq: number;
      firstReceivedAt: number;
      /** Duplicates dropped for this device in all, this one included. */
      duplicates: number;
    };

export interface TelemetryHour {
  /** Start (inclusive) and end (exclusive) of the hour, ms; whole minutes, the last one ending with the current minute. */
  from: number;
  to: number;
  messages: number;
  duplicates: number;
}

export interface TelemetryStats {
  deviceId: string;
  /** Messages stored, in all (since the device was created, or since the hub's data file was upgraded to schema 3). */
  messages: number;
  /** Duplicates dropped, in all. */
  duplicates: number;
  /** The last message received, duplicates included (null: none yet). */
  lastMessageAt: number | null;
  lastStoredAt: number | null;
  lastDuplicateAt: number | null;
  /** The last 24 hours as 24 rolling hours of whole minutes, oldest first; the last one is "the last hour". */
  hourly: TelemetryHour[];
  /** Message ids remembered now for de-duplication. */
  messageIdsRemembered: number;
}

export interface TelemetryMessage {
  seq: number;
  deviceId: string;
  enqueuedAt: number;
  /** Application properties from the topic's property bag (null for a name without a value). */
  properties: { [name: string]: string | null };
  /** System properties ($.ct → contentType, $.mid → messageId, ...). */
  systemProperties: { [name: string]: string };
  payload: Buffer;
  /**
   * For a payload with content type application/cbor: its value as JSON (`body`), or why it is
   * not CBOR the hub can show (`error`); the payload keeps the bytes either way. Absent for other
   * content types.
   */
  cbor?: { body: unknown } | { error: string };
}

export const CBOR_CONTENT_TYPE = 'application/cbor';

/** Whether a content type (`$.ct`) names CBOR: `application/cbor`, in any case, parameters aside. */
export function isCborContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(';')[0]!.trim().toLowerCase() === CBOR_CONTENT_TYPE;
}

const cborDecoder = new Decoder({ useRecords: false, mapsAsObjects: true });
/** Deeper CBOR is not shown (it would take the JSON conversion's stack). */
const MAX_JSON_DEPTH = 64;

/**
 * A decoded CBOR value as JSON values: byte strings as base64, 64-bit integers as numbers (as
 * decimal strings beyond 2^53), NaN, Infinity and undefined as null (what JSON.stringify writes),
 * dates as ISO strings, other tags as {tag, value}, maps with other keys than text by their JSON text.
 */
function cborToJson(value: unknown, depth: number): unknown {
  if (depth > MAX_JSON_DEPTH) throw new Error(`it nests deeper than ${MAX_JSON_DEPTH} levels`);
  if (value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value === null || typeof value !== 'object') return value;
  const inner = (item: unknown) => cborToJson(item, depth + 1);
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (value instanceof DataView) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>, inner);
  if (Array.isArray(value)) return value.map(inner);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Set) return [...value].map(inner);
  if (value instanceof Map) return Object.fromEntries([...value].map(([key, item]) => [typeof key === 'string' ? key : JSON.stringify(inner(key)), inner(item)]));
  if (value instanceof Tag) return { tag: value.tag, value: inner(value.value) };
  if (value instanceof RegExp) return String(value);
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, inner(item)]));
}

/** A CBOR payload as JSON values, or why it cannot be shown (malformed, truncated, too deep). */
export function decodeCborBody(payload: Uint8Array): { body: unknown } | { error: string } {
  if (payload.length === 0) return { error: 'the payload is empty' };
  try {
    return { body: cborToJson(cborDecoder.decode(payload), 0) };
  } catch (error) {
    return { error: `not well-formed CBOR: ${(error as Error).message}` };
  }
}

function withCbor(message: TelemetryMessage): TelemetryMessage {
  return isCborContentType(message.systemProperties.contentType) ? { ...message, cbor: decodeCborBody(message.payload) } : message;
}

interface Row {
  seq: number;
  device_id: string;
  enqueued_at: number;
  properties: string;
  system_properties: string;
  payload: Buffer;
}

function fromRow(row: Row): TelemetryMessage {
  return withCbor({
    seq: row.seq,
    deviceId: row.device_id,
    enqueuedAt: row.enqueued_at,
    properties: JSON.parse(row.properties),
    systemProperties: JSON.parse(row.system_properties),
    payload: Buffer.from(row.payload),
  });
}

interface StatsRow {
  messages: number;
  duplicates: number;
  ids_recorded: number;
  last_message_at: number | null;
  last_stored_at: number | null;
  last_duplicate_at: number | null;
}

export class TelemetryStore {
  /** Message ids remembered per device: at most `maxIds`, none older than `maxAgeMs`. */
  readonly messageIdWindow: { maxIds: number; maxAgeMs: number };

  constructor(
    private readonly db: Db,
    private readonly now: () => number,
    /** Messages kept per device; older ones are dropped as new ones arrive. */
    readonly keepPerDevice: number,
    messageIdWindow: Partial<{ maxIds: number; maxAgeMs: number }> = {},
  ) {
    this.messageIdWindow = { maxIds: messageIdWindow.maxIds ?? DEFAULT_MESSAGE_ID_WINDOW.maxIds, maxAgeMs: messageIdWindow.maxAgeMs ?? DEFAULT_MESSAGE_ID_WINDOW.maxAgeMs };
  }

  /**
   * Stores a message (synchronously: when this returns, it is in the file), unless it carries a message id
   * (`systemProperties.messageId`, from `$.mid`) the device used within the id window: then it is counted
   * as a duplicate and not stored. A stored CBOR payload comes back decoded too.
   */
  ingest(message: { deviceId: string; properties: TelemetryMessage['properties']; systemProperties: TelemetryMessage['systemProperties']; payload: Uint8Array }): IngestResult {
    const at = this.now();
    const { deviceId } = message;
    const messageId = message.systemProperties.messageId || undefined;
    const minute = Math.floor(at / MINUTE_MS);
    return this.db.transaction((): IngestResult => {
      if (messageId !== undefined) {
        this.db.prepare('DELETE FROM telemetry_message_ids WHERE device_id = ? AND received_at <= ?').run(deviceId, at - this.messageIdWindow.maxAgeMs);
        const seen = this.db.prepare('SELECT seq, received_at FROM telemetry_message_ids WHERE device_id = ? AND message_id = ?').get(deviceId, messageId) as { seq: number; received_at: number } | undefined;
        if (seen) {
          const { duplicates } = this.db
            .prepare(
              `INSERT INTO telemetry_stats (device_id, duplicates, last_message_at, last_duplicate_at) VALUES (?, 1, ?, ?)
               ON CONFLICT (device_id) DO UPDATE SET duplicates = duplicates + 1, last_message_at = excluded.last_message_at, last_duplicate_at = excluded.last_duplicate_at
               RETURNING duplicates`,
            )
            .get(deviceId, at, at) as { duplicates: number };
          this.countMinute(deviceId, minute, 0, 1);
          return { duplicate: true, deviceId, messageId, firstSeq: seen.seq, firstReceivedAt: seen.received_at, duplicates };
        }
      }
      const seq = Number(
        this.db
          .prepare('INSERT INTO telemetry (device_id, enqueued_at, properties, system_properties, payload) VALUES (?, ?, ?, ?, ?)')
          .run(deviceId, at, JSON.stringify(message.properties), JSON.stringify(message.systemProperties), Buffer.from(message.payload)).lastInsertRowid,
      );
      this.db
        .prepare('DELETE FROM telemetry WHERE device_id = ? AND seq <= (SELECT seq FROM telemetry WHERE device_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)')
        .run(deviceId, deviceId, this.keepPerDevice);
      const { ids_recorded: ordinal } = this.db
        .prepare(
          `INSERT INTO telemetry_stats (device_id, messages, ids_recorded, last_message_at, last_stored_at) VALUES (?, 1, ?, ?, ?)
           ON CONFLICT (device_id) DO UPDATE SET messages = messages + 1, ids_recorded = ids_recorded + excluded.ids_recorded,
             last_message_at = excluded.last_message_at, last_stored_at = excluded.last_stored_at
           RETURNING ids_recorded`,
        )
        .get(deviceId, messageId === undefined ? 0 : 1, at, at) as { ids_recorded: number };
      if (messageId !== undefined) {
        this.db.prepare('INSERT INTO telemetry_message_ids (device_id, message_id, ordinal, received_at, seq) VALUES (?, ?, ?, ?, ?)').run(deviceId, messageId, ordinal, at, seq);
        this.db.prepare('DELETE FROM telemetry_message_ids WHERE device_id = ? AND ordinal <= ?').run(deviceId, ordinal - this.messageIdWindow.maxIds);
      }
      this.countMinute(deviceId, minute, 1, 0);
      return {
        duplicate: false,
        message: withCbor({ seq, deviceId, enqueuedAt: at, properties: message.properties, systemProperties: message.systemProperties, payload: Buffer.from(message.payload) }),
      };
    })();
  }

  private countMinute(deviceId: string, minute: number, messages: number, duplicates: number): void {
    this.db
      .prepare(
        `INSERT INTO telemetry_minutes (device_id, minute, messages, duplicates) VALUES (?, ?, ?, ?)
         ON CONFLICT (device_id, minute) DO UPDATE SET messages = messages + excluded.messages, duplicates = duplicates + excluded.duplicates`,
      )
      .run(deviceId, minute, messages, duplicates);
    this.db.prepare('DELETE FROM telemetry_minutes WHERE device_id = ? AND minute <= ?').run(deviceId, minute - MINUTES_KEPT);
  }

  /** A device's telemetry counters at `at` (default now); zeros for a device that never sent anything. */
  stats(deviceId: string, at = this.now()): TelemetryStats {
    const row = this.db.prepare('SELECT * FROM telemetry_stats WHERE device_id = ?').get(deviceId) as StatsRow | undefined;
    const current = Math.floor(at / MINUTE_MS);
    const first = current - MINUTES_KEPT + 1;
    const hourly: TelemetryHour[] = Array.from({ length: 24 }, (_, i) => ({ from: (first + i * 60) * MINUTE_MS, to: (first + (i + 1) * 60) * MINUTE_MS, messages: 0, duplicates: 0 }));
    const minutes = this.db
      .prepare('SELECT minute, messages, duplicates FROM telemetry_minutes WHERE device_id = ? AND minute >= ? AND minute <= ?')
      .all(deviceId, first, current) as Array<{ minute: number; messages: number; duplicates: number }>;
    for (const m of minutes) {
      const hour = hourly[Math.floor((m.minute - first) / 60)];
      hour.messages += m.messages;
      hour.duplicates += m.duplicates;
    }
    const remembered = this.db
      .prepare('SELECT COUNT(*) AS n FROM telemetry_message_ids WHERE device_id = ? AND received_at > ?')
      .get(deviceId, at - this.messageIdWindow.maxAgeMs) as { n: number };
    return {
      deviceId,
      messages: row?.messages ?? 0,
      duplicates: row?.duplicates ?? 0,
      lastMessageAt: row?.last_message_at ?? null,
      lastStoredAt: row?.last_stored_at ?? null,
      lastDuplicateAt: row?.last_duplicate_at ?? null,
      hourly,
      messageIdsRemembered: remembered.n,
    };
  }

  /** When each device's last message came (duplicates included), for devices that sent any. */
  lastMessageTimes(): Map<string, number> {
    const rows = this.db.prepare('SELECT device_id, last_message_at FROM telemetry_stats WHERE last_message_at IS NOT NULL').all() as Array<{ device_id: string; last_message_at: number }>;
    return new Map(rows.map((r) => [r.device_id, r.last_message_at]));
  }

  /** The most recent messages of a device, oldest first; `afterSeq` gives only newer ones. */
  recent(deviceId: string, options: { limit?: number; afterSeq?: number } = {}): TelemetryMessage[] {
    const rows = this.db
      .prepare('SELECT * FROM telemetry WHERE device_id = ? AND seq > ? ORDER BY seq DESC LIMIT ?')
      .all(deviceId, options.afterSeq ?? 0, options.limit ?? 100) as Row[];
    return rows.map(fromRow).reverse();
  }

  count(deviceId: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM telemetry WHERE device_id = ?').get(deviceId) as { n: number }).n;
  }
}
