/**
 * The MQTT client's shell: connects the sans-I/O `MqttSession` to the HAL's socket and
 * timers, and reconnects with `ReconnectBackoff` after every kind of disconnection.
 * `reconnect()` ends the connection on purpose and connects again at once (to present a
 * renewed SAS token, for instance); held QoS 1 messages survive it like any other
 * disconnection, because the session keeps them until their PUBACK.
 */
import type { Hal, Socket, TimerId, TlsOptions } from '../../../hal';
import { ReconnectBackoff, type ReconnectBackoffOptions } from './backoff';
import type { ConnackReturnCode, PublishQoS } from './packets';
import { MqttSession, type MqttEvent, type MqttOutput, type MqttSessionOptions, type PublishOptions } from './session';

export interface MqttClientOptions extends MqttSessionOptions {
  host: string;
  port: number;
  /** TLS settings; absent means plain TCP, which is logged as a warning on every connect. */
  tls?: TlsOptions;
  backoff?: Omit<ReconnectBackoffOptions, 'random'>;
  /**
   * Called before every CONNECT; its user name and password replace `username` and
   * `password` for that connection (a SAS token that expires must be made fresh each time).
   * If it throws, the attempt fails like a refused connection and is retried with backoff.
   */
  credentials?: () => { username?: string; password?: Uint8Array };
}

export interface MqttClientHandlers {
  onConnected?(sessionPresent: boolean): void;
  /** `returnCode` is set when the broker refused the CONNECT (4: bad user name or password, 5: not authorized). */
  onDisconnected?(reason: string, retryInMs: number, returnCode?: ConnackReturnCode): void;
  onMessage?(topic: string, payload: Uint8Array, qos: PublishQoS): void;
  onPublished?(packetId: number): void;
}

type ClientState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'stopped';

export class MqttClient {
  private readonly session: MqttSession;
  private readonly backoff: ReconnectBackoff;
  private socket: Socket | undefined;
  private state: ClientState = 'idle';
  private tickTimer: TimerId | undefined;
  private retryTimer: TimerId | undefined;
  private connectTimer: TimerId | undefined;
  /** Why the current connection is being ended on purpose by reconnect(); the next attempt starts at once. */
  private plannedReason: string | undefined;

