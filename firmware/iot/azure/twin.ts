/**
 * Device twin synchronisation as a sans-I/O core: it takes connection events, received
 * twin messages, calls and the current time, and returns messages to publish, events and
 * the time of its next deadline. The shell (hub-client.ts) owns the MQTT client and timer.
 *
 * Protocol ("Understand and use device twins in IoT Hub"; "Communicate with an IoT hub using
 * the MQTT protocol"):
 * - Reconnection flow: after subscribing to `$iothub/twin/res/#` and the desired-property
 *   notifications, GET the whole twin on every connection, because IoT Hub does not keep
 *   notifications for disconnected devices; ignore notifications whose `$version` is at most
 *   the version of the document retrieved (versions only increase).
 * - GET `$iothub/twin/GET/?$rid=` answered by `res/200` with `{ desired, reported }`.
 * - PATCH `$iothub/twin/PATCH/properties/reported/?$rid=` answered by `res/204/?...&$version=`;
 *   400 is a rejected patch (malformed, or the twin would grow beyond its limit); 429 is
 *   throttling and 5xx a server error, both worth retrying.
 *
 * Choices:
 * - Requests go out with QoS 0 only while connected: this core retries them itself (on a
 *   timeout, on 429/5xx with exponential backoff, and after a reconnect), so they never
 *   linger in the MQTT session's QoS 1 queue.
 * - Reported patches are sent one at a time, in the order given, so retries cannot reorder
 *   them (the ordering advice in "Optimistic concurrency"). A patch whose response was lost
 *   may reach the hub twice; patches are idempotent.
 * - Desired notifications are applied strictly in `$version` order: `version + 1` is applied,
 *   older ones are ignored, and a gap (a lost notification) triggers a full GET, whose result
 *   replaces the desired state. Notifications arriving while a GET is out are held (at most
 *   `maxHeldNotifications`) and applied after it; beyond that another GET follows.
 *
 * Memory bounds: at most one GET and one PATCH await a response; the reported-patch queue
 * holds at most `maxQueuedPatches` patches and `maxQueuedBytes` bytes; the desired document
 * kept is whatever IoT Hub sends (at most 32 KB of properties by IoT Hub's rules, and never
 * more than the MQTT client's incoming packet limit).
 */
import { parseTwinTopic, twinGetTopic, twinPatchTopic } from './topics';
import { AzureError, isJsonObject, type AzurePublish, type AzureText, type JsonObject, type JsonValue } from './types';

/** IoT Hub's limit on the reported properties (32 KB); a single patch may not exceed it either. */
export const MAX_REPORTED_PATCH_BYTES = 32 * 1024;
/** Twin JSON depth limit ("Tags and properties format"). */
export const MAX_TWIN_DEPTH = 10;
/** Twin string values: at most 4 KB. */
export const MAX_TWIN_STRING_BYTES = 4 * 1024;

export interface TwinSyncOptions {
  /** How long a GET or PATCH may go unanswered before it is sent again; default 30 000 ms. */
  requestTimeoutMs?: number;
  /** Reported patches queued (the one in flight included); default 8. */
  maxQueuedPatches?: number;
  /** Encoded bytes of all queued reported patches; default 32 KiB. */
  maxQueuedBytes?: number;
  /** Largest reported patch; default and maximum 32 KiB (IoT Hub's limit). */
  maxPatchBytes?: number;
  /** First retry delay after 429/5xx/timeout; default 1 000 ms, doubling up to `retryCapMs`. */
  retryBaseMs?: number;
  /** Largest retry delay; default 60 000 ms. */
  retryCapMs?: number;
  /** Attempts per request before giving up (error event); default 10. */
  maxAttempts?: number;
  /** Desired notifications held while a GET is out; default 4. */
  maxHeldNotifications?: number;
  /** Uniform random numbers in [0, 1) to spread retries (delay x (0.5 + 0.5 r)); none: no jitter. */
  random?: () => number;
}

