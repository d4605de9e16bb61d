/** Input checks shared by the stores: identifiers, keys and thumbprints, with errors that say how to fix them. */
import { badRequest } from '../errors';
import { isValidSymmetricKey } from '../sas';

// IoT Hub: "case-sensitive string (up to 128 char long) of ASCII 7-bit alphanumeric chars, and the
// following special characters {'-', ':', '.', '+', '%', '_', '#', '*', '?', '!', '(', ')', ',', '=', '@', ';', '$', '''}".
const DEVICE_ID = /^[A-Za-z0-9\-:.+%_#*?!(),=@;$']{1,128}$/;
// DPS: "alphanumeric, lowercase, and may contain hyphens" in the docs; in practice also '.', '_', ':' (up to 128).
const REGISTRATION_ID = /^[A-Za-z0-9\-._:]{1,128}$/;

export function checkDeviceId(deviceId: unknown): string {
  if (typeof deviceId !== 'string' || !deviceId) throw badRequest('a device id is required', 'give the device an id: letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ \' (up to 128)');
  if (!DEVICE_ID.test(deviceId)) {
    throw badRequest(`"${deviceId}" is not a valid device id`, 'device ids are up to 128 characters: ASCII letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ \'');
  }
  return deviceId;
}

export function checkRegistrationId(registrationId: unknown, what = 'registration id'): string {
  if (typeof registrationId !== 'string' || !REGISTRATION_ID.test(registrationId)) {
    throw badRequest(`${JSON.stringify(registrationId ?? '')} is not a valid ${what}`, `a ${what} is 1 to 128 characters: letters, digits, '-', '.', '_' and ':'`);
  }
  return registrationId;
}

export function checkKey(key: unknown, name: string): string {
  if (!isValidSymmetricKey(key)) throw badRequest(`${name} is not a valid symmetric key`, 'a key is base64 of 16 to 64 bytes; leave it out to have one generated');
  return key;
}

/** Normalizes a certificate thumbprint: hex of a SHA-1 (40) or SHA-256 (64) digest, colons and spaces allowed, stored upper case. */
export function normalizeThumbprint(thumbprint: unknown, name: string): string {
  const text = typeof thumbprint === 'string' ? thumbprint.replace(/[:\s]/g, '').toUpperCase() : '';
  if (!/^[0-9A-F]+$/.test(text) || (text.length !== 40 && text.length !== 64)) {
    throw badRequest(`${name} is not a certificate thumbprint`, 'give the SHA-1 (40 hex digits) or SHA-256 (64 hex digits) fingerprint of the DER certificate, e.g. from: openssl x509 -in cert.pem -noout -fingerprint -sha256');
  }
  return text;
}

export function checkObject(value: unknown, name: string): { [key: string]: unknown } {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`${name} must be a JSON object`);
  return value as { [key: string]: unknown };
}