  constructor(
    private readonly hal: Hal,
    private readonly options: MqttClientOptions,
    private readonly handlers: MqttClientHandlers = {},
  ) {
    this.session = new MqttSession(options);
    this.backoff = new ReconnectBackoff({
      ...options.backoff,
      random: () => {
        const bytes = hal.crypto.randomBytes(4);
        return (((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0) / 2 ** 32;
      },
    });
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** Connects, and keeps reconnecting until `stop()`. */
  start(): void {
    if (this.state === 'idle') this.open();
  }

  /** Publishes now (QoS 0 needs a connection) or holds a QoS 1 message until it is acknowledged. */
  publish(topic: string, payload: Uint8Array, options: PublishOptions = {}): number | undefined {
    const out = this.session.publish(topic, payload, options, this.hal.clock.now());
    this.apply(out);
    return out.packetId;
  }

  subscribe(filters: { filter: string; qos: PublishQoS }[]): number {
    const out = this.session.subscribe(filters, this.hal.clock.now());
    this.apply(out);
    return out.packetId;
  }

  /**
   * Ends the connection on purpose (DISCONNECT, then close) and connects again at once,
   * without backoff; `credentials` is called again for the new CONNECT. Unacknowledged
   * QoS 1 messages are sent again on the new connection. While waiting to retry, it
   * connects now; before start() or after stop() it does nothing.
   */
  reconnect(reason = 'planned reconnect'): void {
    if (this.state === 'idle' || this.state === 'stopped') return;
    if (this.state === 'waiting') {
      this.clearTimers();
      this.open();
      return;
    }
    this.plannedReason = reason;
    const out = this.session.disconnect(this.hal.clock.now());
    const reported = out.events.some((event) => event.type === 'disconnected');
    this.apply(out);
    if (!reported) this.scheduleRetry(reason); // the socket was not up yet: no session to end
  }

  /** Disconnects cleanly and stops reconnecting. */
  stop(): void {
    if (this.state === 'stopped') return;
    if (this.state === 'connected') this.apply(this.session.disconnect(this.hal.clock.now()));
    this.state = 'stopped';
    this.clearTimers();
    this.closeSocket();
  }

  private open(): void {
    const { host, port, tls } = this.options;
    this.state = 'connecting';
    if (!tls) this.hal.log.write('warn', `MQTT to ${host}:${port} without TLS: use it on a development network only`);
    else if (tls.verify === false) this.hal.log.write('warn', `MQTT TLS to ${host}:${port} without certificate verification`);
    const connectTimeoutMs = this.options.connectTimeoutMs ?? 10_000;
    this.connectTimer = this.hal.timers.set(() => {
      this.connectTimer = undefined;
      this.lost(`no connection to ${host}:${port} within ${connectTimeoutMs} ms`);
    }, connectTimeoutMs);
    try {
      this.socket = this.hal.net.connect(
        // The socket may take as long as the whole attempt (the timer above also covers CONNACK).
        { host, port, tls, connectTimeoutMs },
        {
          onConnect: () => {
            this.clearConnectTimer();
            let credentials: { username?: string; password?: Uint8Array } | undefined;
            try {
              credentials = this.options.credentials?.();
            } catch (error) {
              this.closeSocket(); // open, but nothing to say on it
              this.lost(`no credentials for CONNECT: ${(error as Error).message}`);
              return;
            }
            this.apply(this.session.connect(this.hal.clock.now(), credentials));
          },
          onData: (bytes) => this.apply(this.session.received(bytes, this.hal.clock.now())),
          onClose: () => this.lost('the broker closed the connection'),
          onError: (error) => this.lost(`${error.code}: ${error.message}`),
        },
      );
    } catch (error) {
      this.lost((error as Error).message);
    }
  }

  /** The socket is gone (or must go): tell the session, then plan the next attempt. */
  private lost(reason: string): void {
    // Closed, not just forgotten: after a connect timeout the handshake may still finish, and
    // its onConnect would start a CONNECT in the middle of the next attempt.
    this.closeSocket();
    if (this.state === 'stopped' || this.state === 'waiting') return;
    const out = this.session.connectionLost(reason, this.hal.clock.now());
    const reported = out.events.some((event) => event.type === 'disconnected');
    this.apply(out);
    if (!reported) this.scheduleRetry(reason);
  }

  private scheduleRetry(reason: string, returnCode?: ConnackReturnCode): void {
    this.clearTimers();
    this.closeSocket();
    const planned = this.plannedReason;
    this.plannedReason = undefined;
    if (this.state === 'stopped') return;
    this.state = 'waiting';
    // A planned reconnect is not a failure: no backoff, and the attempt counter is left alone.
    const delay = planned !== undefined ? 0 : this.backoff.disconnected(this.hal.clock.now());
    if (planned !== undefined) this.handlers.onDisconnected?.(planned, delay);
    else if (returnCode === undefined) this.handlers.onDisconnected?.(reason, delay);
    else this.handlers.onDisconnected?.(reason, delay, returnCode);
    if (this.state !== 'waiting') return; // the handler stopped the client (or reconnected it)
    this.retryTimer = this.hal.timers.set(() => {
      this.retryTimer = undefined;
      this.open();
    }, delay);
  }

  private apply(out: MqttOutput): void {
    let writeFailure: string | undefined;
    for (const bytes of out.send) {
      if (!this.socket) break;
      try {
        this.socket.write(bytes);
      } catch (error) {
        writeFailure = (error as Error).message;
        break;
      }
    }
    // Events first, even when a write failed: a 'published' or 'message' event must not be lost.
    for (const event of out.events) this.dispatch(event);
    if (writeFailure !== undefined) return this.lost(writeFailure);
    if (out.closeSocket) this.closeSocket();
    if (this.state === 'connecting' || this.state === 'connected') this.armTick(out.nextDeadline);
  }

  private dispatch(event: MqttEvent): void {
    switch (event.type) {
      case 'connected':
        this.state = 'connected';
        this.backoff.connected(this.hal.clock.now());
        this.handlers.onConnected?.(event.sessionPresent);
        return;
      case 'disconnected':
        this.scheduleRetry(event.reason, event.returnCode);
        return;
      case 'message':
        this.handlers.onMessage?.(event.topic, event.payload, event.qos);
        return;
      case 'published':
        this.handlers.onPublished?.(event.packetId);
        return;
      case 'error':
        this.hal.log.write('error', `MQTT: ${event.message}`);
        return;
      default:
        return;
    }
  }

  private armTick(deadline: number | undefined): void {
    if (this.tickTimer !== undefined) this.hal.timers.clear(this.tickTimer);
    this.tickTimer = undefined;
    if (deadline === undefined) return;
    this.tickTimer = this.hal.timers.set(() => {
      this.tickTimer = undefined;
      this.apply(this.session.tick(this.hal.clock.now()));
    }, Math.max(0, deadline - this.hal.clock.now()));
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== undefined) this.hal.timers.clear(this.connectTimer);
    this.connectTimer = undefined;
  }

  private clearTimers(): void {
    this.clearConnectTimer();
    for (const timer of [this.tickTimer, this.retryTimer]) if (timer !== undefined) this.hal.timers.clear(timer);
    this.tickTimer = this.retryTimer = undefined;
  }

  private closeSocket(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.close();
  }
}
