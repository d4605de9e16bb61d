/**
 * A subscriber for tests: a separate MQTT client over a real socket (mqtt-packet's codec,
 * not ours), so what it counts is what the broker really delivered.
 */
import * as mqttPacket from 'mqtt-packet';
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface SubscriberTls {
  ca: string;
  cert?: string;
  key?: string;
}

export interface ReceivedMessage {
  topic: string;
  payload: Buffer;
  qos: number;
}

export class TestSubscriber {
  readonly messages: ReceivedMessage[] = [];
  private constructor(private readonly socket: net.Socket) {}

  static async connect(host: string, port: number, filter: string, options: { clientId?: string; tls?: SubscriberTls } = {}): Promise<TestSubscriber> {
    const clientId = options.clientId ?? `test-subscriber-${process.pid}`;
    const socket = options.tls ? tls.connect({ host, port, ...options.tls, servername: 'localhost' }) : net.connect({ host, port });
    const subscriber = new TestSubscriber(socket);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let subscribed: () => void;
    let failed: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      subscribed = resolve;
      failed = reject;
    });
    parser.on('packet', (packet: mqttPacket.Packet) => {
      if (packet.cmd === 'connack') {
        if (packet.returnCode !== 0) failed(new Error(`subscriber refused: CONNACK ${packet.returnCode}`));
        socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] }));
      } else if (packet.cmd === 'suback') {
        subscribed();
      } else if (packet.cmd === 'publish') {
        subscriber.messages.push({ topic: packet.topic, payload: Buffer.from(packet.payload), qos: packet.qos });
        if (packet.qos === 1) socket.write(mqttPacket.generate({ cmd: 'puback', messageId: packet.messageId! }));
      }
    });
    socket.on('data', (data) => parser.parse(data));
    socket.on('error', (error) => failed(error));
    socket.on(options.tls ? 'secureConnect' : 'connect', () =>
      socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 })),
    );
    await ready;
    return subscriber;
  }

  /** Distinct telemetry sequence numbers received per device (QoS 1 may deliver twice). */
  sequences(deviceId: string): number[] {
    const seqs = new Set<number>();
    for (const m of this.messages) if (m.topic === `devices/${deviceId}/messages/events/`) seqs.add(JSON.parse(m.payload.toString()).seq);
    return [...seqs].sort((a, b) => a - b);
  }

  close(): void {
    this.socket.destroy();
  }
}
