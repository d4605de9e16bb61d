/**
 * A simulated device: one board, one flash image, its chip models and a firmware engine.
 * It hides which engine runs the firmware. Booting means what it means on hardware: the
 * flash is opened afresh, the bootloader (ESP-IDF's rollback state machine over otadata)
 * picks the image, and a fresh engine runs that image's firmware. A power cut during a flash
 * operation turns the device off at once; it then powers on again.
 */
import type { LinkQuality } from './link-shaper';
import type { HostEvent } from '../hal/host/protocol';
import type { BoardDefinition } from '../hal/board';
import type { ResetReason } from '../hal/system';
import { boot as runBootloader, type BootResult } from './boot/bootloader';
import { DeviceHost } from './device-host';
import { FirmwareError, type Engine, type Meter } from './engines/engine';
import { DeviceFlash } from './flash/device-flash';
import type { FlashImage } from './flash/flash-image';
import { KvStore } from './flash/kv-store';
import { bundleSource } from './ota/image';
import { SlotOtaHost } from './ota/ota-host';
import type { SimI2CBus } from './i2c-bus';
import type { NetQuiet } from './net-quiet';
import type { Quiescent, Scheduler } from './scheduler';
import type { SimEventSink } from './sim-event';

/** ESP32 budget for the XS VM (moddable-notes: chunk 78848 B + 4928 heap slots × 16 B). */
export const ESP32_VM_BYTES = 78848 + 4928 * 16;
/** How long a restart takes on the device (ROM + bootloader + app start), in ms. */
const RESTART_MS = 300;
/** Events that may wait for delivery; more means the firmware cannot keep up. */
const MAX_QUEUED_EVENTS = 10_000;

/** The image the bootloader picked, as an engine needs it. */
export interface BootedImage {
  bundle: string;
  version: string;
  /** SHA-256 of the bundle, hex: tells the project's own build from an update. */
  payloadSha256: string;
}

export interface DeviceOptions {
  id: string;
  board: BoardDefinition;
  config: { [key: string]: string | number | boolean };
  scheduler: Scheduler;
  netQuiet: NetQuiet;
  /** Opens the device's flash image file; called at every boot, as power-on reads the chip afresh. */
  openFlash(): FlashImage;
  buses: SimI2CBus[];
  engineKind: 'xs' | 'node';
  /** Unix ms at simulation time 0, when the device gets the time from the network. */
  wallClockAtZero?: number;
  /** A fresh engine of `engineKind` for each boot, running the booted image. */
  createEngine(image: BootedImage): Engine;
  sink: SimEventSink;
}

export class Device implements Quiescent {
  private readonly host: DeviceHost;
  private engine: Engine | undefined;
  private queue: HostEvent[] = [];
  private delivering: Promise<void> | undefined;
  private booting: Promise<void> | undefined;
  private restartRequested = false;
  private lastMeter: Meter | undefined;
  private stopped = false;
  private boots = 0;
  private flash: FlashImage | undefined;
  private powerFailed = false;
  private lastBoot: BootResult | undefined;
  readonly engineKind: 'xs' | 'node';

  constructor(private readonly options: DeviceOptions) {
    this.engineKind = options.engineKind;
    this.host = new DeviceHost({
      deviceId: options.id,
      board: options.board,
      scheduler: options.scheduler,
      netQuiet: options.netQuiet,
      buses: options.buses,
      emit: (event) => this.enqueue(event),
      // After the power fails the CPU has stopped: what the interrupted handler would still log never comes out.
      report: (kind, type, fields) => {
        if (!this.powerFailed) this.report(type, fields);
      },
      freeHeap: () => ESP32_VM_BYTES - (this.lastMeter ? this.lastMeter.stateSlots * 16 : 0),
      requestRestart: () => {
        this.restartRequested = true;
      },
      wallClockAtZero: options.wallClockAtZero,
      powerLost: () => {
        this.powerFailed = true;
      },
    });
    options.scheduler.addQuiescent(this);
  }

