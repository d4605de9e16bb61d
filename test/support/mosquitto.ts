/**
 * A real mosquitto broker for tests, on a loopback port, with mutual TLS
 * (`require_certificate true`) from a development PKI made at test time. `.ci/run`
 * installs the Debian package; when it is missing the tests fail and say how to install it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { developmentPki, type DevelopmentPki } from '../../host-sim/tls/certificates';

export function mosquittoPath(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
    const candidate = path.join(dir, 'mosquitto');
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error('mosquitto is not installed: apt-get install -y mosquitto (as .ci/run does)');
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** mosquitto drops to the `mosquitto` user before reading its key: let that user read the PKI. */
function shareWithMosquitto(pki: DevelopmentPki): void {
  if (process.getuid?.() !== 0) return;
  const gid = Number(require('node:child_process').execFileSync('id', ['-g', 'mosquitto']).toString().trim());
  chmodSync(pki.dir, 0o755);
  for (const file of [pki.ca.cert, pki.server.cert, pki.server.key]) {
    chownSync(file, 0, gid);
    chmodSync(file, 0o640);
  }
}

export class Mosquitto {
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly pki: DevelopmentPki,
  ) {}

  static async start(): Promise<Mosquitto> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'thingkit-mosquitto-'));
    chmodSync(dir, 0o755);
    const pki = developmentPki(path.join(dir, 'pki'));
    shareWithMosquitto(pki);
    const broker = new Mosquitto(dir, await freePort(), pki);
    writeFileSync(
      path.join(dir, 'mosquitto.conf'),
      [
        `listener ${broker.port} 127.0.0.1`,
        `cafile ${pki.ca.cert}`,
        `certfile ${pki.server.cert}`,
        `keyfile ${pki.server.key}`,
        'require_certificate true',
        'use_identity_as_username true',
        'allow_anonymous false',
        'tls_version tlsv1.2',
        'persistence false',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        '',
      ].join('\n'),
    );
    await broker.run();
    return broker;
  }

  get url(): string {
    return `mqtts://127.0.0.1:${this.port}`;
  }

  /** Stops the broker process (connections drop) and starts it again on the same port. */
  async restart(): Promise<void> {
    await this.kill();
    await this.run();
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async run(): Promise<void> {
    const child = spawn(mosquittoPath(), ['-c', path.join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr!.on('data', (chunk: Buffer) => (this.log = (this.log + chunk.toString()).slice(-4000)));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited (${child.exitCode}): ${this.log.trim()}`);
      const up = await new Promise<boolean>((resolve) => {
        const socket = net.connect({ host: '127.0.0.1', port: this.port });
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      });
      if (up) return;
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${this.port} within 10 s: ${this.log.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await gone;
  }
}
