/**
 * A simulation run: a broker (embedded aedes unless one is given), a clock, and N devices of
 * one board on one engine. This is what `thingkit sim` and the scenario tests drive.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { findBoard } from '../boards';
import type { BoardDefinition } from '../hal/board';
import type { Hal } from '../hal';
import { FIRMWARE_VERSION } from '../firmware/version';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker';
import { createChip, planSensors, sensorsConfig } from './chips';
import { Device } from './device';
import type { Engine, EngineKind } from './engines/engine';
import { bundleFirmware } from './engines/firmware-bundle';
import { NodeEngine } from './engines/node-engine';
import { NodeVmEngine } from './engines/node-vm-engine';
import { appLayout, installInitialImage, verifySlotImage } from './boot/bootloader';
import { buildImage } from './ota/image';
import { createHash } from 'node:crypto';
import type { KeyValue } from '../hal/kv';
import { XsEngine } from './engines/xs-engine';
import { FlashImage } from './flash/flash-image';
import { KvStore } from './flash/kv-store';
import { SimI2CBus } from './i2c-bus';
import { NetQuiet } from './net-quiet';
import { Scheduler, type TimeMode } from './scheduler';
import type { SimEventSink } from './sim-event';
import { boot } from '../firmware/main';
import { startHub, type Hub } from '../hub/hub';

/** The enrollment group the simulated devices provision under. */
const SIMULATED_FLEET = 'thingkit-simulated-fleet';
import { CREDENTIALS_DOMAIN } from '../firmware/app/credentials';
import { developmentPki, pemToDer, readPem } from './tls/certificates';

export interface SimulationOptions {
  engine: EngineKind;
  devices: number;
  board: string;
  timeMode: TimeMode;
  /** `mqtt://host:port`; absent: start the embedded broker. */
  broker?: string;
  /** Where device flash images live; absent: a temporary folder removed at the end. */
  stateDir?: string;
  /** Sensors to fit instead of the board's (`sht31,bme280@0x77`); see `planSensors`. */
  sensors?: string;
  /** Extra device configuration (telemetryIntervalMs, keepAliveSeconds, …). */
  config?: { [key: string]: string | number | boolean };
  sink: SimEventSink;
  /** A module exporting `boot(hal)` to run instead of the project's firmware (tests, examples). */
  firmwareModule?: string;
  /** Flash this build even over a device that already holds firmware (with `stateDir`). */
  reflash?: boolean;
  /**
   * Start the local IoT hub (MQTT over TLS with the Azure IoT Hub and DPS protocols, HTTP
   * API, SQLite in the state folder) instead of a bare broker; devices provision through DPS
   * with an enrollment group's key. Not with `broker`.
   */
  hub?: boolean;
  /** Whether devices get the wall-clock time from the network at boot (default true, as SNTP gives it). */
  timeSync?: boolean;
  /** The hub's HTTP API port with `hub` (default: a free one). */
  hubHttpPort?: number;
  /**
   * How devices authenticate to the local hub: `sas` (an enrollment group's derived keys,
   * the default) or `x509` (a client certificate per device, enrolled by thumbprint).
   */
  hubAuth?: 'sas' | 'x509';
  /** The hub's MQTT port with `hub` (default: a free one). */
  hubMqttPort?: number;
  /**
   * TLS to the broker. With an embedded broker: `true` makes a development PKI in the state
   * folder and requires every device's client certificate. With `broker`: the CA that signed
   * the broker's certificate, and optionally each device's client certificate and key (PEM).
   */
  tls?: SimulationTls;
  /** Called with the local hub each time it starts (before any device boots, and after each restart). */
  onHubStarted?: (hub: Hub) => void;
}

export interface SimulationTls {
  /** PEM of the CA to trust; absent with an embedded broker: the development CA. */
  ca?: string;
  /** PEM client certificate and key for a device, or undefined for none. */
  clientCertificate?: (deviceId: string) => { cert: string; key: string } | undefined;
  /** false: do not verify the broker's certificate (development only; logged by the device). */
  verify?: boolean;
}