  get id(): string {
    return this.options.id;
  }

  /** Number of boots so far. */
  get bootCount(): number {
    return this.boots;
  }

  /** The meters after the last delivered batch (XS engine). */
  get meter(): Meter | undefined {
    return this.lastMeter;
  }

  /** The flash image as this boot opened it (tests arm power cuts on it). */
  get flashImage(): FlashImage | undefined {
    return this.flash;
  }

  /** What the bootloader did at the last boot. */
  get bootResult(): BootResult | undefined {
    return this.lastBoot;
  }

  /** The current engine, for benchmarks that measure it. */
  get currentEngine(): Engine | undefined {
    return this.engine;
  }

  /**
   * Powers the device on. Resolves once the firmware's boot handler has run; rejects with
   * FirmwareError if it threw (the caller decides whether that is fatal).
   */
  async powerOn(): Promise<void> {
    this.track(this.boot('power-on'));
    await this.settle();
    if (this.bootFailure) throw this.bootFailure;
  }

  private bootFailure: FirmwareError | undefined;

  /**
   * Resets the device from outside, as the reset button, a watchdog or a power cut between two
   * flash operations would: once the event it is handling is done, never in its middle. Events
   * that come meanwhile are lost with the RAM. Reports `restart` (or `power-cut` for a
   * power-on reset).
   */
  async reset(reason: ResetReason): Promise<void> {
    this.resetting = true;
    try {
      await this.settle();
      if (this.stopped) return;
      this.queue = [];
      this.report(reason === 'power-on' ? 'power-cut' : 'restart', reason === 'power-on' ? {} : { reason });
      await this.restart(reason);
    } finally {
      this.resetting = false;
    }
  }

  private resetting = false;

  /** Restarts as the hardware would for `reason` (from the delivery loop: the firmware is not running). */
  async restart(reason: ResetReason): Promise<void> {
    await this.engine?.stop();
    this.engine = undefined;
    this.host.endBoot();
    this.closeFlash();
    if (this.stopped) return;
    this.options.scheduler.at(this.options.scheduler.now() + RESTART_MS, () => {
      if (!this.stopped) this.track(this.boot(reason));
    });
  }

  /** Takes the device's network link down (an outage) or brings it back. */
  setLink(up: boolean): void {
    this.host.setLink(up);
  }

  /** Makes the device's link lose everything coming in (its own packets still arrive), or ends that. */
  setDeaf(deaf: boolean): void {
    this.host.setDeaf(deaf);
  }

  get linkUp(): boolean {
    return this.host.linkUp;
  }

  /** Makes the device's link thin (bytes per second each way, latency), or fast again with `undefined`. */
  setLinkQuality(quality: LinkQuality | undefined): void {
    this.host.setLinkQuality(quality);
  }

  /** The thin link's quality, or undefined while the link is fast. */
  get linkQuality(): LinkQuality | undefined {
    return this.host.linkQuality;
  }

  /** The network tells the device the time (SNTP), if its clock is not set yet. */
  networkTime(wallClockAtZero: number): void {
    this.host.networkTime(wallClockAtZero);
  }

  async settle(): Promise<void> {
    while (this.booting || this.delivering) {
      await this.booting;
      await this.delivering;
    }
  }

  /** Keeps an engine start visible to `settle`, so virtual time waits for the boot. */
  private track(booting: Promise<void>): void {
    const tracked = booting.finally(() => {
      if (this.booting === tracked) this.booting = undefined;
    });
    this.booting = tracked;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.options.scheduler.removeQuiescent(this);
    await this.settle();
    this.host.endBoot();
    await this.engine?.stop();
    this.engine = undefined;
    this.closeFlash();
  }

  private closeFlash(): void {
    this.flash?.close();
    this.flash = undefined;
  }

