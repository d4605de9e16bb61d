/**
 * A subscriber for tests: a separate MQTT client over a real socket (mqtt-packet's codec,
 * not ours), so what it counts is what the broker really delivered. It reconnects by itself
 * when the broker goes away, for the fault scenarios.
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

interface SubscriberOptions {
  clientId?: string;
  tls?: SubscriberTls;
}

export class TestSubscriber {
  readonly messages: ReceivedMessage[] = [];
  private socket: net.Socket | undefined;
  private closed = false;
  private subscribed: Promise<void> = Promise.resolve();
  /** Connections made, the first included. */
  connections = 0;

  private constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly filter: string,
    private readonly options: SubscriberOptions,
  ) {}

  static async connect(host: string, port: number, filter: string, options: SubscriberOptions = {}): Promise<TestSubscriber> {
    const subscriber = new TestSubscriber(host, port, filter, options);
    subscriber.open();
    await subscriber.subscribed;
    return subscriber;
  }

  /** Resolves once the subscriber is connected and subscribed again (after a broker restart). */
  async whenSubscribed(): Promise<void> {
    for (let i = 0; i < 200 && !this.socket; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    await this.subscribed;
  }

  /** Distinct telemetry sequence numbers received per device (QoS 1 may deliver twice). */
  sequences(deviceId: string): number[] {
    const seqs = new Set<number>();
    for (const m of this.messages) if (m.topic.startsWith(`devices/${deviceId}/messages/events/`)) seqs.add(JSON.parse(m.payload.toString()).seq);
    return [...seqs].sort((a, b) => a - b);
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
  }

  private open(): void {
    const { host, port } = this;
    const clientId = this.options.clientId ?? `test-subscriber-${process.pid}`;
    const socket = this.options.tls ? tls.connect({ host, port, ...this.options.tls, servername: 'localhost' }) : net.connect({ host, port });
    this.socket = socket;
    this.connections++;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    this.subscribed = new Promise<void>((resolve, reject) => {
      parser.on('packet', (packet: mqttPacket.Packet) => {
        if (packet.cmd === 'connack') {
          if (packet.returnCode !== 0) reject(new Error(`subscriber refused: CONNACK ${packet.returnCode}`));
          socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: this.filter, qos: 1 }] }));
        } else if (packet.cmd === 'suback') {
          resolve();
        } else if (packet.cmd === 'publish') {
          this.messages.push({ topic: packet.topic, payload: Buffer.from(packet.payload), qos: packet.qos });
          if (packet.qos === 1) socket.write(mqttPacket.generate({ cmd: 'puback', messageId: packet.messageId! }));
        }
      });
      socket.on('error', (error) => {
        if (this.connections === 1) reject(error);
      });
    });
    this.subscribed.catch(() => undefined);
    socket.on('data', (data) => parser.parse(data));
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      if (!this.closed) setTimeout(() => !this.closed && this.open(), 25);
    });
    socket.on(this.options.tls ? 'secureConnect' : 'connect', () =>
      socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 })),
    );
  }
}