export class SimulationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulationError';
  }
}

export class Simulation {
  readonly scheduler: Scheduler;
  readonly devices: Device[] = [];
  private readonly images: FlashImage[] = [];
  private broker: EmbeddedBroker | undefined;
  private hub: Hub | undefined;
  private temporaryState: string | undefined;
  private stopped = false;
  /** Unix ms at simulation time 0: virtual time runs on from the moment the run started. */
  private readonly wallClockAtZero = Date.now();
  private readonly netQuiet = new NetQuiet();
  private readonly hubListeners: ((hub: Hub) => void)[] = [];
  private hubOptions: Parameters<typeof startHub>[0] | undefined;
  private brokerStarting: Promise<void> | undefined;

  private constructor(
    readonly options: SimulationOptions,
    readonly board: BoardDefinition,
  ) {
    this.scheduler = new Scheduler(options.timeMode);
  }

  /** Checks the options, starts or reaches the broker, and powers every device on. */
  static async start(options: SimulationOptions): Promise<Simulation> {
    if (!Number.isInteger(options.devices) || options.devices < 1 || options.devices > 10_000) {
      throw new SimulationError(`--devices must be a whole number from 1 to 10000 (got ${options.devices})`);
    }
    let board: BoardDefinition;
    try {
      board = findBoard(options.board);
    } catch (error) {
      throw new SimulationError((error as Error).message);
    }
    const simulation = new Simulation(options, board);
    try {
      await simulation.boot();
    } catch (error) {
      await simulation.stop();
      throw error;
    }
    return simulation;
  }

  /** The broker devices connect to. */
  get brokerUrl(): string {
    return this.hub?.mqttUrl ?? this.broker?.url ?? this.options.broker!;
  }

  get embeddedBroker(): EmbeddedBroker | undefined {
    return this.broker;
  }

  /** The local IoT hub, when the simulation started one. */
  get localHub(): Hub | undefined {
    return this.hub;
  }

  /** Calls `listener` with the local hub now (if it runs) and each time it starts again. */
  onHubStarted(listener: (hub: Hub) => void): void {
    this.hubListeners.push(listener);
    if (this.hub) listener(this.hub);
  }

  /** Unix ms of simulation time `t` (the devices' and the hub's clock). */
  wallTime(t = this.scheduler.now()): number {
    return this.wallClockAtZero + t;
  }

  /** The network tells every device without a wall clock the time (SNTP, after `timeSync: false`). */
  syncDeviceClocks(): void {
    for (const device of this.devices) device.networkTime(this.wallClockAtZero);
  }

  /**
   * Restarts the broker: the local hub (its MQTT and HTTP endpoints close, every connection
   * drops; it starts again on the same ports over the same database after `downMs` of
   * simulation time), or the embedded broker (at once; its sessions are lost). Resolves when
   * the broker has stopped; the start happens in simulation time.
   */
  async restartBroker(downMs = 0): Promise<void> {
    if (this.hub) {
      const hub = this.hub;
      this.hub = undefined;
      await hub.close();
      const start = () => this.trackBrokerStart(this.startHubProcess(hub.mqttPort, hub.httpPort));
      if (downMs > 0) this.scheduler.at(this.scheduler.now() + downMs, start);
      else start();
      return;
    }
    if (this.broker) return this.broker.restart();
    throw new SimulationError('only a broker the simulation started can be restarted');
  }

  /** Keeps a broker start visible to the scheduler, so virtual time waits for it. */
  private trackBrokerStart(starting: Promise<void>): void {
    const tracked = starting
      .catch((error: Error) => this.options.sink({ device: '-', engine: this.options.engine, t: this.scheduler.now(), type: 'error', message: `the hub did not start again: ${error.message}` }))
      .finally(() => {
        if (this.brokerStarting === tracked) this.brokerStarting = undefined;
      });
    this.brokerStarting = tracked;
  }

