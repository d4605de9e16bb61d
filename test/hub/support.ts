/**
 * Test support for the hub: a raw MQTT 3.1.1 client over mqtt-packet (not the project's codec, not an Azure
 * SDK) that shows exactly what the hub sends, and helpers to start a hub on free ports.
 */
import * as mqttPacket from 'mqtt-packet';
import { mkdtempSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { startHub, type Hub, type HubOptions } from '../../hub/hub';
import { createSasToken } from '../../hub/sas';
import { developmentPki, readPem, type DevelopmentPki } from '../../host-sim/tls/certificates';

export const HOST_NAME = 'thingkit-test-hub.local';
export const ID_SCOPE = '0ne00TEST01';

export interface RawMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  messageId?: number;
}

export interface RawConnectOptions {
  port: number;
  clientId: string;
  username?: string;
  password?: string;
  clean?: boolean;
  keepalive?: number;
  tls?: { ca: string; cert?: string; key?: string };
  /** Send PUBACK for QoS 1 messages automatically (default true). */
  autoAck?: boolean;
  will?: { topic: string; payload: Buffer | string; qos?: 0 | 1 };
}

export class RawClient {
  readonly messages: RawMessage[] = [];
  private readonly waiters: Array<() => void> = [];
  private readonly pending = new Map<number, (packet: mqttPacket.Packet) => void>();
  private nextId = 1;
  closed = false;
  connack?: number;
  private closedPromise: Promise<void>;

