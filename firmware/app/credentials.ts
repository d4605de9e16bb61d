/**
 * MQTT TLS credentials, kept in settings as DER (domain `mqtt`: `ca`, `cert`, `key`) where
 * provisioning (the simulator, or a factory step on hardware) put them.
 */
import type { Hal, TlsOptions } from '../../hal';

export const CREDENTIALS_DOMAIN = 'mqtt';

export function readTlsOptions(hal: Hal, host: string): TlsOptions {
  const bytes = (key: string): Uint8Array | undefined => {
    const value = hal.kv.get(CREDENTIALS_DOMAIN, key);
    return value instanceof Uint8Array ? value : undefined;
  };
  const ca = bytes('ca');
  const certificate = bytes('cert');
  const key = bytes('key');
  if (certificate && !key) throw new Error('settings have an MQTT client certificate (mqtt/cert) but no key (mqtt/key): provision both');
  const verify = hal.config.mqttTlsVerify !== false && hal.config.mqttTlsVerify !== 'false';
  if (!ca && verify) {
    throw new Error('MQTT over TLS needs a CA certificate in settings (mqtt/ca) to verify the broker; provision one, or set mqttTlsVerify=false for development');
  }
  return { ca: ca ? [ca] : undefined, certificate, key, serverName: host, verify };
}
