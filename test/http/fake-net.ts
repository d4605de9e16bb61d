/**
 * A fake device for the HTTP client and OTA service tests: virtual time (timers run in time
 * order as `advance` moves the clock), and a network whose servers are functions that get
 * the request text and answer through a scripted connection.
 */
import { NetError, type NetErrorCode, type Socket, type SocketHandlers, type SocketOptions } from '../../hal/net';
import type { Log, LogFields, LogLevel } from '../../hal/log';

export class VirtualTime {
  now = 0;
  private nextId = 1;
  private sequence = 0;
  private readonly pending = new Map<number, { at: number; seq: number; callback: () => void }>();

  readonly clock = {
    now: () => this.now,
    wallTime: () => 1_700_000_000_000 + this.now,
    setWallTime: () => undefined,
  };

  readonly timers = {
    set: (callback: () => void, ms: number): number => {
      const id = this.nextId++;
      this.pending.set(id, { at: this.now + Math.max(0, ms), seq: this.sequence++, callback });
      return id;
    },
    repeat: (): number => {
      throw new Error('repeat is not used here');
    },
    clear: (id: number): void => {
      this.pending.delete(id);
    },
  };

  /** Schedules `callback` after `ms`, like a timer. */
  later(ms: number, callback: () => void): void {
    this.timers.set(callback, ms);
  }

  get pendingTimers(): number {
    return this.pending.size;
  }

  /** Runs every timer due within `ms` from now, in time order; lets promise jobs run between them. */
  async advance(ms: number): Promise<void> {
    const target = this.now + ms;
    for (;;) {
      await Promise.resolve();
      await Promise.resolve();
      let nextId: number | undefined;
      let next: { at: number; seq: number; callback: () => void } | undefined;
      for (const [id, timer] of this.pending) {
        if (timer.at <= target && (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))) {
          next = timer;
          nextId = id;
        }
      }
      if (!next || nextId === undefined) break;
      this.pending.delete(nextId);
      this.now = Math.max(this.now, next.at);
      next.callback();
    }
    this.now = target;
    await Promise.resolve();
  }
}

export interface FakeRequest {
  host: string;
  port: number;
  tls: boolean;
  serverName?: string;
  text: string;
  /** The request line's target. */
  target: string;
  headers: Map<string, string>;
}

/** The server side of one connection. Everything it does is delivered after `latencyMs`. */
export class FakeConnection {
  closed = false;
  constructor(
    private readonly time: VirtualTime,
    private readonly handlers: SocketHandlers,
    private readonly latencyMs: number,
    private readonly isOpen: () => boolean,
  ) {}

  send(data: string | Uint8Array, delayMs = this.latencyMs): void {
    const bytes = typeof data === 'string' ? new Uint8Array(Buffer.from(data, 'latin1')) : data;
    this.time.later(delayMs, () => {
      if (this.isOpen()) this.handlers.onData(bytes);
    });
  }

  close(delayMs = this.latencyMs): void {
    this.time.later(delayMs, () => {
      if (this.isOpen()) {
        this.closed = true;
        this.handlers.onClose();
      }
    });
  }

  error(code: NetErrorCode, delayMs = this.latencyMs): void {
    this.time.later(delayMs, () => {
      if (this.isOpen()) {
        this.closed = true;
        this.handlers.onError(new NetError(code, `fake ${code}`));
      }
    });
  }
}

export type FakeServer = (request: FakeRequest, connection: FakeConnection) => void;

export class FakeNet {
  readonly servers = new Map<string, FakeServer>();
  readonly connections: { options: SocketOptions; request?: FakeRequest }[] = [];
  latencyMs = 1;
  /** Hosts whose connections are refused. */
  readonly refused = new Set<string>();

  constructor(private readonly time: VirtualTime) {}

  connect(options: SocketOptions, handlers: SocketHandlers): Socket {
    const record: { options: SocketOptions; request?: FakeRequest } = { options };
    this.connections.push(record);
    let open = true;
    let received = '';
    const connection = new FakeConnection(this.time, handlers, this.latencyMs, () => open);
    const key = `${options.host}:${options.port}`;
    this.time.later(this.latencyMs, () => {
      if (!open) return;
      if (this.refused.has(options.host) || !this.servers.has(key)) {
        open = false;
        handlers.onError(new NetError('refused', `connection to ${key} refused`));
        return;
      }
      handlers.onConnect();
    });
    return {
      write: (bytes: Uint8Array) => {
        if (!open) throw new NetError('closed', 'socket closed');
        received += Buffer.from(bytes).toString('latin1');
        const end = received.indexOf('\r\n\r\n');
        if (end >= 0 && !record.request) {
          const lines = received.slice(0, end).split('\r\n');
          const headers = new Map<string, string>();
          for (const line of lines.slice(1)) {
            const colon = line.indexOf(':');
            headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
          }
          const request: FakeRequest = {
            host: options.host,
            port: options.port,
            tls: options.tls !== undefined,
            serverName: options.tls?.serverName,
            text: received,
            target: lines[0].split(' ')[1],
            headers,
          };
          record.request = request;
          const server = this.servers.get(key);
          server?.(request, connection);
        }
      },
      close: () => {
        open = false;
      },
    };
  }
}

export class MemoryLog implements Log {
  level: LogLevel = 'debug';
  readonly lines: { level: LogLevel; message: string }[] = [];
  readonly events: { type: string; fields?: LogFields }[] = [];
  write(level: LogLevel, message: string): void {
    this.lines.push({ level, message });
  }
  event(type: string, fields?: LogFields): void {
    this.events.push({ type, fields });
  }
}

/** The parts of a HAL the HTTP client uses. */
export function fakeHttpHal() {
  const time = new VirtualTime();
  const net = new FakeNet(time);
  const log = new MemoryLog();
  return { time, net, log, hal: { net, timers: time.timers, clock: time.clock, log } };
}

/** An HTTP/1.1 response head. */
export function head(status: number, reason: string, headers: [string, string | number][] = []): string {
  return `HTTP/1.1 ${status} ${reason}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}
