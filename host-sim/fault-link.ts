/**
 * A TCP link between devices and a broker that faults can be injected into: connections
 * dropped, traffic black-holed (a half-open connection: the socket stays up, nothing
 * arrives), new connections refused. It forwards bytes as they are, so TLS passes through.
 * Scenario scripts and tests put it in front of the broker on loopback.
 */
import * as net from 'node:net';

export class FaultLink {
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private blackholed = false;
  private refusing = false;
  /** Connections accepted so far. */
  connections = 0;

  private constructor(
    private readonly server: net.Server,
    readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<FaultLink> {
    const server = net.createServer();
    const link = new FaultLink(server, target);
    server.on('connection', (device) => link.accept(device));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return link;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Breaks every open connection, as a NAT timeout or a broker crash would. */
  dropAll(): void {
    for (const [device, broker] of this.pairs) {
      device.destroy();
      broker.destroy();
    }
    this.pairs.clear();
  }

  /** While on, bytes in both directions vanish; connections stay open (half-open). */
  blackhole(on: boolean): void {
    this.blackholed = on;
  }

  /** While on, new connections are closed as soon as they are accepted. */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(device: net.Socket): void {
    this.connections++;
    if (this.refusing) {
      device.destroy();
      return;
    }
    const broker = net.connect(this.target);
    const pair: [net.Socket, net.Socket] = [device, broker];
    this.pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (data) => {
        if (!this.blackholed && !to.destroyed) to.write(data);
      });
    forward(device, broker);
    forward(broker, device);
    const end = () => {
      this.pairs.delete(pair);
      device.destroy();
      broker.destroy();
    };
    device.on('close', end).on('error', end);
    broker.on('close', end).on('error', end);
  }
}
