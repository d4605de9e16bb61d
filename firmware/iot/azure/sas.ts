/**
 * Shared access signature (SAS) tokens, as "Control access to IoT Hub using shared access
 * signatures" (iot-hub-dev-guide-sas) and azure-sdk-for-c's az_iot_hub_client_sas.c and
 * az_iot_provisioning_client_sas.c build them:
 *
 *   SharedAccessSignature sr={URL-encoded resource}&sig={URL-encoded signature}&se={expiry}[&skn={policy}]
 *
 * where the signature is base64(HMAC-SHA256(base64-decoded key, "{URL-encoded resource}\n{expiry}"))
 * and expiry is in seconds since 1970. Resources: `{hostName}/devices/{deviceId}` (plus
 * `/modules/{moduleId}`) for IoT Hub; `{idScope}/registrations/{registrationId}` for DPS,
 * whose policy name is `registration`. The service checks the signature over `sr` exactly as
 * the token carries it, so the encoding used here is the one signed.
 */
import { percentDecode, percentEncode } from './url';
import { AzureError, type AzureCrypto } from './types';

/** The policy name DPS expects with a symmetric-key registration token. */
export const DPS_SAS_POLICY = 'registration';

/** `{hostName}/devices/{deviceId}` or `{hostName}/devices/{deviceId}/modules/{moduleId}`, not yet encoded. */
export function hubSasResource(hostName: string, deviceId: string, moduleId?: string): string {
  return moduleId === undefined ? `${hostName}/devices/${deviceId}` : `${hostName}/devices/${deviceId}/modules/${moduleId}`;
}

/** `{idScope}/registrations/{registrationId}`, not yet encoded. */
export function dpsSasResource(idScope: string, registrationId: string): string {
  return `${idScope}/registrations/${registrationId}`;
}

function checkExpiry(expirySeconds: number): void {
  if (!Number.isSafeInteger(expirySeconds) || expirySeconds <= 0) {
    throw new AzureError('invalid-argument', `SAS expiry must be a positive whole number of seconds since 1970, got ${expirySeconds}`);
  }
}

/** What is signed: `{URL-encoded resource}\n{expiry}`. */
export function sasStringToSign(resource: string, expirySeconds: number): string {
  checkExpiry(expirySeconds);
  return `${percentEncode(resource)}\n${expirySeconds}`;
}

function decodeKey(crypto: AzureCrypto, key: string, what: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = crypto.fromBase64(key);
  } catch {
    throw new AzureError('bad-key', `the ${what} is not valid base64 (copy the primary or secondary key as shown by the hub)`);
  }
  if (bytes.length === 0) throw new AzureError('bad-key', `the ${what} is empty`);
  return bytes;
}

/** base64(HMAC-SHA256(base64-decoded `key`, UTF-8 of `message`)). */
export function signBase64(crypto: AzureCrypto, key: string, message: string, what = 'SAS key'): string {
  return crypto.toBase64(crypto.hmacSha256(decodeKey(crypto, key, what), crypto.utf8Encode(message)));
}

export interface SasTokenOptions {
  /** The resource, not encoded: see hubSasResource and dpsSasResource. */
  resource: string;
  /** The symmetric key, base64, as IoT Hub or DPS shows it. */
  key: string;
  /** When the token expires, in seconds since 1970 (UTC). */
  expirySeconds: number;
  /** Shared access policy name (`skn`): `registration` for DPS; none for a device's own key. */
  policyName?: string;
}

/** A SAS token: the MQTT password for IoT Hub and DPS. */
export function generateSasToken(crypto: AzureCrypto, options: SasTokenOptions): string {
  const { resource, key, expirySeconds, policyName } = options;
  if (resource.length === 0) throw new AzureError('invalid-argument', 'the SAS resource is empty');
  const signature = signBase64(crypto, key, sasStringToSign(resource, expirySeconds));
  const skn = policyName === undefined || policyName.length === 0 ? '' : `&skn=${percentEncode(policyName)}`;
  return `SharedAccessSignature sr=${percentEncode(resource)}&sig=${percentEncode(signature)}&se=${expirySeconds}${skn}`;
}

/**
 * The device key for a DPS symmetric-key enrollment group: base64(HMAC-SHA256(base64-decoded
 * group key, UTF-8 registration id)), as the DPS tutorial "Provision devices using symmetric
 * key enrollment groups" derives it.
 */
export function deriveGroupDeviceKey(crypto: AzureCrypto, groupKey: string, registrationId: string): string {
  if (registrationId.length === 0) throw new AzureError('invalid-argument', 'the registration id is empty');
  return signBase64(crypto, groupKey, registrationId, 'enrollment group key');
}

/** A token's fields, decoded (for a hub verifying tokens, and for tests). */
export interface ParsedSasToken {
  /** The resource, decoded. */
  resource: string;
  /** `sr` exactly as in the token: the signature covers `{rawResource}\n{expiry}`. */
  rawResource: string;
  /** The signature, base64 (decoded from the token). */
  signature: string;
  expirySeconds: number;
  policyName: string | undefined;
}

/** Parses `SharedAccessSignature sr=...&sig=...&se=...[&skn=...]` (fields in any order), or undefined. */
export function parseSasToken(token: string): ParsedSasToken | undefined {
  const prefix = 'SharedAccessSignature ';
  if (!token.startsWith(prefix)) return undefined;
  const fields: { [name: string]: string } = Object.create(null) as { [name: string]: string };
  for (const part of token.slice(prefix.length).split('&')) {
    const equals = part.indexOf('=');
    if (equals <= 0) return undefined;
    fields[part.slice(0, equals)] = part.slice(equals + 1);
  }
  const { sr, sig, se, skn } = fields;
  if (sr === undefined || sig === undefined || se === undefined || !/^[0-9]{1,15}$/.test(se)) return undefined;
  const resource = percentDecode(sr);
  const signature = percentDecode(sig);
  const policyName = skn === undefined ? undefined : percentDecode(skn);
  if (resource === undefined || signature === undefined || (skn !== undefined && policyName === undefined)) return undefined;
  return { resource, rawResource: sr, signature, expirySeconds: Number(se), policyName };
}

/** True when `token` is signed with `key` (compares signatures in constant time) and not expired at `nowSeconds`. */
export function verifySasToken(crypto: AzureCrypto, token: string, key: string, nowSeconds: number): boolean {
  const parsed = parseSasToken(token);
  if (parsed === undefined || parsed.expirySeconds <= nowSeconds) return false;
  const expected = signBase64(crypto, key, `${parsed.rawResource}\n${parsed.expirySeconds}`);
  if (expected.length !== parsed.signature.length) return false;
  let difference = 0;
  for (let i = 0; i < expected.length; i++) difference |= expected.charCodeAt(i) ^ parsed.signature.charCodeAt(i);
  return difference === 0;
}
