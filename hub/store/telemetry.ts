/**
 * Device-to-cloud messages as received: a bounded table keeping the last N messages per device.
 * Payloads are kept as sent; one whose content type is application/cbor is also decoded (with
 * cbor-x) into JSON values for the HTTP API and `thingkit hub telemetry`.
 */
import { Decoder, Tag } from 'cbor-x';
import type { Db } from './database';

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

export class TelemetryStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
    /** Messages kept per device; older ones are dropped as new ones arrive. */
    readonly keepPerDevice: number,
  ) {}

  /** Stores a message (synchronously: when this returns, it is in the file); a CBOR payload comes back decoded too. */
  ingest(message: { deviceId: string; properties: TelemetryMessage['properties']; systemProperties: TelemetryMessage['systemProperties']; payload: Uint8Array }): TelemetryMessage {
    const enqueuedAt = this.now();
    const seq = this.db.transaction(() => {
      const seq = this.db
        .prepare('INSERT INTO telemetry (device_id, enqueued_at, properties, system_properties, payload) VALUES (?, ?, ?, ?, ?)')
        .run(message.deviceId, enqueuedAt, JSON.stringify(message.properties), JSON.stringify(message.systemProperties), Buffer.from(message.payload)).lastInsertRowid;
      this.db
        .prepare('DELETE FROM telemetry WHERE device_id = ? AND seq <= (SELECT seq FROM telemetry WHERE device_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)')
        .run(message.deviceId, message.deviceId, this.keepPerDevice);
      return Number(seq);
    })();
    return withCbor({ seq, deviceId: message.deviceId, enqueuedAt, properties: message.properties, systemProperties: message.systemProperties, payload: Buffer.from(message.payload) });
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
