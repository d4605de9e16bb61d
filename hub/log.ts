/** The hub's event log: what devices did and what was refused and why. Kept in memory (last N), and streamed to listeners. */
import { EventEmitter } from 'node:events';

export type LogLevel = 'info' | 'warn' | 'error';

export interface HubLogEntry {
  time: string;
  level: LogLevel;
  /** A short machine-readable name: connect.refused, publish.refused, subscribe.refused, telemetry, ... */
  event: string;
  deviceId?: string;
  registrationId?: string;
  clientId?: string;
  message: string;
  /** For refusals: why, and what to do. */
  reason?: string;
  [key: string]: unknown;
}

export class HubLog extends EventEmitter {
  private readonly entries: HubLogEntry[] = [];

  constructor(
    private readonly capacity = 1000,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  write(entry: Omit<HubLogEntry, 'time'>): HubLogEntry {
    const full = { time: new Date(this.now()).toISOString(), ...entry } as HubLogEntry;
    this.entries.push(full);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    this.emit('entry', full);
    return full;
  }

  /** The most recent entries, oldest first, optionally only those matching. */
  recent(filter: { deviceId?: string; event?: string; limit?: number } = {}): HubLogEntry[] {
    let list = this.entries;
    if (filter.deviceId) list = list.filter((e) => e.deviceId === filter.deviceId || e.clientId === filter.deviceId || e.registrationId === filter.deviceId);
    if (filter.event) list = list.filter((e) => e.event === filter.event || e.event.startsWith(`${filter.event}.`));
    return list.slice(-(filter.limit ?? 200));
  }
}
