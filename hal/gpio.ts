/** ECMA-419 shaped digital, analog and serial IO (Moddable: `embedded:io/digital`, `/analog`, `/serial`). */
export type DigitalMode = 'input' | 'inputPullUp' | 'inputPullDown' | 'output' | 'outputOpenDrain';

export interface DigitalOptions {
  pin: number;
  mode: DigitalMode;
  /** For inputs: called on a rising (1), falling (2) or either (3) edge. */
  edge?: 1 | 2 | 3;
  onReadable?: () => void;
}

export interface DigitalPin {
  read(): 0 | 1;
  write(value: 0 | 1): void;
  close(): void;
}

export interface AnalogOptions {
  pin: number;
  /** Bits of resolution; the ESP32 ADC gives 12. */
  resolution?: number;
}

export interface AnalogPin {
  readonly resolution: number;
  /** A raw reading from 0 to 2^resolution - 1. */
  read(): number;
  close(): void;
}

export interface SerialOptions {
  port: number;
  baud: number;
  receive?: number;
  transmit?: number;
  onData?: (bytes: Uint8Array) => void;
}

export interface SerialPort {
  write(bytes: Uint8Array): void;
  close(): void;
}

export interface Gpio {
  digital(options: DigitalOptions): DigitalPin;
  analog(options: AnalogOptions): AnalogPin;
  serial(options: SerialOptions): SerialPort;
}
