/**
 * The hub's MQTT endpoint: an embedded aedes broker that speaks the Azure IoT Hub and DPS device protocols
 * instead of routing between clients. Nothing a device publishes reaches another device: every device
 * PUBLISH is handled here (before its PUBACK, so telemetry is stored before the device may forget it), and
 * everything a device receives is addressed to it alone.
 *
 * CONNECT (see auth.ts, dps.ts): client id = device id, user name `{hubHost}/{deviceId}/?api-version=...`
 * (or `/api-version=...` as azure-iot-device-mqtt writes it), password a SAS token or none with an X.509
 * client certificate. Every refusal is CONNACK 5 (not authorized) with the reason in the log: IoT Hub's MQTT
 * front (azure-iot-protocol-gateway's MqttAdapter) answers an unauthenticated identity, a malformed user name
 * included, with RefusedNotAuthorized. A SAS connection is closed when its token expires, as IoT Hub does.
 *
 * PUBLISH from a device: telemetry on `devices/{id}/messages/events/{props}`, twin GET and reported PATCH,
 * method responses; DPS register and poll on DPS connections. Anything else, QoS 2 included, closes the
 * connection (IoT Hub: "If a device app publishes a message with QoS 2, IoT Hub closes the network
 * connection"), logged with the reason. RETAIN is not kept: the message gets the `mqtt-retain` property.
 * SUBSCRIBE: only the documented filters on the device's own topics; others get SUBACK 0x80, logged.
 */
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket, type Subscription } from 'aedes';
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { authenticateDevice } from './auth';
import { Dps, type DpsAttestation } from './dps';
import { asHubError, badRequest, deviceNotFound, ErrorCodes, HubError } from './errors';
import { HubLog } from './log';
import type { HubStore, IngestResult, TelemetryMessage, Twin } from './store';
import {
  c2dTopic,
  dpsResponseTopic,
  dpsSubscriptionAllowed,
  hubSubscriptionAllowed,
  isDpsUsername,
  methodRequestTopic,
  parseDpsPublish,
  parseDpsUsername,
  parseHubDevicePublish,
  parseHubUsername,
  topicMatches,
  type PropertyEntry,
} from './topics';
import { twinErrorResponse, twinGetResponse, type JsonObject, type OutgoingMessage } from './twin';
import { clientCertificate } from './x509';

export interface MqttFrontOptions {
  store: HubStore;
  /** The hub's host name: the `{hubHost}` of user names and SAS resources. */
  hostName: string;
  /** DPS ID scope. */
  idScope: string;
  /** Listening port; 0 picks a free one. */
  port: number;
  /** Listening address (default 127.0.0.1). */
  host?: string;
  /** TLS server key and certificate; `ca` verifies CA-signed device certificates. Omitted: plain TCP. */
  tls?: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer };
  /** Sees every accepted connection (the simulator watches them to know when the hub is idle). */
  observeConnection?: (socket: net.Socket) => void;
  log?: HubLog;
  /** The `retry-after` DPS gives with 202 (seconds, default 3 as Azure's samples see). */
  dpsRetryAfterSeconds?: number;
  /** How often queued cloud-to-device messages are checked for expiry (ms, default 1000). */
  c2dSweepIntervalMs?: number;
  now?: () => number;
}

export interface MethodRequest {
  methodName: string;
  payload?: unknown;
  /** Seconds to wait for the device's answer: 5 to 300, default 30 (IoT Hub's range). */
  responseTimeoutInSeconds?: number;
  /** Seconds to wait for an offline device to come online and subscribe: 0 to 300, default 0. */
  connectTimeoutInSeconds?: number;
}

export interface MethodResult {
  status: number;
  payload: unknown;
}

type Identity =
  | { kind: 'device'; deviceId: string; method: 'sas' | 'x509'; tokenExpiry?: number }
  | { kind: 'dps'; registrationId: string; attestation: DpsAttestation; method: 'sas' | 'x509'; tokenExpiry?: number };

interface Connection {
  client: Client;
  identity: Identity;
  /** Topic filters and their granted QoS. */
  subscriptions: Map<string, number>;
  /** Packet id → c2d message seq, for QoS 1 cloud-to-device messages awaiting PUBACK. */
  inflight: Map<number, number>;
  nextPacketId: number;
  expiryTimer?: NodeJS.Timeout;
}

interface PendingMethod {
  deviceId: string;
  logSeq: number;
  resolve: (result: MethodResult) => void;
  timer: NodeJS.Timeout;
}

const MAX_MESSAGE_BYTES = 256 * 1024;
const MAX_METHOD_PAYLOAD_BYTES = 128 * 1024;

/** A QoS 1 PUBLISH, encoded (for cloud-to-device messages, whose packet ids the front owns). */
function encodePublishQos1(topic: string, payload: Buffer, packetId: number): Buffer {
  const topicBytes = Buffer.from(topic, 'utf8');
  const remaining = 2 + topicBytes.length + 2 + payload.length;
  const header: number[] = [0x32];
  let n = remaining;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    header.push(byte);
  } while (n > 0);
  const out = Buffer.alloc(header.length + remaining);
  let at = Buffer.from(header).copy(out, 0);
  out.writeUInt16BE(topicBytes.length, at);
  at += 2;
  at += topicBytes.copy(out, at);
  out.writeUInt16BE(packetId, at);
  at += 2;
  payload.copy(out, at);
  return out;
}

