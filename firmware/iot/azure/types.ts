/**
 * Types shared by the Azure IoT Hub cores. The cores are sans-I/O and import nothing but
 * their siblings: what they need from the HAL (UTF-8, base64, HMAC-SHA256) comes in as an
 * `AzureCodec`, which `hal-codec.ts` builds from `hal.text` and `hal.crypto`.
 */

/** The encodings and the one MAC the Azure cores use. */
export interface AzureCodec {
  utf8Encode(text: string): Uint8Array;
  /** Malformed sequences become U+FFFD (as `hal.text.decode`). */
  utf8Decode(bytes: Uint8Array): string;
  toBase64(bytes: Uint8Array): string;
  /** Throws on characters outside the base64 alphabet. */
  fromBase64(text: string): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
}

/** What the twin, methods and DPS cores need: payload text. */
export type AzureText = Pick<AzureCodec, 'utf8Encode' | 'utf8Decode'>;

/** What SAS tokens need. */
export type AzureCrypto = Pick<AzureCodec, 'utf8Encode' | 'toBase64' | 'fromBase64' | 'hmacSha256'>;

/** A message a core wants published; the shell hands it to the MQTT client. */
export interface AzurePublish {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1;
}

/**
 * Why a topic (or its payload) from the network was not understood.
 * `no-match`: the topic belongs to another feature (try the next parser);
 * `malformed`: it is this feature's topic, but broken (the message says how).
 */
export interface TopicError {
  code: 'no-match' | 'malformed';
  message: string;
}

/** The result of parsing input from the network: parsers never throw on it. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: TopicError };

export function parsedOk<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function noMatch<T>(message: string): Parsed<T> {
  return { ok: false, error: { code: 'no-match', message } };
}

export function malformed<T>(message: string): Parsed<T> {
  return { ok: false, error: { code: 'malformed', message } };
}

/** JSON as twins, methods and DPS carry it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export type AzureErrorCode =
  /** A message, patch or payload exceeds an IoT Hub limit; nothing was sent. */
  | 'too-large'
  /** A bounded queue is full; nothing was queued. */
  | 'queue-full'
  /** An argument breaks IoT Hub's rules (identifiers, property names, twin keys, JSON). */
  | 'invalid-argument'
  /** A SAS key is not valid base64. */
  | 'bad-key';

/** A call that cannot be carried out as asked; the message says what to change. */
export class AzureError extends Error {
  constructor(
    readonly code: AzureErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AzureError';
  }
}
