/**
 * Drives an MqttSession the way the socket shell will, on fake time, and plays the broker:
 * what the session sends is decoded back into packets.
 */
import { MqttDecoder } from '../../firmware/iot/mqtt/decoder';
import { encodePacket } from '../../firmware/iot/mqtt/encode';
import type { MqttPacket } from '../../firmware/iot/mqtt/packets';
import type { MqttEvent, MqttOutput, MqttSessionOptions } from '../../firmware/iot/mqtt/session';
import { MqttSession } from '../../firmware/iot/mqtt/session';

export class Harness {
  readonly session: MqttSession;
  now = 1_000;
  /** Packets the session wrote since the last take(). */
  sent: MqttPacket[] = [];
  events: MqttEvent[] = [];
  /** Set when the session asked for the socket to be closed. */
  closed = false;
  private broker = new MqttDecoder({ maxPacketSize: 1 << 20 });

  constructor(options: Partial<MqttSessionOptions> = {}) {
    this.session = new MqttSession({ clientId: 'device-1', ...options });
  }

  apply(output: MqttOutput): MqttOutput {
    for (const bytes of output.send) this.sent.push(...this.broker.push(bytes));
    this.events.push(...output.events);
    if (output.closeSocket) this.closed = true;
    expect(output.nextDeadline).toBe(this.session.nextDeadline());
    return output;
  }

  /** Opens a "socket": connect() on a fresh broker-side decoder. */
  open(): void {
    this.broker = new MqttDecoder({ maxPacketSize: 1 << 20 });
    this.closed = false;
    this.apply(this.session.connect(this.now));
  }

  /** The broker sends packets (one chunk). */
  deliver(...packets: MqttPacket[]): void {
    const bytes = packets.map(encodePacket);
    const joined = new Uint8Array(bytes.reduce((sum, part) => sum + part.length, 0));
    let at = 0;
    for (const part of bytes) {
      joined.set(part, at);
      at += part.length;
    }
    this.apply(this.session.received(joined, this.now));
  }

  /** Opens and accepts: CONNECT then CONNACK. */
  connect(sessionPresent = false): void {
    this.open();
    this.deliver({ type: 'connack', sessionPresent, returnCode: 0 });
  }

  /** Moves time forward by `ms`, calling tick() at every deadline on the way, like the shell's timer. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      const deadline = this.session.nextDeadline();
      if (deadline === undefined || deadline > target) break;
      this.now = Math.max(this.now, deadline);
      this.apply(this.session.tick(this.now));
    }
    this.now = target;
  }

  publish(topic: string, payload: string, qos: 0 | 1, retain = false): number | undefined {
    const output = this.session.publish(topic, new TextEncoder().encode(payload), { qos, retain }, this.now);
    this.apply(output);
    return output.packetId;
  }

  lose(reason = 'connection reset'): void {
    this.apply(this.session.connectionLost(reason, this.now));
  }

  /** Returns and forgets what was sent and emitted so far. */
  take(): { sent: MqttPacket[]; events: MqttEvent[] } {
    const taken = { sent: this.sent, events: this.events };
    this.sent = [];
    this.events = [];
    return taken;
  }

  sentOfType<T extends MqttPacket['type']>(type: T): Extract<MqttPacket, { type: T }>[] {
    return this.sent.filter((packet): packet is Extract<MqttPacket, { type: T }> => packet.type === type);
  }
}

export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
