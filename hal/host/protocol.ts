/**
 * The messages between the firmware's host HAL and the simulator. On the Node engine they
 * are passed as objects; on the XS engine they cross the xsnap bridge encoded by `wire.ts`.
 * Requests go firmware → host (synchronous, with a reply); batches of events go host →
 * firmware.
 */
import type { PartitionInfo } from '../flash';
import type { KvValue } from '../kv';
import type { LogFields, LogLevel } from '../log';
import type { TlsOptions } from '../net';
import type { ResetReason } from '../system';

export type HostRequest =
  | { op: 'clock.setWall'; unixMs: number }
  | { op: 'timer.set'; id: number; ms: number; repeat: boolean }
  | { op: 'timer.clear'; id: number }
  | { op: 'i2c.write'; port: number; address: number; hz: number; bytes: Uint8Array; stop: boolean }
  | { op: 'i2c.read'; port: number; address: number; hz: number; count: number; stop: boolean }
  | { op: 'net.connect'; id: number; host: string; port: number; tls?: TlsOptions }
  | { op: 'net.write'; id: number; bytes: Uint8Array }
  | { op: 'net.close'; id: number }
  | { op: 'flash.partitions' }
  | { op: 'flash.read'; label: string; offset: number; length: number }
  | { op: 'flash.write'; label: string; offset: number; bytes: Uint8Array }
  | { op: 'flash.erase'; label: string; index: number }
  | { op: 'kv.get'; domain: string; key: string }
  | { op: 'kv.set'; domain: string; key: string; value: KvValue }
  | { op: 'kv.delete'; domain: string; key: string }
  | { op: 'kv.keys'; domain: string }
  | { op: 'crypto.sha256.update'; id: number; bytes: Uint8Array }
  | { op: 'crypto.sha256.finish'; id: number }
  | { op: 'crypto.hmacSha256'; key: Uint8Array; data: Uint8Array }
  | { op: 'crypto.ecdsaP256Verify'; publicKey: Uint8Array; digest: Uint8Array; signature: Uint8Array }
  | { op: 'crypto.random'; count: number }
  | { op: 'gpio.digital.read'; pin: number }
  | { op: 'gpio.digital.write'; pin: number; value: 0 | 1 }
  | { op: 'gpio.analog.read'; pin: number; resolution: number }
  | { op: 'serial.write'; port: number; bytes: Uint8Array }
  | { op: 'ota.status' }
  | { op: 'ota.open'; resume: boolean }
  | { op: 'ota.write'; offset: number; bytes: Uint8Array }
  | { op: 'ota.read'; offset: number; length: number }
  | { op: 'ota.complete'; byteLength: number }
  | { op: 'ota.abort' }
  | { op: 'ota.markValid' }
  | { op: 'ota.rollback' }
  | { op: 'system.restart' }
  | { op: 'system.freeHeap' }
  | { op: 'log'; level: LogLevel; message: string; fields?: LogFields }
  | { op: 'event'; type: string; fields?: LogFields };

/** A reply: `value` on success; `error` (with a HAL error code) on failure. */
export interface HostReply {
  value?: unknown;
  error?: { code: string; message: string };
}

/** What the firmware learns at boot; on ESP32 this comes from the chip and `mc/config`. */
export interface BootInfo {
  resetReason: ResetReason;
  deviceId: string;
  firmwareVersion: string;
  config: { [key: string]: string | number | boolean };
}

export type HostEvent =
  | ({ type: 'boot' } & BootInfo)
  | { type: 'timer'; id: number }
  | { type: 'net.connect'; id: number }
  | { type: 'net.data'; id: number; bytes: Uint8Array }
  | { type: 'net.close'; id: number }
  | { type: 'net.error'; id: number; code: string; message: string }
  | { type: 'serial.data'; port: number; bytes: Uint8Array }
  | { type: 'digital.edge'; pin: number };

/** Events delivered together at one device time `t` (milliseconds since boot). */
export interface EventBatch {
  t: number;
  /** Unix ms when the host's wall clock is set for this device, else absent. */
  wall?: number;
  events: HostEvent[];
}

/** How the host HAL reaches the host: one synchronous call per request. */
export interface HostLink {
  call(request: HostRequest): HostReply;
}

export type { PartitionInfo };
