/**
 * SHT3x-DIS commands and timing the driver uses, from the datasheet (Sensirion, "Datasheet
 * SHT3x-DIS", version 5, May 2018). Commands are 16-bit and sent MSB first; their low bits
 * already carry a command checksum (§4), so there is no CRC byte to add on write.
 */
export type Repeatability = 'high' | 'medium' | 'low';

/**
 * §4.3 Table 9, single shot with clock stretching *disabled*: the sensor NACKs the read
 * header until the measurement is done, so the driver can wait on a timer instead of
 * holding the bus (the ESP32's I2C peripheral would time out a 15 ms stretch anyway).
 */
export const SINGLE_SHOT_COMMAND: { readonly [R in Repeatability]: number } = {
  high: 0x2400,
  medium: 0x240b,
  low: 0x2416,
};

/**
 * §2.2 Table 4, maximum measurement duration tMEAS per repeatability, in ms. The driver
 * waits the maximum (not the typical 12.5 / 4.5 / 2.5 ms) so the first read normally finds
 * the data ready.
 */
export const MEASUREMENT_MAX_MS: { readonly [R in Repeatability]: number } = {
  high: 15,
  medium: 6,
  low: 4,
};

/** §4.10 Table 16: heater on / off. */
export const HEATER_ENABLE_COMMAND = 0x306d;
export const HEATER_DISABLE_COMMAND = 0x3066;

/** §4.3, Table 9 note: at least 1 ms must pass after a command before the next one. */
export const COMMAND_GAP_MS = 1;

/** §4.4: a measurement result is two words (temperature, then humidity), each + CRC. */
export const MEASUREMENT_RESULT_LENGTH = 6;

/** The two I2C addresses (§3, ADDR pin): ADDR to VSS → 0x44, to VDD → 0x45. */
export const SHT3X_ADDRESSES: readonly number[] = [0x44, 0x45];

/** Writes a 16-bit command into a 2-byte buffer, MSB first. */
export function encodeCommand(command: number, into: Uint8Array): Uint8Array {
  into[0] = (command >> 8) & 0xff;
  into[1] = command & 0xff;
  return into;
}
