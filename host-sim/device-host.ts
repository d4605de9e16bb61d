/**
 * The host side of one device's HAL: answers the firmware's requests with the simulator's
 * resources (virtual timers, real sockets, chip models, the flash image, settings) and turns
 * what happens outside into events for the firmware. Persistent parts (flash, settings,
 * chips) live as long as the device; timers, sockets and digests live for one boot.
 */
import { createHash, createHmac, randomBytes, type Hash } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { BoardDefinition } from '../hal/board';
import type { FlashPartition, PartitionInfo } from '../hal/flash';
import type { KeyValue } from '../hal/kv';
import type { LogFields, LogLevel } from '../hal/log';
import type { TlsOptions } from '../hal/net';
import type { AppState } from '../hal/ota';
import type { HostEvent, HostReply, HostRequest } from '../hal/host/protocol';
import { verifyP256 } from './crypto/ecdsa-p256';
import type { SimI2CBus } from './i2c-bus';
import { LinkShaper, type LinkQuality } from './link-shaper';
import type { NetQuiet } from './net-quiet';
import type { Scheduler } from './scheduler';

/** The device's update slots (the simulated bootloader and otadata); see host-sim/boot. */
export interface OtaHost {
  status(): { running: string; state: AppState; capacity: number };
  open(resume: boolean): { capacity: number };
  write(offset: number, bytes: Uint8Array): void;
  read(offset: number, length: number): Uint8Array;
  complete(byteLength: number): void;
  abort(): void;
  markValid(): void;
  /** Marks the running image invalid; the device then restarts into the other slot. */
  rollback(): void;
}

/** The device's persistent storage, as the flash image provides it. */
export interface DeviceStorage {
  partitions(): PartitionInfo[];
  openPartition(label: string): FlashPartition;
  readonly kv: KeyValue;
}

export interface DeviceHostOptions {
  deviceId: string;
  board: BoardDefinition;
  scheduler: Scheduler;
  netQuiet: NetQuiet;
  buses: SimI2CBus[];
  /** Delivers an event to the running firmware. */
  emit(event: HostEvent): void;
  /** Receives the firmware's log lines and structured events. */
  report(kind: 'log' | 'event', type: string, fields: LogFields & { level?: LogLevel; message?: string }): void;
  /** Free heap as the engine measures it. */
  freeHeap(): number;
  /** Called when the firmware asks to restart. */
  requestRestart(): void;
  /** Called when a flash operation lost the power: the device is off from here on. */
  powerLost(error: Error): void;
  /**
   * Unix ms at simulation time 0 when the network gives the device the time (as SNTP does
   * before a Moddable app starts); absent, the wall clock stays unset until the firmware sets it.
   */
  wallClockAtZero?: number;
}

/** What one boot of the device has: its flash as opened by this boot, and its update slots. */
export interface BootResources {
  storage: DeviceStorage;
  /** Update slots; absent, the OTA requests fail with a clear error. */
  ota?: OtaHost;
}

const MAX_OPEN_SOCKETS = 8;
/** How long a connect takes to fail while the link is down. */
const LINK_DOWN_FAILURE_MS = 100;
const MAX_DIGESTS = 4;
/**
 * A TLS 1.2 handshake's bytes besides the certificates (hellos, key exchange, change cipher
 * spec, finished), each way, for timing a handshake over a thin link.
 */
const TLS_HANDSHAKE_OVERHEAD_BYTES = { up: 400, down: 600 };

export class DeviceHost {
  private bootedAt = 0;
  private wallOffset: number | undefined;
  private linkDown = false;
  private deaf = false;
  /** A thin link's two directions; absent, the link is as fast as loopback. */
  private shaped: { up: LinkShaper; down: LinkShaper } | undefined;
  /** When the last bytes handed to the link each way arrive: later bytes never overtake them, whatever the link becomes. */
  private readonly inFlightUntil = { up: 0, down: 0 };
  /** Counts boots, so an answer scheduled during one boot is not delivered to the next. */
  private bootNumber = 0;
  private readonly timers = new Map<number, number>();
  private readonly sockets = new Map<number, net.Socket>();
  /** Per open socket: fails it as a lost link does. */
  private readonly linkFailures = new Map<number, () => void>();
  private readonly digests = new Map<number, Hash>();
  private readonly partitionViews = new Map<string, FlashPartition>();
  private resources: BootResources | undefined;

