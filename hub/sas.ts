/**
 * Shared access signatures as IoT Hub and DPS use them ("Control access to IoT Hub with shared access
 * signatures"; "Control access to DPS"):
 *
 *   SharedAccessSignature sr={URL-encoded-resourceURI}&sig={signature}&se={expiry}[&skn={policyName}]
 *
 * where the signature is base64(HMAC-SHA256(key = base64-decoded key, `{URL-encoded-resourceURI}\n{expiry}`)),
 * itself URL-encoded in the token, and `se` is the expiry in seconds since 1970.
 *
 * The string signed is the `sr` value exactly as the token carries it. Signers disagree on encoding it:
 * azure-iot-device encodes `{host}/devices/{id}` (`%2F`), while azure-iot-security-symmetric-key signs the
 * DPS resource `{idScope}/registrations/{id}` unencoded. So the signature is checked against the raw value
 * and against the canonical encodings of its decoded form.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface SasToken {
  /** `sr` exactly as it appears in the token. */
  rawResource: string;
  /** `sr` URL-decoded: the resource the token grants access to. */
  resource: string;
  /** The signature bytes (from the URL-decoded base64 `sig`). */
  signature: Buffer;
  /** Expiry, seconds since 1970. */
  expiry: number;
  /** Policy (key) name, when present. */
  keyName?: string;
}

export class SasError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SasError';
  }
}

const PREFIX = 'SharedAccessSignature ';

function decode(value: string, field: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new SasError(`the ${field} field of the SAS token is not valid URL encoding`);
  }
}

/** Parses a SAS token; throws SasError saying what is wrong with it. */
export function parseSasToken(text: string): SasToken {
  if (!text.startsWith(PREFIX)) {
    throw new SasError('the password is not a SAS token: it must start with "SharedAccessSignature " (or use an X.509 certificate and no password)');
  }
  const fields = new Map<string, string>();
  for (const part of text.slice(PREFIX.length).trim().split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new SasError(`the SAS token has a malformed field "${part}" (expected name=value)`);
    const name = part.slice(0, eq);
    if (fields.has(name)) throw new SasError(`the SAS token has the field "${name}" twice`);
    fields.set(name, part.slice(eq + 1));
  }
  for (const required of ['sr', 'sig', 'se']) {
    if (!fields.get(required)) throw new SasError(`the SAS token has no "${required}" field`);
  }
  const seText = fields.get('se')!;
  if (!/^\d+$/.test(seText)) throw new SasError(`the SAS token's expiry "se=${seText}" is not a whole number of seconds since 1970`);
  const rawResource = fields.get('sr')!;
  const sigText = decode(fields.get('sig')!, 'sig');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(sigText)) throw new SasError('the SAS token\'s signature is not base64');
  const skn = fields.get('skn');
  return {
    rawResource,
    resource: decode(rawResource, 'sr'),
    signature: Buffer.from(sigText, 'base64'),
    expiry: Number(seText),
    keyName: skn === undefined ? undefined : decode(skn, 'skn'),
  };
}

/** base64(HMAC-SHA256(base64-decoded key, message)). */
export function hmacBase64(keyBase64: string, message: string): string {
  return createHmac('sha256', Buffer.from(keyBase64, 'base64')).update(message, 'utf8').digest('base64');
}

/** encodeURIComponent plus the characters it leaves alone but RFC 3986 reserves (as azure-iot-common does). */
export function encodeStrict(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** Makes a SAS token for `resourceUri` (unencoded, e.g. `myhub.local/devices/dev1`), valid until `expiry` (seconds). */
export function createSasToken(options: { resourceUri: string; key: string; expiry: number; keyName?: string }): string {
  const sr = encodeStrict(options.resourceUri);
  const sig = encodeStrict(hmacBase64(options.key, `${sr}\n${options.expiry}`));
  const skn = options.keyName ? `&skn=${encodeStrict(options.keyName)}` : '';
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${options.expiry}${skn}`;
}

/** The forms of `sr` a signer may have signed. */
function signedForms(token: SasToken): string[] {
  const forms = new Set([token.rawResource, encodeURIComponent(token.resource), encodeStrict(token.resource), token.resource]);
  // Lower-case percent escapes (%2f) as some signers write them.
  forms.add(encodeURIComponent(token.resource).replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()));
  return [...forms];
}

/**
 * Index in `keys` of the key that signed the token, or -1. Keys that are not valid base64 are skipped.
 * Comparison is constant-time per candidate.
 */
export function matchingKey(token: SasToken, keys: readonly (string | null | undefined)[]): number {
  const forms = signedForms(token);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (!key) continue;
    for (const form of forms) {
      const expected = Buffer.from(hmacBase64(key, `${form}\n${token.expiry}`), 'base64');
      if (expected.length === token.signature.length && timingSafeEqual(expected, token.signature)) return i;
    }
  }
  return -1;
}

/**
 * The device key DPS expects for `registrationId` under a symmetric-key enrollment group:
 * base64(HMAC-SHA256(base64-decoded group key, registrationId)).
 */
export function deriveDeviceKey(groupKey: string, registrationId: string): string {
  return hmacBase64(groupKey, registrationId);
}

/** A new random symmetric key: 32 bytes, base64, as IoT Hub and DPS generate them. */
export function generateSymmetricKey(): string {
  return randomBytes(32).toString('base64');
}

/** Whether `text` is a usable symmetric key: base64 of 16 to 64 bytes (IoT Hub's range). */
export function isValidSymmetricKey(text: unknown): text is string {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return false;
  const bytes = Buffer.from(text, 'base64').length;
  return bytes >= 16 && bytes <= 64;
}
