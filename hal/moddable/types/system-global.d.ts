/*
 * The `System` global that Moddable's ECMA-419 io manifest installs (modules/io/system/
 * system.js: `globalThis.System = System`, with `restart`, `deepSleep` and `resolve`). Declared here instead of through @moddable/typings'
 * global.d.ts, which would also pull in `device` and every embedded:io class typing.
 */
declare var System: {
  /** Restarts the microcontroller (ESP32: esp_restart); does not return. */
  restart(): void;
  /** Enters deep sleep (argument meaning is platform specific). */
  deepSleep(...args: number[]): void;
  /**
   * Looks `name` up in DNS (lwIP) and calls back with its IPv4 address as a string, or with
   * no address when it cannot be resolved.
   */
  resolve(name: string, callback: (name: string, address?: string) => void): void;
};
