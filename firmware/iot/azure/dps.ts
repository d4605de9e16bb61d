/**
 * Device Provisioning Service registration as a sans-I/O state machine
 * ("Communicate with your DPS using the MQTT protocol"; the REST reference of
 * DeviceRegistration and RegistrationOperationStatus; azure-sdk-for-c
 * az_iot_provisioning_client.c for the payload fields):
 *
 * 1. subscribe `$dps/registrations/res/#`;
 * 2. publish `{"registrationId": "...", "payload": {...}}` to
 *    `$dps/registrations/PUT/iotdps-register/?$rid={rid}`;
 * 3. DPS answers `res/202/?$rid={rid}&retry-after={s}` with `{"operationId", "status": "assigning"}`;
 * 4. after retry-after seconds, publish to
 *    `$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={id}`; 202: wait
 *    and poll again; 200 with `"status": "assigned"` carries `registrationState.assignedHub`
 *    and `.deviceId`; `failed`, `disabled`, `unassigned` end the registration; 4xx errors
 *    carry `{"errorCode", "trackingId", "message"}`.
 *
 * Choices: requests go out with QoS 0 and this core repeats them itself (on a lost response,
 * after a reconnect: a poll if it has an operation id, else a new register); 429 and 5xx
 * are retried after `retry-after` or with exponential backoff, at most `maxRetries` times;
 * `retry-after` defaults to 3 s when absent and is clamped to [minRetryAfterSeconds,
 * maxRetryAfterSeconds]; the whole registration fails with `timeout` after `timeoutMs`.
 */
import { dpsPollTopic, dpsRegisterTopic, parseDpsTopic } from './topics';
import { AzureError, isJsonObject, type AzurePublish, type AzureText, type JsonObject, type JsonValue } from './types';

export interface DpsRegistrationOptions {
  registrationId: string;
  /** Custom data for the allocation policy (sent as `payload`), such as `{ "modelId": "dtmi:..." }`. */
  payload?: JsonValue;
  /** Give up after this long from start(); default 120 000 ms. */
  timeoutMs?: number;
  /** How long a request may go unanswered before it is sent again; default 30 000 ms. */
  requestTimeoutMs?: number;
  /** Wait when a 202 has no retry-after; default 3 s (the value DPS sends). */
  defaultRetryAfterSeconds?: number;
  /** Clamp of retry-after; defaults 1 s and 60 s. */
  minRetryAfterSeconds?: number;
  maxRetryAfterSeconds?: number;
  /** Retries after 429, 5xx or a lost response before failing; default 8. */
  maxRetries?: number;
}

/** Where DPS assigned the device: what the application keeps (for instance in KV) to skip DPS next boot. */
export interface DpsAssignment {
  /** The IoT hub host name, such as `contoso.azure-devices.net`. */
  assignedHub: string;
  deviceId: string;
  registrationId: string;
  /** `registrationState.substatus`: `initialAssignment`, `deviceDataMigrated`, `deviceDataReset`, `reprovisionedToInitialAssignment`. */
  substatus?: string;
  /** Data the allocation policy returned (`registrationState.payload`). */
  payload?: JsonValue;
}

export type DpsErrorCode =
  /** 400: the request was malformed. */
  | 'bad-request'
  /** 401: authentication failed (wrong key, expired token, wrong certificate). */
  | 'unauthorized'
  /** 403: not allowed (quota, or the enrollment is disabled for this operation). */
  | 'forbidden'
  /** 404: no enrollment for this registration id (or an unknown operation id). */
  | 'not-found'
  /** Another 4xx status. */
  | 'rejected'
  /** 429 after `maxRetries` retries. */
  | 'throttled'
  /** 5xx or lost responses after `maxRetries` retries. */
  | 'unavailable'
  /** The registration ended with status `failed` (an allocation error, for instance). */
  | 'failed'
  /** The enrollment or registration is disabled. */
  | 'disabled'
  /** DPS could not assign the device to any hub. */
  | 'unassigned'
  /** No assignment within `timeoutMs`. */
  | 'timeout'
  /** A response that does not follow the protocol. */
  | 'bad-response';

