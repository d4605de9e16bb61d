/**
 * The Device Provisioning Service side of the hub ("Communicate with your DPS using the MQTT protocol";
 * az_iot_provisioning_client.c; azure-iot-provisioning-device-mqtt):
 *
 * - CONNECT: client id = registration id; user name `{idScope}/registrations/{registrationId}/api-version=2019-03-31`;
 *   password `SharedAccessSignature sr={idScope}%2Fregistrations%2F{registrationId}&sig=...&se=...&skn=registration`
 *   signed with the individual enrollment's key, or with the key derived from an enrollment group's key;
 *   or no password and an X.509 client certificate whose CN is the registration id and whose thumbprint
 *   an individual enrollment lists.
 * - `$dps/registrations/PUT/iotdps-register/?$rid={rid}` with `{"registrationId": ..., "payload": ...}` →
 *   202 on `$dps/registrations/res/202/?$rid={rid}&retry-after={s}` with `{"operationId", "status": "assigning"}`.
 * - `$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={id}` → 200 with
 *   `{"operationId", "status": "assigned", "registrationState": {"registrationId", "assignedHub", "deviceId", ...}}`.
 * On assignment the device is created in the registry (if absent) with the enrollment's credentials.
 */
import { badRequest, HubError, notFound } from './errors';
import { matchingKey, parseSasToken, SasError } from './sas';
import { EnrollmentStore, type Enrollment, type EnrollmentGroup, type HubStore, type Registration } from './store';
import { isJsonObject, type JsonObject } from './twin';
import { matchesThumbprint, validityProblem, type ClientCertificate } from './x509';

export type DpsAttestation = { kind: 'individual'; registrationId: string } | { kind: 'group'; groupId: string };

export type DpsAuthResult = { ok: true; attestation: DpsAttestation; tokenExpiry?: number; method: 'sas' | 'x509' } | { ok: false; reason: string };

export interface DpsAuthRequest {
  idScope: string;
  registrationId: string;
  password: string | undefined;
  certificate: ClientCertificate | undefined;
  nowMs: number;
}

export class Dps {
  constructor(
    private readonly store: HubStore,
    readonly idScope: string,
    /** The hub DPS assigns devices to (its host name). */
    readonly assignedHub: string,
  ) {}

  /** Checks a DPS CONNECT's credentials against the enrollments. */
  authenticate(request: DpsAuthRequest): DpsAuthResult {
    const { registrationId } = request;
    if (request.idScope.toLowerCase() !== this.idScope.toLowerCase()) {
      return { ok: false, reason: `ID scope "${request.idScope}" is not this DPS's ("${this.idScope}"): use the ID scope thingkit hub printed at start` };
    }
    const enrollment = this.store.enrollments.getEnrollment(registrationId);
    if (enrollment && enrollment.provisioningStatus === 'disabled') return { ok: false, reason: `the enrollment of "${registrationId}" is disabled` };
    if (request.password) {
      let token;
      try {
        token = parseSasToken(request.password);
      } catch (error) {
        if (error instanceof SasError) return { ok: false, reason: error.message };
        throw error;
      }
      const resource = `${this.idScope}/registrations/${registrationId}`;
      if (token.resource.toLowerCase() !== resource.toLowerCase()) {
        return { ok: false, reason: `the SAS token is for "${token.resource}", not "${resource}" (sr must be {idScope}/registrations/{registrationId})` };
      }
      if (token.keyName !== undefined && token.keyName !== 'registration') return { ok: false, reason: `the SAS token's skn is "${token.keyName}"; DPS device tokens use skn=registration` };
      if (token.expiry * 1000 <= request.nowMs) return { ok: false, reason: `the SAS token expired at ${new Date(token.expiry * 1000).toISOString()}: make a new one` };
      if (enrollment) {
        if (enrollment.attestation.type !== 'symmetricKey') return { ok: false, reason: `"${registrationId}" is enrolled with an X.509 certificate: connect with that certificate and no password` };
        const keys = enrollment.attestation.symmetricKey;
        if (matchingKey(token, [keys.primaryKey, keys.secondaryKey]) < 0) {
          return { ok: false, reason: `the SAS token for "${registrationId}" is not signed with its enrollment's primary or secondary key` };
        }
        return { ok: true, attestation: { kind: 'individual', registrationId }, tokenExpiry: token.expiry * 1000, method: 'sas' };
      }
      for (const group of this.store.enrollments.listGroups()) {
        if (group.provisioningStatus !== 'enabled') continue;
        const derived = EnrollmentStore.derivedKeys(group, registrationId);
        if (matchingKey(token, [derived.primaryKey, derived.secondaryKey]) >= 0) {
          return { ok: true, attestation: { kind: 'group', groupId: group.enrollmentGroupId }, tokenExpiry: token.expiry * 1000, method: 'sas' };
        }
      }
      return {
        ok: false,
        reason: `no individual enrollment for "${registrationId}", and no enabled enrollment group's derived key (base64 HMAC-SHA256 of the registration id under the group key) signed the token`,
      };
    }
    const certificate = request.certificate;
    if (!certificate) return { ok: false, reason: 'no password and no client certificate: send a SAS token as the password, or connect over TLS with an X.509 certificate' };
    if (!enrollment || enrollment.attestation.type !== 'x509') return { ok: false, reason: `no X.509 individual enrollment for "${registrationId}"` };
    if (certificate.commonName !== registrationId) {
      return { ok: false, reason: `the certificate's common name "${certificate.commonName ?? ''}" must be the registration id "${registrationId}"` };
    }
    const invalid = validityProblem(certificate, request.nowMs);
    if (invalid) return { ok: false, reason: invalid };
    const { primary, secondary } = enrollment.attestation.x509.thumbprint;
    if (!matchesThumbprint(certificate, [primary, secondary])) {
      return { ok: false, reason: `the client certificate (SHA-1 ${certificate.sha1}) matches neither thumbprint of the enrollment of "${registrationId}"` };
    }
    return { ok: true, attestation: { kind: 'individual', registrationId }, method: 'x509' };
  }

