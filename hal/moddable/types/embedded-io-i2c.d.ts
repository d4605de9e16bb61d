/*
 * ECMA-419 I2C as Moddable implements it (documentation/io/io.md "I2C",
 * modules/io/i2c/esp32/_i2c.c). Written here because @moddable/typings 5.6.0 omits `close()`.
 * Transfers are synchronous and throw an Error ("write failed" / "read failed") when the
 * ESP-IDF transaction fails (NACK or timeout alike), "activate failed" when the bus cannot be
 * configured.
 */
declare module "embedded:io/i2c" {
  type Bytes = ArrayBuffer | ArrayBufferView;

  export interface I2COptions {
    /** SDA GPIO. */
    data: number;
    /** SCL GPIO. */
    clock: number;
    hz: number;
    /** 7-bit target address. */
    address: number;
    /** ESP32 I2C controller, 0 or 1. */
    port?: number;
    pullup?: boolean;
    format?: "buffer";
  }

  export default class I2C {
    constructor(options: I2COptions);
    /** Reads `count` bytes into a new ArrayBuffer; STOP unless `stop` is false. */
    read(count: number, stop?: boolean): ArrayBuffer;
    /** Reads into `buffer`; returns the count. */
    read(buffer: Bytes, stop?: boolean): number;
    /** Writes `bytes`; STOP unless `stop` is false. */
    write(bytes: Bytes, stop?: boolean): void;
    close(): void;
    format: "buffer";
  }
}
