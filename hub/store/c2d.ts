/**
 * Cloud-to-device messages: a per-device queue in SQLite with IoT Hub's life cycle ("Understand
 * cloud-to-device messaging from an IoT hub"): queued (Enqueued) → delivered (Invisible: sent, waiting for
 * the device's PUBACK) → completed; or expired when its time to live runs out first. MQTT devices cannot
 * reject or abandon; a delivered message whose connection drops goes back to queued (IoT Hub's lock
 * timeout returning it to Enqueued). Feedback is recorded as IoT Hub generates it, according to the
 * message's `ack` (none, positive, negative, full).
 */
import { randomUUID } from 'node:crypto';
import { badRequest, ErrorCodes, HubError, notFound } from '../errors';
import type { Db } from './database';
import { checkObject } from './validate';

export type C2dState = 'queued' | 'delivered' | 'completed' | 'expired' | 'rejected';
export type C2dAck = 'none' | 'positive' | 'negative' | 'full';
export type FeedbackStatus = 'Success' | 'Expired' | 'DeliveryCountExceeded' | 'Rejected' | 'Purged';

/** IoT Hub's limits: 50 messages per device queue, default TTL one hour, at most two days. */
export const C2D_LIMITS = { maxQueueDepth: 50, defaultTtlMs: 3_600_000, maxTtlMs: 48 * 3_600_000, maxPayloadBytes: 64 * 1024 };

export interface C2dMessage {
  seq: number;
  messageId: string;
  deviceId: string;
  payload: Buffer;
  properties: { [name: string]: string | null };
  correlationId: string | null;
  userId: string | null;
  contentType: string | null;
  contentEncoding: string | null;
  ack: C2dAck;
  createdAt: number;
  expiresAt: number;
  state: C2dState;
  deliveryCount: number;
  deliveredAt: number | null;
  finishedAt: number | null;
  /** The feedback record, when the `ack` asked for one and the message reached a final state. */
  feedback: { statusCode: FeedbackStatus; description: string; enqueuedTimeUtc: string } | null;
}

export interface NewC2dMessage {
  /** The body: bytes, or a string (UTF-8), or any other JSON value (serialized). */
  payload: Buffer | Uint8Array | string | unknown;
  properties?: { [name: string]: string | null };
  messageId?: string;
  correlationId?: string;
  userId?: string;
  contentType?: string;
  contentEncoding?: string;
  ack?: C2dAck;
  /** Absolute expiry (ms since 1970 or ISO string), or a time to live. */
  expiryTimeUtc?: number | string;
  ttlMs?: number;
}

interface Row {
  seq: number;
  message_id: string;
  device_id: string;
  payload: Buffer;
  properties: string;
  correlation_id: string | null;
  user_id: string | null;
  content_type: string | null;
  content_encoding: string | null;
  ack: C2dAck;
  created_at: number;
  expires_at: number;
  state: C2dState;
  delivery_count: number;
  delivered_at: number | null;
  finished_at: number | null;
  feedback_status: FeedbackStatus | null;
  feedback_description: string | null;
}

function fromRow(row: Row): C2dMessage {
  return {
    seq: row.seq,
    messageId: row.message_id,
    deviceId: row.device_id,
    payload: Buffer.from(row.payload),
    properties: JSON.parse(row.properties),
    correlationId: row.correlation_id,
    userId: row.user_id,
    contentType: row.content_type,
    contentEncoding: row.content_encoding,
    ack: row.ack,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    state: row.state,
    deliveryCount: row.delivery_count,
    deliveredAt: row.delivered_at,
    finishedAt: row.finished_at,
    feedback:
      row.feedback_status && row.finished_at !== null
        ? { statusCode: row.feedback_status, description: row.feedback_description ?? row.feedback_status, enqueuedTimeUtc: new Date(row.finished_at).toISOString() }
        : null,
  };
}

const wantsPositive = (ack: C2dAck) => ack === 'positive' || ack === 'full';
const wantsNegative = (ack: C2dAck) => ack === 'negative' || ack === 'full';

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badRequest(`${name} must be a string`);
  return value;
}

