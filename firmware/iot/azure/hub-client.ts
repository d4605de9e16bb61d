/**
 * The Azure IoT Hub device client: a thin shell that connects the sans-I/O cores (topics,
 * SAS, twin, methods, C2D) to the MQTT client and the HAL.
 *
 * - Connects as `hubClientId` / `hubUsername`, with a SAS token made fresh for every CONNECT
 *   (and renewed before it expires by a planned reconnect: `MqttClient.reconnect()` ends the
 *   connection with DISCONNECT and connects again at once; unacknowledged QoS 1 telemetry
 *   stays in the MQTT session and is sent again, so none is lost), or with an X.509 client
 *   certificate (pass it in `tls`; the user name alone goes in CONNECT).
 * - Subscribes to twin responses and desired-property notifications (QoS 1), method requests
 *   (QoS 0: a request redelivered after a reconnect would run twice) and C2D (QoS 1: the
 *   PUBACK completes the message in IoT Hub). The MQTT session restores them after a
 *   reconnect when the broker kept no session; IoT Hub allows five, this uses four.
 * - GETs the twin on every connection (the reconnection flow IoT Hub requires).
 * - Telemetry is QoS 1 and held by the MQTT session until acknowledged, across reconnects.
 */
import type { Hal, TimerId, TlsOptions } from '../../../hal';
import type { ReconnectBackoffOptions } from '../mqtt/backoff';
import { MqttClient } from '../mqtt/client';
import type { ConnackReturnCode } from '../mqtt/packets';
import type { MqttSessionOptions } from '../mqtt/session';
import { parseC2dMessage, type C2dMessage } from './c2d';
import { halCodec } from './hal-codec';
import { checkTelemetrySize } from './limits';
import { badRequestReply, methodResponse, MethodRegistry, parseMethodRequest, type MethodHandler, type MethodRegistryOptions, type MethodReply } from './methods';
import { generateSasToken, hubSasResource } from './sas';
import {
  c2dSubscribeFilter,
  hubClientId,
  hubUsername,
  METHODS_FILTER,
  telemetryTopic,
  TWIN_DESIRED_FILTER,
  TWIN_RESPONSE_FILTER,
  type HubIdentity,
  type MessageSystemProperties,
} from './topics';
import { TwinSync, type TwinError, type TwinOutput, type TwinSyncOptions } from './twin';
import type { AzureCodec, AzurePublish, JsonObject } from './types';

/** The device's symmetric key: SAS tokens valid `ttlSeconds`, renewed after `renewAfter` of that. */
export interface AzureHubSasAuth {
  kind: 'sas';
  /** The device's (or module's) primary or secondary key, base64. */
  deviceKey: string;
  /** Shared access policy name (`skn`), when the key is a hub policy's rather than the device's. */
  policyName?: string;
  /** Token lifetime; default 3 600 s. */
  ttlSeconds?: number;
  /** Fraction of the lifetime after which the token is renewed by a planned reconnect; default 0.8. */
  renewAfter?: number;
}

/** An X.509 client certificate, given in `tls.certificate` and `tls.key`. */
export interface AzureHubX509Auth {
  kind: 'x509';
}

export interface AzureHubClientOptions extends HubIdentity {
  /** Default 8883. */
  port?: number;
  /** TLS settings (CA, and the client certificate for X.509); absent means plain TCP, for a local hub only. */
  tls?: TlsOptions;
  auth: AzureHubSasAuth | AzureHubX509Auth;
  /** Default 60 s. */
  keepAliveSeconds?: number;
  /** Default false, as the Azure SDKs: IoT Hub keeps subscriptions and pending C2D across connections. */
  cleanSession?: boolean;
  /** MQTT limits; the incoming packet limit defaults to 32 KiB here (twin documents can be large). */
  mqtt?: Pick<MqttSessionOptions, 'maxInflight' | 'maxPending' | 'maxQueuedBytes' | 'maxIncomingPacketSize' | 'connectTimeoutMs' | 'pingTimeoutMs'>;
  backoff?: Omit<ReconnectBackoffOptions, 'random'>;
  twin?: Omit<TwinSyncOptions, 'random'>;
  methods?: MethodRegistryOptions;
  /** Subscribe to cloud-to-device messages; default true for devices, false for modules (IoT Hub sends modules none). */
  c2d?: boolean;
}

/** Incoming packet limit for the hub connection unless configured. */
export const HUB_DEFAULT_MAX_INCOMING_PACKET = 32 * 1024;

