/** The log of direct-method calls: what was invoked, and how it ended. */
import type { Db } from './database';

export type MethodOutcome = 'pending' | 'answered' | 'offline' | 'timeout' | 'failed';

export interface MethodCall {
  seq: number;
  deviceId: string;
  methodName: string;
  requestId: string;
  requestPayload: unknown;
  responseTimeoutMs: number;
  connectTimeoutMs: number;
  invokedAt: number;
  finishedAt: number | null;
  outcome: MethodOutcome;
  status: number | null;
  responsePayload: unknown;
}

interface Row {
  seq: number;
  device_id: string;
  method_name: string;
  request_id: string;
  request_payload: string | null;
  response_timeout_ms: number;
  connect_timeout_ms: number;
  invoked_at: number;
  finished_at: number | null;
  outcome: MethodOutcome;
  status: number | null;
  response_payload: string | null;
}

function parse(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function fromRow(row: Row): MethodCall {
  return {
    seq: row.seq,
    deviceId: row.device_id,
    methodName: row.method_name,
    requestId: row.request_id,
    requestPayload: parse(row.request_payload),
    responseTimeoutMs: row.response_timeout_ms,
    connectTimeoutMs: row.connect_timeout_ms,
    invokedAt: row.invoked_at,
    finishedAt: row.finished_at,
    outcome: row.outcome,
    status: row.status,
    responsePayload: parse(row.response_payload),
  };
}

/** How many calls the log keeps per device. */
const KEEP_PER_DEVICE = 200;

export class MethodLog {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  begin(call: { deviceId: string; methodName: string; requestId: string; payload: unknown; responseTimeoutMs: number; connectTimeoutMs: number }): number {
    const seq = this.db
      .prepare(
        `INSERT INTO method_calls (device_id, method_name, request_id, request_payload, response_timeout_ms, connect_timeout_ms, invoked_at, outcome)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')`,
      )
      .run(call.deviceId, call.methodName, call.requestId, call.payload === undefined ? null : JSON.stringify(call.payload), call.responseTimeoutMs, call.connectTimeoutMs, this.now())
      .lastInsertRowid;
    this.db
      .prepare('DELETE FROM method_calls WHERE device_id = ? AND seq <= (SELECT seq FROM method_calls WHERE device_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)')
      .run(call.deviceId, call.deviceId, KEEP_PER_DEVICE);
    return Number(seq);
  }

  finish(seq: number, outcome: Exclude<MethodOutcome, 'pending'>, status?: number, responsePayload?: string): void {
    this.db
      .prepare('UPDATE method_calls SET outcome = ?, status = ?, response_payload = ?, finished_at = ? WHERE seq = ?')
      .run(outcome, status ?? null, responsePayload ?? null, this.now(), seq);
  }

  /** Calls left pending by a previous run (the hub stopped mid-call) are marked failed. */
  failPending(): number {
    return this.db.prepare("UPDATE method_calls SET outcome = 'failed', finished_at = ? WHERE outcome = 'pending'").run(this.now()).changes;
  }

  list(deviceId: string, limit = 50): MethodCall[] {
    return (this.db.prepare('SELECT * FROM method_calls WHERE device_id = ? ORDER BY seq DESC LIMIT ?').all(deviceId, limit) as Row[]).map(fromRow).reverse();
  }
}
