import type { BoardDefinition } from '../hal/board';

/**
 * Espressif ESP32-DevKitC with an ESP32-WROOM-32 module (4 MB flash).
 *
 * Moddable has no subplatform for this board (build/devices/esp32/targets has none), so it
 * builds with the generic `esp32` platform, whose defaults are this module's.
 *
 * Flash layout: ESP-IDF's two-OTA layout (components/partition_table/partitions_two_ota.csv)
 * up to 0x10000 — nvs 16 KB, otadata, phy_init — then two 1.5 MB app slots and the telemetry
 * outbox in the rest of the 4 MB. A 24 KB nvs (ESP-IDF's single-app layout) does not fit in
 * front of otadata and phy_init before the first app at 0x10000.
 */
const esp32DevkitC: BoardDefinition = {
  name: 'esp32-devkitc',
  target: 'esp32',
  moddablePlatform: 'esp32',
  flashSize: 0x400000,
  i2c: [{ port: 0, data: 21, clock: 22, hz: 100_000 }],
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

export default esp32DevkitC;