export type DesiredHandler = (patch: JsonObject, version: number, full: boolean) => void;
export type TwinHandler = (desired: JsonObject, reported: JsonObject) => void;
export type ReportedHandler = (patchId: number, version: number | undefined) => void;
export type TwinErrorHandler = (error: TwinError) => void;
export type C2dHandler = (message: C2dMessage) => void;
export type ConnectionHandler = (connected: boolean, reason?: string, refusal?: ConnackReturnCode) => void;
export type PublishedHandler = (packetId: number) => void;

interface Handlers {
  desired?: DesiredHandler;
  twin?: TwinHandler;
  reported?: ReportedHandler;
  twinError?: TwinErrorHandler;
  c2d?: C2dHandler;
  connection?: ConnectionHandler;
  published?: PublishedHandler;
}

export class AzureHubClient {
  readonly codec: AzureCodec;
  private readonly identity: HubIdentity;
  private readonly username: string;
  private readonly mqtt: MqttClient;
  private readonly twinSync: TwinSync;
  private readonly methods: MethodRegistry;
  private readonly handlers: Handlers = {};
  private twinTimer: TimerId | undefined;
  private renewTimer: TimerId | undefined;
  /** When (monotonic ms) the token of the current connection was made. */
  private tokenMadeAt: number | undefined;

