/**
 * The Device Provisioning Service client: a thin shell running the `DpsRegistration` core
 * over its own MQTT connection to the DPS endpoint (`global.azure-devices-provisioning.net`
 * by default), then closing it. `provision()` resolves with the assignment, a plain JSON
 * object the application can keep (in KV, say) to connect straight to the hub next time.
 *
 * Authentication: a SAS token over `{idScope}/registrations/{registrationId}` with policy
 * `registration`, signed with the device's key (individual enrollment) or with the key
 * derived from an enrollment group's key; or an X.509 client certificate (in `tls`).
 * Connection refusals for bad credentials (CONNACK 4 or 5) end provisioning at once; other
 * disconnections are retried with backoff until the registration's overall timeout.
 */
import type { Hal, TimerId, TlsOptions } from '../../../hal';
import type { ReconnectBackoffOptions } from '../mqtt/backoff';
import { MqttClient } from '../mqtt/client';
import type { ConnackReturnCode } from '../mqtt/packets';
import { DpsRegistration, type DpsAssignment, type DpsError, type DpsOutput, type DpsRegistrationOptions } from './dps';
import { halCodec } from './hal-codec';
import { DPS_SAS_POLICY, deriveGroupDeviceKey, dpsSasResource, generateSasToken } from './sas';
import { DPS_GLOBAL_ENDPOINT, DPS_RESPONSE_FILTER, dpsClientId, dpsUsername } from './topics';
import type { AzureCodec, JsonValue } from './types';

export type DpsAuth =
  /** Individual enrollment: the enrollment's symmetric key, base64. */
  | { kind: 'sas'; deviceKey: string; ttlSeconds?: number }
  /** Enrollment group: the group's key, base64; the device key is derived from it and the registration id. */
  | { kind: 'sas-group'; groupKey: string; ttlSeconds?: number }
  /** X.509: the certificate and key go in `tls`; its common name must be the registration id. */
  | { kind: 'x509' };

export interface DpsClientOptions {
  /** Default global.azure-devices-provisioning.net. */
  endpoint?: string;
  /** Default 8883. */
  port?: number;
  tls?: TlsOptions;
  idScope: string;
  registrationId: string;
  auth: DpsAuth;
  /** Custom allocation data (`payload` of the registration), such as `{ "modelId": "dtmi:..." }`. */
  payload?: JsonValue;
  /** Overall limit; default 120 000 ms. */
  timeoutMs?: number;
  /** Default 60 s. */
  keepAliveSeconds?: number;
  /** How long one connection attempt may take; default 10 000 ms. */
  connectTimeoutMs?: number;
  registration?: Omit<DpsRegistrationOptions, 'registrationId' | 'payload' | 'timeoutMs'>;
  backoff?: Omit<ReconnectBackoffOptions, 'random'>;
}

/** provision() rejects with this; `error` says why (code, DPS status and error code, tracking id). */
export class DpsProvisioningError extends Error {
  constructor(readonly error: DpsError) {
    super(error.message);
    this.name = 'DpsProvisioningError';
  }
}

export class DpsClient {
  private readonly codec: AzureCodec;
  private readonly core: DpsRegistration;
  private mqtt: MqttClient | undefined;
  private timer: TimerId | undefined;
  private settle: { resolve: (assignment: DpsAssignment) => void; reject: (error: DpsProvisioningError) => void } | undefined;
  private promise: Promise<DpsAssignment> | undefined;
  /** The device key for SAS (derived once for a group). */
  private readonly sasKey: string | undefined;

  constructor(
    private readonly hal: Hal,
    private readonly options: DpsClientOptions,
  ) {
    this.codec = halCodec(hal);
    dpsUsername(options.idScope, options.registrationId); // throws now on a bad id scope or registration id
    const auth = options.auth;
    this.sasKey =
      auth.kind === 'sas' ? auth.deviceKey : auth.kind === 'sas-group' ? deriveGroupDeviceKey(this.codec, auth.groupKey, options.registrationId) : undefined;
    this.core = new DpsRegistration(
      { ...options.registration, registrationId: options.registrationId, payload: options.payload, timeoutMs: options.timeoutMs },
      this.codec,
    );
  }

