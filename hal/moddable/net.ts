/**
 * TCP and TLS client sockets over Moddable's socket modules (documentation/network/network.md
 * "Socket", documentation/network/securesocket.md):
 * - host names are resolved first with `System.resolve` (the io manifest's `System` global,
 *   modules/io/system), so a DNS failure is told apart from a connection failure;
 * - TCP: `new Socket({address, port})` from "socket";
 * - TLS: `new SecureSocket({address, port, secure})` from "securesocket" with `secure`
 *   `{protocolVersion: 0x303, serverName, certificate, clientCertificates, clientKey,
 *   applicationLayerProtocolNegotiation, verify}` (modules/crypt/ssl/ssl_session.js and
 *   ssl_cert.js read these names). SNI is `serverName`, which defaults to the host.
 *
 * Both report through `callback(message, value)`: 1 connected, 2 readable (bytes),
 * 3 writable (bytes), -1 disconnected, -2 error. A Moddable socket drops a write that does
 * not fit its buffer (and SecureSocket takes at most 1024 bytes a call), so writes are
 * queued here and sent as the socket reports room. Errors carry no reason, so the HAL's
 * codes come from the phase the failure happens in: before the TCP connection 'unreachable'
 * (refusal, unreachable network and TCP time-out look alike), during the TLS handshake 'tls'
 * (certificate or protocol failure; the TCP connect under TLS is observed on the secure
 * socket's inner socket), after connecting 'reset'; no answer within the socket's
 * `connectTimeoutMs` (CONNECT_TIMEOUT_MS by default) 'timeout'.
 */
import SecureSocket, { type SecureOptions } from "securesocket";
import { Socket as TcpSocket } from "socket";
import Timer from "timer";
import type { Log } from "../log";
import { NetError, type Net as HalNet, type Socket, type SocketHandlers, type SocketOptions } from "../net";

/** Time allowed for DNS, TCP connect and TLS handshake together, unless the socket's options say. */
export const CONNECT_TIMEOUT_MS = 30_000;
/** Bytes a socket queues for sending at most; the peer is stalled beyond it. */
export const MAX_QUEUED_BYTES = 16 * 1024;
/** SecureSocket encrypts at most this many bytes per `write` (modsecuresocket.c). */
export const TLS_WRITE_BYTES = 1024;
/** TLS 1.2, the highest version Moddable's TLS implements. */
export const TLS_PROTOCOL_VERSION = 0x303;

const CONNECTED = 1;
const READABLE = 2;
const WRITABLE = 3;
const DISCONNECTED = -1;
const ERROR = -2;

type Phase = "resolving" | "connecting" | "handshaking" | "open" | "done";

/** What this module needs of both Moddable socket classes. */
interface Transport {
  callback: (message: number, value?: number) => void;
  read(type: ArrayBufferConstructor): ArrayBuffer | undefined;
  write(): number;
  write(data: ArrayBuffer): unknown;
  close(): void;
}

function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    : bytes.slice().buffer;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Runs `fn` on a later turn of the event loop. */
function later(fn: () => void): void {
  Timer.set(fn, 0);
}

/** Lets an exception from a firmware handler surface as an uncaught exception, not as a socket error. */
function rethrowLater(error: unknown): void {
  Timer.set(() => {
    throw error;
  }, 0);
}

class ModdableSocket implements Socket {
  #phase: Phase = "resolving";
  #transport: Transport | undefined;
  #timeout: Timer | undefined;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writable = 0;
  readonly #label: string;

