/*
 * ECMA-419 analog input as Moddable implements it on ESP32 (documentation/io/io.md
 * "Analog Input", modules/io/analog/esp32/_analog.js). Written here because
 * @moddable/typings 5.6.0 omits `close()`.
 */
declare module "embedded:io/analog" {
  export default class Analog {
    constructor(options: { pin: number; resolution?: number; format?: "number" });
    /** Bits in a reading: values run from 0 to 2^resolution - 1. */
    readonly resolution: number;
    read(): number;
    close(): void;
    format: "number";
  }
}
