/**
 * The embedded MQTT broker (aedes) that `thingkit sim` starts on loopback when no broker URL
 * is given. Plain TCP by default; TLS when given a key and certificate.
 */
import { Aedes } from 'aedes';
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface EmbeddedBrokerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  tls?: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer; requestCert?: boolean };
}

export interface EmbeddedBroker {
  readonly aedes: Aedes;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker();
  const server = options.tls
    ? tls.createServer(
        {
          key: options.tls.key,
          cert: options.tls.cert,
          ca: options.tls.ca,
          // Asking for a client certificate means requiring one: mutual TLS, as IoT brokers run it.
          requestCert: options.tls.requestCert ?? false,
          rejectUnauthorized: options.tls.requestCert ?? false,
        },
        aedes.handle,
      )
    : net.createServer(aedes.handle);
  const connections = new Set<net.Socket>();
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `port ${options.port} is in use: stop what uses it or choose another port`
            : `cannot start the embedded broker: ${error.message}`,
        ),
      ),
    );
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const scheme = options.tls ? 'mqtts' : 'mqtt';
  return {
    aedes,
    host: '127.0.0.1',
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    async close() {
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}