export interface DpsError {
  code: DpsErrorCode;
  message: string;
  /** The MQTT response status. */
  status?: number;
  /** DPS's six-digit error code (`401002`, `400207`, ...). */
  errorCode?: number;
  trackingId?: string;
}

export type DpsEvent =
  /** DPS is working on it; the next poll is in `retryAfterMs`. */
  | { type: 'assigning'; operationId: string; retryAfterMs: number }
  | { type: 'assigned'; assignment: DpsAssignment }
  | { type: 'failed'; error: DpsError };

export interface DpsOutput {
  /** Messages to publish now (QoS 0). */
  publish: AzurePublish[];
  events: DpsEvent[];
  /** When to call tick() next; undefined: no timer needed. */
  nextDeadline: number | undefined;
}

export type DpsState = 'idle' | 'registering' | 'assigned' | 'failed';

const STATUS_ERRORS: { readonly [status: number]: DpsErrorCode } = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
};

export class DpsRegistration {
  private readonly requestTimeoutMs: number;
  private readonly timeoutMs: number;
  private readonly defaultRetryAfterSeconds: number;
  private readonly minRetryAfterSeconds: number;
  private readonly maxRetryAfterSeconds: number;
  private readonly maxRetries: number;
  private readonly registerPayload: Uint8Array;

  private phase: DpsState = 'idle';
  private isConnected = false;
  private requestCounter = 0;
  private retries = 0;
  private operationId: string | undefined;
  /** The request awaiting its response. */
  private inFlight: { requestId: string; deadline: number } | undefined;
  /** When to send the next request (register, or poll when there is an operation id). */
  private sendAt: number | undefined;
  private giveUpAt = 0;
  private result: DpsAssignment | undefined;
  private failure: DpsError | undefined;
  private out: DpsOutput = { publish: [], events: [], nextDeadline: undefined };

  constructor(
    private readonly options: DpsRegistrationOptions,
    private readonly text: AzureText,
  ) {
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.defaultRetryAfterSeconds = options.defaultRetryAfterSeconds ?? 3;
    this.minRetryAfterSeconds = options.minRetryAfterSeconds ?? 1;
    this.maxRetryAfterSeconds = options.maxRetryAfterSeconds ?? 60;
    this.maxRetries = options.maxRetries ?? 8;
    if (!(this.timeoutMs > 0) || !(this.requestTimeoutMs > 0) || !(this.minRetryAfterSeconds >= 0) || !(this.maxRetryAfterSeconds >= this.minRetryAfterSeconds) || !(this.maxRetries >= 0)) {
      throw new RangeError('DpsRegistration: timeouts must be > 0, 0 <= minRetryAfterSeconds <= maxRetryAfterSeconds, maxRetries >= 0');
    }
    const body: JsonObject = { registrationId: options.registrationId };
    if (options.payload !== undefined) body.payload = options.payload;
    let json: string;
    try {
      json = JSON.stringify(body);
    } catch (error) {
      throw new AzureError('invalid-argument', `the DPS custom payload cannot be written as JSON: ${(error as Error).message}`);
    }
    this.registerPayload = text.utf8Encode(json);
  }

  get state(): DpsState {
    return this.phase;
  }

  get assignment(): DpsAssignment | undefined {
    return this.result;
  }

  get error(): DpsError | undefined {
    return this.failure;
  }

  /** Starts registering (the request goes out once connected). The overall timeout starts now. */
  start(nowMs: number): DpsOutput {
    this.begin();
    if (this.phase === 'idle') {
      this.phase = 'registering';
      this.giveUpAt = nowMs + this.timeoutMs;
      this.sendAt = nowMs;
      this.trySend(nowMs);
    }
    return this.finish();
  }

  /** The connection is up and `$dps/registrations/res/#` is subscribed (or precedes what this returns). */
  connected(nowMs: number): DpsOutput {
    this.begin();
    this.isConnected = true;
    if (this.phase === 'registering') {
      // A request in flight had its answer due on the old connection: ask again now. A wait
      // already planned (retry-after, backoff) is kept.
      if (this.inFlight !== undefined) this.sendAt = nowMs;
      this.inFlight = undefined;
      if (this.sendAt === undefined) this.sendAt = nowMs;
      this.trySend(nowMs);
    }
    return this.finish();
  }