  /** Collects garbage in the engine and returns its meters (XS only). */
  async measure(): Promise<Meter | undefined> {
    await this.settle();
    return this.engine?.measure?.();
  }

  private async boot(reason: ResetReason): Promise<void> {
    this.boots++;
    this.bootFailure = undefined;
    this.powerFailed = false;
    this.queue = [];
    this.closeFlash();
    const flash = this.options.openFlash();
    this.flash = flash;
    let booted: BootResult;
    try {
      booted = runBootloader(flash);
    } catch (error) {
      // Nothing bootable: the device is bricked until someone flashes it.
      this.bootFailure = new FirmwareError(`the bootloader found no bootable image: ${(error as Error).message}`);
      this.report('error', { message: this.bootFailure.message, during: 'bootloader' });
      return;
    }
    this.lastBoot = booted;
    const partitions = new DeviceFlash(flash);
    this.host.beginBoot({
      storage: { partitions: () => partitions.partitions(), openPartition: (label) => partitions.open(label), kv: KvStore.openInImage(flash) },
      ota: new SlotOtaHost(flash, booted.slot, this.options.board),
    });
    if (booted.code !== 'selected' || booted.rolledBack) {
      this.report('bootloader', { slot: booted.slot, version: booted.image.version, code: booted.code, rolledBack: booted.rolledBack, reason: booted.reason });
    }
    const bundle = bundleSource(booted.image);
    const image: BootedImage = { bundle, version: booted.image.version, payloadSha256: Buffer.from(booted.image.payloadSha256).toString('hex') };
    const engine = this.options.createEngine(image);
    this.engine = engine;
    try {
      await engine.start((request) => this.host.handle(request));
    } catch (error) {
      this.bootFailure = error instanceof FirmwareError ? error : new FirmwareError((error as Error).message);
      this.report('error', { message: this.bootFailure.message, during: 'load' });
      return;
    }
    const o = this.options;
    this.enqueue({ type: 'boot', resetReason: reason, deviceId: o.id, firmwareVersion: image.version, config: o.config });
  }

  private enqueue(event: HostEvent): void {
    if (this.stopped || !this.engine || this.resetting) return;
    if (this.queue.length >= MAX_QUEUED_EVENTS) {
      this.report('error', { message: `more than ${MAX_QUEUED_EVENTS} events are waiting: the firmware is not keeping up` });
      return;
    }
    this.queue.push(event);
    if (!this.delivering) this.delivering = this.deliverLoop().finally(() => (this.delivering = undefined));
  }

  private async deliverLoop(): Promise<void> {
    // Let events raised at the same moment join one batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.length > 0 && this.engine && !this.stopped) {
      const events = this.queue;
      this.queue = [];
      const engine = this.engine;
      const isBoot = events.some((event) => event.type === 'boot');
      try {
        const meter = await engine.deliver({ t: this.host.deviceTime(), wall: this.host.wallTime(), events });
        if (meter) {
          this.lastMeter = meter;
          this.report('meter', { ...meter });
        }
      } catch (error) {
        if (this.powerFailed) {
          // The firmware failed because the power did: not an exception of its own.
          this.report('power-cut', {});
          await this.restart('power-on');
          return;
        }
        const message = (error as Error).message;
        if (isBoot) this.bootFailure = new FirmwareError(message);
        this.report('error', { message, during: isBoot ? 'boot' : 'event' });
        this.report('restart', { reason: 'exception' });
        await this.restart('exception');
        return;
      }
      if (this.powerFailed) {
        this.report('power-cut', {});
        await this.restart('power-on');
        return;
      }
      if (this.restartRequested) {
        this.restartRequested = false;
        this.report('restart', { reason: 'software' });
        await this.restart('software');
        return;
      }
    }
  }

  private report(type: string, fields: { [key: string]: unknown }): void {
    this.options.sink({ device: this.options.id, engine: this.engineKind, t: this.host.deviceTime(), type, ...fields });
  }
}
