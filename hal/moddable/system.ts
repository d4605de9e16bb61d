/**
 * System services on ESP32:
 * - restart: `System.restart()`, the global Moddable's ECMA-419 io manifest installs
 *   (modules/io/system/system.js → esp_restart);
 * - reset reason: ESP-IDF `esp_reset_reason()` through XS FFI; Moddable has no module for it;
 * - free heap: `Instrumentation.get` "System Free Memory" (modules/base/instrumentation, index
 *   10 in documentation/base/base.md), which answers only in instrumented builds
 *   (`mcconfig -d` or `-i`); otherwise `esp_get_free_heap_size()` through XS FFI. Either is
 *   the ESP-IDF heap, outside the fixed XS machine;
 * - firmware version: given by the program entry (firmware/version.ts), else `mc/config`
 *   `firmwareVersion`;
 * - device id: `mc/config` `deviceId`, else "esp32-" + the factory MAC from eFuse
 *   (`esp_efuse_mac_get_default` through XS FFI; readable before Wi-Fi starts).
 * `markAppValid()` is an ESP32 extra the HAL interface does not have yet: it confirms an
 * updated image to ESP-IDF's rollback bootloader (esp_ota_mark_app_valid_cancel_rollback).
 */
import Instrumentation from "instrumentation";
import type { ResetReason, System } from "../system";
import { nativeCalls } from "./native";

/** esp_reset_reason_t (ESP-IDF esp_system.h) reduced to what firmware acts on. */
export function resetReasonFromEspIdf(code: number): ResetReason {
  switch (code) {
    case 1: // ESP_RST_POWERON
    case 2: // ESP_RST_EXT: the EN pin, a power cycle as far as firmware is concerned
      return "power-on";
    case 3: // ESP_RST_SW
      return "software";
    case 4: // ESP_RST_PANIC
      return "exception";
    case 5: // ESP_RST_INT_WDT
    case 6: // ESP_RST_TASK_WDT
    case 7: // ESP_RST_WDT
      return "watchdog";
    case 8: // ESP_RST_DEEPSLEEP
      return "deep-sleep";
    case 9: // ESP_RST_BROWNOUT
      return "brownout";
    default: // ESP_RST_UNKNOWN, ESP_RST_SDIO and later additions
      return "unknown";
  }
}

/** The MAC a4:d1:8c:db:c0:20 → "esp32-a4d18cdbc020". */
export function deviceIdFromMac(mac: Uint8Array): string {
  let hex = "";
  for (const byte of mac) hex += (byte < 16 ? "0" : "") + byte.toString(16);
  return "esp32-" + hex;
}

const SYSTEM_FREE_MEMORY_INDEX = 10;

function factoryMac(): Uint8Array {
  const buffer = new ArrayBuffer(6);
  const result = nativeCalls().thingkit_factory_mac(buffer);
  if (result !== 0) throw new Error(`esp_efuse_mac_get_default failed (esp_err_t ${result})`);
  return new Uint8Array(buffer);
}

export interface ModdableSystemOptions {
  firmwareVersion?: string;
  deviceId?: string;
}

export class ModdableSystem implements System {
  #resetReason: ResetReason | undefined;
  #deviceId: string | undefined;

  constructor(private readonly options: ModdableSystemOptions = {}) {}

  restart(): void {
    System.restart();
  }

  resetReason(): ResetReason {
    this.#resetReason ??= resetReasonFromEspIdf(nativeCalls().thingkit_reset_reason());
    return this.#resetReason;
  }

  freeHeap(): number {
    const instrumentation = Instrumentation as typeof Instrumentation & { map?: (name: string) => number | undefined };
    const index = instrumentation.map?.("System Free Memory") ?? SYSTEM_FREE_MEMORY_INDEX;
    const measured = Instrumentation.get(index);
    return typeof measured === "number" && measured > 0 ? measured : nativeCalls().thingkit_free_heap();
  }

  firmwareVersion(): string {
    return this.options.firmwareVersion ?? "0.0.0";
  }

  deviceId(): string {
    if (this.#deviceId === undefined) {
      const configured = this.options.deviceId;
      this.#deviceId = configured !== undefined && configured !== "" ? configured : deviceIdFromMac(factoryMac());
    }
    return this.#deviceId;
  }

  /** Tells ESP-IDF's bootloader the running image is good, cancelling a pending rollback. */
  markAppValid(): void {
    const result = nativeCalls().thingkit_mark_app_valid();
    if (result !== 0) throw new Error(`esp_ota_mark_app_valid_cancel_rollback failed (esp_err_t ${result})`);
  }
}
