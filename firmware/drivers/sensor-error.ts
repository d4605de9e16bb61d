/**
 * The one error type every sensor driver rejects with, so that the app can tell a wiring
 * fault from a flaky reading without parsing messages.
 *
 * - `crc`: data arrived but its checksum never matched, even after retries.
 * - `nack`: the chip did not acknowledge its address (absent, unpowered, wrong address).
 * - `timeout`: the chip kept saying it was busy for longer than the datasheet allows.
 * - `busy`: the driver was asked to start something while a sample is still in flight.
 * - `id`: the chip answered but is not the chip the driver expects.
 * - `bus`: the bus itself failed (stuck line, arbitration lost).
 * - `closed`: the driver was closed, before or during the operation.
 */
export type SensorErrorCode = 'crc' | 'nack' | 'timeout' | 'busy' | 'id' | 'bus' | 'closed';

export class SensorError extends Error {
  constructor(
    readonly code: SensorErrorCode,
    /** Chip family as the driver names it, e.g. "SHT3x". */
    readonly chip: string,
    /** 7-bit I2C address. */
    readonly address: number,
    detail: string,
    cause?: unknown,
  ) {
    super(`${chip} at ${formatAddress(address)}: ${detail}`, cause === undefined ? undefined : { cause });
    this.name = 'SensorError';
  }
}

/** `0x44`-style address, as datasheets and `i2cdetect` print it. */
export function formatAddress(address: number): string {
  return '0x' + (address < 16 ? '0' : '') + address.toString(16);
}