  constructor(private readonly options: DeviceHostOptions) {
    this.wallOffset = options.wallClockAtZero;
  }

  /** Milliseconds since this boot, the firmware's `clock.now()`. */
  deviceTime(): number {
    return this.options.scheduler.now() - this.bootedAt;
  }

  /** The network gives the device the time now (as SNTP would), unless its clock is set already. */
  networkTime(wallClockAtZero: number): void {
    this.wallOffset ??= wallClockAtZero;
  }

  /** Whether the device's network link is up (Wi-Fi associated, route to the broker). */
  get linkUp(): boolean {
    return !this.linkDown;
  }

  /**
   * Takes the device's network link down or brings it back, as a Wi-Fi outage does: going
   * down fails every open socket (`unreachable`); while down, every connect fails the same way.
   */
  setLink(up: boolean): void {
    this.linkDown = !up;
    if (up) this.deaf = false;
    if (up) return;
    // Told now, not when Node gets round to the socket's error: virtual time must not pass first.
    for (const fail of [...this.linkFailures.values()]) fail();
  }

  /**
   * A link that loses everything coming in while what the device sends still arrives: the
   * broker gets its publishes and their acknowledgements never come back (an asymmetric
   * fault, the classic cause of duplicates). `setLink(true)` ends it too.
   */
  setDeaf(deaf: boolean): void {
    this.deaf = deaf;
  }

  /**
   * Makes the link thin: bytes each way at `bytesPerSecond`, arriving `latencyMs` after they
   * were sent, and connections taking the handshake's round trips and bytes; `undefined` makes
   * it fast again. What is in flight when the link goes down is lost with it.
   */
  setLinkQuality(quality: LinkQuality | undefined): void {
    this.shaped = quality ? { up: new LinkShaper(quality), down: new LinkShaper(quality) } : undefined;
  }

  get linkQuality(): LinkQuality | undefined {
    return this.shaped?.up.quality;
  }

  /** Unix ms if the device's wall clock has been set. */
  wallTime(): number | undefined {
    return this.wallOffset === undefined ? undefined : this.options.scheduler.now() + this.wallOffset;
  }

  /** Ends the previous boot's timers and sockets and starts the clock for a new boot. */
  beginBoot(resources: BootResources): void {
    this.endBoot();
    this.resources = resources;
    this.bootNumber++;
    this.bootedAt = this.options.scheduler.now();
    this.inFlightUntil.up = this.inFlightUntil.down = 0;
  }

  endBoot(): void {
    for (const handle of this.timers.values()) this.options.scheduler.cancel(handle);
    this.timers.clear();
    for (const socket of this.sockets.values()) socket.destroy();
    this.sockets.clear();
    this.linkFailures.clear();
    this.digests.clear();
    this.partitionViews.clear();
    this.resources = undefined;
  }

  handle(request: HostRequest): HostReply {
    try {
      return { value: this.perform(request) };
    } catch (error) {
      if ((error as Error).name === 'PowerCutError') {
        this.options.powerLost(error as Error);
        return { error: { code: 'power', message: 'the power failed' } };
      }
      const code = (error as { code?: string }).code ?? 'error';
      return { error: { code: typeof code === 'string' ? code : 'error', message: (error as Error).message } };
    }
  }

