/**
 * Direct methods ("Understand and invoke direct methods from IoT Hub"; the MQTT article's
 * "Respond to a direct method"): IoT Hub publishes a request to
 * `$iothub/methods/POST/{method name}/?$rid={request id}` with a JSON or empty body; the
 * device answers on `$iothub/methods/res/{status}/?$rid={request id}` with a JSON or empty
 * body, within the caller's timeout (30 s by default). Payloads are at most 128 KB.
 *
 * `MethodRegistry` is the handler table (pure: no I/O); the shell feeds it requests and
 * publishes what `invoke` resolves to. Unknown method: 404. A handler that throws or
 * rejects: 500 with `{"message": ...}`. Otherwise the handler's status and payload.
 */
import { methodResponseTopic, parseMethodTopic } from './topics';
import { AzureError, type AzurePublish, type AzureText, type JsonValue } from './types';

/** IoT Hub's direct method payload limit, requests and responses. */
export const MAX_METHOD_PAYLOAD_BYTES = 128 * 1024;

export interface MethodRequest {
  name: string;
  /** As in the topic; the response must carry it unchanged. */
  requestId: string;
  /** The JSON body, or null for an empty body. */
  payload: JsonValue;
}

export type MethodRequestErrorCode =
  /** Not a method request topic: pass it on. */
  | 'no-match'
  /** A method request topic without a usable name or $rid: it cannot be answered. */
  | 'malformed-topic'
  /** The body is not JSON: answer 400 (requestId and name are set). */
  | 'bad-json';

export type ParsedMethodRequest =
  | { ok: true; request: MethodRequest }
  | { ok: false; code: MethodRequestErrorCode; message: string; requestId?: string; name?: string };

/** Parses a method request; never throws on what the network sends. */
export function parseMethodRequest(topic: string, payload: Uint8Array, text: AzureText): ParsedMethodRequest {
  const parsed = parseMethodTopic(topic);
  if (!parsed.ok) return { ok: false, code: parsed.error.code === 'no-match' ? 'no-match' : 'malformed-topic', message: parsed.error.message };
  const { name, requestId } = parsed.value;
  if (payload.length === 0) return { ok: true, request: { name, requestId, payload: null } };
  let body: string;
  try {
    body = text.utf8Decode(payload);
    return { ok: true, request: { name, requestId, payload: JSON.parse(body) as JsonValue } };
  } catch (error) {
    return {
      ok: false,
      code: 'bad-json',
      message: `the payload of method "${name}" is not valid JSON (${(error as Error).message})`,
      requestId,
      name,
    };
  }
}

/**
 * The response message: `$iothub/methods/res/{status}/?$rid={requestId}` with `payload` as
 * JSON (undefined or null: an empty body). Throws AzureError for a status outside 0-65535,
 * a payload JSON cannot carry, or one larger than 128 KB.
 */
export function methodResponse(requestId: string, status: number, payload: JsonValue | undefined, text: AzureText): AzurePublish {
  const topic = methodResponseTopic(status, requestId);
  let json: string | undefined;
  try {
    json = payload === undefined || payload === null ? undefined : JSON.stringify(payload);
  } catch (error) {
    throw new AzureError('invalid-argument', `method response payload cannot be written as JSON: ${(error as Error).message}`);
  }
  const bytes = json === undefined ? new Uint8Array(0) : text.utf8Encode(json);
  if (bytes.length > MAX_METHOD_PAYLOAD_BYTES) {
    throw new AzureError('too-large', `method response payload is ${bytes.length} bytes; IoT Hub allows at most ${MAX_METHOD_PAYLOAD_BYTES}`);
  }
  return { topic, payload: bytes, qos: 0 };
}

/** What a handler returns: a status (200 for success, by convention) and an optional JSON payload. */
export interface MethodResult {
  status: number;
  payload?: JsonValue;
}

export type MethodHandler = (payload: JsonValue, request: MethodRequest) => MethodResult | Promise<MethodResult>;

export interface MethodRegistryOptions {
  /** Handlers registered at once; default 16. */
  maxHandlers?: number;
  /** Invocations running at once (async handlers); beyond it requests get 503; default 4. */
  maxConcurrent?: number;
}

/** The status and payload to send back for a request. */
export interface MethodReply {
  status: number;
  payload: JsonValue | undefined;
}

function errorPayload(message: string): JsonValue {
  return { message };
}

function validStatus(status: unknown): status is number {
  return typeof status === 'number' && Number.isInteger(status) && status >= 0 && status <= 65_535;
}

export class MethodRegistry {
  private readonly handlers = new Map<string, MethodHandler>();
  private readonly maxHandlers: number;
  private readonly maxConcurrent: number;
  private running = 0;

  constructor(options: MethodRegistryOptions = {}) {
    this.maxHandlers = options.maxHandlers ?? 16;
    this.maxConcurrent = options.maxConcurrent ?? 4;
    if (!(this.maxHandlers >= 1) || !(this.maxConcurrent >= 1)) throw new RangeError('maxHandlers and maxConcurrent must be >= 1');
  }

  /** Registers (or replaces, or with undefined removes) the handler of method `name`. Throws AzureError when the table is full. */
  set(name: string, handler: MethodHandler | undefined): void {
    if (handler === undefined) {
      this.handlers.delete(name);
      return;
    }
    if (name.length === 0 || name.includes('/')) throw new AzureError('invalid-argument', `method name "${name}" must be non-empty and contain no "/"`);
    if (!this.handlers.has(name) && this.handlers.size >= this.maxHandlers) {
      throw new AzureError('queue-full', `${this.handlers.size} method handlers are registered (maximum ${this.maxHandlers})`);
    }
    this.handlers.set(name, handler);
  }

  has(name: string): boolean {
    return this.handlers.has(name);
  }

  /** Invocations in progress. */
  get busy(): number {
    return this.running;
  }

  /** Runs the handler for `request`; always resolves, never rejects. */
  async invoke(request: MethodRequest): Promise<MethodReply> {
    const handler = this.handlers.get(request.name);
    if (handler === undefined) return { status: 404, payload: errorPayload(`no handler for method "${request.name}" on this device`) };
    if (this.running >= this.maxConcurrent) {
      return { status: 503, payload: errorPayload(`${this.running} methods are already running on this device (maximum ${this.maxConcurrent}); try again`) };
    }
    this.running++;
    try {
      const result = await handler(request.payload, request);
      if (result === null || typeof result !== 'object' || !validStatus(result.status)) {
        return { status: 500, payload: errorPayload(`method "${request.name}" returned no valid status (an integer from 0 to 65535; 200 for success)`) };
      }
      return { status: result.status, payload: result.payload };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { status: 500, payload: errorPayload(`method "${request.name}" failed: ${message}`) };
    } finally {
      this.running--;
    }
  }
}

/** The reply for a request whose body is not JSON. */
export function badRequestReply(message: string): MethodReply {
  return { status: 400, payload: errorPayload(message) };
}
