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
  /** Sees every accepted connection (the simulator watches them to know when the broker is idle). */
  observeConnection?: (socket: net.Socket) => void;
}

export interface EmbeddedBroker {
  /** The broker of the moment (a restart makes a new one). */
  readonly aedes: Aedes;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** Stops the broker (every connection drops, sessions are lost) and starts a fresh one on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

interface Running {
  aedes: Aedes;
  server: net.Server;
  connections: Set<net.Socket>;
}

async function listen(options: EmbeddedBrokerOptions, port: number): Promise<Running> {
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
    socket.setNoDelay(true); // MQTT answers are small: Nagle would hold them until the device sends again
    options.observeConnection?.(socket);
    socket.on('close', () => connections.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `port ${port} is in use: stop what uses it or choose another port`
            : `cannot start the embedded broker: ${error.message}`,
        ),
      ),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { aedes, server, connections };
}

async function shutdown(running: Running): Promise<void> {
  for (const socket of running.connections) socket.destroy();
  await new Promise<void>((resolve) => running.server.close(() => resolve()));
  await new Promise<void>((resolve) => running.aedes.close(() => resolve()));
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  let running = await listen(options, options.port ?? 0);
  const port = (running.server.address() as net.AddressInfo).port;
  const scheme = options.tls ? 'mqtts' : 'mqtt';
  return {
    get aedes() {
      return running.aedes;
    },
    host: '127.0.0.1',
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    async restart() {
      await shutdown(running);
      running = await listen(options, port);
    },
    close: () => shutdown(running),
  };
}
