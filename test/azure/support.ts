/**
 * Test support for the Azure cores and shells: a codec over Node's crypto, and a fake HAL on
 * virtual time whose sockets lead to a scripted MQTT broker (packets decoded with the
 * toolkit's own codec), so the shells run exactly as on a device, without a network.
 */
import { createHmac } from 'node:crypto';
import { seededRandom } from '../../host-sim/seeded-random';
import type { Hal, Net, Socket, SocketHandlers, SocketOptions, TimerId } from '../../hal';
import { hostText } from '../../hal/host/text';
import type { AzureCodec } from '../../firmware/iot/azure/types';
import { MqttDecoder } from '../../firmware/iot/mqtt/decoder';
import { encodePacket } from '../../firmware/iot/mqtt/encode';
import type { MqttPacket, PublishPacket } from '../../firmware/iot/mqtt/packets';

export const nodeCodec: AzureCodec = {
  utf8Encode: (text) => new Uint8Array(Buffer.from(text, 'utf8')),
  utf8Decode: (bytes) => Buffer.from(bytes).toString('utf8'),
  toBase64: (bytes) => Buffer.from(bytes).toString('base64'),
  fromBase64: (text) => {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new Error('not base64');
    return new Uint8Array(Buffer.from(text, 'base64'));
  },
  hmacSha256: (key, data) => new Uint8Array(createHmac('sha256', Buffer.from(key)).update(Buffer.from(data)).digest()),
};

export const utf8 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'utf8'));
export const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
export const json = (value: unknown): Uint8Array => utf8(JSON.stringify(value));

interface Timer {
  id: number;
  at: number;
  seq: number;
  callback: () => void;
  repeatMs?: number;
}

/** One client connection as the broker sees it. */
export class BrokerConnection {
  readonly packets: MqttPacket[] = [];
  closed = false;
  private readonly decoder = new MqttDecoder({ maxPacketSize: 1 << 22 });
  onPacket: (packet: MqttPacket, connection: BrokerConnection) => void = () => undefined;

  constructor(
    private readonly world: FakeWorld,
    readonly options: SocketOptions,
    private readonly handlers: SocketHandlers,
  ) {}

  /** Bytes from the client. */
  clientWrote(bytes: Uint8Array): void {
    for (const packet of this.decoder.push(bytes)) {
      this.packets.push(packet);
      this.onPacket(packet, this);
    }
  }

  /** Sends packets to the client after the network latency. */
  send(...packets: MqttPacket[]): void {
    for (const packet of packets) {
      const bytes = encodePacket(packet);
      this.world.later(() => {
        if (!this.closed) this.handlers.onData(bytes);
      });
    }
  }

  /** Publishes to the client (QoS 1 gets packet id 1000+). */
  publish(topic: string, payload: Uint8Array | string, qos: 0 | 1 = 0): void {
    const body = typeof payload === 'string' ? utf8(payload) : payload;
    const packet: PublishPacket = qos === 1
      ? { type: 'publish', topic, payload: body, qos: 1, retain: false, dup: false, packetId: 1000 + this.packets.length }
      : { type: 'publish', topic, payload: body, qos: 0, retain: false, dup: false };
    this.send(packet);
  }

  accept(): void {
    this.world.later(() => {
      if (!this.closed) this.handlers.onConnect();
    });
  }

  /** The broker drops the connection (after what it already sent has arrived). */
  drop(): void {
    this.world.later(() => {
      if (this.closed) return;
      this.closed = true;
      this.handlers.onClose();
    });
  }

  publishes(): PublishPacket[] {
    return this.packets.filter((packet): packet is PublishPacket => packet.type === 'publish');
  }
}

/** Virtual time, timers, sockets and logs: the world a fake device lives in. */
export class FakeWorld {
  now = 0;
  wallAtZero: number | undefined = 1_700_000_000_000;
  latencyMs = 5;
  /** The world's randomness (what `hal.crypto.randomBytes` gives): seeded, for repeatable runs. */
  random = seededRandom(1);
  readonly connections: BrokerConnection[] = [];
  readonly logs: { level: string; message: string }[] = [];
  readonly events: { type: string; fields?: unknown }[] = [];
  /** Called for each new connection, to script the broker. */
  onConnection: (connection: BrokerConnection) => void = (connection) => connection.accept();
  private readonly timers = new Map<number, Timer>();
  private nextTimer = 1;
  private seq = 0;
  readonly hal: Hal;

