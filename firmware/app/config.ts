/**
 * The application's settings, read from the device configuration (`mc/config` on ESP32,
 * the simulator's options on the host) and checked, so a bad value fails at boot with a
 * message that says which key and what is expected.
 */
import type { DeviceConfig } from '../../hal';

export interface AppConfig {
  deviceId: string;
  mqttHost: string;
  mqttPort: number;
  /** TLS to the broker (certificates come from settings, see docs). */
  mqttTls: boolean;
  mqttUsername?: string;
  mqttPassword?: string;
  keepAliveSeconds: number;
  /** How long a connection (TCP, TLS and CONNACK) may take before it is abandoned and retried; raise it on thin links. */
  connectTimeoutMs: number;
  telemetryIntervalMs: number;
  /** Azure IoT Hub, when set: the hub's host name (or the DPS assignment gives it). */
  azure?: AzureConfig;
  /** Store-and-forward drain: publishes per second, and the random delay before a drain starts after reconnecting. */
  drainRatePerSecond: number;
  drainJitterMs: number;
  /** What the outbox gives up when full: the oldest records (default) or new ones. */
  outboxOverflow: 'drop-oldest' | 'drop-newest';
  /** The OTA signing key (raw P-256, hex) when not the one built in. */
  otaPublicKey?: string;
  /** How telemetry and alerts are encoded: JSON (the default) or CBOR (content type application/cbor). */
  payloadFormat: PayloadFormat;
}

export type PayloadFormat = 'json' | 'cbor';
const PAYLOAD_FORMATS: readonly PayloadFormat[] = ['json', 'cbor'];

export interface AzureConfig {
  /** The hub host name; absent when DPS assigns it. */
  hubHost?: string;
  /** MQTT port of the hub (and of DPS); 8883 unless a local hub listens elsewhere. */
  port: number;
  /** Device key (base64) for SAS; absent with X.509 or a DPS group key. */
  deviceKey?: string;
  /** X.509 client certificate from settings (mqtt/cert, mqtt/key) instead of SAS. */
  x509: boolean;
  /** Lifetime of each SAS token; the device renews it (planned reconnect) at 80 % of it. */
  sasTtlSeconds: number;
  dps?: { idScope: string; host: string; registrationId: string; groupKey?: string; enrollmentKey?: string };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function text(config: DeviceConfig, key: string, fallback?: string): string {
  const value = config[key] ?? fallback;
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError(`config "${key}" must be a non-empty string (got ${JSON.stringify(value)}); set it in manifest.json "config" or with ${key}=... on the command line`);
  }
  return value;
}

function integer(config: DeviceConfig, key: string, fallback: number, min: number, max: number): number {
  const raw = config[key] ?? fallback;
  const value = typeof raw === 'string' ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`config "${key}" must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  }
  return value;
}

function choice<T extends string>(config: DeviceConfig, key: string, choices: readonly T[], fallback: T): T {
  const raw = config[key];
  const value = raw === undefined || raw === '' ? fallback : raw;
  if (typeof value !== 'string' || !choices.includes(value as T)) {
    throw new ConfigError(`config "${key}" must be ${choices.map((c) => `"${c}"`).join(' or ')} (got ${JSON.stringify(raw)})`);
  }
  return value as T;
}

function overflowPolicy(value: unknown): 'drop-oldest' | 'drop-newest' {
  if (value === undefined || value === '' || value === 'drop-oldest') return 'drop-oldest';
  if (value === 'drop-newest') return 'drop-newest';
  throw new ConfigError(`config "outboxOverflow" must be "drop-oldest" or "drop-newest" (got ${JSON.stringify(value)})`);
}

export function readAppConfig(config: DeviceConfig, fallbackDeviceId: string): AppConfig {
  const optional = (key: string) => (typeof config[key] === 'string' && config[key] !== '' ? (config[key] as string) : undefined);
  const deviceId = text(config, 'deviceId', fallbackDeviceId);
  const idScope = optional('dpsIdScope');
  const hubHost = optional('hubHost');
  const azure: AzureConfig | undefined =
    idScope || hubHost
      ? {
          hubHost,
          port: integer(config, 'hubPort', 8883, 1, 65535),
          deviceKey: optional('deviceKey'),
          x509: config.auth === 'x509',
          sasTtlSeconds: integer(config, 'sasTtlSeconds', 3600, 60, 86_400 * 30),
          dps: idScope
            ? {
                idScope,
                host: text(config, 'dpsHost', 'global.azure-devices-provisioning.net'),
                registrationId: optional('registrationId') ?? deviceId,
                groupKey: optional('dpsGroupKey'),
                enrollmentKey: optional('dpsEnrollmentKey'),
              }
            : undefined,
        }
      : undefined;
  if (azure && !azure.x509 && !azure.deviceKey && !azure.dps?.groupKey && !azure.dps?.enrollmentKey) {
    throw new ConfigError('Azure IoT Hub needs credentials: set deviceKey (SAS), dpsGroupKey or dpsEnrollmentKey (DPS), or auth=x509 with a certificate in settings');
  }
  return {
    azure,
    otaPublicKey: optional('otaPublicKey'),
    drainRatePerSecond: integer(config, 'drainRatePerSecond', 10, 1, 1000),
    drainJitterMs: integer(config, 'drainJitterMs', 2000, 0, 600_000),
    outboxOverflow: overflowPolicy(config.outboxOverflow),
    deviceId,
    mqttHost: azure ? (optional('mqttHost') ?? azure.hubHost ?? '') : text(config, 'mqttHost'),
    mqttPort: integer(config, 'mqttPort', 1883, 1, 65535),
    mqttTls: config.mqttTls === true || config.mqttTls === 'true',
    mqttUsername: optional('mqttUsername'),
    mqttPassword: optional('mqttPassword'),
    keepAliveSeconds: integer(config, 'keepAliveSeconds', 60, 5, 3600),
    connectTimeoutMs: integer(config, 'connectTimeoutMs', 10_000, 1000, 300_000),
    telemetryIntervalMs: integer(config, 'telemetryIntervalMs', 60_000, 1000, 86_400_000),
    payloadFormat: choice(config, 'payloadFormat', PAYLOAD_FORMATS, 'json'),
  };
}
