/**
 * SCD4x (SCD40, SCD41) commands and timing, from Sensirion's "Datasheet SCD4x" (version 1.3,
 * September 2022). Every command is a 16-bit word sent MSB first (§3.2); a command with an
 * argument is followed by one 16-bit word and that word's CRC (§3.2: "in write direction it is
 * mandatory to transmit the checksum"); answers are 16-bit words, each followed by its CRC
 * (§3.11, the same CRC-8 as the SHT3x/SHT4x: 0x31, init 0xFF, CRC(0xBEEF) = 0x92).
 *
 * §3.3: after a command the sensor needs its execution time before it acknowledges the read
 * header, and "commands must not be sent while a previous command is being processed".
 */

/** §3 Table 8: the one I2C address. */
export const SCD4X_ADDRESS = 0x62;

/** §3.4 Table 9, with each command's chapter. */
export const COMMAND = {
  /** §3.5.1, send command, no execution time; idle only. Signal update interval 5 s. */
  START_PERIODIC_MEASUREMENT: 0x21b1,
  /** §3.5.2, read, 1 ms; allowed while measuring. 3 words: CO2 ppm, T, RH. */
  READ_MEASUREMENT: 0xec05,
  /** §3.5.3, send command, 500 ms; allowed while measuring. */
  STOP_PERIODIC_MEASUREMENT: 0x3f86,
  /** §3.6.1, write, 1 ms; idle only. */
  SET_TEMPERATURE_OFFSET: 0x241d,
  /** §3.6.2, read, 1 ms; idle only. */
  GET_TEMPERATURE_OFFSET: 0x2318,
  /** §3.6.3, write, 1 ms; idle only. */
  SET_SENSOR_ALTITUDE: 0x2427,
  /** §3.6.4, read, 1 ms; idle only. */
  GET_SENSOR_ALTITUDE: 0x2322,
  /** §3.6.5, write, 1 ms; allowed while measuring. */
  SET_AMBIENT_PRESSURE: 0xe000,
  /** §3.7.1, send command and fetch result, 400 ms; idle only. */
  PERFORM_FORCED_RECALIBRATION: 0x362f,
  /** §3.7.2, write, 1 ms; idle only. */
  SET_AUTOMATIC_SELF_CALIBRATION_ENABLED: 0x2416,
  /** §3.7.3, read, 1 ms; idle only. */
  GET_AUTOMATIC_SELF_CALIBRATION_ENABLED: 0x2313,
  /** §3.8.1, send command, no execution time; idle only. Signal update interval 30 s. */
  START_LOW_POWER_PERIODIC_MEASUREMENT: 0x21ac,
  /** §3.8.2, read, 1 ms; allowed while measuring. */
  GET_DATA_READY_STATUS: 0xe4b8,
  /** §3.9.1, send command, 800 ms; idle only. */
  PERSIST_SETTINGS: 0x3615,
  /** §3.9.2, read, 1 ms; idle only. 3 words. */
  GET_SERIAL_NUMBER: 0x3682,
  /** §3.9.3, read, 10 000 ms; idle only. */
  PERFORM_SELF_TEST: 0x3639,
  /** §3.9.4, send command, 1200 ms; idle only. */
  PERFORM_FACTORY_RESET: 0x3632,
  /** §3.9.5, send command, 20 ms; idle only. */
  REINIT: 0x3646,
  /** §3.10.1 (SCD41 only), send command, 5000 ms; idle only. */
  MEASURE_SINGLE_SHOT: 0x219d,
  /** §3.10.2 (SCD41 only), send command, 50 ms; idle only. CO2 reads 0. */
  MEASURE_SINGLE_SHOT_RHT_ONLY: 0x2196,
  /** §3.10.3 (SCD41 only), send command, 1 ms; idle only. */
  POWER_DOWN: 0x36e0,
  /** §3.10.4 (SCD41 only), send command, 20 ms. "The SCD4x does not acknowledge the wake_up command." */
  WAKE_UP: 0x36f6,
} as const;

/** §3.4 Table 9: execution times the driver waits, ms. */
export const EXECUTION_MS = {
  /** read_measurement, get_data_ready_status, get_serial_number and the set_* commands. */
  COMMAND: 1,
  STOP_PERIODIC_MEASUREMENT: 500,
  MEASURE_SINGLE_SHOT: 5000,
  WAKE_UP: 20,
} as const;

/** §3.1: after power-up the sensor needs 1000 ms to enter idle; it does not answer before. */
export const POWER_UP_MS = 1000;

/** §3.5.1 / §3.8.1: signal update intervals of the two periodic modes, ms. */
export const PERIODIC_INTERVAL_MS = 5000;
export const LOW_POWER_PERIODIC_INTERVAL_MS = 30_000;

/** §3.8.2: data is ready unless the least significant 11 bits of the status word are 0. */
export const DATA_READY_MASK = 0x07ff;

/** Writes a 16-bit command into `into`, MSB first, and returns the 2 bytes to send. */
export function encodeCommand(command: number, into: Uint8Array): Uint8Array {
  into[0] = (command >> 8) & 0xff;
  into[1] = command & 0xff;
  return into.subarray(0, 2);
}