  disconnected(nowMs: number): DpsOutput {
    this.begin();
    this.isConnected = false;
    if (this.inFlight !== undefined) {
      this.inFlight = undefined;
      if (this.sendAt === undefined) this.sendAt = nowMs;
    }
    return this.finish();
  }

  /** A message arrived; `handled` is false when it is not a DPS response. Never throws on network input. */
  received(topic: string, payload: Uint8Array, nowMs: number): DpsOutput & { handled: boolean } {
    const parsed = parseDpsTopic(topic);
    if (!parsed.ok && parsed.error.code === 'no-match') return { publish: [], events: [], nextDeadline: this.nextDeadline(), handled: false };
    this.begin();
    if (this.phase !== 'registering') return { ...this.finish(), handled: true };
    if (!parsed.ok) {
      this.fail({ code: 'bad-response', message: parsed.error.message });
      return { ...this.finish(), handled: true };
    }
    const { status, requestId, retryAfterSeconds } = parsed.value;
    if (this.inFlight === undefined || this.inFlight.requestId !== requestId) return { ...this.finish(), handled: true }; // a late answer
    this.inFlight = undefined;
    this.onResponse(status, retryAfterSeconds, payload, nowMs);
    if (this.phase === 'registering') this.trySend(nowMs);
    return { ...this.finish(), handled: true };
  }

  /** The timer for nextDeadline fired (early or late calls are harmless). */
  tick(nowMs: number): DpsOutput {
    this.begin();
    if (this.phase === 'registering') {
      if (nowMs >= this.giveUpAt) {
        this.fail({ code: 'timeout', message: `no assignment from DPS within ${this.timeoutMs} ms${this.operationId === undefined ? '' : ` (operation ${this.operationId})`}` });
      } else {
        if (this.inFlight !== undefined && nowMs >= this.inFlight.deadline) {
          this.inFlight = undefined;
          this.retry('unavailable', 'no response from DPS', undefined, undefined, nowMs);
        }
        if (this.phase === 'registering') this.trySend(nowMs);
      }
    }
    return this.finish();
  }

  nextDeadline(): number | undefined {
    if (this.phase !== 'registering') return undefined;
    let deadline = this.giveUpAt;
    if (this.inFlight !== undefined) deadline = Math.min(deadline, this.inFlight.deadline);
    else if (this.isConnected && this.sendAt !== undefined) deadline = Math.min(deadline, this.sendAt);
    return deadline;
  }

  // ---- internals ----

  private begin(): void {
    this.out = { publish: [], events: [], nextDeadline: undefined };
  }

  private finish(): DpsOutput {
    const out = this.out;
    out.nextDeadline = this.nextDeadline();
    this.out = { publish: [], events: [], nextDeadline: undefined };
    return out;
  }

  private trySend(nowMs: number): void {
    if (!this.isConnected || this.inFlight !== undefined || this.sendAt === undefined || nowMs < this.sendAt) return;
    this.requestCounter = (this.requestCounter % 0x7fffffff) + 1;
    const requestId = this.requestCounter.toString(10);
    this.sendAt = undefined;
    this.inFlight = { requestId, deadline: nowMs + this.requestTimeoutMs };
    if (this.operationId === undefined) {
      this.out.publish.push({ topic: dpsRegisterTopic(requestId), payload: this.registerPayload, qos: 0 });
    } else {
      this.out.publish.push({ topic: dpsPollTopic(requestId, this.operationId), payload: new Uint8Array(0), qos: 0 });
    }
  }

  private clampRetryAfter(seconds: number | undefined): number {
    const value = seconds ?? this.defaultRetryAfterSeconds;
    return Math.min(this.maxRetryAfterSeconds, Math.max(this.minRetryAfterSeconds, value)) * 1000;
  }

  private retry(code: DpsErrorCode, reason: string, status: number | undefined, retryAfterSeconds: number | undefined, nowMs: number, details: Partial<DpsError> = {}): void {
    this.retries++;
    if (this.retries > this.maxRetries) {
      this.fail({ ...details, code, message: `DPS registration gave up after ${this.maxRetries} retries (last: ${reason})`, status });
      return;
    }
    const backoff = Math.min(this.maxRetryAfterSeconds * 1000, 1000 * 2 ** Math.min(this.retries - 1, 20));
    this.sendAt = nowMs + (retryAfterSeconds !== undefined ? this.clampRetryAfter(retryAfterSeconds) : backoff);
  }

