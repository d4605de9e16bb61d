/**
 * TCP and TLS client sockets (Moddable: `embedded:io/socket/tcp` and `securesocket`;
 * the ECMA-419 form is `embedded:io/socket/tcp/tls`). Push-style: the HAL calls the
 * handlers; every handler runs on the device's event loop.
 */
export interface TlsOptions {
  /** Trusted CA certificate(s), DER. Verification against it is on unless `verify` is false. */
  ca?: Uint8Array[];
  /** Client certificate (DER) for mutual authentication. */
  certificate?: Uint8Array;
  /** Client private key (DER, PKCS#8). */
  key?: Uint8Array;
  /** SNI host name; defaults to `host`. */
  serverName?: string;
  /** ALPN protocol names, in order of preference. */
  alpn?: string[];
  /** false turns certificate verification off: for development only, and logged on every connect. */
  verify?: boolean;
}

export interface SocketOptions {
  host: string;
  port: number;
  /** Present for TLS (TLS 1.2 on the device); absent for plain TCP. */
  tls?: TlsOptions;
  /**
   * How long DNS, the TCP connect and the TLS handshake may take together before the socket
   * fails with 'timeout'; the HAL's own default when absent (30 s on ESP32).
   */
  connectTimeoutMs?: number;
}

export type NetErrorCode = 'refused' | 'unreachable' | 'dns' | 'tls' | 'reset' | 'timeout' | 'closed';

export class NetError extends Error {
  constructor(
    readonly code: NetErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'NetError';
  }
}

export interface SocketHandlers {
  /** The connection (and TLS handshake) is up. */
  onConnect(): void;
  /** Bytes arrived, in order, in any split. */
  onData(bytes: Uint8Array): void;
  /** The peer closed the connection cleanly. No handler runs after it. */
  onClose(): void;
  /** The connection failed or broke. No handler runs after it. */
  onError(error: NetError): void;
}

export interface Socket {
  /** Queues bytes for sending. Throws `NetError('closed')` after close or error. */
  write(bytes: Uint8Array): void;
  /** Closes the connection; no handler runs after it. Closing twice does nothing. */
  close(): void;
}

export interface Net {
  connect(options: SocketOptions, handlers: SocketHandlers): Socket;
}