  private perform(request: HostRequest): unknown {
    const o = this.options;
    switch (request.op) {
      case 'clock.setWall':
        this.wallOffset = request.unixMs - o.scheduler.now();
        return undefined;
      case 'timer.set':
        this.startTimer(request.id, request.ms, request.repeat);
        return undefined;
      case 'timer.clear': {
        const handle = this.timers.get(request.id);
        if (handle !== undefined) o.scheduler.cancel(handle);
        this.timers.delete(request.id);
        return undefined;
      }
      case 'i2c.write':
      case 'i2c.read': {
        const bus = o.buses.find((b) => b.definition.port === request.port);
        if (!bus) throw coded('bus', `board ${o.board.name} has no I2C bus ${request.port}`);
        const result =
          request.op === 'i2c.write'
            ? bus.write(request.address, request.bytes, o.scheduler.now())
            : bus.read(request.address, request.count, o.scheduler.now());
        if (!result.ok) throw coded(result.code, result.message);
        return result.bytes;
      }
      case 'net.connect':
        this.connect(request.id, request.host, request.port, request.tls);
        return undefined;
      case 'net.write': {
        const socket = this.sockets.get(request.id);
        if (!socket || socket.destroyed) throw coded('closed', 'the socket is closed');
        const bytes = Buffer.from(request.bytes); // a copy: the firmware may reuse its buffer
        const send = () => {
          if (socket.destroyed) return; // lost with the link, the connection or the boot
          o.netQuiet.wrote();
          socket.write(bytes);
        };
        const arrives = this.arrival('up', bytes.length);
        if (arrives === undefined) send();
        else o.scheduler.at(arrives, send);
        return undefined;
      }
      case 'net.close': {
        const socket = this.sockets.get(request.id);
        this.sockets.delete(request.id);
        // On a thin link what was written before the close still goes out first, as TCP sends it before its FIN.
        const arrives = this.arrival('up', 0);
        if (arrives === undefined) socket?.destroy();
        else o.scheduler.at(arrives, () => socket?.destroy());
        return undefined;
      }
      case 'flash.partitions':
        return this.storage().partitions();
      case 'flash.read':
        return this.partition(request.label).read(request.length, request.offset);
      case 'flash.write':
        this.partition(request.label).write(request.bytes, request.offset);
        return undefined;
      case 'flash.erase':
        this.partition(request.label).eraseBlock(request.index);
        return undefined;
      case 'kv.get':
        return this.storage().kv.get(request.domain, request.key);
      case 'kv.set':
        this.storage().kv.set(request.domain, request.key, request.value);
        return undefined;
      case 'kv.delete':
        this.storage().kv.delete(request.domain, request.key);
        return undefined;
      case 'kv.keys':
        return this.storage().kv.keys(request.domain);
      case 'crypto.sha256.update': {
        let digest = this.digests.get(request.id);
        if (!digest) {
          if (this.digests.size >= MAX_DIGESTS) throw coded('busy', `more than ${MAX_DIGESTS} SHA-256 digests open at once`);
          digest = createHash('sha256');
          this.digests.set(request.id, digest);
        }
        digest.update(request.bytes);
        return undefined;
      }
      case 'crypto.sha256.finish': {
        const digest = this.digests.get(request.id) ?? createHash('sha256');
        this.digests.delete(request.id);
        return new Uint8Array(digest.digest());
      }
      case 'crypto.hmacSha256':
        return new Uint8Array(createHmac('sha256', request.key).update(request.data).digest());
      case 'crypto.ecdsaP256Verify':
        return verifyP256(request.publicKey, request.digest, request.signature);
      case 'crypto.random':
        return new Uint8Array(randomBytes(request.count));
      case 'gpio.digital.read':
        return 0;
      case 'gpio.digital.write':
      case 'serial.write':
        return undefined;
      case 'gpio.analog.read':
        return 0;
      case 'ota.status':
        return this.otaHost().status();
      case 'ota.open':
        return this.otaHost().open(request.resume);
      case 'ota.write':
        this.otaHost().write(request.offset, request.bytes);
        return undefined;
      case 'ota.read':
        return this.otaHost().read(request.offset, request.length);
      case 'ota.complete':
        this.otaHost().complete(request.byteLength);
        return undefined;
      case 'ota.abort':
        this.otaHost().abort();
        return undefined;
      case 'ota.markValid':
        this.otaHost().markValid();
        return undefined;
      case 'ota.rollback':
        this.otaHost().rollback();
        o.requestRestart();
        return undefined;
      case 'system.restart':
        o.requestRestart();
        return undefined;
      case 'system.freeHeap':
        return o.freeHeap();
      case 'log':
        o.report('log', 'log', { ...request.fields, level: request.level, message: request.message });
        return undefined;
      case 'event':
        o.report('event', request.type, request.fields ?? {});
        return undefined;
    }
  }