  /** Runs until `durationMs` of simulation time has passed, or until `stop()`. */
  async run(durationMs = Infinity): Promise<void> {
    await this.scheduler.run(durationMs, () => this.stopped);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.scheduler.stop();
    await Promise.all(this.devices.map((device) => device.stop()));
    for (const image of this.images) image.close();
    await this.brokerStarting;
    await this.broker?.close();
    await this.hub?.close();
    if (this.temporaryState) rmSync(this.temporaryState, { recursive: true, force: true });
  }

  private async boot(): Promise<void> {
    const o = this.options;
    let fitted = this.board.sensors;
    let sensorConfig: { sensors?: string } = {};
    if (o.sensors !== undefined) {
      try {
        fitted = planSensors(o.sensors, this.board.i2c.map((bus) => bus.port));
      } catch (error) {
        throw new SimulationError((error as Error).message);
      }
      sensorConfig = { sensors: sensorsConfig(fitted) };
    }
    const stateDir = o.stateDir ?? (this.temporaryState = mkdtempSync(path.join(os.tmpdir(), 'thingkit-sim-')));
    this.scheduler.addQuiescent(this.netQuiet);
    this.scheduler.addQuiescent({
      settle: async () => {
        while (this.brokerStarting) await this.brokerStarting;
      },
    });
    if (o.hub && o.broker) throw new SimulationError('the local hub is its own broker: leave out --broker, or --hub');
    // The hub authenticates devices by SAS: they need only the CA; the bare broker wants their certificates.
    const tls = o.hub
      ? o.hubAuth === 'x509'
        ? this.embeddedTls(stateDir)
        : { ca: readPem(developmentPki(path.join(stateDir, 'pki')).ca.cert) }
      : o.tls && !o.broker
        ? this.embeddedTls(stateDir)
        : o.tls;
    const azure = o.hub ? await this.startLocalHub(stateDir) : undefined;
    const { host, port, secure } = azure
      ? { host: azure.host, port: azure.port, secure: true }
      : o.broker
        ? await reachBroker(o.broker)
        : await this.startBroker(tls !== undefined, stateDir);
    if (o.broker && secure && !tls) {
      throw new SimulationError(`${o.broker} is TLS: give the CA that signed the broker's certificate (--ca FILE)`);
    }
    const firmware = factoryFirmware(this.board.name, o.firmwareModule);
    const netQuiet = this.netQuiet;
    for (let n = 1; n <= o.devices; n++) {
      const id = `${this.board.name}-${String(n).padStart(3, '0')}`;
      const deviceDir = path.join(stateDir, 'devices', id);
      mkdirSync(deviceDir, { recursive: true });
      const flashPath = path.join(deviceDir, 'flash.bin');
      const openFlash = () => {
        try {
          return FlashImage.open(flashPath, this.board);
        } catch (error) {
          throw new SimulationError((error as Error).message);
        }
      };
      // Manufacturing: flash the firmware if the device has none (or when asked), then provision.
      if (azure && o.hubAuth === 'x509') this.enrollX509(id, stateDir);
      const factory = openFlash();
      try {
        if (o.reflash || !hasBootableImage(factory)) installInitialImage(factory, firmware.image);
        if (tls) provisionTls(KvStore.openInImage(factory), id, tls);
      } finally {
        factory.close();
      }
      const buses = this.board.i2c.map((definition) => new SimI2CBus(definition));
      for (const sensor of fitted) {
        const bus = buses.find((b) => b.definition.port === sensor.bus);
        if (!bus) throw new SimulationError(`board ${this.board.name} fits ${sensor.model} on I2C bus ${sensor.bus}, which it does not have`);
        bus.attach(createChip(sensor.model, { address: sensor.address, seed: n * 7919 + sensor.address }));
      }
      const device = new Device({
        id,
        board: this.board,
        config: {
          deviceId: id,
          mqttHost: host,
          mqttPort: port,
          mqttTls: tls !== undefined,
          ...(tls?.verify === false ? { mqttTlsVerify: false } : {}),
          ...(azure
            ? o.hubAuth === 'x509'
              ? { dpsIdScope: azure.idScope, dpsHost: azure.host, hubPort: azure.port, auth: 'x509', registrationId: id }
              : { dpsIdScope: azure.idScope, dpsHost: azure.host, hubPort: azure.port, dpsGroupKey: azure.groupKey, registrationId: id }
            : {}),
          ...sensorConfig,
          ...o.config,
        },
        scheduler: this.scheduler,
        netQuiet,
        openFlash,
        buses,
        engineKind: o.engine,
        wallClockAtZero: o.timeSync === false ? undefined : this.wallClockAtZero,
        createEngine: (image): Engine => {
          if (o.engine === 'xs') return new XsEngine({ name: id, bundle: image.bundle });
          // The Node engine runs this source tree in-process when the image is its build; anything else (an update) in a V8 context.
          return image.payloadSha256 === firmware.bundleSha256 ? new NodeEngine(this.board, firmware.boot()) : new NodeVmEngine(image.bundle);
        },
        sink: o.sink,
      });
      this.devices.push(device);
    }
    // Power on in small groups: each XS engine is a process, and they start in ~0.1 s.
    for (let i = 0; i < this.devices.length; i += 8) {
      await Promise.all(this.devices.slice(i, i + 8).map((device) => device.powerOn()));
    }
  }

