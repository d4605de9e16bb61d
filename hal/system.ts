/** Why the device last started; ESP-IDF's `esp_reset_reason()` reduced to what firmware acts on. */
export type ResetReason = 'power-on' | 'software' | 'exception' | 'watchdog' | 'brownout' | 'deep-sleep' | 'unknown';

export interface System {
  /** Restarts the device (Moddable: `System.restart()`); no firmware code runs after it. */
  restart(): void;
  resetReason(): ResetReason;
  /** Free heap bytes as the engine measures it (on the host: the ESP32 budget less what XS uses). */
  freeHeap(): number;
  /** The running firmware's semantic version. */
  firmwareVersion(): string;
  /** The device's identity (on ESP32 derived from the MAC unless configured). */
  deviceId(): string;
}