  private constructor(
    private readonly socket: net.Socket,
    private readonly autoAck: boolean,
  ) {
    this.closedPromise = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  /** Connects and returns the client with its CONNACK return code (the socket may then be closed by the hub). */
  static connect(options: RawConnectOptions): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = options.tls
        ? tls.connect({ host: '127.0.0.1', port: options.port, ca: options.tls.ca, cert: options.tls.cert, key: options.tls.key, servername: 'localhost' })
        : net.connect({ host: '127.0.0.1', port: options.port });
      const client = new RawClient(socket, options.autoAck ?? true);
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (packet: mqttPacket.Packet) => client.onPacket(packet, resolve));
      socket.on('data', (data) => parser.parse(data));
      socket.on('error', (error) => {
        if (client.connack === undefined) reject(error);
      });
      socket.on('close', () => {
        client.closed = true;
        client.wake();
        for (const done of client.pending.values()) done({ cmd: 'disconnect' } as mqttPacket.Packet);
        client.pending.clear();
        if (client.connack === undefined) reject(new Error('connection closed before CONNACK'));
      });
      socket.on(options.tls ? 'secureConnect' : 'connect', () => {
        socket.write(
          mqttPacket.generate({
            cmd: 'connect',
            protocolId: 'MQTT',
            protocolVersion: 4,
            clientId: options.clientId,
            clean: options.clean ?? true,
            keepalive: options.keepalive ?? 60,
            username: options.username,
            password: options.password === undefined ? undefined : Buffer.from(options.password),
            will: options.will ? { topic: options.will.topic, payload: Buffer.from(options.will.payload), qos: options.will.qos ?? 0, retain: false } : undefined,
          }),
        );
      });
    });
  }

  private onPacket(packet: mqttPacket.Packet, resolveConnect: (client: RawClient) => void): void {
    switch (packet.cmd) {
      case 'connack':
        this.connack = packet.returnCode;
        resolveConnect(this);
        break;
      case 'publish':
        this.messages.push({ topic: packet.topic, payload: Buffer.from(packet.payload), qos: packet.qos, messageId: packet.messageId });
        if (packet.qos === 1 && this.autoAck) this.socket.write(mqttPacket.generate({ cmd: 'puback', messageId: packet.messageId! }));
        this.wake();
        break;
      case 'suback':
      case 'puback':
      case 'unsuback': {
        const done = this.pending.get(packet.messageId!);
        this.pending.delete(packet.messageId!);
        done?.(packet);
        break;
      }
      default:
        break;
    }
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Subscribes; resolves with the granted QoS list (128 = refused). */
  subscribe(...topics: string[]): Promise<number[]> {
    const messageId = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('closed'));
      this.pending.set(messageId, (packet) => resolve((packet as mqttPacket.ISubackPacket).granted as number[]));
      this.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId, subscriptions: topics.map((topic) => ({ topic, qos: 1 as const })) }));
    });
  }

  subscribeQos(topic: string, qos: 0 | 1 | 2): Promise<number[]> {
    const messageId = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(messageId, (packet) => resolve((packet as mqttPacket.ISubackPacket).granted as number[]));
      this.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] }));
    });
  }

  /** Publishes; QoS 1 resolves on PUBACK. */
  publish(topic: string, payload: Buffer | string, qos: 0 | 1 | 2 = 0, retain = false): Promise<void> {
    const messageId = qos > 0 ? this.nextId++ : undefined;
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('closed'));
      if (qos === 1) this.pending.set(messageId!, () => resolve());
      this.socket.write(mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup: false, messageId }));
      // QoS 2's PUBREC/PUBREL/PUBCOMP are not implemented: IoT Hub refuses QoS 2 anyway.
      if (qos !== 1) resolve();
    });
  }

  puback(messageId: number): void {
    this.socket.write(mqttPacket.generate({ cmd: 'puback', messageId }));
  }

  /** Waits for a message whose topic matches; resolves with it (and removes nothing). */
  async waitFor(match: (m: RawMessage) => boolean, timeoutMs = 5000): Promise<RawMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      if (this.closed) throw new Error('connection closed while waiting for a message');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms; got: ${this.messages.map((m) => m.topic).join(', ') || 'nothing'}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves when the hub closes the connection (rejects after the timeout). */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.closedPromise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('still connected')), timeoutMs)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  disconnect(): void {
    if (this.closed) return;
    this.socket.write(mqttPacket.generate({ cmd: 'disconnect' }));
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

let sharedPki: DevelopmentPki | undefined;

/** One development PKI for a test file (openssl is slow). */
export function testPki(): DevelopmentPki {
  sharedPki ??= developmentPki(path.join(tempDir('thingkit-hub-pki-'), 'pki'));
  return sharedPki;
}

export async function startTestHub(overrides: Partial<HubOptions> & { secure?: boolean } = {}): Promise<{ hub: Hub; ca?: string; pki?: DevelopmentPki }> {
  const secure = overrides.secure ?? false;
  const pki = secure ? testPki() : undefined;
  const hub = await startHub({
    dataFile: overrides.dataFile ?? path.join(tempDir('thingkit-hub-'), 'hub.db'),
    mqttPort: 0,
    httpPort: 0,
    tls: pki ? { key: readPem(pki.server.key), cert: readPem(pki.server.cert), ca: readPem(pki.ca.cert) } : undefined,
    hostName: HOST_NAME,
    idScope: ID_SCOPE,
    dpsRetryAfterSeconds: 1,
    ...overrides,
  });
  return { hub, ca: pki ? readPem(pki.ca.cert) : undefined, pki };
}

export function deviceToken(deviceId: string, key: string, expiresInSeconds = 3600, hostName = HOST_NAME): string {
  return createSasToken({ resourceUri: `${hostName}/devices/${deviceId}`, key, expiry: Math.floor(Date.now() / 1000) + expiresInSeconds });
}

export function hubUsername(deviceId: string, hostName = HOST_NAME): string {
  return `${hostName}/${deviceId}/?api-version=2021-04-12`;
}

/** Connects a SAS device with the raw client. */
export function connectDevice(hub: Hub, deviceId: string, key: string, extra: Partial<RawConnectOptions> = {}): Promise<RawClient> {
  return RawClient.connect({ port: hub.mqttPort, clientId: deviceId, username: hubUsername(deviceId), password: deviceToken(deviceId, key), ...extra });
}

export async function until(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function http(hub: Hub, method: string, pathname: string, body?: unknown, headers: { [name: string]: string } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${hub.httpUrl}${pathname}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed, headers: response.headers };
}
