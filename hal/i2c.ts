/** ECMA-419 shaped I2C (Moddable: `embedded:io/i2c`). */
export interface I2COptions {
  /** 7-bit target address. */
  address: number;
  /** Bus speed in Hz; 100 kHz when absent. */
  hz?: number;
  /** Bus number from the board definition (ESP32 has ports 0 and 1). */
  port?: number;
  /** SDA and SCL pins; the board definition supplies them when absent. */
  data?: number;
  clock?: number;
}

/** Why a transfer failed. `nack`: the target did not acknowledge (absent or busy). */
export type I2CErrorCode = 'nack' | 'timeout' | 'bus';

export class I2CError extends Error {
  constructor(
    readonly code: I2CErrorCode,
    readonly address: number,
    message: string,
  ) {
    super(message);
    this.name = 'I2CError';
  }
}

/** One target on a bus. Every call throws `I2CError` when the transfer fails. */
export interface I2CDevice {
  /** Reads `count` bytes (START, address+R, bytes, STOP unless `stop` is false). */
  read(count: number, stop?: boolean): Uint8Array;
  /** Writes `bytes` (START, address+W, bytes, STOP unless `stop` is false). */
  write(bytes: Uint8Array, stop?: boolean): void;
  /** Writes then reads with a repeated START, as register reads need. */
  writeRead(bytes: Uint8Array, count: number): Uint8Array;
  close(): void;
}

export interface I2CBus {
  open(options: I2COptions): I2CDevice;
}
