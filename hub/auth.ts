/**
 * Device authentication for the IoT Hub endpoint:
 * - SAS: the password is a token whose `sr` is `{hubHost}/devices/{deviceId}` (URL-encoded), signed with the
 *   device's primary or secondary key, not expired ("Control access to IoT Hub": "Use SAS tokens as a device").
 * - X.509: no password; the TLS client certificate's SHA-1 or SHA-256 thumbprint is one the device registered
 *   (selfSigned), or the certificate chains to the hub's CA and its CN is the device id (certificateAuthority).
 * Every refusal says why; the MQTT front answers all of them with CONNACK 5, as IoT Hub does.
 */
import { matchingKey, parseSasToken, SasError } from './sas';
import type { Device } from './store';
import { matchesThumbprint, validityProblem, type ClientCertificate } from './x509';

export type DeviceAuthResult = { ok: true; method: 'sas' | 'x509'; tokenExpiry?: number } | { ok: false; reason: string };

export function authenticateDevice(request: {
  device: Device | undefined;
  deviceId: string;
  hostName: string;
  password: string | undefined;
  certificate: ClientCertificate | undefined;
  nowMs: number;
}): DeviceAuthResult {
  const { device, deviceId } = request;
  if (!device) return { ok: false, reason: `device "${deviceId}" is not registered: create it with thingkit hub device create ${deviceId} (or provision it through DPS)` };
  if (device.status !== 'enabled') return { ok: false, reason: `device "${deviceId}" is disabled${device.statusReason ? ` (${device.statusReason})` : ''}: enable it to let it connect` };
  const auth = device.authentication;
  if (request.password) {
    if (auth.type !== 'sas') return { ok: false, reason: `device "${deviceId}" authenticates with an X.509 certificate (${auth.type}), not a SAS token: connect with its certificate and no password` };
    let token;
    try {
      token = parseSasToken(request.password);
    } catch (error) {
      if (error instanceof SasError) return { ok: false, reason: error.message };
      throw error;
    }
    const resource = `${request.hostName}/devices/${deviceId}`;
    const [host, ...rest] = token.resource.split('/');
    if (host.toLowerCase() !== request.hostName.toLowerCase() || rest.join('/') !== `devices/${deviceId}`) {
      return { ok: false, reason: `the SAS token is for "${token.resource}", not "${resource}" (sr must be {hub host name}/devices/{device id})` };
    }
    if (token.keyName !== undefined) {
      return { ok: false, reason: `the SAS token names the shared access policy "${token.keyName}" (skn); the local hub takes device-key tokens only: sign with the device's key and leave skn out` };
    }
    if (token.expiry * 1000 <= request.nowMs) return { ok: false, reason: `the SAS token expired at ${new Date(token.expiry * 1000).toISOString()}: make a new one` };
    if (matchingKey(token, [auth.symmetricKey?.primaryKey, auth.symmetricKey?.secondaryKey]) < 0) {
      return { ok: false, reason: `the SAS token's signature does not match device "${deviceId}"'s primary or secondary key` };
    }
    return { ok: true, method: 'sas', tokenExpiry: token.expiry * 1000 };
  }
  const certificate = request.certificate;
  if (!certificate) {
    return {
      ok: false,
      reason:
        auth.type === 'sas'
          ? 'no password: send a SAS token (SharedAccessSignature sr=...&sig=...&se=...) as the MQTT password'
          : 'no client certificate: connect over TLS presenting the device certificate',
    };
  }
  if (auth.type === 'sas') return { ok: false, reason: `device "${deviceId}" authenticates with SAS keys: send a SAS token as the password` };
  const invalid = validityProblem(certificate, request.nowMs);
  if (invalid) return { ok: false, reason: invalid };
  if (auth.type === 'selfSigned') {
    const registered = [auth.x509Thumbprint?.primaryThumbprint, auth.x509Thumbprint?.secondaryThumbprint];
    if (!matchesThumbprint(certificate, registered)) {
      return { ok: false, reason: `the client certificate (SHA-1 ${certificate.sha1}, SHA-256 ${certificate.sha256}) matches neither registered thumbprint of "${deviceId}"` };
    }
    return { ok: true, method: 'x509' };
  }
  // certificateAuthority
  if (!certificate.chainTrusted) return { ok: false, reason: `the client certificate is not signed by the hub's CA (${certificate.chainError ?? 'untrusted'})` };
  if (certificate.commonName !== deviceId) return { ok: false, reason: `the certificate's common name "${certificate.commonName ?? ''}" must be the device id "${deviceId}"` };
  return { ok: true, method: 'x509' };
}
