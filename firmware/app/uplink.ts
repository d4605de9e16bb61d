/**
 * Where telemetry goes: a plain MQTT broker (the generic profile: IoT Hub's topic names, no
 * authentication beyond TLS) or Azure IoT Hub (SAS or X.509, twin, methods, C2D). The
 * application talks to this interface and does not care which.
 */
import type { Hal, TlsOptions } from '../../hal';
import { AzureHubClient } from '../iot/azure/hub-client';
import { MqttClient } from '../iot/mqtt/client';

export interface UplinkEvents {
  onConnected?(): void;
  /** `refusal`: the CONNACK return code when the server refused the connection. */
  onDisconnected?(reason: string, retryInMs?: number, refusal?: number): void;
  onPublished?(packetId: number): void;
}

/** The system properties the application sets on a message (IoT Hub's names; see MessageSystemProperties). */
export interface UplinkSystemProperties {
  /** `$.mid`: stable across re-sends, so the hub can drop duplicates. */
  messageId?: string;
  /** `$.ctime`: when the reading was taken, ISO 8601 UTC (`2024-05-01T12:34:56.789Z`). */
  creationTimeUtc?: string;
}

export interface Uplink {
  readonly connected: boolean;
  start(): void;
  stop(): void;
  /** Sends with QoS 1; returns the packet id. Throws when the QoS 1 queue is full. */
  send(payload: Uint8Array, properties: { [name: string]: string }, system?: UplinkSystemProperties): number;
}

/**
 * Generic MQTT: telemetry on `devices/{id}/messages/events/` with the properties URL-encoded,
 * then the system properties as IoT Hub writes them: `contentType`, when given, goes with
 * every message as `$.ct`; then `$.mid` and `$.ctime` when the message has them.
 */
export class MqttUplink implements Uplink {
  private readonly client: MqttClient;
  private readonly topic: string;
  private readonly contentType: string | undefined;

  constructor(
    hal: Hal,
    options: {
      host: string;
      port: number;
      tls?: TlsOptions;
      deviceId: string;
      keepAliveSeconds: number;
      connectTimeoutMs?: number;
      username?: string;
      password?: string;
      contentType?: string;
    },
    events: UplinkEvents,
  ) {
    this.topic = `devices/${options.deviceId}/messages/events/`;
    this.contentType = options.contentType;
    this.client = new MqttClient(
      hal,
      {
        host: options.host,
        port: options.port,
        tls: options.tls,
        clientId: options.deviceId,
        keepAliveSeconds: options.keepAliveSeconds,
        connectTimeoutMs: options.connectTimeoutMs,
        username: options.username,
        password: options.password === undefined ? undefined : hal.text.encode(options.password),
      },
      {
        onConnected: () => events.onConnected?.(),
        onDisconnected: (reason, retryInMs) => events.onDisconnected?.(reason, retryInMs),
        onPublished: (packetId) => events.onPublished?.(packetId),
      },
    );
  }

  get connected(): boolean {
    return this.client.connected;
  }

  start(): void {
    this.client.start();
  }

  stop(): void {
    this.client.stop();
  }

  send(payload: Uint8Array, properties: { [name: string]: string }, system: UplinkSystemProperties = {}): number {
    const bag = Object.keys(properties)
      .map((name) => `${encodeURIComponent(name)}=${encodeURIComponent(properties[name])}`)
      .concat(this.contentType === undefined ? [] : [`%24.ct=${encodeURIComponent(this.contentType)}`])
      .concat(system.messageId === undefined ? [] : [`%24.mid=${encodeURIComponent(system.messageId)}`])
      .concat(system.creationTimeUtc === undefined ? [] : [`%24.ctime=${encodeURIComponent(system.creationTimeUtc)}`])
      .join('&');
    return this.client.publish(this.topic + bag, payload, { qos: 1 }) as number;
  }
}

/**
 * Azure IoT Hub: the hub client carries telemetry (with `contentType`; the hub client adds the
 * content encoding utf-8 for JSON, none for binary types; `$.mid` and `$.ctime` as given); the
 * app uses its twin, methods and C2D too.
 */
export class AzureUplink implements Uplink {
  constructor(
    readonly hub: AzureHubClient,
    events: UplinkEvents,
    private readonly contentType = 'application/json',
  ) {
    hub.onConnectionChange((connected, reason, refusal) =>
      connected ? events.onConnected?.() : events.onDisconnected?.(reason ?? 'disconnected', undefined, refusal),
    );
    hub.onPublished((packetId) => events.onPublished?.(packetId));
  }

  get connected(): boolean {
    return this.hub.connected;
  }

  start(): void {
    this.hub.start();
  }

  stop(): void {
    this.hub.stop();
  }

  send(payload: Uint8Array, properties: { [name: string]: string }, system: UplinkSystemProperties = {}): number {
    return this.hub.sendTelemetry(payload, properties, this.contentType, { messageId: system.messageId, creationTimeUtc: system.creationTimeUtc });
  }
}
