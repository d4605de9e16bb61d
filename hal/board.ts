import type { PartitionInfo } from './flash';

/** An I2C bus on a board. */
export interface BoardI2CBus {
  port: number;
  /** SDA GPIO. */
  data: number;
  /** SCL GPIO. */
  clock: number;
  hz: number;
}

/** A sensor fitted to a board by default. */
export interface BoardSensor {
  /** Driver name, as `firmware/drivers/<model>`: `sht3x`, … */
  driver: string;
  /** Chip model name, as `host-sim/chips/<model>`: `sht31`, … */
  model: string;
  bus: number;
  address: number;
}

/**
 * What the firmware and the simulator know about a board: pins, buses, attached sensors and
 * the flash layout. One file per board in `boards/`; the same data drives the ESP-IDF
 * partitions CSV for a hardware build.
 */
export interface BoardDefinition {
  name: string;
  /** ESP-IDF target: `esp32`, `esp32s3`, `esp32c3`. */
  target: string;
  /** The Moddable `-p` platform for `mcconfig`. */
  moddablePlatform: string;
  flashSize: number;
  i2c: BoardI2CBus[];
  sensors: BoardSensor[];
  partitions: PartitionInfo[];
}
