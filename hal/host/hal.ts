/**
 * The HAL as firmware sees it in the simulator, on both host engines. Every operation is a
 * request over a `HostLink`; the host answers synchronously, as the device's own drivers
 * would. Events (timers, socket data) arrive in batches through `deliver`.
 */
import type { BoardDefinition, DeviceConfig, Hal } from '../index';
import type { Clock } from '../clock';
import type { Crypto, Digest } from '../crypto';
import { FlashError, type Flash, type FlashPartition, type PartitionInfo } from '../flash';
import type { Gpio } from '../gpio';
import { I2CError, type I2CBus, type I2CDevice, type I2CErrorCode } from '../i2c';
import { checkKvEntry, KvError, type KeyValue, type KvValue } from '../kv';
import { levelEnabled, redact, type Log, type LogFields, type LogLevel } from '../log';
import { NetError, type Net, type NetErrorCode, type SocketHandlers } from '../net';
import { OtaError, type AppState, type Ota, type OtaWriter } from '../ota';
import type { ResetReason, System } from '../system';
import type { TimerId, Timers } from '../timer';
import type { BootInfo, EventBatch, HostEvent, HostLink, HostReply, HostRequest } from './protocol';
import { hostText, utf8Length } from './text';

/** Thrown by `system.restart()` to unwind the firmware's stack; the engine then reboots. */
export class RestartSignal extends Error {
  constructor() {
    super('device is restarting');
    this.name = 'RestartSignal';
  }
}

export interface HostDevice {
  readonly hal: Hal;
  /** Runs the firmware's handlers for one batch of events; throws what the firmware throws. */
  deliver(batch: EventBatch): void;
  /** Set by `deliver` when the firmware asked to restart. */
  readonly restarting: boolean;
}

type ErrorFactory = (code: string, message: string) => Error;

const asI2CError = (address: number): ErrorFactory => (code, message) => new I2CError(code as I2CErrorCode, address, message);
const asNetError: ErrorFactory = (code, message) => new NetError(code as NetErrorCode, message);
const asFlashError: ErrorFactory = (_code, message) => new FlashError(message);
const asKvError: ErrorFactory = (_code, message) => new KvError(message);
const asOtaError: ErrorFactory = (_code, message) => new OtaError(message);
const asError: ErrorFactory = (_code, message) => new Error(message);

/**
 * Creates the host HAL for one boot of one device. `boot` is the boot event's information;
 * `start` is the firmware's entry point, called when that event is delivered.
 */