  /** Registers; resolves with the assignment or rejects with DpsProvisioningError. Calling it again returns the same promise. */
  provision(): Promise<DpsAssignment> {
    if (this.promise !== undefined) return this.promise;
    this.promise = new Promise<DpsAssignment>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    const { options } = this;
    this.mqtt = new MqttClient(
      this.hal,
      {
        host: options.endpoint ?? DPS_GLOBAL_ENDPOINT,
        port: options.port ?? 8883,
        tls: options.tls,
        clientId: dpsClientId(options.registrationId),
        username: dpsUsername(options.idScope, options.registrationId),
        cleanSession: true, // DPS keeps no session anyway
        keepAliveSeconds: options.keepAliveSeconds ?? 60,
        connectTimeoutMs: options.connectTimeoutMs,
        backoff: options.backoff,
        credentials: this.sasKey === undefined ? undefined : () => this.sasCredentials(),
      },
      {
        onConnected: () => this.apply(this.core.connected(this.hal.clock.now())),
        onDisconnected: (reason, _retryInMs, returnCode) => this.onDisconnected(reason, returnCode),
        onMessage: (topic, payload) => {
          const out = this.core.received(topic, payload, this.hal.clock.now());
          if (!out.handled) this.hal.log.write('warn', `DPS: message on unexpected topic "${topic}" ignored`);
          this.apply(out);
        },
      },
    );
    this.mqtt.subscribe([{ filter: DPS_RESPONSE_FILTER, qos: 1 }]);
    this.apply(this.core.start(this.hal.clock.now()));
    this.mqtt.start();
    return this.promise;
  }

  /** Gives up: provision() rejects with code 'timeout' (cancelled). */
  cancel(reason = 'provisioning cancelled'): void {
    this.finish(undefined, { code: 'timeout', message: reason });
  }

  private sasCredentials(): { username: string; password: Uint8Array } {
    const wallMs = this.hal.clock.wallTime();
    if (wallMs === undefined) throw new Error('the wall clock is not set yet, so no SAS token can be made (waiting for time sync)');
    const auth = this.options.auth as { ttlSeconds?: number };
    const token = generateSasToken(this.codec, {
      resource: dpsSasResource(this.options.idScope, this.options.registrationId),
      key: this.sasKey as string,
      expirySeconds: Math.floor(wallMs / 1000) + (auth.ttlSeconds ?? 3600),
      policyName: DPS_SAS_POLICY,
    });
    return { username: dpsUsername(this.options.idScope, this.options.registrationId), password: this.codec.utf8Encode(token) };
  }

  private onDisconnected(reason: string, returnCode: ConnackReturnCode | undefined): void {
    this.apply(this.core.disconnected(this.hal.clock.now()));
    if (returnCode === 4 || returnCode === 5) {
      this.finish(undefined, { code: 'unauthorized', message: `DPS refused the connection (${reason}): check the ID scope, registration id, key or certificate, and the clock` });
    }
  }

  private apply(out: DpsOutput): void {
    for (const message of out.publish) {
      try {
        this.mqtt?.publish(message.topic, message.payload, { qos: message.qos });
      } catch (error) {
        this.hal.log.write('warn', `DPS: request not sent: ${(error as Error).message}`);
      }
    }
    for (const event of out.events) {
      if (event.type === 'assigning') this.hal.log.event('dps-assigning', { operationId: event.operationId, retryInMs: event.retryAfterMs });
      else if (event.type === 'assigned') this.finish(event.assignment, undefined);
      else this.finish(undefined, event.error);
    }
    if (this.settle === undefined) return; // finished
    if (this.timer !== undefined) this.hal.timers.clear(this.timer);
    this.timer = undefined;
    const deadline = this.core.nextDeadline();
    if (deadline !== undefined) {
      this.timer = this.hal.timers.set(() => {
        this.timer = undefined;
        this.apply(this.core.tick(this.hal.clock.now()));
      }, Math.max(0, deadline - this.hal.clock.now()));
    }
  }

  private finish(assignment: DpsAssignment | undefined, error: DpsError | undefined): void {
    const settle = this.settle;
    if (settle === undefined) return;
    this.settle = undefined;
    if (this.timer !== undefined) this.hal.timers.clear(this.timer);
    this.timer = undefined;
    this.mqtt?.stop();
    if (assignment !== undefined) {
      this.hal.log.event('dps-assigned', { hub: assignment.assignedHub, deviceId: assignment.deviceId });
      settle.resolve(assignment);
    } else {
      const failure = error ?? { code: 'bad-response', message: 'provisioning ended without a result' };
      this.hal.log.event('dps-failed', { code: failure.code, message: failure.message });
      settle.reject(new DpsProvisioningError(failure));
    }
  }
}

/** Provisions once: `const assignment = await provisionDevice(hal, options)`. */
export function provisionDevice(hal: Hal, options: DpsClientOptions): Promise<DpsAssignment> {
  return new DpsClient(hal, options).provision();
}
