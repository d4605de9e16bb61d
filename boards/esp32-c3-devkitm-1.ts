import type { BoardDefinition } from '../hal/board';

/**
 * Espressif ESP32-C3-DevKitM-1 with an ESP32-C3-MINI-1 module, whose ESP32-C3FN4 chip has
 * 4 MB of flash in its package.
 *
 * Sources:
 * - Board: Espressif's user guide, "ESP32-C3-DevKitM-1" (ESP-IDF docs,
 *   hw-reference/esp32c3/user-guide-devkitm-1): module, chip and flash size. The guide
 *   assigns no I2C pins; the ESP32-C3 has one I2C controller (port 0), routed to any GPIO.
 * - Moddable: build/devices/esp32/targets/esp32c3 is the subplatform for this board
 *   (documentation/devices/esp32.md lists "ESP32-C3-DevKitM-1 | esp32/esp32c3"). Its
 *   manifest defines i2c sda_pin 2, scl_pin 3 on I2C_NUM_0, as does the esp32c3_cdc target
 *   for the same chip. (Another stored revision of that manifest has 4 and 5, without the
 *   port; thingkit follows the one that names the port, and the clone target.)
 *   GPIO2 is a strapping pin that must be high at reset, which the bus pull-ups ensure; a
 *   sensor holding SDA low during reset would stop the chip from booting.
 *
 * Flash layout: exactly esp32-devkitc's (same 4 MB): nvs 16 KB, otadata, phy_init, two
 * 1.5 MB app slots and the telemetry outbox in the remaining 960 KB.
 */
const esp32C3DevkitM1: BoardDefinition = {
  name: 'esp32-c3-devkitm-1',
  target: 'esp32c3',
  moddablePlatform: 'esp32/esp32c3',
  flashSize: 0x400000,
  i2c: [{ port: 0, data: 2, clock: 3, hz: 100_000 }],
  sensors: [{ driver: 'sht3x', model: 'sht31', bus: 0, address: 0x44 }],
  partitions: [
    { label: 'nvs', type: 'data', subtype: 'nvs', offset: 0x9000, size: 0x4000 },
    { label: 'otadata', type: 'data', subtype: 'ota', offset: 0xd000, size: 0x2000 },
    { label: 'phy_init', type: 'data', subtype: 'phy', offset: 0xf000, size: 0x1000 },
    { label: 'ota_0', type: 'app', subtype: 'ota_0', offset: 0x10000, size: 0x180000 },
    { label: 'ota_1', type: 'app', subtype: 'ota_1', offset: 0x190000, size: 0x180000 },
    { label: 'outbox', type: 'data', subtype: 'undefined', offset: 0x310000, size: 0xf0000 },
  ],
};

export default esp32C3DevkitM1;