export type TwinErrorCode =
  /** IoT Hub refused a reported patch (4xx other than 429): it is dropped, not retried. */
  | 'reported-rejected'
  /** A reported patch could not be delivered in `maxAttempts` attempts: it is dropped. */
  | 'reported-failed'
  /** A GET failed (refused, or `maxAttempts` attempts); the next connection or gap tries again. */
  | 'get-failed'
  /** A twin message from IoT Hub could not be understood (topic or JSON). */
  | 'bad-message';

export interface TwinError {
  code: TwinErrorCode;
  message: string;
  /** The IoT Hub status, when the error is a response. */
  status?: number;
  /** The reported patch concerned. */
  patchId?: number;
}

export type TwinEvent =
  /**
   * The desired properties changed. `full`: `patch` is the whole desired document (after a
   * GET); otherwise it is the notification's patch (null members are deletions). `$version`
   * and `$metadata` are left out. The objects are the application's: this core keeps its own
   * copy of the desired state.
   */
  | { type: 'desiredChanged'; patch: JsonObject; version: number; full: boolean }
  /** A GET completed: the whole twin as IoT Hub returned it (read-only). */
  | { type: 'twin'; desired: JsonObject; reported: JsonObject; desiredVersion: number; reportedVersion: number | undefined }
  /** A reported patch was accepted; `version` is the reported properties' new `$version` when IoT Hub gave it. */
  | { type: 'reported'; patchId: number; version: number | undefined }
  | { type: 'error'; error: TwinError };

export interface TwinOutput {
  /** Messages to publish now (QoS 0), in order. */
  publish: AzurePublish[];
  events: TwinEvent[];
  /** When to call tick() next, on the caller's ms timeline; undefined: no timer needed. */
  nextDeadline: number | undefined;
}

interface QueuedPatch {
  id: number;
  bytes: Uint8Array;
  /** Requests sent for it so far. */
  attempts: number;
  /** Not before this time (after a 429/5xx). */
  notBefore: number;
  /** The request id while a request for it awaits its response. */
  requestId: string | undefined;
  deadline: number;
}

type GetState =
  | { phase: 'idle' }
  | { phase: 'sent'; requestId: string; deadline: number }
  | { phase: 'waiting'; notBefore: number };

function positive(value: number, name: string, min = 1): number {
  if (!Number.isFinite(value) || value < min) throw new RangeError(`${name} must be a number >= ${min}, got ${value}`);
  return value;
}

