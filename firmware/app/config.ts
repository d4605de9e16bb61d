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
  telemetryIntervalMs: number;
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

export function readAppConfig(config: DeviceConfig, fallbackDeviceId: string): AppConfig {
  const optional = (key: string) => (typeof config[key] === 'string' && config[key] !== '' ? (config[key] as string) : undefined);
  return {
    deviceId: text(config, 'deviceId', fallbackDeviceId),
    mqttHost: text(config, 'mqttHost'),
    mqttPort: integer(config, 'mqttPort', 1883, 1, 65535),
    mqttTls: config.mqttTls === true || config.mqttTls === 'true',
    mqttUsername: optional('mqttUsername'),
    mqttPassword: optional('mqttPassword'),
    keepAliveSeconds: integer(config, 'keepAliveSeconds', 60, 5, 3600),
    telemetryIntervalMs: integer(config, 'telemetryIntervalMs', 60_000, 1000, 86_400_000),
  };
}
