/**
 * Per-device statistics and "silent devices", from the telemetry counters (store/telemetry.ts), the registry
 * and the twin. Pure functions: the service (service.ts) gathers the inputs.
 *
 * - Telemetry interval: the reported `telemetryInterval` (an IoT Plug and Play acknowledgement
 *   `{value, ac, av, ad}` with ac 2xx, or a plain number), else the desired `telemetryInterval`, else 60 s.
 *   Milliseconds, as the firmware's rules take it.
 * - Backlog: the reported `outbox` (`{queued, sent, dropped, oldestAgeMs}`), as the device reports it.
 * - Silent: no message (duplicates count: the device sent them) for longer than factor × interval; a device
 *   that never sent one counts from its creation.
 */
import { badRequest } from './errors';
import type { Device, TelemetryStats, Twin } from './store';
import type { Json } from './twin';

export const DEFAULT_TELEMETRY_INTERVAL_MS = 60_000;
export const DEFAULT_SILENT_FACTOR = 3;
const MAX_SILENT_FACTOR = 10_000;

export type IntervalSource = 'reported' | 'desired' | 'default';

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** The interval the device sends telemetry at, and where it was read. */
export function telemetryInterval(twin: Twin | undefined): { ms: number; source: IntervalSource } {
  const reported = twin?.reported.properties.telemetryInterval;
  const direct = positive(reported);
  if (direct !== undefined) return { ms: direct, source: 'reported' };
  if (reported && typeof reported === 'object' && !Array.isArray(reported)) {
    const ac = reported.ac;
    const value = positive(reported.value);
    if (value !== undefined && (ac === undefined || (typeof ac === 'number' && ac >= 200 && ac < 300))) return { ms: value, source: 'reported' };
  }
  const desired = positive(twin?.desired.properties.telemetryInterval);
  if (desired !== undefined) return { ms: desired, source: 'desired' };
  return { ms: DEFAULT_TELEMETRY_INTERVAL_MS, source: 'default' };
}

export interface Backlog {
  queued: Json;
  sent: Json;
  dropped: Json;
  oldestAgeMs: Json;
  /** When the device last reported its outbox. */
  reportedTime: string | null;
}

/** The backlog the device reports in its reported `outbox` property, or null if it reports none. */
export function reportedBacklog(twin: Twin | undefined): Backlog | null {
  const outbox = twin?.reported.properties.outbox;
  if (!outbox || typeof outbox !== 'object' || Array.isArray(outbox)) return null;
  const metadata = twin!.reported.metadata.outbox;
  const reportedTime = metadata && typeof metadata === 'object' && typeof metadata.$lastUpdated === 'string' ? metadata.$lastUpdated : null;
  return { queued: outbox.queued ?? null, sent: outbox.sent ?? null, dropped: outbox.dropped ?? null, oldestAgeMs: outbox.oldestAgeMs ?? null, reportedTime };
}

/** `?factor=` (or --factor): a positive number, default 3. */
export function silentFactor(text: string | null | undefined): number {
  if (text === null || text === undefined || text === '') return DEFAULT_SILENT_FACTOR;
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(value > 0) || value > MAX_SILENT_FACTOR) {
    throw badRequest(`factor ${JSON.stringify(text)} is not a positive number (at most ${MAX_SILENT_FACTOR})`, `a device is silent after factor × its telemetry interval without a message; the default is ${DEFAULT_SILENT_FACTOR}`);
  }
  return value;
}

export interface Silence {
  factor: number;
  /** factor × interval. */
  thresholdMs: number;
  /** Since the last message (or since the device was created, if it never sent one). */
  silentForMs: number;
  since: string;
  silent: boolean;
}

