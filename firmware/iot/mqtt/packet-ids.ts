/**
 * Packet identifiers for QoS 1 PUBLISH, SUBSCRIBE and UNSUBSCRIBE: 1..65535, handed out in
 * rising order and wrapping, skipping ids still awaiting their acknowledgement. The set in use
 * is bounded by the session's queue limits, far below 65535.
 */
import { MqttSessionError } from './errors';

export const MAX_PACKET_ID = 65_535;

export class PacketIdAllocator {
  private readonly inUse = new Set<number>();
  private next = 1;

  allocate(): number {
    for (let tries = 0; tries < MAX_PACKET_ID; tries++) {
      const id = this.next;
      this.next = id === MAX_PACKET_ID ? 1 : id + 1;
      if (!this.inUse.has(id)) {
        this.inUse.add(id);
        return id;
      }
    }
    throw new MqttSessionError('queue-full', 'all 65535 packet identifiers are awaiting acknowledgement');
  }

  release(id: number): void {
    this.inUse.delete(id);
  }

  isInUse(id: number): boolean {
    return this.inUse.has(id);
  }

  get size(): number {
    return this.inUse.size;
  }
}
