/**
 * The hardware abstraction layer: everything firmware may touch besides the language.
 * `hal/moddable` maps it to Moddable SDK modules on ESP32; `hal/host` maps it to the
 * simulator, on the XS engine (through the bridge) and on Node.js (called directly).
 */
import type { BoardDefinition } from './board';
import type { Clock } from './clock';
import type { Crypto } from './crypto';
import type { Flash } from './flash';
import type { Gpio } from './gpio';
import type { I2CBus } from './i2c';
import type { KeyValue } from './kv';
import type { Log } from './log';
import type { Net } from './net';
import type { Ota } from './ota';
import type { System } from './system';
import type { Text } from './text';
import type { Timers } from './timer';

/** Build- or provisioning-time settings (Moddable: `mc/config`; the simulator passes its own). */
export type DeviceConfig = { readonly [key: string]: string | number | boolean | undefined };

export interface Hal {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly i2c: I2CBus;
  readonly gpio: Gpio;
  readonly text: Text;
  readonly net: Net;
  readonly flash: Flash;
  readonly ota: Ota;
  readonly kv: KeyValue;
  readonly crypto: Crypto;
  readonly system: System;
  readonly log: Log;
  readonly board: BoardDefinition;
  readonly config: DeviceConfig;
}

export type { BoardDefinition, BoardI2CBus, BoardSensor } from './board';
export type { Clock } from './clock';
export type { Crypto, Digest } from './crypto';
export { FlashError } from './flash';
export type { Flash, FlashPartition, PartitionInfo, PartitionType } from './flash';
export type { AnalogOptions, AnalogPin, DigitalMode, DigitalOptions, DigitalPin, Gpio, SerialOptions, SerialPort } from './gpio';
export { I2CError } from './i2c';
export type { I2CBus, I2CDevice, I2CErrorCode, I2COptions } from './i2c';
export { KvError, KV_MAX_NAME_LENGTH, KV_MAX_VALUE_BYTES } from './kv';
export type { KeyValue, KvValue } from './kv';
export { LOG_LEVELS } from './log';
export type { Log, LogFields, LogLevel, LogValue } from './log';
export { NetError } from './net';
export type { Net, NetErrorCode, Socket, SocketHandlers, SocketOptions, TlsOptions } from './net';
export { OtaError } from './ota';
export type { AppState, Ota, OtaWriter } from './ota';
export type { ResetReason, System } from './system';
export type { Text } from './text';
export type { TimerId, Timers } from './timer';