  constructor(
    private readonly hal: Hal,
    private readonly options: AzureHubClientOptions,
  ) {
    this.codec = halCodec(hal);
    this.identity = { hostName: options.hostName, deviceId: options.deviceId, moduleId: options.moduleId, modelId: options.modelId };
    const clientId = hubClientId(this.identity);
    this.username = hubUsername(this.identity);
    const random = (): number => {
      const bytes = hal.crypto.randomBytes(4);
      return (((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0) / 2 ** 32;
    };
    this.twinSync = new TwinSync(this.codec, { ...options.twin, random });
    this.methods = new MethodRegistry(options.methods);
    const auth = options.auth;
    if (auth.kind === 'sas') {
      const ttl = auth.ttlSeconds ?? 3600;
      const renewAfter = auth.renewAfter ?? 0.8;
      if (!Number.isInteger(ttl) || ttl < 60) throw new RangeError(`SAS ttlSeconds must be an integer >= 60, got ${ttl}`);
      if (!(renewAfter > 0 && renewAfter < 1)) throw new RangeError(`SAS renewAfter must be between 0 and 1, got ${renewAfter}`);
    }
    this.mqtt = new MqttClient(
      hal,
      {
        host: options.hostName,
        port: options.port ?? 8883,
        tls: options.tls,
        clientId,
        username: this.username,
        cleanSession: options.cleanSession ?? false,
        keepAliveSeconds: options.keepAliveSeconds ?? 60,
        ...options.mqtt,
        maxIncomingPacketSize: options.mqtt?.maxIncomingPacketSize ?? HUB_DEFAULT_MAX_INCOMING_PACKET,
        backoff: options.backoff,
        credentials: auth.kind === 'sas' ? () => this.sasCredentials(auth) : undefined,
      },
      {
        onConnected: () => this.onConnected(),
        onDisconnected: (reason, retryInMs, returnCode) => this.onDisconnected(reason, retryInMs, returnCode),
        onMessage: (topic, payload) => this.onMessage(topic, payload),
        onPublished: (packetId) => this.call(() => this.handlers.published?.(packetId)),
      },
    );
    const subscriptions: { filter: string; qos: 0 | 1 }[] = [
      { filter: TWIN_RESPONSE_FILTER, qos: 1 },
      { filter: TWIN_DESIRED_FILTER, qos: 1 },
      { filter: METHODS_FILTER, qos: 0 },
    ];
    if (options.c2d ?? options.moduleId === undefined) subscriptions.push({ filter: c2dSubscribeFilter(this.identity), qos: 1 });
    this.mqtt.subscribe(subscriptions); // remembered by the session: sent on every connection that needs it
  }

  /** Connects, and keeps reconnecting until stop(). */
  start(): void {
    this.mqtt.start();
  }

  /** Disconnects cleanly and stops. */
  stop(): void {
    this.clearTimer('renewTimer');
    this.clearTimer('twinTimer');
    this.mqtt.stop();
    this.applyTwin(this.twinSync.disconnected(this.hal.clock.now()));
  }

  /** Ends the connection and connects again at once (QoS 1 messages in flight are kept and resent). */
  reconnect(reason = 'reconnect requested'): void {
    this.mqtt.reconnect(reason);
  }

  get connected(): boolean {
    return this.mqtt.connected;
  }

  /** The desired properties as last synchronised (read-only), or undefined before the first twin GET. */
  get desired(): JsonObject | undefined {
    return this.twinSync.desired;
  }

  get desiredVersion(): number | undefined {
    return this.twinSync.desiredVersion;
  }

  /**
   * Sends telemetry with QoS 1 to `devices/{deviceId}/messages/events/{properties}`. A string
   * payload is sent as UTF-8. `contentType` sets `$.ct`; with a JSON or text content type the
   * content encoding `$.ce` defaults to `utf-8` (what IoT Hub needs to route on the body).
   * Returns the MQTT packet id that onPublished reports. Throws AzureError ('too-large' over
   * 256 KB, 'invalid-argument' for a `$` property name) or MqttSessionError ('queue-full',
   * 'too-large' for the QoS 1 queue); nothing is sent then.
   */
  sendTelemetry(
    payload: Uint8Array | string,
    properties: Readonly<Record<string, string>> = {},
    contentType?: string,
    system: MessageSystemProperties = {},
  ): number {
    const bytes = typeof payload === 'string' ? this.codec.utf8Encode(payload) : payload;
    const systemProperties: MessageSystemProperties = { ...system };
    if (contentType !== undefined) systemProperties.contentType = contentType;
    const type = systemProperties.contentType;
    if (type !== undefined && systemProperties.contentEncoding === undefined && /json|text/i.test(type)) systemProperties.contentEncoding = 'utf-8';
    const topic = telemetryTopic(this.identity, systemProperties, properties);
    checkTelemetrySize(this.codec.utf8Encode(topic).length, bytes.length);
    return this.mqtt.publish(topic, bytes, { qos: 1 }) as number;
  }

  /**
   * Queues a reported-properties patch; returns its id (onReported / onTwinError name it).
   * Throws AzureError ('too-large' over 32 KB, 'queue-full', 'invalid-argument').
   */
  reportProperties(patch: JsonObject): number {
    const out = this.twinSync.report(patch, this.hal.clock.now());
    this.applyTwin(out);
    return out.patchId;
  }

  /** GETs the whole twin again. */
  requestTwin(): void {
    this.applyTwin(this.twinSync.refresh(this.hal.clock.now()));
  }

  /** Desired properties changed (`full`: the whole document after a GET). */
  onDesired(handler: DesiredHandler | undefined): void {
    this.handlers.desired = handler;
  }

  /** A twin GET completed (every connection): the whole desired and reported sections. */
  onTwin(handler: TwinHandler | undefined): void {
    this.handlers.twin = handler;
  }

  onReported(handler: ReportedHandler | undefined): void {
    this.handlers.reported = handler;
  }

  onTwinError(handler: TwinErrorHandler | undefined): void {
    this.handlers.twinError = handler;
  }

  /** Registers the handler of direct method `name` (undefined removes it). Unknown methods get 404. */
  onMethod(name: string, handler: MethodHandler | undefined): void {
    this.methods.set(name, handler);
  }

  onC2D(handler: C2dHandler | undefined): void {
    this.handlers.c2d = handler;
  }

  onConnectionChange(handler: ConnectionHandler | undefined): void {
    this.handlers.connection = handler;
  }

  /** A QoS 1 telemetry message was acknowledged by IoT Hub. */
  onPublished(handler: PublishedHandler | undefined): void {
    this.handlers.published = handler;
  }

  // ---- internals ----

  private sasCredentials(auth: AzureHubSasAuth): { username: string; password: Uint8Array } {
    const wallMs = this.hal.clock.wallTime();
    if (wallMs === undefined) throw new Error('the wall clock is not set yet, so no SAS token can be made (waiting for time sync)');
    const token = generateSasToken(this.codec, {
      resource: hubSasResource(this.identity.hostName, this.identity.deviceId, this.identity.moduleId),
      key: auth.deviceKey,
      expirySeconds: Math.floor(wallMs / 1000) + (auth.ttlSeconds ?? 3600),
      policyName: auth.policyName,
    });
    this.tokenMadeAt = this.hal.clock.now();
    return { username: this.username, password: this.codec.utf8Encode(token) };
  }

  private onConnected(): void {
    const auth = this.options.auth;
    this.clearTimer('renewTimer');
    if (auth.kind === 'sas' && this.tokenMadeAt !== undefined) {
      const renewAt = this.tokenMadeAt + (auth.ttlSeconds ?? 3600) * 1000 * (auth.renewAfter ?? 0.8);
      this.renewTimer = this.hal.timers.set(() => {
        this.renewTimer = undefined;
        this.hal.log.write('info', 'IoT Hub: renewing the SAS token (planned reconnect)');
        this.mqtt.reconnect('SAS token renewal');
      }, Math.max(1_000, renewAt - this.hal.clock.now()));
    }
    this.hal.log.event('hub-connected', { hub: this.identity.hostName, deviceId: this.identity.deviceId });
    this.call(() => this.handlers.connection?.(true));
    this.applyTwin(this.twinSync.connected(this.hal.clock.now()));
  }

  private onDisconnected(reason: string, retryInMs: number, returnCode: ConnackReturnCode | undefined): void {
    this.clearTimer('renewTimer');
    this.applyTwin(this.twinSync.disconnected(this.hal.clock.now()));
    if (returnCode === 4 || returnCode === 5) {
      this.hal.log.write('error', `IoT Hub refused the connection (${reason}): check the device key or certificate and the clock`);
    }
    this.hal.log.event('hub-disconnected', { reason, retryInMs });
    this.call(() => (returnCode === undefined ? this.handlers.connection?.(false, reason) : this.handlers.connection?.(false, reason, returnCode)));
  }

  private onMessage(topic: string, payload: Uint8Array): void {
    const now = this.hal.clock.now();
    if (topic.startsWith('$iothub/twin/')) {
      this.applyTwin(this.twinSync.received(topic, payload, now));
      return;
    }
    if (topic.startsWith('$iothub/methods/')) {
      this.onMethodRequest(topic, payload);
      return;
    }
    const c2d = parseC2dMessage(topic, payload, this.identity.deviceId);
    if (c2d.ok) {
      const message = c2d.value;
      this.call(() => this.handlers.c2d?.(message));
    } else if (c2d.error.code === 'malformed') {
      this.hal.log.write('warn', `IoT Hub: C2D message dropped: ${c2d.error.message}`);
    } else {
      this.hal.log.write('warn', `IoT Hub: message on unexpected topic "${topic}" ignored`);
    }
  }

  private onMethodRequest(topic: string, payload: Uint8Array): void {
    const parsed = parseMethodRequest(topic, payload, this.codec);
    if (!parsed.ok) {
      if (parsed.code === 'bad-json' && parsed.requestId !== undefined) this.respond(parsed.requestId, badRequestReply(parsed.message));
      else this.hal.log.write('warn', `IoT Hub: method request ignored: ${parsed.message}`);
      return;
    }
    const { request } = parsed;
    void this.methods.invoke(request).then(
      (reply) => this.respond(request.requestId, reply),
      () => undefined, // invoke() never rejects
    );
  }

  private respond(requestId: string, reply: MethodReply): void {
    let message: AzurePublish;
    try {
      try {
        message = methodResponse(requestId, reply.status, reply.payload, this.codec);
      } catch (error) {
        message = methodResponse(requestId, 500, { message: (error as Error).message }, this.codec);
      }
    } catch (error) {
      this.hal.log.write('warn', `IoT Hub: method response for $rid ${requestId} cannot be sent: ${(error as Error).message}`);
      return;
    }
    this.publish(message, 'method response');
  }

  private publish(message: AzurePublish, what: string): void {
    try {
      this.mqtt.publish(message.topic, message.payload, { qos: message.qos });
    } catch (error) {
      this.hal.log.write('warn', `IoT Hub: ${what} not sent: ${(error as Error).message}`);
    }
  }

  private applyTwin(out: TwinOutput): void {
    for (const message of out.publish) this.publish(message, 'twin request');
    for (const event of out.events) {
      switch (event.type) {
        case 'desiredChanged':
          this.call(() => this.handlers.desired?.(event.patch, event.version, event.full));
          break;
        case 'twin':
          this.call(() => this.handlers.twin?.(event.desired, event.reported));
          break;
        case 'reported':
          this.call(() => this.handlers.reported?.(event.patchId, event.version));
          break;
        case 'error':
          this.hal.log.write('warn', `IoT Hub twin: ${event.error.message}`);
          this.call(() => this.handlers.twinError?.(event.error));
          break;
      }
    }
    // The core's deadline now, not out.nextDeadline: a handler above may have called the core again.
    this.clearTimer('twinTimer');
    const deadline = this.twinSync.nextDeadline();
    if (deadline !== undefined) {
      this.twinTimer = this.hal.timers.set(() => {
        this.twinTimer = undefined;
        this.applyTwin(this.twinSync.tick(this.hal.clock.now()));
      }, Math.max(0, deadline - this.hal.clock.now()));
    }
  }

  /** Runs an application handler; one that throws is logged, and the client carries on. */
  private call(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      this.hal.log.write('error', `IoT Hub: application handler threw: ${(error as Error).message}`);
    }
  }

  private clearTimer(name: 'renewTimer' | 'twinTimer'): void {
    const timer = this[name];
    if (timer !== undefined) this.hal.timers.clear(timer);
    this[name] = undefined;
  }
}