  private fail(error: DpsError): void {
    this.phase = 'failed';
    this.failure = error;
    this.inFlight = undefined;
    this.sendAt = undefined;
    this.out.events.push({ type: 'failed', error });
  }

  private parseBody(payload: Uint8Array): JsonObject | undefined {
    try {
      const value: unknown = JSON.parse(this.text.utf8Decode(payload));
      return isJsonObject(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  private onResponse(status: number, retryAfterSeconds: number | undefined, payload: Uint8Array, nowMs: number): void {
    const body = this.parseBody(payload);
    const errorDetails = (source: JsonObject | undefined): Partial<DpsError> => {
      const details: Partial<DpsError> = {};
      if (typeof source?.errorCode === 'number') details.errorCode = source.errorCode;
      if (typeof source?.trackingId === 'string') details.trackingId = source.trackingId;
      return details;
    };
    if (status === 429 || status >= 500) {
      const message = typeof body?.message === 'string' ? `: ${body.message}` : '';
      this.retry(status === 429 ? 'throttled' : 'unavailable', `status ${status}${message}`, status, retryAfterSeconds, nowMs, errorDetails(body));
      return;
    }
    if (status >= 400) {
      const message = typeof body?.message === 'string' ? body.message : payload.length === 0 ? 'no details' : this.text.utf8Decode(payload.subarray(0, 200));
      this.fail({ ...errorDetails(body), code: STATUS_ERRORS[status] ?? 'rejected', message: `DPS refused the registration with status ${status}: ${message}`, status });
      return;
    }
    if (status !== 200 && status !== 202) {
      this.fail({ code: 'bad-response', message: `unexpected DPS status ${status}`, status });
      return;
    }
    if (body === undefined) {
      this.fail({ code: 'bad-response', message: `DPS status ${status} without a JSON object body`, status });
      return;
    }
    const operationStatus = body.status;
    const state = isJsonObject(body.registrationState) ? body.registrationState : undefined;
    if (typeof body.operationId === 'string' && body.operationId.length > 0) this.operationId = body.operationId;
    if (status === 202 || operationStatus === 'assigning') {
      if (this.operationId === undefined) {
        this.fail({ code: 'bad-response', message: `DPS status ${status} ("${String(operationStatus)}") without an operationId to poll`, status });
        return;
      }
      const retryAfterMs = this.clampRetryAfter(retryAfterSeconds);
      this.sendAt = nowMs + retryAfterMs;
      this.out.events.push({ type: 'assigning', operationId: this.operationId, retryAfterMs });
      return;
    }
    switch (operationStatus) {
      case 'assigned': {
        const assignedHub = state?.assignedHub;
        const deviceId = state?.deviceId;
        if (typeof assignedHub !== 'string' || assignedHub.length === 0 || typeof deviceId !== 'string' || deviceId.length === 0) {
          this.fail({ code: 'bad-response', message: 'DPS said "assigned" without registrationState.assignedHub and .deviceId', status });
          return;
        }
        const assignment: DpsAssignment = { assignedHub, deviceId, registrationId: this.options.registrationId };
        if (typeof state?.substatus === 'string') assignment.substatus = state.substatus;
        if (state?.payload !== undefined && state.payload !== null) assignment.payload = state.payload;
        this.phase = 'assigned';
        this.result = assignment;
        this.sendAt = undefined;
        this.out.events.push({ type: 'assigned', assignment });
        return;
      }
      case 'failed':
      case 'disabled':
      case 'unassigned': {
        const reason = typeof state?.errorMessage === 'string' ? state.errorMessage : typeof body.message === 'string' ? body.message : 'no reason given';
        this.fail({ ...errorDetails(state), code: operationStatus, message: `DPS registration ${operationStatus}: ${reason}`, status });
        return;
      }
      default:
        this.fail({ code: 'bad-response', message: `DPS status ${status} with unknown registration status "${String(operationStatus)}"`, status });
    }
  }
}
