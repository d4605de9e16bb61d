/**
 * I2C over ECMA-419 `embedded:io/i2c` (documentation/io/io.md "I2C"): one `I2C` instance per
 * target, `new I2C({data, clock, hz, address, port})`, synchronous `read`/`write` with an
 * optional STOP flag. Pins come from the board definition (`-p esp32` has no pin defaults).
 *
 * Moddable's ESP32 driver (modules/io/i2c/esp32/_i2c.c) throws "write failed" / "read
 * failed" for any failed transaction, a NACK and a timeout alike, and "activate failed" when
 * the controller cannot be configured: the first two become I2CError 'nack', the last 'bus'.
 */
import I2C from "embedded:io/i2c";
import type { BoardDefinition } from "../board";
import { I2CError, type I2CBus, type I2CDevice, type I2COptions } from "../i2c";

const DEFAULT_HZ = 100_000;

function hex(address: number): string {
  return `0x${address.toString(16).padStart(2, "0")}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Maps an exception from the Moddable driver to the HAL's error. */
export function toI2CError(error: unknown, address: number, operation: string): I2CError {
  if (error instanceof I2CError) return error;
  const message = messageOf(error);
  const code = /activate/i.test(message) ? "bus" : "nack";
  const what = code === "nack" ? "no acknowledge (absent, busy or not powered)" : "bus could not be configured";
  return new I2CError(code, address, `I2C ${operation} at ${hex(address)} failed: ${what} (${message})`);
}

class ModdableI2CDevice implements I2CDevice {
  #io: I2C | undefined;

  constructor(
    io: I2C,
    private readonly address: number,
  ) {
    this.#io = io;
  }

  read(count: number, stop = true): Uint8Array {
    const io = this.#open();
    try {
      return new Uint8Array(io.read(count, stop));
    } catch (error) {
      throw toI2CError(error, this.address, "read");
    }
  }

  write(bytes: Uint8Array, stop = true): void {
    const io = this.#open();
    try {
      io.write(bytes, stop);
    } catch (error) {
      throw toI2CError(error, this.address, "write");
    }
  }

  writeRead(bytes: Uint8Array, count: number): Uint8Array {
    // No STOP after the write: the read starts with a repeated START.
    this.write(bytes, false);
    return this.read(count, true);
  }

  close(): void {
    const io = this.#io;
    this.#io = undefined;
    io?.close();
  }

  #open(): I2C {
    if (!this.#io) throw new I2CError("bus", this.address, `I2C device ${hex(this.address)} is closed`);
    return this.#io;
  }
}

export class ModdableI2CBus implements I2CBus {
  constructor(private readonly board: BoardDefinition) {}

  open(options: I2COptions): I2CDevice {
    const { address } = options;
    const port = options.port ?? 0;
    const bus = this.board.i2c.find((candidate) => candidate.port === port);
    const data = options.data ?? bus?.data;
    const clock = options.clock ?? bus?.clock;
    if (data === undefined || clock === undefined) {
      throw new I2CError("bus", address, `board ${this.board.name} has no I2C bus ${port}; give data and clock pins`);
    }
    const hz = options.hz ?? DEFAULT_HZ;
    let io: I2C;
    try {
      io = new I2C({ data, clock, hz, address, port });
    } catch (error) {
      throw new I2CError("bus", address, `cannot open I2C bus ${port} (SDA ${data}, SCL ${clock}, ${hz} Hz) for ${hex(address)}: ${messageOf(error)}`);
    }
    return new ModdableI2CDevice(io, address);
  }
}