  private storage(): DeviceStorage {
    if (!this.resources) throw coded('power', 'the device is not running');
    return this.resources.storage;
  }

  private otaHost(): OtaHost {
    if (!this.resources?.ota) throw coded('ota', `board ${this.options.board.name} has no OTA app slots in its partition table`);
    return this.resources.ota;
  }

  private partition(label: string): FlashPartition {
    let view = this.partitionViews.get(label);
    if (!view) {
      view = this.storage().openPartition(label);
      this.partitionViews.set(label, view);
    }
    return view;
  }

  private startTimer(id: number, ms: number, repeat: boolean): void {
    const fire = () => {
      if (repeat) this.timers.set(id, this.options.scheduler.at(this.options.scheduler.now() + Math.max(1, ms), fire));
      else this.timers.delete(id);
      this.options.emit({ type: 'timer', id });
    };
    this.timers.set(id, this.options.scheduler.at(this.options.scheduler.now() + ms, fire));
  }

  private connect(id: number, host: string, port: number, tlsOptions: TlsOptions | undefined): void {
    const o = this.options;
    if (this.sockets.size >= MAX_OPEN_SOCKETS) {
      throw coded('refused', `the device has ${MAX_OPEN_SOCKETS} sockets open already; close one first`);
    }
    if (this.linkDown) {
      // No route: the connect fails a moment later, as a real stack reports it.
      const boot = this.bootNumber;
      o.scheduler.at(o.scheduler.now() + LINK_DOWN_FAILURE_MS, () => {
        if (boot === this.bootNumber) o.emit({ type: 'net.error', id, code: 'unreachable', message: `${host}:${port}: the network link is down` });
      });
      return;
    }
    const connected = o.netQuiet.connectStarted();
    let socket: net.Socket;
    try {
      socket = this.openSocket(host, port, tlsOptions);
    } catch (error) {
      connected();
      // Bad credentials are refused before any byte is sent (Node checks them up front).
      throw coded(tlsOptions ? 'tls' : 'refused', `${host}:${port}: ${(error as Error).message}`);
    }
    let open = true;
    const finish = (event: HostEvent) => {
      if (!open) return;
      open = false;
      connected();
      this.sockets.delete(id);
      this.linkFailures.delete(id);
      o.emit(event);
    };
    this.linkFailures.set(id, () => {
      finish({ type: 'net.error', id, code: 'unreachable', message: `${host}:${port}: the network link is down` });
      socket.destroy();
    });
    socket.setNoDelay(true);
    this.sockets.set(id, socket);
    socket.once(tlsOptions ? 'secureConnect' : 'connect', () => {
      connected();
      const shaped = this.shaped;
      if (!shaped) {
        o.emit({ type: 'net.connect', id });
        return;
      }
      // TCP's handshake is one round trip, TLS 1.2's two more; the last leg carries its bytes.
      const latency = shaped.up.quality.latencyMs;
      const now = o.scheduler.now();
      const lastLegStarts = now + (tlsOptions ? 5 : 1) * latency;
      const handshake = tlsOptions ? handshakeBytes(socket as tls.TLSSocket, tlsOptions) : { up: 0, down: 0 };
      const ready = Math.max(shaped.up.send(lastLegStarts, handshake.up), shaped.down.send(lastLegStarts, handshake.down));
      o.scheduler.at(ready, () => {
        if (open && this.sockets.get(id) === socket) o.emit({ type: 'net.connect', id });
      });
    });
    socket.on('data', (data: Buffer) => {
      o.netQuiet.read();
      const deliver = () => {
        if (open && !this.deaf && this.sockets.get(id) === socket) o.emit({ type: 'net.data', id, bytes: new Uint8Array(data) });
      };
      const arrives = this.arrival('down', data.length);
      if (arrives === undefined) deliver();
      else o.scheduler.at(arrives, deliver);
    });
    // On a thin link the far end's close or reset comes after the bytes still on their way.
    const afterInFlight = (event: HostEvent) => {
      connected(); // no longer connecting, and nothing more will come: the clock need not wait
      const arrives = this.arrival('down', 0);
      if (arrives === undefined) return finish(event);
      const boot = this.bootNumber;
      o.scheduler.at(arrives, () => {
        if (boot === this.bootNumber) finish(event);
      });
    };
    socket.on('error', (error: NodeJS.ErrnoException) => {
      afterInFlight({ type: 'net.error', id, code: netErrorCode(error, !!tlsOptions), message: `${host}:${port}: ${error.message}` });
    });
    socket.on('close', () => afterInFlight({ type: 'net.close', id }));
  }