  constructor(
    private readonly options: SocketOptions,
    private readonly handlers: SocketHandlers,
    private readonly log: Log,
  ) {
    this.#label = `${options.tls ? "tls" : "tcp"}://${options.host}:${options.port}`;
    const limitMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.#timeout = Timer.set(() => {
      this.#timeout = undefined;
      this.#fail("timeout", `no connection to ${this.#label} within ${limitMs} ms (${this.#phase})`);
    }, limitMs);
    const host = options.host;
    if (IPV4.test(host)) {
      later(() => this.#connect(host));
      return;
    }
    try {
      System.resolve(host, (_name, address) => {
        if (this.#phase !== "resolving") return;
        if (address) this.#connect(address);
        else this.#fail("dns", `cannot resolve ${host}`);
      });
    } catch (error) {
      later(() => this.#fail("dns", `cannot resolve ${host}: ${messageOf(error)}`));
    }
  }

  write(bytes: Uint8Array): void {
    if (this.#phase === "done") throw new NetError("closed", `socket to ${this.#label} is closed`);
    if (bytes.length === 0) return;
    if (this.#queued + bytes.length > MAX_QUEUED_BYTES) {
      const message = `send queue to ${this.#label} exceeded ${MAX_QUEUED_BYTES} bytes: the peer is not reading`;
      later(() => this.#fail("timeout", message));
      throw new NetError("timeout", message);
    }
    this.#queue.push(bytes.slice());
    this.#queued += bytes.length;
    if (this.#phase === "open") this.#flush();
  }

  close(): void {
    if (this.#phase === "done") return;
    this.#finish();
  }

  #connect(address: string): void {
    if (this.#phase !== "resolving") return;
    this.#phase = "connecting";
    const { port, tls } = this.options;
    let transport: Transport;
    try {
      if (tls) {
        const secure: SecureOptions = {
          protocolVersion: TLS_PROTOCOL_VERSION,
          serverName: tls.serverName ?? this.options.host,
          verify: tls.verify !== false,
        };
        if (tls.verify === false) this.log.write("warn", "TLS certificate verification is off (development only)", { peer: this.#label });
        if (tls.ca && tls.ca.length > 0) {
          secure.certificate = exactBuffer(tls.ca[0]!);
          if (tls.ca.length > 1) this.log.write("warn", "SecureSocket trusts one CA certificate; the others are ignored", { peer: this.#label, given: tls.ca.length });
        }
        if (tls.certificate) secure.clientCertificates = [exactBuffer(tls.certificate)];
        if (tls.key) secure.clientKey = exactBuffer(tls.key);
        if (tls.alpn && tls.alpn.length > 0) secure.applicationLayerProtocolNegotiation = tls.alpn.slice();
        const socket = new SecureSocket({ address, port, secure });
        // The TCP connection under the handshake: a failure after it is a TLS failure.
        const inner = socket.sock;
        if (inner && typeof inner.callback === "function") {
          const forward = inner.callback;
          inner.callback = (message, value) => {
            if (message === CONNECTED && this.#phase === "connecting") this.#phase = "handshaking";
            forward(message, value);
          };
        }
        transport = socket as unknown as Transport;
      } else {
        transport = new TcpSocket({ address, port }) as unknown as Transport;
      }
    } catch (error) {
      this.#fail(tls ? "tls" : "unreachable", `cannot open ${this.#label}: ${messageOf(error)}`);
      return;
    }
    this.#transport = transport;
    transport.callback = (message, value) => this.#onMessage(message, value);
  }

  #onMessage(message: number, value: number | undefined): void {
    if (this.#phase === "done") return;
    const transport = this.#transport;
    if (!transport) return;
    switch (message) {
      case CONNECTED:
        this.#clearTimeout();
        this.#phase = "open";
        this.#writable = transport.write();
        this.#guard(() => this.handlers.onConnect());
        this.#flush();
        return;
      case READABLE: {
        const buffer = transport.read(ArrayBuffer);
        if (buffer && buffer.byteLength > 0) this.#guard(() => this.handlers.onData(new Uint8Array(buffer)));
        return;
      }
      case WRITABLE:
        this.#writable = value ?? 0;
        this.#flush();
        return;
      case DISCONNECTED:
        if (this.#phase === "open") this.#finish(true);
        else this.#fail(this.#phase === "handshaking" ? "tls" : "refused", `${this.#label} closed the connection while ${this.#phase}`);
        return;
      case ERROR:
      default:
        if (this.#phase === "open") this.#fail("reset", `connection to ${this.#label} broke`);
        else if (this.#phase === "handshaking") this.#fail("tls", `TLS handshake with ${this.#label} failed (certificate, time not set, or protocol)`);
        else this.#fail("unreachable", `cannot connect to ${this.#label}`);
        return;
    }
  }

  #flush(): void {
    const transport = this.#transport;
    if (!transport) return;
    const limit = this.options.tls ? TLS_WRITE_BYTES : Number.POSITIVE_INFINITY;
    try {
      while (this.#queue.length > 0 && this.#writable > 0) {
        const head = this.#queue[0]!;
        const count = Math.min(head.length, this.#writable, limit);
        transport.write(exactBuffer(count === head.length ? head : head.subarray(0, count)));
        this.#writable -= count;
        this.#queued -= count;
        if (count === head.length) this.#queue.shift();
        else this.#queue[0] = head.subarray(count);
      }
    } catch (error) {
      this.#fail("reset", `writing to ${this.#label} failed: ${messageOf(error)}`);
    }
  }

  #guard(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      rethrowLater(error);
    }
  }

  #clearTimeout(): void {
    if (this.#timeout !== undefined) Timer.clear(this.#timeout);
    this.#timeout = undefined;
  }

  /** Ends the socket; reports a clean close to the handlers when `notify`. */
  #finish(notify = false): void {
    this.#phase = "done";
    this.#clearTimeout();
    this.#queue = [];
    this.#queued = 0;
    const transport = this.#transport;
    this.#transport = undefined;
    try {
      transport?.close();
    } catch {
      // Already torn down by Moddable.
    }
    if (notify) this.#guard(() => this.handlers.onClose());
  }

  #fail(code: NetError["code"], message: string): void {
    if (this.#phase === "done") return;
    this.#finish();
    this.#guard(() => this.handlers.onError(new NetError(code, message)));
  }
}

export class ModdableNet implements HalNet {
  constructor(private readonly log: Log) {}

  connect(options: SocketOptions, handlers: SocketHandlers): Socket {
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw new RangeError(`port must be 1 to 65535 (got ${options.port})`);
    }
    return new ModdableSocket(options, handlers, this.log);
  }
}
