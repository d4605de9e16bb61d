/** A simulated I2C bus: chip models attached by address, driven by the firmware's transfers. */
import type { BoardI2CBus } from '../hal/board';
import type { I2CTarget } from './chips/i2c-target';

export type I2CTransferResult = { ok: true; bytes?: Uint8Array } | { ok: false; code: 'nack' | 'bus'; message: string };

export class SimI2CBus {
  private readonly targets = new Map<number, I2CTarget>();

  constructor(readonly definition: BoardI2CBus) {}

  attach(target: I2CTarget): void {
    if (this.targets.has(target.address)) {
      throw new Error(`two chips at address 0x${target.address.toString(16)} on I2C bus ${this.definition.port}: give one another address`);
    }
    this.targets.set(target.address, target);
  }

  write(address: number, bytes: Uint8Array, nowMs: number): I2CTransferResult {
    const target = this.targets.get(address);
    if (!target || !target.write(bytes, nowMs)) return this.nack(address, 'write');
    return { ok: true };
  }

  read(address: number, count: number, nowMs: number): I2CTransferResult {
    const target = this.targets.get(address);
    const bytes = target?.read(count, nowMs);
    if (!bytes) return this.nack(address, 'read');
    if (bytes.length !== count) {
      return { ok: false, code: 'bus', message: `chip at 0x${address.toString(16)} returned ${bytes.length} bytes for a ${count}-byte read` };
    }
    return { ok: true, bytes };
  }

  private nack(address: number, what: string): I2CTransferResult {
    const { port, data, clock } = this.definition;
    const present = this.targets.has(address);
    return {
      ok: false,
      code: 'nack',
      message: present
        ? `I2C ${what} to 0x${address.toString(16)} on bus ${port} was not acknowledged (chip busy or command refused)`
        : `no chip acknowledged address 0x${address.toString(16)} on I2C bus ${port} (SDA ${data}, SCL ${clock}): check the address and wiring`,
    };
  }
}
