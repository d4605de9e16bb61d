/**
 * A chip model on a simulated I2C bus. Models work at the register/command level, from the
 * datasheet: they see the bytes of each transfer and the virtual time it happens at.
 */
export interface I2CTarget {
  /** 7-bit address the chip answers to. */
  readonly address: number;
  /** A write transfer. Returns false to NACK it (busy, unknown command, fault). */
  write(bytes: Uint8Array, nowMs: number): boolean;
  /** A read transfer of `count` bytes. Returns null to NACK the address byte. */
  read(count: number, nowMs: number): Uint8Array | null;
}
