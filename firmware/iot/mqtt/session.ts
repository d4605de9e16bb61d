/**
 * The MQTT 3.1.1 client session as a sans-I/O state machine: it takes socket bytes, calls and
 * the current time, and returns bytes to write, events and the time of its next timer. The
 * shell (client.ts) owns the socket, the timer and reconnect scheduling (backoff.ts).
 *
 * Delivery promise: every QoS 1 message accepted by publish() stays queued until its PUBACK
 * arrives, across any number of reconnections. Unacknowledged messages are sent again, in
 * order and with their original packet ids, on the next connection:
 * - persistent session (cleanSession false): with DUP=1, as the spec's redelivery [MQTT-4.4.0-1];
 * - clean session: with DUP=0, because the broker started a new session and to it these are
 *   new messages; the client keeps them anyway, as at-least-once delivery requires.
 * QoS 0 messages are sent only on a live connection and never queued: publish() throws instead.
 */
import { MqttDecoder, DEFAULT_MAX_PACKET_SIZE } from './decoder';
import { encodePacket } from './encode';
import { MqttProtocolError, MqttSessionError } from './errors';
import type {
  ConnackPacket,
  ConnackReturnCode,
  MqttPacket,
  PublishPacket,
  PublishQoS,
  SubackPacket,
  SubackReturnCode,
  Subscription,
  Will,
} from './packets';
import { CONNACK_REFUSAL_REASONS, SUBACK_FAILURE } from './packets';
import { PacketIdAllocator } from './packet-ids';

export interface MqttSessionOptions {
  clientId: string;
  /** Default true. */
  cleanSession?: boolean;
  /** Default 60; 0 turns keepalive (pings and ping timeout) off; at most 65535. */
  keepAliveSeconds?: number;
  /**
   * How long a PINGREQ may go unanswered (by any byte) before the connection is declared
   * dead. Default and maximum: half the keepalive, so a half-open connection is detected
   * within 1.5 x keepalive of the last byte received.
   */
  pingTimeoutMs?: number;
  /** Time allowed from connect() to CONNACK; default 10 000 ms. */
  connectTimeoutMs?: number;
  username?: string;
  password?: Uint8Array;
  will?: Will;
  /** QoS 1 messages sent and awaiting PUBACK; default 16. */
  maxInflight?: number;
  /** QoS 1 messages queued behind the in-flight window; default 32. */
  maxPending?: number;
  /** Encoded bytes of all held QoS 1 messages (in flight and pending); default 32 KiB. */
  maxQueuedBytes?: number;
  /** Subscriptions remembered for restoring; default 32. */
  maxSubscriptions?: number;
  /**
   * SUBSCRIBE/UNSUBSCRIBE requests awaiting acknowledgement, the session's own restoring
   * SUBSCRIBE included (which alone may exceed the limit, by one); default 8.
   */
  maxPendingRequests?: number;
  /** Largest incoming packet, fixed header included; default 16 KiB (see decoder.ts). */
  maxIncomingPacketSize?: number;
}

export type MqttEvent =
  | { type: 'connected'; sessionPresent: boolean }
  /** The connection is over. `returnCode` is set when the broker refused the CONNECT. */
  | { type: 'disconnected'; reason: string; returnCode?: ConnackReturnCode }
  /** `payload` is a view of a buffer owned by this packet only; it stays valid. */
  | { type: 'message'; topic: string; payload: Uint8Array; qos: PublishQoS; retain: boolean; dup: boolean }
  /** A QoS 1 message was acknowledged by the broker. */
  | { type: 'published'; packetId: number }
  /**
   * Per filter: the granted QoS, or 0x80 (SUBACK_FAILURE) when the broker refused it. Also
   * reported for the SUBSCRIBE the session sends itself to restore subscriptions.
   */
  | { type: 'subscribed'; packetId: number; granted: SubackReturnCode[] }
  | { type: 'unsubscribed'; packetId: number }
  /** The broker broke the protocol; a 'disconnected' event follows. */
  | { type: 'error'; message: string };

export interface MqttOutput {
  /** Bytes to write to the socket, in this order. */
  send: Uint8Array[];
  events: MqttEvent[];
  /** The session has ended the connection: close the socket (closing twice is harmless). */
  closeSocket: boolean;
  /** When to call tick(), on the caller's ms timeline; undefined: no timer needed. */
  nextDeadline: number | undefined;
}

