/**
 * The HAL on ESP32 under Moddable: every part over the Moddable SDK module that provides it
 * (see hal/moddable/README.md for the table). The device configuration is `mc/config`, the
 * manifest's "config" object with `key=value` overrides from the mcconfig command line.
 */
import config from "mc/config";
import type { BoardDefinition } from "../board";
import type { DeviceConfig, Hal } from "../index";
import { ModdableClock } from "./clock";
import { ModdableCrypto } from "./crypto";
import { ModdableFlash } from "./flash";
import { ModdableGpio } from "./gpio";
import { ModdableI2CBus } from "./i2c";
import { ModdableKeyValue } from "./kv";
import { isLogLevel, ModdableLog } from "./log";
import { ModdableNet } from "./net";
import { ModdableOta } from "./ota";
import { ModdableSystem } from "./system";
import { moddableText } from "./text";
import { ModdableTimers } from "./timers";

/**
 * `mc/config` keys the firmware does not get: the Wi-Fi credentials, which Moddable's
 * setup/network module uses before the firmware starts.
 */
export const PRIVATE_CONFIG_KEYS: readonly string[] = ["ssid", "password"];

/**
 * The firmware's view of `mc/config`: strings, numbers and booleans only (Moddable adds
 * objects such as `file` and `tls`), an empty string meaning "not set", and no Wi-Fi secrets.
 */
export function deviceConfigFrom(source: { readonly [key: string]: unknown }): DeviceConfig {
  const result: { [key: string]: string | number | boolean } = {};
  for (const key of Object.keys(source)) {
    if (PRIVATE_CONFIG_KEYS.includes(key)) continue;
    const value = source[key];
    if (typeof value === "string" ? value !== "" : typeof value === "number" || typeof value === "boolean") result[key] = value as string | number | boolean;
  }
  return Object.freeze(result);
}

export interface ModdableHalOptions {
  /** The running image's version (firmware/version.ts); else `mc/config` "firmwareVersion". */
  firmwareVersion?: string;
}

export function createModdableHal(board: BoardDefinition, options: ModdableHalOptions = {}): Hal {
  const deviceConfig = deviceConfigFrom(config);
  const clock = new ModdableClock();
  const log = new ModdableLog(clock, isLogLevel(deviceConfig.logLevel) ? deviceConfig.logLevel : "info");
  const configuredVersion = typeof deviceConfig.firmwareVersion === "string" ? deviceConfig.firmwareVersion : undefined;
  const configuredId = typeof deviceConfig.deviceId === "string" ? deviceConfig.deviceId : undefined;
  return {
    clock,
    timers: new ModdableTimers(),
    i2c: new ModdableI2CBus(board),
    gpio: new ModdableGpio(),
    text: moddableText,
    net: new ModdableNet(log),
    flash: new ModdableFlash(board),
    ota: new ModdableOta(),
    kv: new ModdableKeyValue(),
    crypto: new ModdableCrypto(),
    system: new ModdableSystem({ firmwareVersion: options.firmwareVersion ?? configuredVersion, deviceId: configuredId }),
    log,
    board,
    config: deviceConfig,
  };
}
