/**
 * Digital, analog and serial IO over ECMA-419 `embedded:io/digital`, `embedded:io/analog`
 * and `embedded:io/serial` (documentation/io/io.md "Digital", "Analog Input", "Serial").
 */
import Analog from "embedded:io/analog";
import Digital from "embedded:io/digital";
import Serial from "embedded:io/serial";
import type { AnalogOptions, AnalogPin, DigitalMode, DigitalOptions, DigitalPin, Gpio, SerialOptions, SerialPort } from "../gpio";

/** Bytes a serial port queues for sending at most; `write` throws beyond it. */
export const MAX_SERIAL_QUEUE_BYTES = 4096;

function digitalMode(mode: DigitalMode) {
  switch (mode) {
    case "input":
      return Digital.Input;
    case "inputPullUp":
      return Digital.InputPullUp;
    case "inputPullDown":
      return Digital.InputPullDown;
    case "output":
      return Digital.Output;
    case "outputOpenDrain":
      return Digital.OutputOpenDrain;
  }
}

function digitalEdge(edge: 1 | 2 | 3 | undefined): number {
  if (edge === 1) return Digital.Rising;
  if (edge === 2) return Digital.Falling;
  return Digital.Rising | Digital.Falling;
}

class ModdableDigitalPin implements DigitalPin {
  #io: Digital | undefined;

  constructor(options: DigitalOptions) {
    const mode = digitalMode(options.mode);
    const onReadable = options.onReadable;
    this.#io = onReadable
      ? new Digital({ pin: options.pin, mode, edge: digitalEdge(options.edge), onReadable: () => onReadable() })
      : new Digital({ pin: options.pin, mode });
  }

  read(): 0 | 1 {
    return this.#open().read();
  }

  write(value: 0 | 1): void {
    this.#open().write(value);
  }

  close(): void {
    this.#io?.close();
    this.#io = undefined;
  }

  #open(): Digital {
    if (!this.#io) throw new Error("digital pin is closed");
    return this.#io;
  }
}

class ModdableAnalogPin implements AnalogPin {
  readonly resolution: number;
  #io: Analog | undefined;

  constructor(options: AnalogOptions) {
    const io = options.resolution === undefined ? new Analog({ pin: options.pin }) : new Analog({ pin: options.pin, resolution: options.resolution });
    this.#io = io;
    this.resolution = io.resolution;
  }

  read(): number {
    if (!this.#io) throw new Error("analog pin is closed");
    return this.#io.read();
  }

  close(): void {
    this.#io?.close();
    this.#io = undefined;
  }
}

type SerialConstructorOptions = ConstructorParameters<typeof Serial>[0];

/**
 * Serial in the "buffer" format. Moddable's `write` throws rather than write part of a buffer
 * when the FIFO is short of space, so output is queued and sent as `onWritable` reports room.
 */
class ModdableSerialPort implements SerialPort {
  #io: Serial | undefined;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writable = 0;

  constructor(options: SerialOptions) {
    const onData = options.onData;
    const self = this;
    const settings = {
      port: options.port,
      baud: options.baud,
      receive: options.receive,
      transmit: options.transmit,
      format: "buffer",
      onReadable(this: Serial) {
        const bytes = this.read();
        if (onData && bytes instanceof ArrayBuffer && bytes.byteLength > 0) onData(new Uint8Array(bytes));
      },
      onWritable(this: Serial, count: number) {
        self.#writable = count;
        self.#flush(this);
      },
    } as SerialConstructorOptions;
    this.#io = new Serial(settings);
  }

  write(bytes: Uint8Array): void {
    if (!this.#io) throw new Error("serial port is closed");
    if (bytes.length === 0) return;
    if (this.#queued + bytes.length > MAX_SERIAL_QUEUE_BYTES) {
      throw new RangeError(`serial output queue full (${MAX_SERIAL_QUEUE_BYTES} bytes): the port is not draining`);
    }
    this.#queue.push(bytes.slice());
    this.#queued += bytes.length;
    this.#flush(this.#io);
  }

  close(): void {
    this.#io?.close();
    this.#io = undefined;
    this.#queue = [];
    this.#queued = 0;
  }

  #flush(io: Serial): void {
    while (this.#queue.length > 0 && this.#writable > 0) {
      const head = this.#queue[0]!;
      const count = Math.min(head.length, this.#writable);
      io.write(count === head.length ? head : head.subarray(0, count));
      this.#writable -= count;
      this.#queued -= count;
      if (count === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(count);
    }
  }
}

export class ModdableGpio implements Gpio {
  digital(options: DigitalOptions): DigitalPin {
    return new ModdableDigitalPin(options);
  }

  analog(options: AnalogOptions): AnalogPin {
    return new ModdableAnalogPin(options);
  }

  serial(options: SerialOptions): SerialPort {
    return new ModdableSerialPort(options);
  }
}