export function silence(device: Device, lastMessageAt: number | null, intervalMs: number, factor: number, now: number): Silence {
  const since = lastMessageAt ?? device.createdAt;
  const thresholdMs = factor * intervalMs;
  const silentForMs = Math.max(0, now - since);
  return { factor, thresholdMs, silentForMs, since: new Date(since).toISOString(), silent: silentForMs > thresholdMs };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export interface DeviceStatsView {
  deviceId: string;
  status: string;
  connectionState: 'Connected' | 'Disconnected';
  /** When these numbers were taken. */
  time: string;
  /** Any message or connection (the registry's last activity). */
  lastSeenTime: string | null;
  /** The last telemetry message, duplicates included. */
  lastMessageTime: string | null;
  lastDuplicateTime: string | null;
  /** Messages stored in the last hour (the current minute and the 59 before it). */
  messagesLastHour: number;
  duplicatesLastHour: number;
  /** The last 24 hours, oldest first, as rolling hours of whole minutes; the last one is the last hour. */
  hourly: Array<{ from: string; to: string; messages: number; duplicates: number }>;
  /** Messages stored and duplicates dropped, in all. */
  messagesReceived: number;
  duplicatesDropped: number;
  /** The de-duplication window: ids remembered now, and its bounds. */
  messageIds: { remembered: number; maxIds: number; maxAgeMs: number };
  telemetryIntervalMs: number;
  telemetryIntervalSource: IntervalSource;
  backlog: Backlog | null;
  silence: Silence;
}

export function deviceStatsView(input: {
  device: Device;
  twin: Twin | undefined;
  stats: TelemetryStats;
  connected: boolean;
  factor: number;
  now: number;
  window: { maxIds: number; maxAgeMs: number };
}): DeviceStatsView {
  const { device, twin, stats } = input;
  const interval = telemetryInterval(twin);
  const lastHour = stats.hourly[stats.hourly.length - 1];
  return {
    deviceId: device.deviceId,
    status: device.status,
    connectionState: input.connected ? 'Connected' : 'Disconnected',
    time: new Date(input.now).toISOString(),
    lastSeenTime: iso(device.lastActivityAt),
    lastMessageTime: iso(stats.lastMessageAt),
    lastDuplicateTime: iso(stats.lastDuplicateAt),
    messagesLastHour: lastHour.messages,
    duplicatesLastHour: lastHour.duplicates,
    hourly: stats.hourly.map((h) => ({ from: new Date(h.from).toISOString(), to: new Date(h.to).toISOString(), messages: h.messages, duplicates: h.duplicates })),
    messagesReceived: stats.messages,
    duplicatesDropped: stats.duplicates,
    messageIds: { remembered: stats.messageIdsRemembered, ...input.window },
    telemetryIntervalMs: interval.ms,
    telemetryIntervalSource: interval.source,
    backlog: reportedBacklog(twin),
    silence: silence(device, stats.lastMessageAt, interval.ms, input.factor, input.now),
  };
}

export interface SilentDeviceView {
  deviceId: string;
  connectionState: 'Connected' | 'Disconnected';
  lastMessageTime: string | null;
  lastSeenTime: string | null;
  telemetryIntervalMs: number;
  telemetryIntervalSource: IntervalSource;
  thresholdMs: number;
  silentForMs: number;
  since: string;
}

export interface SilentDevicesView {
  time: string;
  factor: number;
  /** Enabled devices silent for longer than factor × their interval, the longest silent first. */
  devices: SilentDeviceView[];
}

export function silentDevicesView(input: {
  devices: Device[];
  twin: (deviceId: string) => Twin | undefined;
  lastMessageTimes: Map<string, number>;
  connected: (deviceId: string) => boolean;
  factor: number;
  now: number;
}): SilentDevicesView {
  const devices: SilentDeviceView[] = [];
  for (const device of input.devices) {
    if (device.status !== 'enabled') continue; // a disabled device cannot connect: its silence says nothing
    const interval = telemetryInterval(input.twin(device.deviceId));
    const lastMessageAt = input.lastMessageTimes.get(device.deviceId) ?? null;
    const s = silence(device, lastMessageAt, interval.ms, input.factor, input.now);
    if (!s.silent) continue;
    devices.push({
      deviceId: device.deviceId,
      connectionState: input.connected(device.deviceId) ? 'Connected' : 'Disconnected',
      lastMessageTime: iso(lastMessageAt),
      lastSeenTime: iso(device.lastActivityAt),
      telemetryIntervalMs: interval.ms,
      telemetryIntervalSource: interval.source,
      thresholdMs: s.thresholdMs,
      silentForMs: s.silentForMs,
      since: s.since,
    });
  }
  devices.sort((a, b) => b.silentForMs - a.silentForMs || (a.deviceId < b.deviceId ? -1 : 1));
  return { time: new Date(input.now).toISOString(), factor: input.factor, devices };
}