  private async startBroker(secure: boolean, stateDir: string): Promise<{ host: string; port: number; secure: boolean }> {
    if (secure) {
      const pki = developmentPki(path.join(stateDir, 'pki'));
      this.broker = await startEmbeddedBroker({
        tls: { key: readPem(pki.server.key), cert: readPem(pki.server.cert), ca: readPem(pki.ca.cert), requestCert: true },
        observeConnection: (socket) => this.netQuiet.observeServerSocket(socket),
      });
    } else {
      this.broker = await startEmbeddedBroker({ observeConnection: (socket) => this.netQuiet.observeServerSocket(socket) });
    }
    return { host: this.broker.host, port: this.broker.port, secure };
  }

  /** Starts the local hub with an enrollment group for the simulated fleet. */
  private async startLocalHub(stateDir: string): Promise<{ host: string; port: number; idScope: string; groupKey: string }> {
    const pki = developmentPki(path.join(stateDir, 'pki'));
    const idScope = '0ne00thingkit';
    this.hubOptions = {
      dataFile: path.join(stateDir, 'hub.db'),
      mqttPort: this.options.hubMqttPort ?? 0,
      httpPort: this.options.hubHttpPort ?? 0,
      tls: { key: readPem(pki.server.key), cert: readPem(pki.server.cert), ca: readPem(pki.ca.cert) },
      hostName: '127.0.0.1',
      idScope,
      dpsRetryAfterSeconds: 1, // a local hub assigns at once; keep the first connection quick
      observeConnection: (socket) => this.netQuiet.observeServerSocket(socket),
      // The hub lives in simulation time too: last seen, rates and id windows match the devices' clocks.
      now: () => this.wallTime(),
    };
    try {
      await this.startHubProcess(this.hubOptions.mqttPort, this.hubOptions.httpPort);
    } catch (error) {
      throw new SimulationError(`cannot start the local hub: ${(error as Error).message}`);
    }
    const existing = this.hub!.store.enrollments.getGroup(SIMULATED_FLEET);
    const group = existing ?? this.hub!.store.enrollments.putGroup(SIMULATED_FLEET, { attestation: { type: 'symmetricKey', symmetricKey: {} } }).group;
    const groupKey = (group.attestation as { symmetricKey: { primaryKey: string } }).symmetricKey.primaryKey;
    return { host: '127.0.0.1', port: this.hub!.mqttPort, idScope, groupKey };
  }

  /** Starts the hub process on these ports (0: free ones) and tells the listeners. */
  private async startHubProcess(mqttPort: number, httpPort: number): Promise<void> {
    const hub = await startHub({ ...this.hubOptions!, mqttPort, httpPort });
    if (this.stopped) return void (await hub.close());
    this.hub = hub;
    this.options.onHubStarted?.(hub);
    for (const listener of this.hubListeners) listener(hub);
  }