export class C2dStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  /** Queues a message for a device (which must exist). 403/403004 when 50 are already waiting. */
  enqueue(deviceId: string, input: NewC2dMessage): C2dMessage {
    const body = checkObject(input, 'the message');
    const payload = toPayload(body.payload);
    if (payload.length > C2D_LIMITS.maxPayloadBytes) {
      throw new HubError(413, ErrorCodes.RequestTooLarge, `the message body is ${payload.length} bytes; IoT Hub's limit for cloud-to-device messages is 64 KB`, 'send less, or point the device at the data');
    }
    const properties = checkObject(body.properties, 'properties');
    for (const [name, value] of Object.entries(properties)) {
      if (value !== null && typeof value !== 'string') throw badRequest(`property "${name}" must be a string or null (got ${typeof value})`);
      if (name.startsWith('$') || name.startsWith('iothub-')) throw badRequest(`property "${name}" uses a name IoT Hub reserves`, 'application property names may not start with "$" or "iothub-"');
    }
    const ack = body.ack ?? 'none';
    if (ack !== 'none' && ack !== 'positive' && ack !== 'negative' && ack !== 'full') throw badRequest(`ack must be none, positive, negative or full (got ${JSON.stringify(ack)})`);
    const now = this.now();
    let expiresAt = now + C2D_LIMITS.defaultTtlMs;
    if (body.ttlMs !== undefined) {
      if (typeof body.ttlMs !== 'number' || !(body.ttlMs > 0)) throw badRequest('ttlMs must be a positive number of milliseconds');
      expiresAt = now + body.ttlMs;
    }
    if (body.expiryTimeUtc !== undefined) {
      const at = typeof body.expiryTimeUtc === 'number' ? body.expiryTimeUtc : Date.parse(String(body.expiryTimeUtc));
      if (!Number.isFinite(at)) throw badRequest(`expiryTimeUtc ${JSON.stringify(body.expiryTimeUtc)} is not a time`, 'give an ISO 8601 time such as 2030-01-01T00:00:00Z');
      if (at <= now) throw badRequest('expiryTimeUtc is in the past', 'give a time in the future, or a ttl');
      expiresAt = at;
    }
    if (expiresAt - now > C2D_LIMITS.maxTtlMs) throw badRequest('a cloud-to-device message may live at most two days', 'give a shorter time to live');
    const messageId = optionalString(body.messageId, 'messageId') ?? randomUUID();
    const values = {
      correlationId: optionalString(body.correlationId, 'correlationId') ?? null,
      userId: optionalString(body.userId, 'userId') ?? null,
      contentType: optionalString(body.contentType, 'contentType') ?? null,
      contentEncoding: optionalString(body.contentEncoding, 'contentEncoding') ?? null,
    };
    const seq = this.db.transaction(() => {
      if (!this.db.prepare('SELECT 1 FROM devices WHERE device_id = ?').get(deviceId)) throw notFound(`device "${deviceId}"`, `create it first: thingkit hub device create ${deviceId}`);
      const waiting = (this.db.prepare("SELECT COUNT(*) AS n FROM c2d_messages WHERE device_id = ? AND state IN ('queued', 'delivered')").get(deviceId) as { n: number }).n;
      if (waiting >= C2D_LIMITS.maxQueueDepth) {
        throw new HubError(403, ErrorCodes.DeviceMaximumQueueDepthExceeded, `${waiting} cloud-to-device messages are already waiting for "${deviceId}" (IoT Hub's limit is ${C2D_LIMITS.maxQueueDepth})`, 'wait for the device to connect and take them, or let them expire');
      }
      return this.db
        .prepare(
          `INSERT INTO c2d_messages (message_id, device_id, payload, properties, correlation_id, user_id, content_type, content_encoding, ack, created_at, expires_at, state)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued')`,
        )
        .run(messageId, deviceId, payload, JSON.stringify(properties), values.correlationId, values.userId, values.contentType, values.contentEncoding, ack, now, expiresAt).lastInsertRowid;
    })();
    return this.getBySeq(Number(seq))!;
  }

  getBySeq(seq: number): C2dMessage | undefined {
    const row = this.db.prepare('SELECT * FROM c2d_messages WHERE seq = ?').get(seq) as Row | undefined;
    return row && fromRow(row);
  }

  /** The latest message with this message id (ids are the sender's; normally unique). */
  get(messageId: string): C2dMessage | undefined {
    const row = this.db.prepare('SELECT * FROM c2d_messages WHERE message_id = ? ORDER BY seq DESC LIMIT 1').get(messageId) as Row | undefined;
    return row && fromRow(row);
  }

  list(deviceId: string, options: { states?: C2dState[]; limit?: number } = {}): C2dMessage[] {
    const states = options.states ?? ['queued', 'delivered', 'completed', 'expired', 'rejected'];
    const rows = this.db
      .prepare(`SELECT * FROM c2d_messages WHERE device_id = ? AND state IN (${states.map(() => '?').join(',')}) ORDER BY seq DESC LIMIT ?`)
      .all(deviceId, ...states, options.limit ?? 100) as Row[];
    return rows.map(fromRow).reverse();
  }

  /** Messages ready to send to the device now: queued and not expired, oldest first (expired ones are expired first). */
  takeDeliverable(deviceId: string): C2dMessage[] {
    this.expire();
    return (this.db.prepare("SELECT * FROM c2d_messages WHERE device_id = ? AND state = 'queued' ORDER BY seq").all(deviceId) as Row[]).map(fromRow);
  }

  /** Marks a message sent (Invisible: awaiting the device's PUBACK). */
  markDelivered(seq: number): void {
    this.db.prepare("UPDATE c2d_messages SET state = 'delivered', delivery_count = delivery_count + 1, delivered_at = ? WHERE seq = ? AND state = 'queued'").run(this.now(), seq);
  }

  /** The device acknowledged (PUBACK): completed, with Success feedback if asked for. */
  complete(seq: number): C2dMessage | undefined {
    this.db
      .prepare(
        `UPDATE c2d_messages SET state = 'completed', finished_at = ?,
           feedback_status = CASE WHEN ack IN ('positive', 'full') THEN 'Success' END,
           feedback_description = CASE WHEN ack IN ('positive', 'full') THEN 'Success' END
         WHERE seq = ? AND state IN ('delivered', 'queued')`,
      )
      .run(this.now(), seq);
    return this.getBySeq(seq);
  }

  /** The connection dropped before the PUBACK: back to the queue (IoT Hub's lock timeout). */
  requeue(seqs: number[]): void {
    const statement = this.db.prepare("UPDATE c2d_messages SET state = 'queued' WHERE seq = ? AND state = 'delivered'");
    this.db.transaction(() => seqs.forEach((seq) => statement.run(seq)))();
  }

  /** Returns every delivered-but-unacknowledged message to the queue (at startup: no connection survives a restart). */
  requeueAllDelivered(): number {
    return this.db.prepare("UPDATE c2d_messages SET state = 'queued' WHERE state = 'delivered'").run().changes;
  }

  /** Expires queued messages past their time to live; returns those that expired now. */
  expire(now = this.now()): C2dMessage[] {
    return this.db.transaction(() => {
      const rows = this.db.prepare("SELECT * FROM c2d_messages WHERE state = 'queued' AND expires_at <= ?").all(now) as Row[];
      const update = this.db.prepare(
        `UPDATE c2d_messages SET state = 'expired', finished_at = ?,
           feedback_status = CASE WHEN ack IN ('negative', 'full') THEN 'Expired' END,
           feedback_description = CASE WHEN ack IN ('negative', 'full') THEN 'Message expired' END
         WHERE seq = ?`,
      );
      for (const row of rows) update.run(now, row.seq);
      return rows.map((row) => this.getBySeq(row.seq)!);
    })();
  }

  /** Feedback records (IoT Hub's /messages/servicebound/feedback body), oldest first. */
  feedback(options: { deviceId?: string; limit?: number } = {}): Array<{ originalMessageId: string; deviceId: string; statusCode: FeedbackStatus; description: string; enqueuedTimeUtc: string }> {
    const rows = this.db
      .prepare(`SELECT * FROM c2d_messages WHERE feedback_status IS NOT NULL ${options.deviceId ? 'AND device_id = ?' : ''} ORDER BY finished_at DESC, seq DESC LIMIT ?`)
      .all(...(options.deviceId ? [options.deviceId] : []), options.limit ?? 100) as Row[];
    return rows
      .map(fromRow)
      .reverse()
      .map((m) => ({ originalMessageId: m.messageId, deviceId: m.deviceId, statusCode: m.feedback!.statusCode, description: m.feedback!.description, enqueuedTimeUtc: m.feedback!.enqueuedTimeUtc }));
  }

  /** Whether feedback rules would report this outcome (exposed for the API's documentation and tests). */
  static feedbackFor(ack: C2dAck, outcome: 'completed' | 'expired'): boolean {
    return outcome === 'completed' ? wantsPositive(ack) : wantsNegative(ack);
  }
}

function toPayload(value: unknown): Buffer {
  if (value === undefined) throw badRequest('the message has no payload', 'give "payload" (a string or JSON value) or "payloadBase64"');
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.from(JSON.stringify(value), 'utf8');
}
