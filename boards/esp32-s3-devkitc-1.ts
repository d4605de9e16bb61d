import type { BoardDefinition } from '../hal/board';

/**
 * Espressif ESP32-S3-DevKitC-1 with an ESP32-S3-WROOM-1-N8 module (8 MB flash; the N8R2 and
 * N8R8 variants add PSRAM, which this definition does not use).
 *
 * Sources:
 * - Board: Espressif's user guide, "ESP32-S3-DevKitC-1 v1.1" (ESP-IDF docs,
 *   hw-reference/esp32s3/user-guide-devkitc-1): the module and its flash size. The guide
 *   assigns no I2C pins; the ESP32-S3 routes I2C through its GPIO matrix to any pin.
 * - Moddable: build/devices/esp32/targets/esp32s3 is the subplatform for this board
 *   (documentation/devices/esp32.md lists "ESP32-S3-DevKitC-1-N8 | esp32/esp32s3"); its
 *   manifest sets ESP32_SUBCLASS esp32s3 and defines i2c sda_pin 4, scl_pin 5, which thingkit
 *   takes as the board's I2C bus so that a sensor wired for Moddable's examples works here.
 *   (Arduino's esp32s3 variant uses SDA 8 / SCL 9 instead: wire to 4 and 5.)
 *
 * Flash layout: the same first 64 KB as esp32-devkitc (nvs 16 KB, otadata, phy_init), then
 * two app slots of 3/8 of the flash each (3 MB, as esp32-devkitc's 1.5 MB of 4 MB), and the
 * telemetry outbox in the rest (1984 KB).
 */
const esp32S3DevkitC1: BoardDefinition = {
  name: 'esp32-s3-devkitc-1',
  target: 'esp32s3',
  moddablePlatform: 'esp32/esp32s3',
  flashSize: 0x800000,
  i2c: [{ port: 0, data: 4, clock: 5, hz: 100_000 }],
  sensors: [{ driver: 'sht3x', model: 'sht31', bus: 0, address: 0x44 }],
  partitions: [
    { label: 'nvs', type: 'data', subtype: 'nvs', offset: 0x9000, size: 0x4000 },
    { label: 'otadata', type: 'data', subtype: 'ota', offset: 0xd000, size: 0x2000 },
    { label: 'phy_init', type: 'data', subtype: 'phy', offset: 0xf000, size: 0x1000 },
    { label: 'ota_0', type: 'app', subtype: 'ota_0', offset: 0x10000, size: 0x300000 },
    { label: 'ota_1', type: 'app', subtype: 'ota_1', offset: 0x310000, size: 0x300000 },
    { label: 'outbox', type: 'data', subtype: 'undefined', offset: 0x610000, size: 0x1f0000 },
  ],
};

export default esp32S3DevkitC1;