/** Own-property assignment that cannot reach Object.prototype, whatever key the network sends. */
function setMember(target: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function clone(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(clone);
  if (isJsonObject(value)) {
    const copy: JsonObject = {};
    for (const key of Object.keys(value)) setMember(copy, key, clone(value[key]));
    return copy;
  }
  return value;
}

/** A copy of a twin section without its `$`-prefixed members (`$version`, `$metadata`). */
function withoutMetadata(section: JsonObject): JsonObject {
  const copy: JsonObject = {};
  for (const key of Object.keys(section)) if (!key.startsWith('$')) setMember(copy, key, section[key]);
  return copy;
}

/**
 * Applies a twin patch to `target` in place: members replace, null members delete, objects
 * merge recursively (a new object's null members are left out), `$` members are skipped.
 */
export function applyTwinPatch(target: JsonObject, patch: JsonObject): void {
  for (const key of Object.keys(patch)) {
    if (key.startsWith('$')) continue;
    const value = patch[key];
    if (value === null) {
      delete target[key];
    } else if (isJsonObject(value)) {
      const existing = Object.prototype.hasOwnProperty.call(target, key) ? target[key] : undefined;
      const merged: JsonObject = isJsonObject(existing) ? existing : {};
      applyTwinPatch(merged, value);
      setMember(target, key, merged);
    } else {
      setMember(target, key, clone(value));
    }
  }
}

/** Throws AzureError when `patch` breaks the twin rules: keys, depth, string sizes. */
export function checkTwinPatch(patch: JsonValue, utf8Length: (text: string) => number, path = '', depth = 1): void {
  if (isJsonObject(patch)) {
    if (depth > MAX_TWIN_DEPTH) throw new AzureError('invalid-argument', `twin patch is nested deeper than ${MAX_TWIN_DEPTH} levels at "${path}"`);
    for (const key of Object.keys(patch)) {
      // eslint-disable-next-line no-control-regex
      if (key.length === 0 || /[\u0000-\u001f\u007f-\u009f.$ ]/.test(key)) {
        throw new AzureError('invalid-argument', `twin key "${path}${key}" is empty or contains a control character, ".", "$" or a space, which twins do not allow`);
      }
      if (utf8Length(key) > 1024) throw new AzureError('invalid-argument', `twin key "${path}${key.slice(0, 32)}..." is longer than 1 KB`);
      checkTwinPatch(patch[key], utf8Length, `${path}${key}.`, depth + 1);
    }
  } else if (Array.isArray(patch)) {
    for (const item of patch) checkTwinPatch(item, utf8Length, path, depth);
  } else if (typeof patch === 'string') {
    if (utf8Length(patch) > MAX_TWIN_STRING_BYTES) throw new AzureError('invalid-argument', `twin string at "${path.slice(0, -1)}" is longer than 4 KB`);
  } else if (typeof patch === 'number') {
    if (!Number.isFinite(patch)) throw new AzureError('invalid-argument', `twin value at "${path.slice(0, -1)}" is ${patch}, which JSON cannot carry`);
  } else if (patch !== null && typeof patch !== 'boolean') {
    throw new AzureError('invalid-argument', `twin value at "${path.slice(0, -1)}" is a ${typeof patch}, which JSON cannot carry`);
  }
}

export class TwinSync {
  private readonly requestTimeoutMs: number;
  private readonly maxQueuedPatches: number;
  private readonly maxQueuedBytes: number;
  private readonly maxPatchBytes: number;
  private readonly retryBaseMs: number;
  private readonly retryCapMs: number;
  private readonly maxAttempts: number;
  private readonly maxHeldNotifications: number;
  private readonly random: (() => number) | undefined;

  private isConnected = false;
  private requestCounter = 0;
  private patchCounter = 0;
  private getState: GetState = { phase: 'idle' };
  private getAttempts = 0;
  /** Another GET is needed once the current one completes. */
  private getAgain = false;
  private readonly queue: QueuedPatch[] = [];
  private queuedBytes = 0;
  private held: { version: number; patch: JsonObject }[] = [];
  private desiredDocument: JsonObject | undefined;
  private currentDesiredVersion: number | undefined;
  private currentReportedVersion: number | undefined;

  private out: TwinOutput = { publish: [], events: [], nextDeadline: undefined };

  constructor(
    private readonly text: AzureText,
    options: TwinSyncOptions = {},
  ) {
    this.requestTimeoutMs = positive(options.requestTimeoutMs ?? 30_000, 'requestTimeoutMs');
    this.maxQueuedPatches = Math.floor(positive(options.maxQueuedPatches ?? 8, 'maxQueuedPatches'));
    this.maxQueuedBytes = positive(options.maxQueuedBytes ?? 32 * 1024, 'maxQueuedBytes');
    this.maxPatchBytes = Math.min(positive(options.maxPatchBytes ?? MAX_REPORTED_PATCH_BYTES, 'maxPatchBytes'), MAX_REPORTED_PATCH_BYTES);
    this.retryBaseMs = positive(options.retryBaseMs ?? 1_000, 'retryBaseMs');
    this.retryCapMs = positive(options.retryCapMs ?? 60_000, 'retryCapMs', this.retryBaseMs);
    this.maxAttempts = Math.floor(positive(options.maxAttempts ?? 10, 'maxAttempts'));
    this.maxHeldNotifications = Math.floor(positive(options.maxHeldNotifications ?? 4, 'maxHeldNotifications', 0));
    this.random = options.random;
  }

  /** The desired properties as last synchronised (read-only), without `$version`; undefined before the first GET. */
  get desired(): JsonObject | undefined {
    return this.desiredDocument;
  }

  get desiredVersion(): number | undefined {
    return this.currentDesiredVersion;
  }

  get reportedVersion(): number | undefined {
    return this.currentReportedVersion;
  }

  /** Reported patches not yet acknowledged (the one in flight included). */
  get queuedPatches(): number {
    return this.queue.length;
  }

  /** Whether the core believes the connection is up. */
  get online(): boolean {
    return this.isConnected;
  }

  /**
   * The connection is up and the twin subscriptions are in place (or at least precede on the
   * wire what this returns): GETs the twin and sends the queued patches.
   */
  connected(nowMs: number): TwinOutput {
    this.begin();
    this.isConnected = true;
    this.getState = { phase: 'idle' };
    this.getAttempts = 0;
    this.getAgain = false;
    this.held = [];
    for (const patch of this.queue) {
      patch.requestId = undefined;
      patch.notBefore = nowMs; // a new connection is worth an immediate try
    }
    this.sendGet(nowMs);
    this.sendNextPatch(nowMs);
    return this.finish();
  }

  /** The connection is gone: requests in flight are forgotten (and sent again on the next connection). */
  disconnected(nowMs: number): TwinOutput {
    this.begin();
    this.isConnected = false;
    this.getState = { phase: 'idle' };
    this.held = [];
    for (const patch of this.queue) patch.requestId = undefined;
    return this.finish();
  }

  /**
   * Queues a reported-properties patch (a JSON object; null members delete). Returns its id,
   * which the 'reported' or 'error' event names. Throws AzureError ('invalid-argument',
   * 'too-large', 'queue-full') and then nothing was queued.
   */
  report(patch: JsonObject, nowMs: number): TwinOutput & { patchId: number } {
    if (!isJsonObject(patch)) throw new AzureError('invalid-argument', 'a reported patch must be a JSON object');
    const utf8Length = (text: string): number => this.text.utf8Encode(text).length;
    checkTwinPatch(patch, utf8Length);
    const bytes = this.text.utf8Encode(JSON.stringify(patch));
    if (bytes.length > this.maxPatchBytes) {
      throw new AzureError('too-large', `reported patch is ${bytes.length} bytes of JSON; at most ${this.maxPatchBytes} are allowed (IoT Hub's reported properties limit is 32 KB): split it`);
    }
    if (this.queue.length >= this.maxQueuedPatches) {
      throw new AzureError('queue-full', `${this.queue.length} reported patches already await acknowledgement (maximum ${this.maxQueuedPatches})`);
    }
    if (this.queuedBytes + bytes.length > this.maxQueuedBytes) {
      throw new AzureError('queue-full', `queued reported patches hold ${this.queuedBytes} of ${this.maxQueuedBytes} bytes; this ${bytes.length}-byte patch does not fit`);
    }
    this.begin();
    const patchId = ++this.patchCounter;
    this.queue.push({ id: patchId, bytes, attempts: 0, notBefore: nowMs, requestId: undefined, deadline: 0 });
    this.queuedBytes += bytes.length;
    this.sendNextPatch(nowMs);
    return { ...this.finish(), patchId };
  }

  /** Asks for the whole twin again (a 'twin' event, and 'desiredChanged' if it changed). */
  refresh(nowMs: number): TwinOutput {
    this.begin();
    this.sendGet(nowMs);
    return this.finish();
  }

  /**
   * A message arrived. `handled` is false when the topic is not a twin topic (pass it on to
   * the next feature). Never throws on what the network sends: problems are 'error' events.
   */
  received(topic: string, payload: Uint8Array, nowMs: number): TwinOutput & { handled: boolean } {
    const parsed = parseTwinTopic(topic);
    if (!parsed.ok && parsed.error.code === 'no-match') return { publish: [], events: [], nextDeadline: this.nextDeadline(), handled: false };
    this.begin();
    if (!parsed.ok) {
      this.error({ code: 'bad-message', message: parsed.error.message });
    } else if (parsed.value.kind === 'desired') {
      this.onDesired(parsed.value.version, payload, nowMs);
    } else {
      const { status, requestId, version } = parsed.value;
      if (this.getState.phase === 'sent' && this.getState.requestId === requestId) this.onGetResponse(status, payload, nowMs);
      else {
        const head = this.queue[0];
        if (head !== undefined && head.requestId === requestId) this.onPatchResponse(head, status, version, payload, nowMs);
        // Otherwise a late answer to a request given up or sent on an earlier connection.
      }
    }
    return { ...this.finish(), handled: true };
  }

  /** The timer set for nextDeadline fired (early or late calls are harmless). */
  tick(nowMs: number): TwinOutput {
    this.begin();
    if (this.isConnected) {
      const get = this.getState;
      if (get.phase === 'sent' && nowMs >= get.deadline) {
        this.getState = { phase: 'idle' };
        this.retryGet('no response to the twin GET', undefined, nowMs);
      } else if (get.phase === 'waiting' && nowMs >= get.notBefore) {
        this.getState = { phase: 'idle' };
        this.sendGet(nowMs);
      }
      const head = this.queue[0];
      if (head !== undefined && head.requestId !== undefined && nowMs >= head.deadline) {
        head.requestId = undefined;
        this.retryPatch(head, 'no response to the reported patch', undefined, nowMs);
      }
      this.sendNextPatch(nowMs);
    }
    return this.finish();
  }

  /** When tick() must be called next, or undefined. */
  nextDeadline(): number | undefined {
    if (!this.isConnected) return undefined;
    let deadline: number | undefined;
    const consider = (time: number): void => {
      if (deadline === undefined || time < deadline) deadline = time;
    };
    if (this.getState.phase === 'sent') consider(this.getState.deadline);
    if (this.getState.phase === 'waiting') consider(this.getState.notBefore);
    const head = this.queue[0];
    if (head !== undefined) consider(head.requestId !== undefined ? head.deadline : head.notBefore);
    return deadline;
  }

  // ---- internals ----

  private begin(): void {
    this.out = { publish: [], events: [], nextDeadline: undefined };
  }

  private finish(): TwinOutput {
    const out = this.out;
    out.nextDeadline = this.nextDeadline();
    this.out = { publish: [], events: [], nextDeadline: undefined };
    return out;
  }

  private error(error: TwinError): void {
    this.out.events.push({ type: 'error', error });
  }

  private nextRequestId(): string {
    this.requestCounter = (this.requestCounter % 0x7fffffff) + 1;
    return this.requestCounter.toString(10);
  }

  private retryDelay(attempt: number): number {
    const delay = Math.min(this.retryCapMs, this.retryBaseMs * 2 ** Math.min(attempt - 1, 30));
    if (this.random === undefined) return delay;
    const draw = this.random();
    const unit = draw >= 0 && draw < 1 ? draw : 0;
    return Math.floor(delay * (0.5 + 0.5 * unit));
  }

  private sendGet(nowMs: number): void {
    if (!this.isConnected) return; // the next connection GETs
    if (this.getState.phase !== 'idle') {
      if (this.getState.phase === 'sent') this.getAgain = true;
      return; // a GET is out or about to be retried
    }
    const requestId = this.nextRequestId();
    this.getAttempts++;
    this.getState = { phase: 'sent', requestId, deadline: nowMs + this.requestTimeoutMs };
    this.out.publish.push({ topic: twinGetTopic(requestId), payload: new Uint8Array(0), qos: 0 });
  }

  private retryGet(reason: string, status: number | undefined, nowMs: number): void {
    if (this.getAttempts >= this.maxAttempts) {
      this.getAttempts = 0;
      this.getState = { phase: 'idle' };
      this.error({ code: 'get-failed', message: `twin GET failed ${this.maxAttempts} times (last: ${reason}); the next connection tries again`, status });
      return;
    }
    this.getState = { phase: 'waiting', notBefore: nowMs + this.retryDelay(this.getAttempts) };
  }

  private onGetResponse(status: number, payload: Uint8Array, nowMs: number): void {
    this.getState = { phase: 'idle' };
    if (status === 429 || status >= 500) {
      this.retryGet(`status ${status}`, status, nowMs);
      return;
    }
    if (status < 200 || status > 299) {
      this.getAttempts = 0;
      this.error({ code: 'get-failed', message: `IoT Hub refused the twin GET with status ${status}: ${this.describe(payload)}`, status });
      return;
    }
    const document = this.parseObject(payload);
    const desired = document?.desired;
    const reported = document?.reported ?? {};
    const desiredVersion = isJsonObject(desired) ? desired.$version : undefined;
    if (!isJsonObject(desired) || !isJsonObject(reported) || typeof desiredVersion !== 'number' || !Number.isSafeInteger(desiredVersion)) {
      this.error({ code: 'bad-message', message: `twin GET response is not {"desired": {..., "$version": n}, "reported": {...}}: ${this.describe(payload)}`, status });
      this.retryGet('malformed twin document', status, nowMs);
      return;
    }
    this.getAttempts = 0;
    const reportedVersion = typeof reported.$version === 'number' ? reported.$version : undefined;
    this.currentReportedVersion = reportedVersion;
    this.out.events.push({ type: 'twin', desired, reported, desiredVersion, reportedVersion });
    if (desiredVersion !== this.currentDesiredVersion || this.desiredDocument === undefined) {
      const document = withoutMetadata(desired);
      this.desiredDocument = clone(document) as JsonObject; // ours to patch; the event's copy is the application's
      this.currentDesiredVersion = desiredVersion;
      this.out.events.push({ type: 'desiredChanged', patch: document, version: desiredVersion, full: true });
    }
    // Notifications that arrived meanwhile: those after the document, in order, without gaps.
    const held = this.held.sort((a, b) => a.version - b.version);
    this.held = [];
    for (const notification of held) this.applyNotification(notification.version, notification.patch, nowMs);
    if (this.getAgain) {
      this.getAgain = false;
      this.sendGet(nowMs);
    }
  }

  private onDesired(version: number, payload: Uint8Array, nowMs: number): void {
    const patch = this.parseObject(payload);
    if (patch === undefined) {
      this.error({ code: 'bad-message', message: `desired-property notification $version ${version} is not a JSON object: ${this.describe(payload)}` });
      this.sendGet(nowMs); // the state is unknown now
      return;
    }
    if (this.getState.phase !== 'idle' || this.currentDesiredVersion === undefined) {
      this.hold(version, patch, nowMs);
      return;
    }
    this.applyNotification(version, patch, nowMs);
  }

  private hold(version: number, patch: JsonObject, nowMs: number): void {
    if (this.held.length < this.maxHeldNotifications) this.held.push({ version, patch });
    else this.getAgain = true; // too many to hold: a GET after this one catches up
    if (this.getState.phase === 'idle') this.sendGet(nowMs);
  }

  private applyNotification(version: number, patch: JsonObject, nowMs: number): void {
    const current = this.currentDesiredVersion;
    if (current === undefined || this.desiredDocument === undefined) {
      this.hold(version, patch, nowMs);
      return;
    }
    if (version <= current) return; // already part of the state
    if (version !== current + 1) {
      // A notification was lost (or arrived out of order): only a GET can say what changed.
      this.hold(version, patch, nowMs);
      return;
    }
    applyTwinPatch(this.desiredDocument, patch);
    this.currentDesiredVersion = version;
    this.out.events.push({ type: 'desiredChanged', patch: withoutMetadata(patch), version, full: false });
  }

  private sendNextPatch(nowMs: number): void {
    const head = this.queue[0];
    if (!this.isConnected || head === undefined || head.requestId !== undefined || nowMs < head.notBefore) return;
    const requestId = this.nextRequestId();
    head.requestId = requestId;
    head.attempts++;
    head.deadline = nowMs + this.requestTimeoutMs;
    this.out.publish.push({ topic: twinPatchTopic(requestId), payload: head.bytes, qos: 0 });
  }

  private dequeue(patch: QueuedPatch): void {
    this.queue.shift();
    this.queuedBytes -= patch.bytes.length;
  }

  private retryPatch(patch: QueuedPatch, reason: string, status: number | undefined, nowMs: number): void {
    if (patch.attempts >= this.maxAttempts) {
      this.dequeue(patch);
      this.error({ code: 'reported-failed', message: `reported patch ${patch.id} was not accepted in ${patch.attempts} attempts (last: ${reason}); it is dropped`, status, patchId: patch.id });
      return;
    }
    patch.notBefore = nowMs + this.retryDelay(patch.attempts);
  }

  private onPatchResponse(patch: QueuedPatch, status: number, version: number | undefined, payload: Uint8Array, nowMs: number): void {
    patch.requestId = undefined;
    if (status >= 200 && status <= 299) {
      this.dequeue(patch);
      if (version !== undefined) this.currentReportedVersion = version;
      this.out.events.push({ type: 'reported', patchId: patch.id, version });
    } else if (status === 429 || status >= 500) {
      this.retryPatch(patch, `status ${status}`, status, nowMs);
    } else {
      this.dequeue(patch);
      this.error({ code: 'reported-rejected', message: `IoT Hub rejected reported patch ${patch.id} with status ${status}: ${this.describe(payload)}`, status, patchId: patch.id });
    }
    this.sendNextPatch(nowMs);
  }

  private parseObject(payload: Uint8Array): JsonObject | undefined {
    try {
      const value: unknown = JSON.parse(this.text.utf8Decode(payload));
      return isJsonObject(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /** A short, printable rendering of a payload for error messages. */
  private describe(payload: Uint8Array): string {
    if (payload.length === 0) return '(empty)';
    const text = this.text.utf8Decode(payload.length > 200 ? payload.subarray(0, 200) : payload);
    return payload.length > 200 ? `${text}...` : text;
  }
}

// ---- IoT Plug and Play writable properties ----

/** Acknowledgement codes of IoT Plug and Play conventions ("ac"), HTTP-like. */
export const PNP_ACK_COMPLETED = 200;
export const PNP_ACK_PENDING = 202;
export const PNP_ACK_BAD_REQUEST = 400;
export const PNP_ACK_ERROR = 500;

/**
 * A reported patch acknowledging a writable property, per the IoT Plug and Play conventions:
 * `{ "prop": { "value": v, "ac": code, "av": version, "ad": "description" } }`; within a
 * component: `{ "component": { "__t": "c", "prop": { ... } } }`. `ackVersion` is the desired
 * `$version` being acknowledged.
 */
export function writablePropertyAck(
  name: string,
  value: JsonValue,
  ackCode: number,
  ackVersion: number,
  description?: string,
  component?: string,
): JsonObject {
  if (!Number.isInteger(ackCode)) throw new AzureError('invalid-argument', `ack code ${ackCode} must be an integer (200, 202, 400, 500, ...)`);
  if (!Number.isSafeInteger(ackVersion) || ackVersion < 0) throw new AzureError('invalid-argument', `ack version ${ackVersion} must be the desired $version acknowledged`);
  const ack: JsonObject = { value, ac: ackCode, av: ackVersion };
  if (description !== undefined) ack.ad = description;
  const property: JsonObject = {};
  setMember(property, name, ack);
  if (component === undefined) return property;
  const wrapped: JsonObject = { __t: 'c' };
  setMember(wrapped, name, ack);
  const patch: JsonObject = {};
  setMember(patch, component, wrapped);
  return patch;
}

/**
 * The writable properties a desired patch sets, as [name, value] pairs: for the root
 * component when `component` is undefined, else inside that component (marked `"__t": "c"`).
 * `$` members and the `__t` marker are left out; deletions (null) are included.
 */
export function writableProperties(patch: JsonObject, component?: string): [string, JsonValue][] {
  let source: JsonObject = patch;
  if (component !== undefined) {
    const inner = Object.prototype.hasOwnProperty.call(patch, component) ? patch[component] : undefined;
    if (!isJsonObject(inner)) return [];
    source = inner;
  }
  const out: [string, JsonValue][] = [];
  for (const key of Object.keys(source)) {
    if (key.startsWith('$') || key === '__t') continue;
    const value = source[key];
    if (component === undefined && isJsonObject(value) && value.__t === 'c') continue; // a component, not a property
    out.push([key, value]);
  }
  return out;
}