export function createHostDevice(link: HostLink, board: BoardDefinition, boot: BootInfo, start: (hal: Hal) => void): HostDevice {
  let now = 0;
  let wall: number | undefined;
  let restarting = false;

  function call(request: HostRequest, toError: ErrorFactory = asError): unknown {
    const reply: HostReply = link.call(request);
    if (reply.error) throw toError(reply.error.code, reply.error.message);
    return reply.value;
  }

  const clock: Clock = {
    now: () => now,
    wallTime: () => wall,
    setWallTime(unixMs) {
      call({ op: 'clock.setWall', unixMs });
      wall = unixMs;
    },
  };

  // Timers: the host keeps the schedule (virtual or real time); firmware keeps the callbacks.
  const timerCallbacks = new Map<TimerId, { callback: () => void; repeat: boolean }>();
  let nextTimerId = 1;
  function startTimer(callback: () => void, ms: number, repeat: boolean): TimerId {
    const id = nextTimerId++;
    timerCallbacks.set(id, { callback, repeat });
    call({ op: 'timer.set', id, ms: Math.max(0, ms), repeat });
    return id;
  }
  const timers: Timers = {
    set: (callback, ms) => startTimer(callback, ms, false),
    repeat: (callback, ms) => startTimer(callback, ms, true),
    clear(id) {
      if (timerCallbacks.delete(id)) call({ op: 'timer.clear', id });
    },
  };

  const i2c: I2CBus = {
    open(options): I2CDevice {
      const port = options.port ?? 0;
      const hz = options.hz ?? 100_000;
      const { address } = options;
      if (!board.i2c.some((bus) => bus.port === port)) {
        throw new I2CError('bus', address, `board ${board.name} has no I2C bus ${port}`);
      }
      const toError = asI2CError(address);
      let open = true;
      const check = () => {
        if (!open) throw new I2CError('bus', address, `I2C device 0x${address.toString(16)} is closed`);
      };
      return {
        read(count, stop = true) {
          check();
          return call({ op: 'i2c.read', port, address, hz, count, stop }, toError) as Uint8Array;
        },
        write(bytes, stop = true) {
          check();
          call({ op: 'i2c.write', port, address, hz, bytes, stop }, toError);
        },
        writeRead(bytes, count) {
          check();
          call({ op: 'i2c.write', port, address, hz, bytes, stop: false }, toError);
          return call({ op: 'i2c.read', port, address, hz, count, stop: true }, toError) as Uint8Array;
        },
        close() {
          open = false;
        },
      };
    },
  };

  const gpio: Gpio = {
    digital(options) {
      return {
        read: () => call({ op: 'gpio.digital.read', pin: options.pin }) as 0 | 1,
        write: (value) => void call({ op: 'gpio.digital.write', pin: options.pin, value }),
        close() {},
      };
    },
    analog(options) {
      const resolution = options.resolution ?? 12;
      return {
        resolution,
        read: () => call({ op: 'gpio.analog.read', pin: options.pin, resolution }) as number,
        close() {},
      };
    },
    serial(options) {
      if (options.onData) serialHandlers.set(options.port, options.onData);
      return {
        write: (bytes) => void call({ op: 'serial.write', port: options.port, bytes }),
        close: () => void serialHandlers.delete(options.port),
      };
    },
  };
  const serialHandlers = new Map<number, (bytes: Uint8Array) => void>();

  // Sockets: handlers stay on the firmware side; a closed socket gets no more events.
  const sockets = new Map<number, SocketHandlers>();
  let nextSocketId = 1;
  const net: Net = {
    connect(options, handlers) {
      const id = nextSocketId++;
      sockets.set(id, handlers);
      call({ op: 'net.connect', id, host: options.host, port: options.port, tls: options.tls }, asNetError);
      return {
        write(bytes) {
          if (!sockets.has(id)) throw new NetError('closed', `socket to ${options.host}:${options.port} is closed`);
          call({ op: 'net.write', id, bytes }, asNetError);
        },
        close() {
          if (sockets.delete(id)) call({ op: 'net.close', id }, asNetError);
        },
      };
    },
  };

  let partitionList: PartitionInfo[] | undefined;
  const flash: Flash = {
    partitions() {
      partitionList ??= call({ op: 'flash.partitions' }, asFlashError) as PartitionInfo[];
      return partitionList.map((p) => ({ ...p }));
    },
    open(label): FlashPartition {
      const info = flash.partitions().find((p) => p.label === label);
      if (!info) {
        const labels = flash.partitions().map((p) => p.label).join(', ');
        throw new FlashError(`no flash partition "${label}"; this board has: ${labels}`);
      }
      return {
        info,
        blockLength: 4096,
        byteLength: info.size,
        read: (length, offset) => call({ op: 'flash.read', label, offset, length }, asFlashError) as Uint8Array,
        write: (bytes, offset) => void call({ op: 'flash.write', label, offset, bytes }, asFlashError),
        eraseBlock: (index) => void call({ op: 'flash.erase', label, index }, asFlashError),
      };
    },
  };

  const kv: KeyValue = {
    get: (domain, key) => call({ op: 'kv.get', domain, key }, asKvError) as KvValue | undefined,
    set(domain, key, value) {
      checkKvEntry(domain, key, value, utf8Length);
      call({ op: 'kv.set', domain, key, value }, asKvError);
    },
    delete: (domain, key) => void call({ op: 'kv.delete', domain, key }, asKvError),
    keys: (domain) => call({ op: 'kv.keys', domain }, asKvError) as string[],
  };

  let nextDigestId = 1;
  const crypto: Crypto = {
    sha256(): Digest {
      const id = nextDigestId++;
      return {
        update: (bytes) => void call({ op: 'crypto.sha256.update', id, bytes }),
        finish: () => call({ op: 'crypto.sha256.finish', id }) as Uint8Array,
      };
    },
    hmacSha256: (key, data) => call({ op: 'crypto.hmacSha256', key, data }) as Uint8Array,
    ecdsaP256Verify: (publicKey, digest, signature) =>
      call({ op: 'crypto.ecdsaP256Verify', publicKey, digest, signature }) as boolean,
    randomBytes: (count) => call({ op: 'crypto.random', count }) as Uint8Array,
  };

  const otaStatus = () => call({ op: 'ota.status' }, asOtaError) as { running: string; state: AppState; capacity: number };
  const ota: Ota = {
    runningSlot: () => otaStatus().running,
    runningState: () => otaStatus().state,
    openNext(resume): OtaWriter {
      const { capacity } = call({ op: 'ota.open', resume }, asOtaError) as { capacity: number };
      return {
        capacity,
        write: (bytes, offset) => void call({ op: 'ota.write', offset, bytes }, asOtaError),
        read: (length, offset) => call({ op: 'ota.read', offset, length }, asOtaError) as Uint8Array,
        complete: (byteLength) => void call({ op: 'ota.complete', byteLength }, asOtaError),
        abort: () => void call({ op: 'ota.abort' }, asOtaError),
      };
    },
    markValid: () => void call({ op: 'ota.markValid' }, asOtaError),
    rollback() {
      restarting = true;
      call({ op: 'ota.rollback' }, asOtaError);
      throw new RestartSignal();
    },
  };

  const system: System = {
    restart() {
      restarting = true;
      call({ op: 'system.restart' });
      throw new RestartSignal();
    },
    resetReason: (): ResetReason => boot.resetReason,
    freeHeap: () => call({ op: 'system.freeHeap' }) as number,
    firmwareVersion: () => boot.firmwareVersion,
    deviceId: () => boot.deviceId,
  };

  const log: Log = {
    level: 'info',
    write(level: LogLevel, message: string, fields?: LogFields) {
      if (levelEnabled(log.level, level)) call({ op: 'log', level, message, fields: redact(fields) });
    },
    event(type: string, fields?: LogFields) {
      call({ op: 'event', type, fields: redact(fields) });
    },
  };

  const config: DeviceConfig = Object.freeze({ ...boot.config });
  const hal: Hal = { clock, timers, i2c, gpio, text: hostText, net, flash, ota, kv, crypto, system, log, board, config };

  function dispatch(event: HostEvent): void {
    switch (event.type) {
      case 'boot':
        start(hal);
        return;
      case 'timer': {
        const timer = timerCallbacks.get(event.id);
        if (!timer) return; // cleared while the event was on its way
        if (!timer.repeat) timerCallbacks.delete(event.id);
        timer.callback();
        return;
      }
      case 'net.connect':
        sockets.get(event.id)?.onConnect();
        return;
      case 'net.data':
        sockets.get(event.id)?.onData(event.bytes);
        return;
      case 'net.close': {
        const handlers = sockets.get(event.id);
        sockets.delete(event.id);
        handlers?.onClose();
        return;
      }
      case 'net.error': {
        const handlers = sockets.get(event.id);
        sockets.delete(event.id);
        handlers?.onError(new NetError(event.code as NetErrorCode, event.message));
        return;
      }
      case 'serial.data':
        serialHandlers.get(event.port)?.(event.bytes);
        return;
      case 'digital.edge':
        return;
    }
  }

  return {
    hal,
    get restarting() {
      return restarting;
    },
    deliver(batch: EventBatch): void {
      now = batch.t;
      if (batch.wall !== undefined) wall = batch.wall;
      for (const event of batch.events) {
        if (restarting) return;
        try {
          dispatch(event);
        } catch (error) {
          if (error instanceof RestartSignal) return;
          throw error;
        }
      }
    },
  };
}
