/** Device-to-cloud messages as received: a bounded table keeping the last N messages per device. */
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
  return {
    seq: row.seq,
    deviceId: row.device_id,
    enqueuedAt: row.enqueued_at,
    properties: JSON.parse(row.properties),
    systemProperties: JSON.parse(row.system_properties),
    payload: Buffer.from(row.payload),
  };
}

export class TelemetryStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
    /** Messages kept per device; older ones are dropped as new ones arrive. */
    readonly keepPerDevice: number,
  ) {}

  /** Stores a message (synchronously: when this returns, it is in the file). */
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
    return { seq, deviceId: message.deviceId, enqueuedAt, properties: message.properties, systemProperties: message.systemProperties, payload: Buffer.from(message.payload) };
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