  /** An individual DPS enrollment for the device's development certificate, by its SHA-256 thumbprint. */
  private enrollX509(deviceId: string, stateDir: string): void {
    const cert = readPem(developmentPki(path.join(stateDir, 'pki')).client(deviceId).cert);
    const thumbprint = createHash('sha256').update(pemToDer(cert)).digest('hex').toUpperCase();
    this.hub!.store.enrollments.putEnrollment(deviceId, { attestation: { type: 'x509', x509: { thumbprint: { primary: thumbprint } } } });
  }

  /** The embedded broker's TLS: a development PKI with a client certificate per device. */
  private embeddedTls(stateDir: string): SimulationTls {
    const pki = developmentPki(path.join(stateDir, 'pki'));
    return {
      ca: readPem(pki.ca.cert),
      clientCertificate: (deviceId) => {
        const files = pki.client(deviceId);
        return { cert: readPem(files.cert), key: readPem(files.key) };
      },
      ...this.options.tls,
    };
  }
}

/** The firmware built from this source tree (or a test's module), as a factory image. */
function factoryFirmware(board: string, firmwareModule: string | undefined) {
  const bundle = bundleFirmware({ board, firmwareModule });
  const bundleSha256 = createHash('sha256').update(bundle).digest('hex');
  return {
    image: buildImage({ version: FIRMWARE_VERSION, board, bundle }),
    bundleSha256,
    boot: () => (firmwareModule ? loadFirmware(firmwareModule) : boot),
  };
}

/** Whether any app partition holds a valid image for this board (reads only). */
function hasBootableImage(flash: FlashImage): boolean {
  const layout = appLayout(flash.partitions());
  return [layout.factory, ...layout.ota].some((partition) => {
    if (!partition) return false;
    try {
      verifySlotImage(flash, partition);
      return true;
    } catch {
      return false;
    }
  });
}

/** Writes the device's TLS credentials into its settings, as a factory provisioning step would. */
function provisionTls(kv: KeyValue, deviceId: string, tls: SimulationTls): void {
  if (tls.ca) kv.set(CREDENTIALS_DOMAIN, 'ca', pemToDer(tls.ca));
  const client = tls.clientCertificate?.(deviceId);
  if (client) {
    kv.set(CREDENTIALS_DOMAIN, 'cert', pemToDer(client.cert));
    kv.set(CREDENTIALS_DOMAIN, 'key', pemToDer(client.key));
  } else {
    kv.delete(CREDENTIALS_DOMAIN, 'cert');
    kv.delete(CREDENTIALS_DOMAIN, 'key');
  }
}

function loadFirmware(module: string): (hal: Hal) => void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require(path.resolve(module)) as { boot?: (hal: Hal) => void };
  if (typeof loaded.boot !== 'function') throw new SimulationError(`${module} does not export a boot(hal) function`);
  return loaded.boot;
}

/** Parses a broker URL and checks that something listens there, so a typo fails at once. */
export async function reachBroker(url: string): Promise<{ host: string; port: number; secure: boolean }> {
  const match = /^(mqtts?):\/\/([^/:]+|\[[^\]]+\])(?::(\d+))?\/?$/.exec(url);
  if (!match) throw new SimulationError(`--broker "${url}" is not a broker URL: write mqtt://HOST:PORT`);
  const host = match[2].replace(/^\[|\]$/g, '');
  const port = match[3] ? Number(match[3]) : match[1] === 'mqtts' ? 8883 : 1883;
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(3000);
    const fail = (why: string) => {
      socket.destroy();
      reject(new SimulationError(`cannot reach the broker at ${host}:${port} (${why}): start it, or leave out --broker to use the embedded one`));
    };
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => fail('no answer within 3 s'));
    socket.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
  });
  return { host, port, secure: match[1] === 'mqtts' };
}
