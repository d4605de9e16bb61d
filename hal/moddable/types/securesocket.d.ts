/*
 * Moddable's TLS client socket (documentation/network/securesocket.md,
 * modules/crypt/securesocket/securesocket.js, modules/crypt/ssl/ssl_session.js,
 * modules/crypt/ssl/ssl_cert.js). Written here because @moddable/typings 5.6.0 types the
 * constructor dictionary as `any` and omits the `callback` the socket reports through.
 */
declare module "securesocket" {
  type Bytes = ArrayBuffer | ArrayBufferView;

  export interface SecureOptions {
    /** Minimum TLS version: 0x303 is TLS 1.2 (the highest Moddable implements). */
    protocolVersion?: number;
    /** A trusted CA certificate, DER. */
    certificate?: Bytes;
    /** Client certificate chain, DER, for mutual TLS. */
    clientCertificates?: Bytes[];
    /** Client private key, DER PKCS#8. */
    clientKey?: Bytes;
    /** SNI name; the session uses the dictionary's `host` when absent. */
    serverName?: string;
    /** ALPN protocol name(s), in order of preference. */
    applicationLayerProtocolNegotiation?: string | ArrayBuffer | (string | ArrayBuffer)[];
    /** false skips verification of the server's chain (development only). */
    verify?: boolean;
    trace?: boolean;
    tls_max_fragment_length?: number;
  }

  export interface SecureSocketOptions {
    host?: string;
    address?: string;
    port: number;
    secure?: SecureOptions;
  }

  /** The TCP socket underneath; the secure socket installs its own `callback` on it. */
  export interface UnderlyingSocket {
    callback: (message: number, value?: number) => void;
  }

  export default class SecureSocket {
    constructor(options: SecureSocketOptions);
    /**
     * Set by the user: 1 connected (handshake done), 2 readable (value: bytes),
     * 3 writable (value: bytes), -1 disconnected, -2 error. The socket is unusable after a
     * negative message.
     */
    callback: (message: number, value?: number) => void;
    readonly sock?: UnderlyingSocket;
    /** Bytes available to read. */
    read(): number;
    /** Reads the available bytes (or at most `count`) into a new ArrayBuffer. */
    read(type: ArrayBufferConstructor, count?: number): ArrayBuffer | undefined;
    /** How many bytes one `write` call may take (1024: one TLS record per call). */
    write(): number;
    /** Encrypts and sends; throws when the data exceeds what `write()` reports. */
    write(...data: (Bytes | string | number)[]): void;
    close(): void;
  }
}