function refusal(reason: string): Error & { returnCode: number } {
  return Object.assign(new Error(reason), { returnCode: 5 });
}

export class MqttFront extends EventEmitter {
  readonly log: HubLog;
  private readonly store: HubStore;
  private readonly dps: Dps;
  private readonly now: () => number;
  private readonly identities = new WeakMap<Client, Identity>();
  private readonly originalClientIds = new WeakMap<Client, string>();
  /** Device PUBLISHes handled in authorizePublish (so `published` can tell wills apart). */
  private readonly handled = new WeakSet<object>();
  private readonly connections = new Map<string, Connection>();
  private readonly pendingMethods = new Map<string, PendingMethod>();
  private readonly onlineWaiters = new Map<string, Set<() => void>>();
  private readonly sockets = new Set<net.Socket>();
  private sweepTimer?: NodeJS.Timeout;
  private requestCounter = 0;
  private warnedParser = false;
  private closing = false;

  private constructor(
    private readonly options: MqttFrontOptions,
    private aedes: Aedes,
    private server: net.Server,
  ) {
    super();
    this.store = options.store;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? new HubLog(1000, this.now);
    this.dps = new Dps(options.store, options.idScope, options.hostName);
  }

  static async start(options: MqttFrontOptions): Promise<MqttFront> {
    const aedes = new Aedes({ id: 'thingkit-hub', heartbeatInterval: 60_000 });
    const server = options.tls
      ? tls.createServer({ key: options.tls.key, cert: options.tls.cert, ca: options.tls.ca, requestCert: true, rejectUnauthorized: false })
      : net.createServer();
    const front = new MqttFront(options, aedes, server);
    front.install();
    await aedes.listen();
    server.on(options.tls ? 'secureConnection' : 'connection', (socket: net.Socket) => {
      front.sockets.add(socket);
      socket.setNoDelay(true); // MQTT answers are small: Nagle would hold them until the device sends again
      options.observeConnection?.(socket);
      socket.on('close', () => front.sockets.delete(socket));
      socket.on('error', () => undefined);
      aedes.handle(socket);
    });
    if (options.tls) {
      server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
        front.log.write({ level: 'warn', event: 'tls.refused', message: `TLS handshake from ${socket.remoteAddress ?? '?'} failed: ${error.message}` });
      });
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(new Error(error.code === 'EADDRINUSE' ? `MQTT port ${options.port} is in use: stop what uses it or choose another port` : `cannot start the MQTT endpoint: ${error.message}`)),
      );
      server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
    });
    // Nothing is in flight after a restart: what was sent and not acknowledged goes back to the queue.
    options.store.c2d.requeueAllDelivered();
    options.store.methods.failPending();
    front.sweepTimer = setInterval(() => front.sweep(), options.c2dSweepIntervalMs ?? 1000);
    front.sweepTimer.unref();
    return front;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  get url(): string {
    return `${this.options.tls ? 'mqtts' : 'mqtt'}://${this.host}:${this.port}`;
  }

  /** Whether the device has an open, authenticated connection. */
  isConnected(deviceId: string): boolean {
    return this.connections.get(deviceId)?.identity.kind === 'device';
  }

  /** Whether the device is connected and subscribed to a filter matching `topic` (what IoT Hub needs to deliver on it). */
  isSubscribed(deviceId: string, topic: string): boolean {
    const connection = this.connections.get(deviceId);
    return !!connection && connection.identity.kind === 'device' && this.subscribedQos(connection, topic) !== undefined;
  }

  connectedDevices(): string[] {
    return [...this.connections.values()].flatMap((c) => (c.identity.kind === 'device' ? [c.identity.deviceId] : []));
  }

  /** Closes the device's connection (after it was disabled or deleted). */
  disconnect(deviceId: string, reason: string): void {
    const connection = this.connections.get(deviceId);
    // A client between CONNACK and 'clientReady' is not in `connections` yet; aedes knows it by id.
    const client = connection?.client ?? (this.aedes as unknown as { clients?: { [id: string]: Client } }).clients?.[deviceId];
    if (!client) return;
    this.log.write({ level: 'info', event: 'disconnect', deviceId, message: `closing the connection of "${deviceId}": ${reason}` });
    client.close();
  }

  // ---- aedes hooks ----

  private install(): void {
    const aedes = this.aedes;
    aedes.preConnect = (client, packet, callback) => {
      this.originalClientIds.set(client, packet.clientId);
      this.hookParser(client);
      // DPS connections get a broker id no device id can have ('/' is not allowed in device ids), so a
      // registration never takes over the hub connection of a device with the same name.
      if (isDpsUsername(packet.username)) packet.clientId = `dps/${packet.clientId}`;
      callback(null, true);
    };
    aedes.authenticate = (client, username, password, done) => {
      try {
        const result = this.authenticate(client, username, password);
        if ('reason' in result) {
          done(refusal(result.reason), false);
        } else {
          this.identities.set(client, result.identity);
          done(null, true);
        }
      } catch (error) {
        this.log.write({ level: 'error', event: 'connect.error', clientId: this.originalClientIds.get(client), message: `authentication failed unexpectedly: ${(error as Error).message}` });
        done(Object.assign(new Error('server unavailable'), { returnCode: 3 }), false);
      }
    };
    aedes.authorizePublish = (client, packet, callback) => {
      if (!client) return callback(null);
      try {
        callback(this.onDevicePublish(client, packet));
      } catch (error) {
        // Storage failed: no PUBACK, the connection closes, the device sends again.
        this.log.write({ level: 'error', event: 'publish.error', clientId: client.id, message: `could not handle a PUBLISH on "${packet.topic}": ${(error as Error).message}` });
        callback(error as Error);
      }
    };
    aedes.authorizeSubscribe = (client, subscription, callback) => {
      const verdict = this.onSubscribe(client, subscription);
      callback(null, verdict);
    };
    aedes.authorizeForward = (client, packet) => this.forwardable(client, packet);
    aedes.published = (packet, client, callback) => {
      try {
        if (client && !this.handled.has(packet)) this.onUnhandledPublish(client, packet);
      } catch (error) {
        this.log.write({ level: 'error', event: 'will.error', clientId: client?.id, message: `could not store a will message: ${(error as Error).message}` });
      }
      callback(null);
    };
    aedes.on('clientReady', (client) => this.onReady(client));
    aedes.on('clientDisconnect', (client) => this.onGone(client));
    aedes.on('subscribe', (subscriptions, client) => this.onSubscribed(client, subscriptions));
    aedes.on('unsubscribe', (topics, client) => {
      const connection = this.connectionOf(client);
      if (connection) for (const topic of topics) connection.subscriptions.delete(topic);
    });
    aedes.on('clientError', (client, error) => {
      if (this.closing) return;
      const identity = this.identities.get(client);
      this.log.write({
        level: 'warn',
        event: 'connection.error',
        clientId: this.originalClientIds.get(client) ?? client.id,
        ...(identity?.kind === 'device' ? { deviceId: identity.deviceId } : identity ? { registrationId: identity.registrationId } : {}),
        message: `connection error: ${error.message}`,
      });
    });
    aedes.on('connectionError', (_client, error) => {
      if (!this.closing) this.log.write({ level: 'warn', event: 'connection.error', message: `connection error before CONNECT: ${error.message}` });
    });
    aedes.on('keepaliveTimeout', (client) => {
      this.log.write({ level: 'info', event: 'keepalive.timeout', clientId: client.id, message: 'no packet within 1.5 keep-alive periods: connection closed (as IoT Hub does)' });
    });
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined): { identity: Identity } | { reason: string } {
    const clientId = this.originalClientIds.get(client) ?? client.id;
    const passwordText = password && password.length ? password.toString('utf8') : undefined;
    const certificate = clientCertificate(client.conn);
    const nowMs = this.now();
    const refuse = (reason: string, extra: { deviceId?: string; registrationId?: string } = {}) => {
      this.log.write({ level: 'warn', event: 'connect.refused', clientId, ...extra, message: `CONNECT from "${clientId}" refused with CONNACK 5 (not authorized)`, reason });
      return { reason };
    };
    if (isDpsUsername(username)) {
      const parsed = parseDpsUsername(username);
      if (!parsed.ok) return refuse(parsed.reason);
      if (clientId !== parsed.registrationId) return refuse(`the client id "${clientId}" must be the registration id "${parsed.registrationId}" named in the user name`, { registrationId: parsed.registrationId });
      const result = this.dps.authenticate({ idScope: parsed.idScope, registrationId: parsed.registrationId, password: passwordText, certificate, nowMs });
      if (!result.ok) return refuse(result.reason, { registrationId: parsed.registrationId });
      this.log.write({ level: 'info', event: 'dps.connect', registrationId: parsed.registrationId, clientId, message: `DPS connection from "${parsed.registrationId}" (${result.method}, ${result.attestation.kind} enrollment)` });
      return { identity: { kind: 'dps', registrationId: parsed.registrationId, attestation: result.attestation, method: result.method, tokenExpiry: result.tokenExpiry } };
    }
    const parsed = parseHubUsername(username);
    if (!parsed.ok) return refuse(parsed.reason);
    if (parsed.hostName.toLowerCase() !== this.options.hostName.toLowerCase()) {
      return refuse(`the user name names the hub "${parsed.hostName}", but this hub is "${this.options.hostName}": use HostName=${this.options.hostName}`, { deviceId: parsed.deviceId });
    }
    if (clientId !== parsed.deviceId) return refuse(`the client id "${clientId}" must be the device id "${parsed.deviceId}" named in the user name`, { deviceId: parsed.deviceId });
    const result = authenticateDevice({ device: this.store.devices.get(parsed.deviceId), deviceId: parsed.deviceId, hostName: this.options.hostName, password: passwordText, certificate, nowMs });
    if (!result.ok) return refuse(result.reason, { deviceId: parsed.deviceId });
    return { identity: { kind: 'device', deviceId: parsed.deviceId, method: result.method, tokenExpiry: result.tokenExpiry } };
  }

  private connectionOf(client: Client): Connection | undefined {
    const identity = this.identities.get(client);
    if (!identity) return undefined;
    const key = identity.kind === 'device' ? identity.deviceId : `dps/${identity.registrationId}`;
    const connection = this.connections.get(key);
    return connection?.client === client ? connection : undefined;
  }

  private onReady(client: Client): void {
    const identity = this.identities.get(client);
    if (!identity) return;
    const key = identity.kind === 'device' ? identity.deviceId : `dps/${identity.registrationId}`;
    if (identity.kind === 'device' && this.store.devices.get(identity.deviceId)?.status !== 'enabled') {
      // Deleted or disabled between authentication and now.
      client.close();
      return;
    }
    const connection: Connection = { client, identity, subscriptions: new Map(), inflight: new Map(), nextPacketId: 1 };
    // Subscriptions a persistent session (CleanSession 0) brought back.
    const restored = (client as unknown as { subscriptions?: { [filter: string]: { qos?: number } } }).subscriptions;
    if (restored) for (const [filter, sub] of Object.entries(restored)) connection.subscriptions.set(filter, sub.qos ?? 0);
    this.connections.set(key, connection);
    if (identity.tokenExpiry !== undefined) {
      const delay = Math.max(0, identity.tokenExpiry - this.now());
      connection.expiryTimer = setTimeout(() => {
        this.log.write({
          level: 'info',
          event: 'token.expired',
          ...(identity.kind === 'device' ? { deviceId: identity.deviceId } : { registrationId: identity.registrationId }),
          message: 'the SAS token of this connection expired: connection closed, as IoT Hub does; connect again with a new token before the old one expires',
        });
        client.close();
      }, Math.min(delay, 2_147_483_647));
      connection.expiryTimer.unref();
    }
    if (identity.kind === 'device') {
      this.store.devices.touch(identity.deviceId);
      this.log.write({ level: 'info', event: 'connect', deviceId: identity.deviceId, message: `device "${identity.deviceId}" connected (${identity.method === 'sas' ? 'SAS token' : 'X.509 certificate'}, ${client.clean ? 'clean session' : 'persistent session'})` });
      this.emit('deviceConnected', identity.deviceId);
      this.wakeWaiters(identity.deviceId);
      this.deliverC2d(identity.deviceId);
    }
  }

  private onGone(client: Client): void {
    const connection = this.connectionOf(client);
    if (!connection) return;
    const identity = connection.identity;
    const key = identity.kind === 'device' ? identity.deviceId : `dps/${identity.registrationId}`;
    this.connections.delete(key);
    if (connection.expiryTimer) clearTimeout(connection.expiryTimer);
    if (connection.inflight.size && this.store.isOpen) this.store.c2d.requeue([...connection.inflight.values()]);
    connection.inflight.clear();
    if (identity.kind === 'device') {
      if (this.store.isOpen) this.store.devices.touch(identity.deviceId);
      this.log.write({ level: 'info', event: 'disconnect', deviceId: identity.deviceId, message: `device "${identity.deviceId}" disconnected` });
      this.emit('deviceDisconnected', identity.deviceId);
    }
  }

  /**
   * Watches the packets aedes parses from this client, ahead of aedes (its parser is an internal of aedes 1.x):
   * - PUBACKs for cloud-to-device messages (aedes's own 'ack' event does not carry the packet id of messages
   *   it did not queue itself);
   * - SUBSCRIBE at QoS 2 is lowered to QoS 1 before aedes sees it, so the SUBACK grants 1 as IoT Hub's does.
   */
  private hookParser(client: Client): void {
    const parser = (client as unknown as { _parser?: EventEmitter })._parser;
    if (!parser || typeof parser.prependListener !== 'function') {
      if (!this.warnedParser) {
        this.warnedParser = true;
        this.log.write({ level: 'error', event: 'aedes.internals', message: 'this aedes version hides its packet parser: cloud-to-device PUBACKs cannot be seen (messages stay "delivered") and QoS 2 subscriptions are granted as asked' });
      }
      return;
    }
    parser.prependListener('packet', (packet: { cmd: string; messageId?: number; subscriptions?: Array<{ qos: number }> }) => {
      if (packet.cmd === 'subscribe') {
        for (const subscription of packet.subscriptions ?? []) if (subscription.qos > 1) subscription.qos = 1;
      } else if (packet.cmd === 'puback' && packet.messageId !== undefined) {
        const connection = this.connectionOf(client);
        if (connection) this.onPuback(connection, packet.messageId);
      }
    });
  }

  private onPuback(connection: Connection, packetId: number): void {
    const seq = connection.inflight.get(packetId);
    if (seq === undefined) return;
    connection.inflight.delete(packetId);
    const message = this.store.c2d.complete(seq);
    if (message && connection.identity.kind === 'device') {
      this.store.devices.touch(connection.identity.deviceId);
      this.log.write({ level: 'info', event: 'c2d.completed', deviceId: message.deviceId, message: `cloud-to-device message ${message.messageId} completed (PUBACK)` });
      this.emit('c2d', message);
    }
  }

  private onSubscribe(client: Client, subscription: Subscription): Subscription | null {
    const identity = this.identities.get(client);
    const verdict = !identity
      ? { ok: false as const, reason: 'not authenticated' }
      : identity.kind === 'device'
        ? hubSubscriptionAllowed(subscription.topic, identity.deviceId)
        : dpsSubscriptionAllowed(subscription.topic);
    if (!verdict.ok) {
      this.log.write({
        level: 'warn',
        event: 'subscribe.refused',
        clientId: this.originalClientIds.get(client) ?? client.id,
        ...(identity?.kind === 'device' ? { deviceId: identity.deviceId } : identity ? { registrationId: identity.registrationId } : {}),
        message: `SUBSCRIBE to "${subscription.topic}" refused (SUBACK 0x80)`,
        reason: verdict.reason,
      });
      return null;
    }
    // IoT Hub grants at most QoS 1.
    return { ...subscription, qos: subscription.qos > 1 ? 1 : subscription.qos };
  }

  private onSubscribed(client: Client, subscriptions: Subscription[]): void {
    const connection = this.connectionOf(client);
    if (!connection) return;
    for (const sub of subscriptions) {
      if ((sub.qos as number) === 128) continue;
      connection.subscriptions.set(sub.topic, Math.min(sub.qos, 1));
    }
    if (connection.identity.kind === 'device') {
      this.wakeWaiters(connection.identity.deviceId);
      this.deliverC2d(connection.identity.deviceId);
    }
  }

  /** The QoS the device subscribed with to a filter matching `topic`, or undefined if none matches. */
  private subscribedQos(connection: Connection, topic: string): number | undefined {
    let qos: number | undefined;
    for (const [filter, granted] of connection.subscriptions) if (topicMatches(filter, topic)) qos = Math.max(qos ?? 0, granted);
    return qos;
  }

  /** Only messages the hub addresses to this client are forwarded; device publications are never routed. */
  private forwardable(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const identity = this.identities.get(client);
    if (!identity) return null;
    const topic = packet.topic;
    if (identity.kind === 'dps') return topic.startsWith('$dps/registrations/res/') ? packet : null;
    if (topic.startsWith('$iothub/twin/res/') || topic.startsWith('$iothub/twin/PATCH/properties/desired/') || topic.startsWith('$iothub/methods/POST/')) return packet;
    if (topic.startsWith(`devices/${identity.deviceId}/messages/devicebound/`)) return packet;
    return null;
  }

  /** QoS 0 message to one client (twin responses, desired notifications, method requests, DPS responses). */
  private send(connection: Connection, message: OutgoingMessage): void {
    connection.client.publish({ cmd: 'publish', topic: message.topic, payload: message.payload, qos: 0, retain: false, dup: false } as PublishPacket, (error) => {
      if (error) this.log.write({ level: 'warn', event: 'send.error', clientId: connection.client.id, message: `could not send on "${message.topic}": ${error.message}` });
    });
  }

  /** Sends to a device only if it subscribed to a filter matching the topic (as IoT Hub delivers). */
  private sendIfSubscribed(connection: Connection, message: OutgoingMessage, filterHint: string): boolean {
    if (this.subscribedQos(connection, message.topic) === undefined) {
      const identity = connection.identity;
      this.log.write({
        level: 'warn',
        event: 'send.unsubscribed',
        ...(identity.kind === 'device' ? { deviceId: identity.deviceId } : { registrationId: identity.registrationId }),
        message: `not sent: the device has not subscribed to ${filterHint}`,
        reason: `subscribe to ${filterHint} before making requests whose answers come there`,
      });
      return false;
    }
    this.send(connection, message);
    return true;
  }

  private refusePublish(client: Client, packet: PublishPacket, identity: Identity | undefined, reason: string): Error {
    this.log.write({
      level: 'warn',
      event: 'publish.refused',
      clientId: this.originalClientIds.get(client) ?? client.id,
      ...(identity?.kind === 'device' ? { deviceId: identity.deviceId } : identity ? { registrationId: identity.registrationId } : {}),
      message: `PUBLISH on "${packet.topic}" refused: connection closed (IoT Hub closes the connection on a publish it does not support)`,
      reason,
    });
    return new Error(reason);
  }

  /** Handles a device's PUBLISH; returns an error to refuse it (aedes then closes the connection). */
  private onDevicePublish(client: Client, packet: PublishPacket): Error | null {
    const identity = this.identities.get(client);
    const connection = this.connectionOf(client);
    // aedes authorizes the will when the connection drops without DISCONNECT, then publishes it.
    const isWill = packet === (client as unknown as { will?: unknown }).will;
    if (!identity || (!connection && !isWill)) return this.refusePublish(client, packet, identity, 'not authenticated');
    if (packet.qos === 2) return this.refusePublish(client, packet, identity, 'IoT Hub does not support QoS 2: publish with QoS 0 or 1');
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (payload.length > MAX_MESSAGE_BYTES) return this.refusePublish(client, packet, identity, `the message is ${payload.length} bytes; IoT Hub takes at most 256 KB`);
    const retained = packet.retain;
    packet.retain = false;
    this.handled.add(packet);

    if (identity.kind === 'dps') {
      const topic = parseDpsPublish(packet.topic);
      if (topic.kind === 'refused') return this.refusePublish(client, packet, identity, topic.reason);
      if (!connection || isWill) return this.refusePublish(client, packet, identity, 'DPS connections have no will messages');
      setImmediate(() => this.onDpsRequest(connection, identity, topic, payload));
      return null;
    }

    const deviceId = identity.deviceId;
    const topic = parseHubDevicePublish(packet.topic, deviceId);
    switch (topic.kind) {
      case 'refused':
        return this.refusePublish(client, packet, identity, topic.reason);
      case 'telemetry': {
        const properties = { ...topic.properties };
        if (retained) properties['mqtt-retain'] = 'true';
        // "The message has the iothub-MessageType property with a value of Will assigned to it."
        if (isWill) properties['iothub-MessageType'] = 'Will';
        // Stored before aedes sends the PUBACK: an acknowledged message is in the file. A re-sent message
        // (a `$.mid` the device used before) is acknowledged as usual but not stored again.
        const result = this.store.telemetry.ingest({ deviceId, properties, systemProperties: topic.systemProperties, payload });
        this.store.devices.touch(deviceId);
        if (result.duplicate) {
          this.logDuplicate(result);
          return null;
        }
        const stored = result.message;
        this.warnIfNotCbor(stored);
        setImmediate(() => this.emit('telemetry', stored));
        return null;
      }
      case 'twinGet':
        if (!connection) return this.refusePublish(client, packet, identity, 'a will message must be telemetry');
        setImmediate(() => this.onTwinGet(connection, deviceId, topic.rid));
        return null;
      case 'twinPatchReported':
        if (!connection) return this.refusePublish(client, packet, identity, 'a will message must be telemetry');
        setImmediate(() => this.onReportedPatch(connection, deviceId, topic.rid, payload));
        return null;
      case 'methodResponse':
        this.onMethodResponse(deviceId, topic.rid, topic.status, payload);
        return null;
      default:
        return this.refusePublish(client, packet, identity, `"${packet.topic}" is not a topic for a device connection`);
    }
  }

  /** A will message (published by aedes when a device's connection drops without DISCONNECT). */
  private onUnhandledPublish(client: Client, packet: AedesPublishPacket): void {
    const identity = this.identities.get(client);
    if (!identity || identity.kind !== 'device') return;
    const topic = parseHubDevicePublish(packet.topic, identity.deviceId);
    if (topic.kind !== 'telemetry') {
      this.log.write({ level: 'warn', event: 'will.refused', deviceId: identity.deviceId, message: `will message on "${packet.topic}" dropped`, reason: `IoT Hub takes wills on devices/${identity.deviceId}/messages/events/ only` });
      return;
    }
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const result = this.store.telemetry.ingest({ deviceId: identity.deviceId, properties: { ...topic.properties, 'iothub-MessageType': 'Will' }, systemProperties: topic.systemProperties, payload });
    if (result.duplicate) {
      this.logDuplicate(result);
      return;
    }
    this.warnIfNotCbor(result.message);
    this.emit('telemetry', result.message);
  }

  /** A message whose `$.mid` the device already used: acknowledged, not stored, counted. */
  private logDuplicate(result: Extract<IngestResult, { duplicate: true }>): void {
    this.log.write({
      level: 'info',
      event: 'telemetry.duplicate',
      deviceId: result.deviceId,
      messageId: result.messageId,
      message: `telemetry message ${JSON.stringify(result.messageId)} received again (first stored as ${result.firstSeq} at ${new Date(result.firstReceivedAt).toISOString()}): acknowledged, not stored (${result.duplicates} duplicate${result.duplicates === 1 ? '' : 's'} from this device)`,
    });
    this.emit('duplicate', result);
  }

  /** A message that says application/cbor but is not CBOR is kept as sent (raw bytes), and logged. */
  private warnIfNotCbor(message: TelemetryMessage): void {
    if (!message.cbor || !('error' in message.cbor)) return;
    this.log.write({
      level: 'warn',
      event: 'telemetry.cbor',
      deviceId: message.deviceId,
      message: `telemetry message ${message.seq} has content type application/cbor but cannot be decoded; kept as raw bytes (bodyBase64)`,
      reason: message.cbor.error,
    });
  }

  // ---- twins ----

  private onTwinGet(connection: Connection, deviceId: string, rid: string | undefined): void {
    let response: OutgoingMessage;
    try {
      const twin = this.store.twins.require(deviceId);
      response = twinGetResponse(rid, twin.desired, twin.reported);
    } catch (error) {
      response = twinErrorResponse(rid, asHubError(error));
    }
    this.store.devices.touch(deviceId);
    this.sendIfSubscribed(connection, response, '$iothub/twin/res/#');
  }

  private onReportedPatch(connection: Connection, deviceId: string, rid: string | undefined, payload: Buffer): void {
    let response: OutgoingMessage;
    try {
      const result = this.store.twins.patchReportedFromDevice(deviceId, payload, rid);
      response = result.response;
      if (result.twin) this.emit('reported', { deviceId, patch: result.patch, version: result.twin.reported.version });
      else this.log.write({ level: 'warn', event: 'twin.refused', deviceId, message: `reported properties patch refused: ${response.topic}`, reason: response.payload.toString('utf8') });
    } catch (error) {
      response = twinErrorResponse(rid, asHubError(error));
    }
    this.store.devices.touch(deviceId);
    this.sendIfSubscribed(connection, response, '$iothub/twin/res/#');
  }

  /** Sends a desired-properties notification to the device if it is connected and subscribed (IoT Hub notifies connected devices only). */
  notifyDesired(deviceId: string, notification: OutgoingMessage): boolean {
    const connection = this.connections.get(deviceId);
    if (!connection || this.subscribedQos(connection, notification.topic) === undefined) return false;
    this.send(connection, notification);
    return true;
  }

  // ---- direct methods ----

  /**
   * Invokes a direct method: `$iothub/methods/POST/{name}/?$rid={rid}` (QoS 0) to the device, and waits for
   * `$iothub/methods/res/{status}/?$rid={rid}`. 404 (404103 DeviceNotOnline) if the device is not connected and
   * subscribed to `$iothub/methods/POST/#` within the connect timeout; 504 (504101) if it does not answer within
   * the response timeout.
   */
  async invokeMethod(deviceId: string, request: MethodRequest): Promise<MethodResult> {
    const { methodName } = request;
    if (typeof methodName !== 'string' || !methodName) throw badRequest('methodName is required');
    if (!/^[\x21-\x7e]+$/.test(methodName) || /[$()<>@,;:\\"/[\]?={}#+]/.test(methodName)) {
      throw badRequest(`method name "${methodName}" has characters IoT Hub does not allow`, 'use printable US-ASCII letters, digits, "-", "_" and "."');
    }
    const responseTimeout = request.responseTimeoutInSeconds ?? 30;
    const connectTimeout = request.connectTimeoutInSeconds ?? 0;
    if (typeof responseTimeout !== 'number' || !(responseTimeout >= 5 && responseTimeout <= 300)) {
      throw badRequest(`responseTimeoutInSeconds must be from 5 to 300 (got ${JSON.stringify(request.responseTimeoutInSeconds)})`, 'IoT Hub accepts 5 to 300 seconds; the default is 30');
    }
    if (typeof connectTimeout !== 'number' || !(connectTimeout >= 0 && connectTimeout <= 300)) {
      throw badRequest(`connectTimeoutInSeconds must be from 0 to 300 (got ${JSON.stringify(request.connectTimeoutInSeconds)})`, 'IoT Hub accepts 0 to 300 seconds; the default 0 means the device must already be online');
    }
    const body = request.payload === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(request.payload), 'utf8');
    if (body.length > MAX_METHOD_PAYLOAD_BYTES) throw new HubError(413, ErrorCodes.RequestTooLarge, `the method payload is ${body.length} bytes; IoT Hub takes at most 128 KB`, 'send less');
    if (!this.store.devices.get(deviceId)) throw deviceNotFound(deviceId);
    const rid = (++this.requestCounter).toString(16);
    const topic = methodRequestTopic(methodName, rid);
    const logSeq = this.store.methods.begin({ deviceId, methodName, requestId: rid, payload: request.payload, responseTimeoutMs: responseTimeout * 1000, connectTimeoutMs: connectTimeout * 1000 });
    const ready = () => {
      const connection = this.connections.get(deviceId);
      return connection && this.subscribedQos(connection, topic) !== undefined ? connection : undefined;
    };
    let connection = ready();
    if (!connection && connectTimeout > 0) connection = await this.waitOnline(deviceId, connectTimeout * 1000, ready);
    if (!connection) {
      this.store.methods.finish(logSeq, 'offline');
      const connected = this.connections.has(deviceId);
      throw new HubError(
        404,
        ErrorCodes.DeviceNotOnline,
        connected ? `device "${deviceId}" is connected but has not subscribed to $iothub/methods/POST/#` : `device "${deviceId}" is not online`,
        connected ? 'the device must subscribe to $iothub/methods/POST/# to receive direct methods' : 'connect the device, or give connectTimeoutInSeconds to wait for it',
      );
    }
    const result = new Promise<MethodResult>((resolve, reject) => {
      const key = `${deviceId}\u0000${rid}`;
      const timer = setTimeout(() => {
        this.pendingMethods.delete(key);
        this.store.methods.finish(logSeq, 'timeout');
        this.log.write({ level: 'warn', event: 'method.timeout', deviceId, message: `method "${methodName}" (rid ${rid}) got no answer within ${responseTimeout} s` });
        reject(new HubError(504, ErrorCodes.GatewayTimeout, `device "${deviceId}" did not answer method "${methodName}" within ${responseTimeout} s`, 'the device must publish $iothub/methods/res/{status}/?$rid={rid} in time; raise responseTimeoutInSeconds if it needs longer'));
      }, responseTimeout * 1000);
      this.pendingMethods.set(key, { deviceId, logSeq, resolve, timer });
    });
    this.log.write({ level: 'info', event: 'method.invoke', deviceId, message: `invoking "${methodName}" (rid ${rid})` });
    this.send(connection, { topic, payload: body });
    return result;
  }

  private onMethodResponse(deviceId: string, rid: string | undefined, status: number, payload: Buffer): void {
    const key = `${deviceId}\u0000${rid ?? ''}`;
    const pending = this.pendingMethods.get(key);
    if (!pending) {
      this.log.write({ level: 'warn', event: 'method.unexpected', deviceId, message: `method response for unknown request id "${rid ?? ''}" ignored`, reason: 'answer with the $rid of a request that has not timed out' });
      return;
    }
    this.pendingMethods.delete(key);
    clearTimeout(pending.timer);
    const text = payload.toString('utf8');
    let parsed: unknown = null;
    if (text.trim()) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
        this.log.write({ level: 'warn', event: 'method.response', deviceId, message: `method response (rid ${rid}) is not JSON; passed on as a string`, reason: 'IoT Hub expects a JSON or empty body' });
      }
    }
    this.store.methods.finish(pending.logSeq, 'answered', status, text);
    this.store.devices.touch(deviceId);
    pending.resolve({ status, payload: parsed });
  }

  private waitOnline<T>(deviceId: string, timeoutMs: number, ready: () => T | undefined): Promise<T | undefined> {
    return new Promise((resolve) => {
      let waiters = this.onlineWaiters.get(deviceId);
      if (!waiters) this.onlineWaiters.set(deviceId, (waiters = new Set()));
      const check = () => {
        const value = ready();
        if (value !== undefined) finish(value);
      };
      const finish = (value: T | undefined) => {
        clearTimeout(timer);
        waiters!.delete(check);
        if (waiters!.size === 0) this.onlineWaiters.delete(deviceId);
        resolve(value);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      waiters.add(check);
    });
  }

  private wakeWaiters(deviceId: string): void {
    const waiters = this.onlineWaiters.get(deviceId);
    if (waiters) for (const check of [...waiters]) check();
  }

  // ---- cloud-to-device ----

  /** Sends the device's queued messages if it is connected and subscribed to `devices/{id}/messages/devicebound/#`. */
  deliverC2d(deviceId: string): void {
    const connection = this.connections.get(deviceId);
    if (!connection || !this.store.isOpen) return;
    const qos = this.subscribedQos(connection, `devices/${deviceId}/messages/devicebound/x`);
    if (qos === undefined) return;
    for (const message of this.store.c2d.takeDeliverable(deviceId)) {
      if (!connection.client.connected || connection.client.closed) return;
      const properties: PropertyEntry[] = [];
      properties.push(['$.mid', message.messageId]);
      properties.push(['$.to', `/devices/${deviceId}/messages/deviceBound`]);
      if (message.correlationId !== null) properties.push(['$.cid', message.correlationId]);
      if (message.userId !== null) properties.push(['$.uid', message.userId]);
      if (message.contentType !== null) properties.push(['$.ct', message.contentType]);
      if (message.contentEncoding !== null) properties.push(['$.ce', message.contentEncoding]);
      if (message.ack !== 'none') properties.push(['iothub-ack', message.ack]);
      for (const [name, value] of Object.entries(message.properties)) properties.push([name, value]);
      const topic = c2dTopic(deviceId, properties);
      if (qos === 0) {
        // Subscribed at QoS 0: no acknowledgement will come; sending is completing.
        this.send(connection, { topic, payload: message.payload });
        this.store.c2d.markDelivered(message.seq);
        this.store.c2d.complete(message.seq);
        continue;
      }
      const packetId = this.allocatePacketId(connection);
      if (packetId === undefined) return;
      connection.inflight.set(packetId, message.seq);
      this.store.c2d.markDelivered(message.seq);
      connection.client.conn.write(encodePublishQos1(topic, message.payload, packetId));
      this.log.write({ level: 'info', event: 'c2d.delivered', deviceId, message: `cloud-to-device message ${message.messageId} sent (packet id ${packetId})` });
    }
  }

  private allocatePacketId(connection: Connection): number | undefined {
    for (let tries = 0; tries < 65535; tries++) {
      const id = connection.nextPacketId;
      connection.nextPacketId = id >= 65535 ? 1 : id + 1;
      if (!connection.inflight.has(id)) return id;
    }
    return undefined;
  }

  private sweep(): void {
    if (!this.store.isOpen) return;
    for (const message of this.store.c2d.expire()) {
      this.log.write({ level: 'info', event: 'c2d.expired', deviceId: message.deviceId, message: `cloud-to-device message ${message.messageId} expired before delivery` });
      this.emit('c2d', message);
    }
  }

  // ---- DPS ----

  private onDpsRequest(connection: Connection, identity: Extract<Identity, { kind: 'dps' }>, topic: ReturnType<typeof parseDpsPublish>, payload: Buffer): void {
    const rid = topic.kind === 'dpsRegister' || topic.kind === 'dpsQuery' ? (topic.rid ?? '') : '';
    let message: OutgoingMessage;
    try {
      if (topic.kind === 'dpsRegister') {
        const { registration, deviceCreated, credentialsDiffer } = this.dps.register(identity.attestation, identity.registrationId, payload);
        if (credentialsDiffer) {
          this.log.write({
            level: 'warn',
            event: 'dps.credentials',
            registrationId: identity.registrationId,
            deviceId: registration.deviceId,
            message: `device "${registration.deviceId}" already existed with other credentials than the enrollment's; it keeps them`,
            reason: 'the device will be refused by the hub with its DPS credentials: delete the device (thingkit hub device delete) and register again',
          });
        }
        this.log.write({
          level: 'info',
          event: 'dps.assigned',
          registrationId: identity.registrationId,
          deviceId: registration.deviceId,
          message: `registration "${identity.registrationId}" assigned to ${registration.assignedHub} as device "${registration.deviceId}"${deviceCreated ? ' (device created)' : ''}`,
        });
        const retryAfter = this.options.dpsRetryAfterSeconds ?? 3;
        message = { topic: dpsResponseTopic(202, rid, retryAfter), payload: Buffer.from(JSON.stringify({ operationId: registration.operationId, status: 'assigning' })) };
      } else if (topic.kind === 'dpsQuery') {
        const result = this.dps.operationStatus(identity.registrationId, topic.operationId);
        message = { topic: dpsResponseTopic(200, rid), payload: Buffer.from(JSON.stringify(result)) };
      } else {
        return;
      }
    } catch (error) {
      const hubError = asHubError(error);
      this.log.write({ level: 'warn', event: 'dps.refused', registrationId: identity.registrationId, message: `DPS request refused with ${hubError.status}`, reason: hubError.message });
      message = { topic: dpsResponseTopic(hubError.status, rid), payload: Buffer.from(JSON.stringify(hubError.toJSON())) };
    }
    this.sendIfSubscribed(connection, message, '$dps/registrations/res/#');
  }

  // ---- shutdown ----

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const pending of this.pendingMethods.values()) {
      clearTimeout(pending.timer);
      if (this.store.isOpen) this.store.methods.finish(pending.logSeq, 'failed');
      pending.resolve({ status: 503, payload: { message: 'the hub is shutting down' } });
    }
    this.pendingMethods.clear();
    for (const connection of this.connections.values()) if (connection.expiryTimer) clearTimeout(connection.expiryTimer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    this.connections.clear();
  }
}

export type { TelemetryMessage, Twin, JsonObject };