  constructor() {
    const world = this;
    const net: Net = {
      connect(options, handlers): Socket {
        const connection = new BrokerConnection(world, options, handlers);
        world.connections.push(connection);
        world.onConnection(connection);
        return {
          write(bytes) {
            if (connection.closed) throw new Error('socket closed');
            connection.clientWrote(new Uint8Array(bytes));
          },
          close() {
            connection.closed = true;
          },
        };
      },
    };
    const parts = {
      clock: {
        now: () => world.now,
        wallTime: () => (world.wallAtZero === undefined ? undefined : world.wallAtZero + world.now),
        setWallTime: (ms) => {
          world.wallAtZero = ms - world.now;
        },
      },
      timers: {
        set: (callback, ms) => world.addTimer(callback, ms),
        repeat: (callback, ms) => world.addTimer(callback, ms, ms),
        clear: (id: TimerId) => void world.timers.delete(id),
      },
      text: hostText,
      net,
      crypto: {
        sha256: () => {
          throw new Error('not in this fake');
        },
        hmacSha256: nodeCodec.hmacSha256,
        ecdsaP256Verify: () => false,
        // Seeded: backoff jitter and the like come out the same on every run, so a test's timing cannot flake.
        randomBytes: (count) => Uint8Array.from({ length: count }, () => Math.floor(world.random() * 256)),
      },
      log: {
        level: 'debug',
        write: (level, message) => void world.logs.push({ level, message }),
        event: (type, fields) => void world.events.push({ type, fields }),
      },
      config: {},
    } satisfies Partial<Hal>;
    // The parts the Azure shells use; the rest of the HAL is absent on purpose.
    this.hal = parts as Partial<Hal> as Hal;
  }

  addTimer(callback: () => void, ms: number, repeatMs?: number): TimerId {
    const id = this.nextTimer++;
    this.timers.set(id, { id, at: this.now + Math.max(0, ms), seq: this.seq++, callback, repeatMs });
    return id;
  }

  /** Runs `callback` after the network latency. */
  later(callback: () => void): void {
    this.addTimer(callback, this.latencyMs);
  }

  /** The latest connection. */
  get connection(): BrokerConnection {
    return this.connections[this.connections.length - 1];
  }

  /** Moves time forward by `ms`, running every timer due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.now + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const timer of this.timers.values()) {
        if (timer.at <= target && (next === undefined || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))) next = timer;
      }
      if (next === undefined) break;
      this.now = Math.max(this.now, next.at);
      if (next.repeatMs !== undefined) {
        next.at += next.repeatMs;
        next.seq = this.seq++;
      } else this.timers.delete(next.id);
      next.callback();
      await Promise.resolve(); // let promise reactions (async method handlers) run, as an event loop would
      await Promise.resolve();
    }
    this.now = target;
  }
}

/** A broker that accepts every CONNECT, acknowledges SUBSCRIBE and QoS 1 PUBLISH, and hands PUBLISHes to `onPublish`. */
export function acceptingBroker(
  world: FakeWorld,
  onPublish: (packet: PublishPacket, connection: BrokerConnection) => void = () => undefined,
  options: { connackCode?: 0 | 1 | 2 | 3 | 4 | 5; sessionPresent?: boolean; ackPublishes?: boolean } = {},
): void {
  world.onConnection = (connection) => {
    connection.accept();
    connection.onPacket = (packet) => {
      switch (packet.type) {
        case 'connect':
          connection.send({ type: 'connack', sessionPresent: options.sessionPresent ?? false, returnCode: options.connackCode ?? 0 });
          if ((options.connackCode ?? 0) !== 0) connection.drop();
          break;
        case 'subscribe':
          connection.send({ type: 'suback', packetId: packet.packetId, returnCodes: packet.subscriptions.map(({ qos }) => (qos === 2 ? 1 : qos)) });
          break;
        case 'publish':
          if (packet.qos === 1 && (options.ackPublishes ?? true)) connection.send({ type: 'puback', packetId: packet.packetId as number });
          onPublish(packet, connection);
          break;
        case 'pingreq':
          connection.send({ type: 'pingresp' });
          break;
        case 'disconnect':
          connection.closed = true;
          break;
        default:
          break;
      }
    };
  };
}