  /**
   * Handles a register request: assigns the registration to this hub, creating the device if absent.
   * Returns the registration (for the 202 `{operationId, status: "assigning"}`).
   */
  register(attestation: DpsAttestation, registrationId: string, body: Uint8Array): { registration: Registration; deviceCreated: boolean; credentialsDiffer: boolean } {
    let request: unknown;
    try {
      const text = Buffer.from(body).toString('utf8').trim();
      request = text ? JSON.parse(text) : {};
    } catch (error) {
      throw badRequest(`the registration request is not JSON: ${(error as Error).message}`, 'send {"registrationId": "<id>"} (and optionally "payload")');
    }
    if (!isJsonObject(request)) throw badRequest('the registration request must be a JSON object like {"registrationId": "<id>"}');
    if (request.registrationId !== undefined && request.registrationId !== registrationId) {
      throw badRequest(`the request names registration "${String(request.registrationId)}" but the connection is for "${registrationId}"`);
    }
    let enrollment: Enrollment | undefined;
    let group: EnrollmentGroup | undefined;
    if (attestation.kind === 'individual') {
      enrollment = this.store.enrollments.getEnrollment(registrationId);
      if (!enrollment || enrollment.provisioningStatus !== 'enabled') throw notFound(`an enabled enrollment for "${registrationId}"`, 'it was deleted or disabled after the device connected');
    } else {
      group = this.store.enrollments.getGroup(attestation.groupId);
      if (!group || group.provisioningStatus !== 'enabled') throw notFound(`enabled enrollment group "${attestation.groupId}"`, 'it was deleted or disabled after the device connected');
    }
    const deviceId = enrollment?.deviceId ?? registrationId;
    let authentication;
    if (group) authentication = { type: 'sas' as const, symmetricKey: EnrollmentStore.derivedKeys(group, registrationId) };
    else if (enrollment!.attestation.type === 'symmetricKey') authentication = { type: 'sas' as const, symmetricKey: enrollment!.attestation.symmetricKey };
    else {
      const { primary, secondary } = enrollment!.attestation.x509.thumbprint;
      authentication = { type: 'selfSigned' as const, x509Thumbprint: { primaryThumbprint: primary, ...(secondary ? { secondaryThumbprint: secondary } : {}) } };
    }
    return this.store.transaction(() => {
      let deviceCreated = false;
      let credentialsDiffer = false;
      const existing = this.store.devices.get(deviceId);
      if (existing) {
        // An existing identity is kept (devices are only created when absent); say so if the device cannot use it.
        const a = existing.authentication;
        credentialsDiffer =
          authentication.type !== a.type ||
          (authentication.type === 'sas' && a.symmetricKey?.primaryKey !== authentication.symmetricKey.primaryKey && a.symmetricKey?.secondaryKey !== authentication.symmetricKey.primaryKey) ||
          (authentication.type === 'selfSigned' && a.x509Thumbprint?.primaryThumbprint !== authentication.x509Thumbprint.primaryThumbprint && a.x509Thumbprint?.secondaryThumbprint !== authentication.x509Thumbprint.primaryThumbprint);
      } else {
        this.store.devices.create({ deviceId, authentication });
        const initialTwin = (enrollment ?? group)!.initialTwin;
        if (initialTwin && (initialTwin.tags || initialTwin.properties?.desired)) {
          this.store.twins.update(deviceId, { ...(initialTwin.tags ? { tags: initialTwin.tags } : {}), ...(initialTwin.properties?.desired ? { properties: { desired: initialTwin.properties.desired } } : {}) });
        }
        deviceCreated = true;
      }
      const registration = this.store.enrollments.recordAssignment({
        registrationId,
        groupId: group?.enrollmentGroupId ?? null,
        deviceId,
        assignedHub: this.assignedHub,
        payload: (request as JsonObject).payload,
      });
      return { registration, deviceCreated, credentialsDiffer };
    });
  }

  /** The operation status for a poll; 404 for an unknown operation or one of another registration. */
  operationStatus(registrationId: string, operationId: string | undefined): JsonObject {
    if (!operationId) throw badRequest('the operation status query has no operationId', 'publish to $dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={the id from the 202 response}');
    const registration = this.store.enrollments.registrationByOperation(operationId);
    if (!registration || registration.registrationId !== registrationId) {
      throw new HubError(404, 404000, `operation "${operationId}" is not known for registration "${registrationId}"`, 'register again with $dps/registrations/PUT/iotdps-register/');
    }
    return operationResult(registration);
  }
}

export function operationResult(registration: Registration): JsonObject {
  const registrationState: JsonObject = {
    registrationId: registration.registrationId,
    createdDateTimeUtc: new Date(registration.createdAt).toISOString(),
    assignedHub: registration.assignedHub,
    deviceId: registration.deviceId,
    status: registration.status,
    substatus: registration.substatus,
    lastUpdatedDateTimeUtc: new Date(registration.updatedAt).toISOString(),
    etag: registration.etag,
  };
  // The device's request payload is kept with the registration (GET /registrations/{id}) but not echoed:
  // registrationState.payload is what a custom allocation policy returns, and the local hub has none.
  return { operationId: registration.operationId, status: 'assigned', registrationState };
}