export interface PublishOptions {
  /** Default 0. */
  qos?: PublishQoS;
  /** Default false. */
  retain?: boolean;
}

export type MqttSessionState = 'disconnected' | 'connecting' | 'connected';

/** A QoS 1 message held until its PUBACK. */
interface HeldMessage {
  packetId: number;
  /** The encoded PUBLISH; the DUP bit is set in place for redelivery. */
  bytes: Uint8Array;
  /** Sent on some connection before. */
  sentBefore: boolean;
  /** Sent on the current connection and awaiting PUBACK. */
  inFlight: boolean;
}

/**
 * A SUBSCRIBE or UNSUBSCRIBE awaiting its acknowledgement; sent again after a reconnect.
 * `restore` marks the session's own SUBSCRIBE that restores subscriptions on a new session.
 */
type PendingRequest =
  | { kind: 'subscribe'; subscriptions: Subscription[]; bytes: Uint8Array; restore: boolean }
  | { kind: 'unsubscribe'; filters: string[]; bytes: Uint8Array };

const DUP_FLAG = 0x08;
const PINGREQ = encodePacket({ type: 'pingreq' });
const DISCONNECT = encodePacket({ type: 'disconnect' });

function positiveInteger(value: number, name: string, min = 1): number {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

export class MqttSession {
  private readonly clientId: string;
  private readonly cleanSession: boolean;
  private readonly keepAliveSeconds: number;
  private readonly keepAliveMs: number;
  private readonly pingTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly will: Will | undefined;
  private readonly maxInflight: number;
  private readonly maxHeld: number;
  private readonly maxQueuedBytes: number;
  private readonly maxSubscriptions: number;
  private readonly maxPendingRequests: number;
  private username: string | undefined;
  private password: Uint8Array | undefined;

  private readonly decoder: MqttDecoder;
  private readonly packetIds = new PacketIdAllocator();
  /** QoS 1 messages in publish order; while connected the first maxInflight are in flight. */
  private readonly held: HeldMessage[] = [];
  private heldBytes = 0;
  /** Filter -> QoS of every subscription the application wants, to restore on a new session. */
  private readonly wanted = new Map<string, PublishQoS>();
  private readonly requests = new Map<number, PendingRequest>();

  private currentState: MqttSessionState = 'disconnected';
  private connectDeadline: number | undefined;
  private lastSentAt = 0;
  private lastReceivedAt = 0;
  private pingSentAt: number | undefined;

  /** The output of the call in progress, and its time. */
  private out: MqttOutput = MqttSession.emptyOutput();
  private now = 0;

  constructor(options: MqttSessionOptions) {
    this.clientId = options.clientId;
    this.cleanSession = options.cleanSession ?? true;
    this.keepAliveSeconds = options.keepAliveSeconds ?? 60;
    if (!Number.isInteger(this.keepAliveSeconds) || this.keepAliveSeconds < 0 || this.keepAliveSeconds > 65_535) {
      throw new RangeError(`keepAliveSeconds must be an integer in 0..65535, got ${this.keepAliveSeconds}`);
    }
    this.keepAliveMs = this.keepAliveSeconds * 1000;
    this.pingTimeoutMs = options.pingTimeoutMs ?? this.keepAliveMs / 2;
    if (this.keepAliveMs > 0 && !(this.pingTimeoutMs > 0 && this.pingTimeoutMs <= this.keepAliveMs / 2)) {
      throw new RangeError(`pingTimeoutMs must be in (0, ${this.keepAliveMs / 2}] (half the keepalive), got ${this.pingTimeoutMs}`);
    }
    this.connectTimeoutMs = positiveInteger(options.connectTimeoutMs ?? 10_000, 'connectTimeoutMs');
    this.username = options.username;
    this.password = options.password;
    this.will = options.will;
    this.maxInflight = positiveInteger(options.maxInflight ?? 16, 'maxInflight');
    this.maxHeld = this.maxInflight + positiveInteger(options.maxPending ?? 32, 'maxPending', 0);
    this.maxQueuedBytes = positiveInteger(options.maxQueuedBytes ?? 32_768, 'maxQueuedBytes');
    this.maxSubscriptions = positiveInteger(options.maxSubscriptions ?? 32, 'maxSubscriptions', 0);
    this.maxPendingRequests = positiveInteger(options.maxPendingRequests ?? 8, 'maxPendingRequests');
    this.decoder = new MqttDecoder({ maxPacketSize: options.maxIncomingPacketSize ?? DEFAULT_MAX_PACKET_SIZE });
    this.encodeConnect(this.username, this.password); // fail now, not at the first connect(), on a bad client id, will or credentials
  }

  get state(): MqttSessionState {
    return this.currentState;
  }

  /** QoS 1 messages held (in flight and pending). */
  get queuedMessages(): number {
    return this.held.length;
  }

  /** Encoded bytes of the held QoS 1 messages; at most maxQueuedBytes. */
  get queuedBytes(): number {
    return this.heldBytes;
  }

  /** QoS 1 messages sent on this connection and awaiting PUBACK. */
  get inFlight(): number {
    return this.held.filter((message) => message.inFlight).length;
  }

  /** Subscriptions the session keeps and restores: filter -> QoS. */
  get subscriptions(): ReadonlyMap<string, PublishQoS> {
    return this.wanted;
  }

  /**
   * The socket is open: sends CONNECT. `credentials` replace the user name and password for
   * this and later connections (a renewed SAS token, for instance).
   */
  connect(nowMs: number, credentials?: { username?: string; password?: Uint8Array }): MqttOutput {
    if (this.currentState !== 'disconnected') {
      throw new MqttSessionError('invalid-state', `connect() while ${this.currentState}; the connection must end first`);
    }
    const { username, password } = credentials ?? { username: this.username, password: this.password };
    const connect = this.encodeConnect(username, password); // throws before anything changes
    this.username = username;
    this.password = password;
    this.begin(nowMs);
    this.decoder.reset();
    this.currentState = 'connecting';
    this.connectDeadline = nowMs + this.connectTimeoutMs;
    this.lastReceivedAt = nowMs;
    this.pingSentAt = undefined;
    this.transmit(connect);
    return this.finish();
  }

  /** Bytes arrived from the socket, in any split. */
  received(bytes: Uint8Array, nowMs: number): MqttOutput {
    this.begin(nowMs);
    if (this.currentState === 'disconnected') return this.finish(); // late bytes of a closed connection
    // Any byte shows the connection is alive, which is what a ping asks.
    this.lastReceivedAt = nowMs;
    this.pingSentAt = undefined;
    let packets: MqttPacket[];
    try {
      packets = this.decoder.push(bytes);
    } catch (error) {
      if (!(error instanceof MqttProtocolError)) throw error;
      this.protocolError(error.message);
      return this.finish();
    }
    for (const packet of packets) {
      this.handle(packet);
      if (this.hasEnded()) break; // the rest belongs to a connection that is over
    }
    return this.finish();
  }

  /** The timer set for nextDeadline fired (calling it early or late is harmless). */
  tick(nowMs: number): MqttOutput {
    this.begin(nowMs);
    if (this.currentState === 'connecting') {
      if (this.connectDeadline !== undefined && nowMs >= this.connectDeadline) this.endConnection('connect timeout');
    } else if (this.currentState === 'connected' && this.keepAliveMs > 0) {
      if (this.pingSentAt !== undefined) {
        if (nowMs >= this.pingSentAt + this.pingTimeoutMs) this.endConnection('ping timeout');
      } else if (nowMs >= this.pingDueAt()) {
        this.transmit(PINGREQ);
        this.pingSentAt = nowMs;
      }
    }
    return this.finish();
  }

  /**
   * Publishes a message. QoS 0 is sent at once and needs a live connection. QoS 1 is queued
   * (sent at once when the window and connection allow) and reported by a 'published' event
   * carrying the returned packetId. Throws MqttSessionError ('not-connected', 'queue-full',
   * 'too-large') or MqttProtocolError (invalid topic) and then nothing was queued.
   */
  publish(topic: string, payload: Uint8Array, options: PublishOptions, nowMs: number): MqttOutput & { packetId: number | undefined } {
    const qos = options.qos ?? 0;
    const retain = options.retain ?? false;
    if (qos === 0) {
      const bytes = encodePacket({ type: 'publish', topic, payload, qos, retain, dup: false });
      if (this.currentState !== 'connected') {
        throw new MqttSessionError('not-connected', 'QoS 0 messages are sent only while connected and never queued; use QoS 1 to queue');
      }
      this.begin(nowMs);
      this.transmit(bytes);
      return { ...this.finish(), packetId: undefined };
    }
    if (this.held.length >= this.maxHeld) {
      throw new MqttSessionError('queue-full', `${this.held.length} QoS 1 messages already await PUBACK or their turn (maximum ${this.maxHeld})`);
    }
    const encode = (id: number): Uint8Array => {
      const bytes = encodePacket({ type: 'publish', topic, payload, qos, retain, dup: false, packetId: id });
      if (bytes.length > this.maxQueuedBytes) {
        throw new MqttSessionError('too-large', `a ${bytes.length}-byte PUBLISH cannot fit the ${this.maxQueuedBytes}-byte QoS 1 queue`);
      }
      if (this.heldBytes + bytes.length > this.maxQueuedBytes) {
        throw new MqttSessionError('queue-full', `the QoS 1 queue holds ${this.heldBytes} of ${this.maxQueuedBytes} bytes; this ${bytes.length}-byte message does not fit`);
      }
      return bytes;
    };
    const packetId = this.withPacketId(encode, (id, bytes) => {
      this.begin(nowMs);
      this.held.push({ packetId: id, bytes, sentBefore: false, inFlight: false });
      this.heldBytes += bytes.length;
      this.fillWindow();
    });
    return { ...this.finish(), packetId };
  }

  /**
   * Subscribes (QoS 0 or 1 per filter) and remembers the filters, to restore them whenever a
   * broker has no session for us. Sent now when connected, else on connection. A 'subscribed'
   * event with the returned packetId reports the grants.
   */
  subscribe(subscriptions: { filter: string; qos: PublishQoS }[], nowMs: number): MqttOutput & { packetId: number } {
    for (const { qos } of subscriptions) {
      if (qos !== 0 && qos !== 1) throw new MqttProtocolError(`SUBSCRIBE: requested QoS ${qos} is not 0 or 1 (QoS 2 is not supported)`);
    }
    this.checkRequestRoom();
    const added = new Set(subscriptions.map(({ filter }) => filter).filter((filter) => !this.wanted.has(filter)));
    if (this.wanted.size + added.size > this.maxSubscriptions) {
      throw new MqttSessionError('limit-reached', `subscribing would keep ${this.wanted.size + added.size} subscriptions (maximum ${this.maxSubscriptions})`);
    }
    const copies = subscriptions.map(({ filter, qos }) => ({ filter, qos }));
    const packetId = this.withPacketId((id) => encodePacket({ type: 'subscribe', packetId: id, subscriptions: copies }), (id, bytes) => {
      this.begin(nowMs);
      this.addRequest(id, { kind: 'subscribe', subscriptions: copies, bytes, restore: false });
      for (const { filter, qos } of copies) this.wanted.set(filter, qos);
    });
    return { ...this.finish(), packetId };
  }

  /** Unsubscribes and forgets the filters. An 'unsubscribed' event reports the acknowledgement. */
  unsubscribe(filters: string[], nowMs: number): MqttOutput & { packetId: number } {
    this.checkRequestRoom();
    const copies = [...filters];
    const packetId = this.withPacketId((id) => encodePacket({ type: 'unsubscribe', packetId: id, filters: copies }), (id, bytes) => {
      this.begin(nowMs);
      this.addRequest(id, { kind: 'unsubscribe', filters: copies, bytes });
      for (const filter of copies) this.wanted.delete(filter);
    });
    return { ...this.finish(), packetId };
  }

  /** Ends the connection cleanly: sends DISCONNECT (so the broker drops the will) and asks to close. */
  disconnect(nowMs: number): MqttOutput {
    this.begin(nowMs);
    if (this.currentState !== 'disconnected') {
      this.transmit(DISCONNECT);
      this.endConnection('client disconnect');
    }
    return this.finish();
  }

  /** The socket closed or failed. */
  connectionLost(reason: string, nowMs: number): MqttOutput {
    this.begin(nowMs);
    if (this.currentState !== 'disconnected') this.endConnection(reason);
    return this.finish();
  }

  /** When tick() must be called next, or undefined when no timer is needed. */
  nextDeadline(): number | undefined {
    if (this.currentState === 'connecting') return this.connectDeadline;
    if (this.currentState !== 'connected' || this.keepAliveMs === 0) return undefined;
    return this.pingSentAt !== undefined ? this.pingSentAt + this.pingTimeoutMs : this.pingDueAt();
  }

  // ---- internals ----

  private encodeConnect(username: string | undefined, password: Uint8Array | undefined): Uint8Array {
    return encodePacket({
      type: 'connect',
      clientId: this.clientId,
      cleanSession: this.cleanSession,
      keepAliveSeconds: this.keepAliveSeconds,
      username,
      password,
      will: this.will,
    });
  }

  private static emptyOutput(): MqttOutput {
    return { send: [], events: [], closeSocket: false, nextDeadline: undefined };
  }

  private begin(nowMs: number): void {
    this.now = nowMs;
    this.out = MqttSession.emptyOutput();
  }

  private finish(): MqttOutput {
    const out = this.out;
    out.nextDeadline = this.nextDeadline();
    this.out = MqttSession.emptyOutput();
    return out;
  }

  /** A method, not a comparison, because handle() changes the state behind TypeScript's narrowing. */
  private hasEnded(): boolean {
    return this.currentState === 'disconnected';
  }

  private transmit(bytes: Uint8Array): void {
    this.out.send.push(bytes);
    this.lastSentAt = this.now;
  }

  private emit(event: MqttEvent): void {
    this.out.events.push(event);
  }

  /**
   * A ping is due when nothing was sent for a keepalive (the broker's requirement) or nothing
   * was received for one (so a silent, half-open connection is noticed even while sending).
   */
  private pingDueAt(): number {
    return Math.min(this.lastSentAt, this.lastReceivedAt) + this.keepAliveMs;
  }

  private checkRequestRoom(): void {
    if (this.requests.size >= this.maxPendingRequests) {
      throw new MqttSessionError('limit-reached', `${this.requests.size} SUBSCRIBE/UNSUBSCRIBE requests already await acknowledgement (maximum ${this.maxPendingRequests})`);
    }
  }

  /**
   * Allocates a packet id and encodes with it; if encoding fails (invalid topic or filter) the
   * id is released and the error thrown before `use` changes any state.
   */
  private withPacketId(encode: (packetId: number) => Uint8Array, use: (packetId: number, bytes: Uint8Array) => void): number {
    const packetId = this.packetIds.allocate();
    let bytes: Uint8Array;
    try {
      bytes = encode(packetId);
    } catch (error) {
      this.packetIds.release(packetId);
      throw error;
    }
    use(packetId, bytes);
    return packetId;
  }

  /** Records a SUBSCRIBE/UNSUBSCRIBE until acknowledged; sends it now when connected. */
  private addRequest(packetId: number, request: PendingRequest): void {
    this.requests.set(packetId, request);
    if (this.currentState === 'connected') this.transmit(request.bytes);
  }

  private handle(packet: MqttPacket): void {
    if (this.currentState === 'connecting') {
      if (packet.type === 'connack') this.handleConnack(packet);
      else this.protocolError(`expected CONNACK first, received ${packet.type.toUpperCase()} [MQTT-3.2.0-1]`);
      return;
    }
    switch (packet.type) {
      case 'publish':
        this.handlePublish(packet);
        break;
      case 'puback':
        this.handlePuback(packet.packetId);
        break;
      case 'suback':
        this.handleSuback(packet);
        break;
      case 'unsuback':
        this.handleUnsuback(packet.packetId);
        break;
      case 'pingresp':
        break; // received() has already noted that the connection is alive
      case 'connack':
        this.protocolError('a second CONNACK arrived on the same connection');
        break;
      default:
        this.protocolError(`the server sent ${packet.type.toUpperCase()}, which only clients send`);
    }
  }

  private handleConnack(packet: ConnackPacket): void {
    if (packet.returnCode !== 0) {
      this.endConnection(CONNACK_REFUSAL_REASONS[packet.returnCode], packet.returnCode);
      return;
    }
    this.currentState = 'connected';
    this.connectDeadline = undefined;
    this.emit({ type: 'connected', sessionPresent: packet.sessionPresent });
    // Subscriptions first, so replies to messages published below find them in place.
    const restoring = this.cleanSession || !packet.sessionPresent;
    if (restoring) this.forgetRestoringRequest(); // the new one below replaces it
    const unacknowledged = [...this.requests.values()];
    if (restoring) this.restoreSubscriptions();
    for (const request of unacknowledged) this.transmit(request.bytes);
    this.fillWindow();
  }

  /** Drops an unacknowledged restoring SUBSCRIBE, so that there is never more than one. */
  private forgetRestoringRequest(): void {
    for (const [packetId, request] of this.requests) {
      if (request.kind === 'subscribe' && request.restore) {
        this.requests.delete(packetId);
        this.packetIds.release(packetId);
      }
    }
  }

  /** Sends one SUBSCRIBE for every wanted filter that no unacknowledged SUBSCRIBE already carries. */
  private restoreSubscriptions(): void {
    const requested = new Set<string>();
    for (const request of this.requests.values()) {
      if (request.kind === 'subscribe') for (const { filter } of request.subscriptions) requested.add(filter);
    }
    const missing: Subscription[] = [];
    for (const [filter, qos] of this.wanted) if (!requested.has(filter)) missing.push({ filter, qos });
    if (missing.length === 0) return;
    const packetId = this.packetIds.allocate();
    const request: PendingRequest = { kind: 'subscribe', subscriptions: missing, bytes: encodePacket({ type: 'subscribe', packetId, subscriptions: missing }), restore: true };
    this.requests.set(packetId, request);
    this.transmit(request.bytes);
  }

  /** Sends held messages until maxInflight are in flight. */
  private fillWindow(): void {
    if (this.currentState !== 'connected') return;
    const end = Math.min(this.maxInflight, this.held.length);
    for (let i = 0; i < end; i++) {
      const message = this.held[i];
      if (message.inFlight) continue;
      if (message.sentBefore && !this.cleanSession) message.bytes[0] |= DUP_FLAG;
      message.sentBefore = true;
      message.inFlight = true;
      this.transmit(message.bytes);
    }
  }

  private handlePublish(packet: PublishPacket): void {
    const { topic, payload, qos, retain, dup } = packet;
    this.emit({ type: 'message', topic, payload, qos, retain, dup });
    if (qos === 1) this.transmit(encodePacket({ type: 'puback', packetId: packet.packetId as number }));
  }

  private handlePuback(packetId: number): void {
    const index = this.held.findIndex((message) => message.packetId === packetId && message.inFlight);
    if (index < 0) return; // nothing awaits this id: a stale or duplicate acknowledgement
    const [message] = this.held.splice(index, 1);
    this.heldBytes -= message.bytes.length;
    this.packetIds.release(packetId);
    this.emit({ type: 'published', packetId });
    this.fillWindow();
  }

  private handleSuback(packet: SubackPacket): void {
    const request = this.requests.get(packet.packetId);
    if (request === undefined || request.kind !== 'subscribe') return;
    if (packet.returnCodes.length !== request.subscriptions.length) {
      this.protocolError(`SUBACK ${packet.packetId} has ${packet.returnCodes.length} return codes for ${request.subscriptions.length} topic filters`);
      return;
    }
    this.requests.delete(packet.packetId);
    this.packetIds.release(packet.packetId);
    // A refused filter is forgotten, or every reconnect would ask for it again.
    request.subscriptions.forEach(({ filter }, i) => {
      if (packet.returnCodes[i] === SUBACK_FAILURE) this.wanted.delete(filter);
    });
    this.emit({ type: 'subscribed', packetId: packet.packetId, granted: packet.returnCodes });
  }

  private handleUnsuback(packetId: number): void {
    const request = this.requests.get(packetId);
    if (request === undefined || request.kind !== 'unsubscribe') return;
    this.requests.delete(packetId);
    this.packetIds.release(packetId);
    this.emit({ type: 'unsubscribed', packetId });
  }

  private protocolError(message: string): void {
    this.emit({ type: 'error', message });
    this.endConnection(`protocol error: ${message}`);
  }

  /** Ends the current connection: one 'disconnected' event per connect(). */
  private endConnection(reason: string, returnCode?: ConnackReturnCode): void {
    this.currentState = 'disconnected';
    this.connectDeadline = undefined;
    this.pingSentAt = undefined;
    for (const message of this.held) message.inFlight = false;
    this.decoder.reset();
    this.out.closeSocket = true;
    this.emit(returnCode === undefined ? { type: 'disconnected', reason } : { type: 'disconnected', reason, returnCode });
  }
}