  /**
   * When bytes handed to the link now arrive: at the thin link's pace, and never before bytes
   * handed over earlier (a link made fast again must not let new bytes overtake old ones).
   * Undefined: now, nothing ahead of them.
   */
  private arrival(direction: 'up' | 'down', byteCount: number): number | undefined {
    const now = this.options.scheduler.now();
    const shaper = this.shaped?.[direction];
    const at = Math.max(shaper ? shaper.send(now, byteCount) : now, this.inFlightUntil[direction]);
    this.inFlightUntil[direction] = at;
    return at > now ? at : undefined;
  }

  private openSocket(host: string, port: number, tlsOptions: TlsOptions | undefined): net.Socket {
    return tlsOptions
      ? tls.connect({
          host,
          port,
          // SNI carries host names only (RFC 6066); an IP address is checked against the certificate's IP SANs.
          servername: net.isIP(tlsOptions.serverName ?? host) ? undefined : (tlsOptions.serverName ?? host),
          ca: tlsOptions.ca?.map((der) => derToPem(der)),
          cert: tlsOptions.certificate ? derToPem(tlsOptions.certificate) : undefined,
          key: tlsOptions.key ? derToPem(tlsOptions.key, 'PRIVATE KEY') : undefined,
          ALPNProtocols: tlsOptions.alpn,
          rejectUnauthorized: tlsOptions.verify !== false,
          // The device's TLS (Moddable) speaks TLS 1.2 at most; keep the simulator honest.
          maxVersion: 'TLSv1.2',
        })
      : net.connect({ host, port });
  }
}

/** Roughly what a TLS 1.2 handshake sent each way: the certificates and the other messages. */
function handshakeBytes(socket: tls.TLSSocket, options: TlsOptions): { up: number; down: number } {
  let down = TLS_HANDSHAKE_OVERHEAD_BYTES.down;
  for (let cert = socket.getPeerCertificate(true), seen = 0; cert?.raw && seen < 4; seen++) {
    down += cert.raw.length;
    if (!cert.issuerCertificate || cert.issuerCertificate === cert) break;
    cert = cert.issuerCertificate;
  }
  const up = TLS_HANDSHAKE_OVERHEAD_BYTES.up + (options.certificate?.length ?? 0);
  return { up, down };
}

function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function netErrorCode(error: NodeJS.ErrnoException, isTls: boolean): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    default:
      return isTls ? 'tls' : 'reset';
  }
}

/** Node's TLS wants PEM; the device (and so the HAL) holds DER. */
function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const text = new TextDecoder().decode(der.subarray(0, 11));
  if (text.startsWith('-----BEGIN')) return new TextDecoder().decode(der); // PEM passed through
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
