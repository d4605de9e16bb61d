import type { BoardDefinition } from '../hal/board';

/**
 * M5Stack Core2: ESP32-D0WDQ6-V3, 16 MB flash, 8 MB PSRAM (unused here).
 *
 * Sources:
 * - M5Stack's Core2 documentation (docs.m5stack.com/en/core/core2, as quoted by the
 *   espressif/m5stack_core_2 BSP and Zephyr's m5stack_core2 board page): the chip, 16 MB
 *   flash, and the internal devices (AXP192 power management, AXP2101 from Core2 v1.1;
 *   FT6336U touch; BM8563 RTC; MPU6886 IMU).
 * - Moddable: build/devices/esp32/targets/m5stack_core2 is the subplatform
 *   (`esp32/m5stack_core2`). Its host/provider.js names the two I2C buses: `default` on
 *   SDA 32 / SCL 33, which is Port A (the red Grove connector), and `internal` on SDA 21 /
 *   SCL 22; its manifest runs the touch controller on the internal bus at 400 kHz. Arduino's
 *   m5stack_core2 variant (espressif/arduino-esp32, variants/m5stack_core2/pins_arduino.h)
 *   agrees: SDA 32, SCL 33 for the user bus.
 *
 * Buses: port 0 is Port A, where units plug in (M5Stack's M5Core2 Arduino library opens it
 * as `Wire`, I2C port 0, with `Wire.begin(32, 33)`), port 1 the internal bus, so both can be
 * open at once.
 *
 * Sensors: none by default. The only sensor on the internal bus is the MPU6886 IMU (0x68),
 * and thingkit has no MPU6886 driver (firmware/drivers/mpu6050 does not fit: different
 * WHO_AM_I and registers), so it is left out; the bus is declared so that one can be added.
 * An SHT3x unit on Port A (M5Stack ENV III carries an SHT30 at 0x44) is fitted with
 * `{ driver: 'sht3x', model: 'sht31', bus: 0, address: 0x44 }` or the simulator's --sensors.
 *
 * Flash layout: the same first 64 KB as esp32-devkitc (nvs 16 KB, otadata, phy_init), then
 * two app slots of 3/8 of the flash each (6 MB; Arduino's default_16MB table also gives the
 * Core2 6.25 MB slots), and the telemetry outbox in the rest (4032 KB).
 */
const m5stackCore2: BoardDefinition = {
  name: 'm5stack-core2',
  target: 'esp32',
  moddablePlatform: 'esp32/m5stack_core2',
  flashSize: 0x1000000,
  i2c: [
    { port: 0, data: 32, clock: 33, hz: 100_000 },
    { port: 1, data: 21, clock: 22, hz: 400_000 },
  ],
  sensors: [],
  partitions: [
    { label: 'nvs', type: 'data', subtype: 'nvs', offset: 0x9000, size: 0x4000 },
    { label: 'otadata', type: 'data', subtype: 'ota', offset: 0xd000, size: 0x2000 },
    { label: 'phy_init', type: 'data', subtype: 'phy', offset: 0xf000, size: 0x1000 },
    { label: 'ota_0', type: 'app', subtype: 'ota_0', offset: 0x10000, size: 0x600000 },
    { label: 'ota_1', type: 'app', subtype: 'ota_1', offset: 0x610000, size: 0x600000 },
    { label: 'outbox', type: 'data', subtype: 'undefined', offset: 0xc10000, size: 0x3f0000 },
  ],
};

export default m5stackCore2;
