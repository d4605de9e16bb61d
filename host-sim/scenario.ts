/**
 * Scenarios: a stretch of a fleet's life with network outages, broker restarts, device
 * restarts, power cuts and time sync at given times, and an account of every reading: stored
 * on the device, received by the hub (duplicates dropped there), dropped by the outbox's
 * overflow policy, or lost. `thingkit sim --scenario FILE` and the scenario tests run them.
 *
 * A scenario file is JSON:
 *
 *   { "description": "a day of bad Wi-Fi",
 *     "duration": "24h", "devices": 1, "settle": "2h", "seed": 7,
 *     "config": { "telemetryIntervalMs": 60000 },
 *     "events": [
 *       { "at": "1h",  "do": "outage", "for": "2h", "devices": [1] },
 *       { "at": "4h",  "do": "outage", "for": "5m", "kind": "deaf" },
 *       { "at": "9h",  "do": "slow-link", "for": "4h", "bytesPerSecond": 250, "latency": "600ms" },
 *       { "at": "0s",  "do": "random-outages", "total": 0.3, "max": "3h" },
 *       { "at": "5h",  "do": "broker-restart", "down": "1m" },
 *       { "at": "6h",  "do": "restart" },
 *       { "at": "7h",  "do": "power-cut", "during": "outbox-write" },
 *       { "at": "8h",  "do": "time-sync" } ] }
 *
 * `devices` in an event: "all" (the default) or a list of device numbers from 1.
 */
import type { FlashMutation } from './flash/flash-image';
import { armPowerCut } from './flash/power-cut';
import { seededRandom } from './seeded-random';
import type { SimEvent, SimEventSink } from './sim-event';
import { Simulation, type SimulationOptions } from './simulation';
import type { Hub } from '../hub/hub';
import { parseDuration } from '../cli/duration';

export type DeviceSelector = 'all' | number[];

export type ScenarioEvent =
  /** `down`: no link at all. `deaf`: nothing reaches the device, what it sends still arrives (acknowledgements are lost). */
  | { atMs: number; do: 'outage'; forMs: number; devices: DeviceSelector; kind: 'down' | 'deaf' }
  /** A thin link: every byte each way at `bytesPerSecond`, arriving `latencyMs` after it was sent. */
  | { atMs: number; do: 'slow-link'; forMs: number; devices: DeviceSelector; bytesPerSecond: number; latencyMs: number }
  | { atMs: number; do: 'broker-restart'; downMs: number }
  | { atMs: number; do: 'restart'; devices: DeviceSelector }
  /** `outbox-write`: during the device's next write into its outbox partition; `now`: between two flash operations. */
  | { atMs: number; do: 'power-cut'; devices: DeviceSelector; during: 'outbox-write' | 'now' }
  | { atMs: number; do: 'time-sync' };

export interface Scenario {
  description?: string;
  durationMs: number;
  /** Devices to simulate (the command line may say otherwise). */
  devices?: number;
  /** Device configuration for the run (telemetryIntervalMs, outboxOverflow, …). */
  config: { [key: string]: string | number | boolean };
  /** Whether devices get the wall clock at boot (default true); false: only at a `time-sync` event. */
  timeSync: boolean;
  /** How devices authenticate to the hub: `sas` (default; a SAS token needs the wall clock) or `x509`. */
  auth: 'sas' | 'x509';
  /** After `durationMs`: how long the devices may take to deliver what they still hold. */
  settleMs: number;
  /** Seeds the random choices (random outages, where a power cut tears a write). */
  seed: number;
  events: ScenarioEvent[];
}

export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

/** Each kind of event and its fields besides `at` and `do`. */
const EVENT_FIELDS: { [kind: string]: string[] } = {
  outage: ['for', 'kind', 'devices'],
  'random-outages': ['total', 'max', 'until', 'devices'],
  'slow-link': ['for', 'bytesPerSecond', 'latency', 'devices'],
  'broker-restart': ['down'],
  restart: ['devices'],
  'power-cut': ['during', 'devices'],
  'time-sync': [],
};
const EVENT_KINDS = Object.keys(EVENT_FIELDS);

/** Checks a scenario file's JSON and expands random outages; errors name the field and say what to write. */
export function parseScenario(text: string, source = 'the scenario'): Scenario {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(`${source} is not JSON: ${(error as Error).message}`);
  }
  if (!isObject(raw)) throw new ScenarioError(`${source} must be a JSON object with "duration" and "events"`);
  const known = ['description', 'duration', 'devices', 'config', 'timeSync', 'auth', 'settle', 'seed', 'events'];
  for (const key of Object.keys(raw)) if (!known.includes(key)) throw new ScenarioError(`${source}: unknown field "${key}" (known: ${known.join(', ')})`);
  const duration = (value: unknown, what: string): number => {
    if (typeof value === 'number' && value >= 0 && Number.isFinite(value)) return value;
    if (typeof value === 'string' && /^0+(ms|s|m|h|d)?$/.test(value.trim())) return 0;
    if (typeof value !== 'string') throw new ScenarioError(`${source}: ${what} must be a duration like "90s", "15m", "3h" or "1d"`);
    try {
      return parseDuration(value, what);
    } catch (error) {
      throw new ScenarioError(`${source}: ${(error as Error).message}`);
    }
  };
  if (raw.duration === undefined) throw new ScenarioError(`${source}: "duration" is missing: say how long the scenario runs, like "24h"`);
  const durationMs = duration(raw.duration, '"duration"');
  if (durationMs <= 0) throw new ScenarioError(`${source}: "duration" must be longer than 0`);
  if (raw.devices !== undefined && (!Number.isInteger(raw.devices) || (raw.devices as number) < 1 || (raw.devices as number) > 10_000)) {
    throw new ScenarioError(`${source}: "devices" must be a whole number from 1 to 10000`);
  }
  const devices = raw.devices as number | undefined;
  if (raw.config !== undefined && !isObject(raw.config)) throw new ScenarioError(`${source}: "config" must be an object of device settings`);
  const config = (raw.config ?? {}) as Scenario['config'];
  for (const [key, value] of Object.entries(config)) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) throw new ScenarioError(`${source}: config "${key}" must be a string, number or boolean`);
  }
  if (raw.timeSync !== undefined && typeof raw.timeSync !== 'boolean') throw new ScenarioError(`${source}: "timeSync" must be true or false`);
  if (raw.auth !== undefined && raw.auth !== 'sas' && raw.auth !== 'x509') throw new ScenarioError(`${source}: "auth" must be "sas" (keys derived from the enrollment group) or "x509" (a certificate per device)`);
  if (raw.seed !== undefined && !Number.isInteger(raw.seed)) throw new ScenarioError(`${source}: "seed" must be a whole number`);
  const seed = (raw.seed as number | undefined) ?? 1;
  const random = seededRandom(seed);
  if (!Array.isArray(raw.events)) throw new ScenarioError(`${source}: "events" must be a list (it may be empty)`);
  const events: ScenarioEvent[] = [];
  raw.events.forEach((entry: unknown, index: number) => {
    const where = `event ${index + 1}`;
    if (!isObject(entry)) throw new ScenarioError(`${source}: ${where} must be an object like { "at": "1h", "do": "outage", "for": "30m" }`);
    if (!EVENT_KINDS.includes(entry.do as string)) throw new ScenarioError(`${source}: ${where}: "do" must be one of ${EVENT_KINDS.join(', ')} (got ${JSON.stringify(entry.do)})`);
    if (entry.at === undefined) throw new ScenarioError(`${source}: ${where}: "at" is missing: when it happens, like "2h"`);
    const atMs = duration(entry.at, `${where} "at"`);
    if (atMs > durationMs) throw new ScenarioError(`${source}: ${where} is at ${entry.at}, after the scenario ends`);
    const allowed = ['at', 'do', ...(EVENT_FIELDS[entry.do as string] ?? [])];
    for (const key of Object.keys(entry)) {
      if (!allowed.includes(key)) throw new ScenarioError(`${source}: ${where}: "${key}" is not a field of ${entry.do} (its fields: ${allowed.join(', ')})`);
    }
    const selector = deviceSelector(entry.devices, devices, `${source}: ${where}`);
    switch (entry.do) {
      case 'outage': {
        if (entry.for === undefined) throw new ScenarioError(`${source}: ${where}: an outage needs "for": how long the network is down`);
        const forMs = duration(entry.for, `${where} "for"`);
        if (forMs <= 0) throw new ScenarioError(`${source}: ${where}: an outage lasts longer than 0 ("for")`);
        const kind = entry.kind ?? 'down';
        if (kind !== 'down' && kind !== 'deaf') throw new ScenarioError(`${source}: ${where}: "kind" must be "down" (no link) or "deaf" (nothing reaches the device; what it sends still arrives)`);
        events.push({ atMs, do: 'outage', forMs, devices: selector, kind });
        break;
      }
      case 'random-outages': {
        const total = entry.total;
        if (typeof total !== 'number' || !(total > 0 && total < 1)) throw new ScenarioError(`${source}: ${where}: "total" is the share of the time offline, a number between 0 and 1 (0.3 for 30 %)`);
        if (entry.max === undefined) throw new ScenarioError(`${source}: ${where}: "max" is missing: the longest single outage, like "3h"`);
        const maxMs = duration(entry.max, `${where} "max"`);
        if (maxMs < 60_000) throw new ScenarioError(`${source}: ${where}: "max" must be at least "1m" (outages last a minute or more)`);
        const endMs = entry.until === undefined ? durationMs : duration(entry.until, `${where} "until"`);
        if (endMs <= atMs || endMs > durationMs) throw new ScenarioError(`${source}: ${where}: "until" must be after "at" and no later than the scenario's end`);
        let outages;
        try {
          outages = randomOutages(random, atMs, endMs, total, maxMs);
        } catch (error) {
          throw new ScenarioError(`${source}: ${where}: ${(error as Error).message}`);
        }
        for (const outage of outages) events.push({ ...outage, do: 'outage', devices: selector, kind: 'down' });
        break;
      }
      case 'slow-link': {
        if (entry.for === undefined) throw new ScenarioError(`${source}: ${where}: a slow link needs "for": how long the link stays thin`);
        const forMs = duration(entry.for, `${where} "for"`);
        if (forMs <= 0) throw new ScenarioError(`${source}: ${where}: a slow link lasts longer than 0 ("for")`);
        const bytesPerSecond = entry.bytesPerSecond;
        if (typeof bytesPerSecond !== 'number' || !Number.isFinite(bytesPerSecond) || bytesPerSecond < 1) {
          throw new ScenarioError(`${source}: ${where}: "bytesPerSecond" is the link's speed each way, a number of at least 1 (250 for a weak cellular link)`);
        }
        const latencyMs = entry.latency === undefined ? 0 : duration(entry.latency, `${where} "latency"`);
        events.push({ atMs, do: 'slow-link', forMs, devices: selector, bytesPerSecond, latencyMs });
        break;
      }
      case 'broker-restart':
        events.push({ atMs, do: 'broker-restart', downMs: entry.down === undefined ? 0 : duration(entry.down, `${where} "down"`) });
        break;
      case 'restart':
        events.push({ atMs, do: 'restart', devices: selector });
        break;
      case 'power-cut': {
        const during = entry.during ?? 'now';
        if (during !== 'now' && during !== 'outbox-write') throw new ScenarioError(`${source}: ${where}: "during" must be "outbox-write" or "now"`);
        events.push({ atMs, do: 'power-cut', devices: selector, during });
        break;
      }
      case 'time-sync':
        events.push({ atMs, do: 'time-sync' });
        break;
    }
  });
  events.sort((a, b) => a.atMs - b.atMs);
  return {
    ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
    durationMs,
    ...(devices === undefined ? {} : { devices }),
    config,
    timeSync: (raw.timeSync as boolean | undefined) ?? true,
    auth: (raw.auth as 'sas' | 'x509' | undefined) ?? 'sas',
    settleMs: raw.settle === undefined ? 2 * 3_600_000 : duration(raw.settle, '"settle"'),
    seed,
    events,
  };
}

/**
 * Outages between `fromMs` and `toMs` adding up to `share` of that time, each at most `maxMs`
 * and at least a minute, with at least a minute of link between two.
 */
export function randomOutages(random: () => number, fromMs: number, toMs: number, share: number, maxMs: number): { atMs: number; forMs: number }[] {
  const minute = 60_000;
  const span = toMs - fromMs;
  const lengths: number[] = [];
  let remaining = Math.round(span * share);
  while (remaining >= minute) {
    const length = Math.min(remaining, Math.max(minute, Math.round(minute + random() * (maxMs - minute))));
    lengths.push(length);
    remaining -= length;
  }
  // The gaps: the link time split at random, each at least a minute.
  const linkTime = span - lengths.reduce((sum, length) => sum + length, 0);
  const spare = linkTime - (lengths.length + 1) * minute;
  if (spare < 0) throw new ScenarioError(`random outages: ${lengths.length} outages do not fit between ${fromMs} and ${toMs} ms with a minute of link between them`);
  const cuts = Array.from({ length: lengths.length + 1 }, () => random());
  const sum = cuts.reduce((a, b) => a + b, 0);
  const outages: { atMs: number; forMs: number }[] = [];
  let at = fromMs;
  lengths.forEach((length, i) => {
    at += minute + Math.floor((cuts[i]! / sum) * spare);
    outages.push({ atMs: at, forMs: length });
    at += length;
  });
  return outages;
}

function deviceSelector(value: unknown, devices: number | undefined, where: string): DeviceSelector {
  if (value === undefined || value === 'all') return 'all';
  if (!Array.isArray(value) || value.length === 0 || !value.every((n) => Number.isInteger(n) && n >= 1 && (devices === undefined || n <= devices))) {
    throw new ScenarioError(`${where}: "devices" must be "all" or a list of device numbers from 1${devices === undefined ? '' : ` to ${devices}`}`);
  }
  return value as number[];
}

function isObject(value: unknown): value is { [key: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ------------------------------------------------------------------ the account

/** What one device stored and what the hub received from it. */
export interface DeviceAccount {
  device: string;
  /** Readings (telemetry and alert messages) stored in the outbox. */
  sent: number;
  /** Messages the hub received, duplicates included. */
  received: number;
  duplicates: number;
  /** Distinct readings received. */
  unique: number;
  /** Readings the overflow policy dropped: stored then erased (drop-oldest) or refused (drop-newest). */
  dropped: number;
  /** Readings taken but never stored for another reason (encoding failed, a record too large, a flash error); their events say why. */
  notStored: number;
  /** Stored, not dropped, not received. */
  lost: number;
  /** Received after a later reading stored in the same connection (live readings overtaking a backlog are in order). */
  outOfOrder: number;
  /** Power cuts, restarts and connections seen. */
  powerCuts: number;
  restarts: number;
  connections: number;
}

export interface ScenarioSummary extends Omit<DeviceAccount, 'device'> {
  devices: number;
  /** Simulation time run: the scenario and the settling after it. */
  simulatedMs: number;
  /** The most messages the hub received in any one second of simulation time, and the fleet's configured drain rate. */
  peakPerSecond: number;
  drainLimitPerSecond: number;
  perDevice: DeviceAccount[];
}

interface Stored {
  /**
   * Order among the device's events (the sink's order): the order readings were stored in. Not
   * the message id's sequence number, which starts again from 1 in a log started afresh.
   */
  index: number;
  /** Simulation time it was stored. */
  at: number;
}

interface DeviceLedger {
  stored: Map<string, Stored>;
  erased: number;
  refused: number;
  notStored: number;
  /** Event indexes of the connections. */
  connects: number[];
  arrivals: { mid: string; at: number }[];
  /** Message ids of the duplicates the hub dropped, one entry each. */
  duplicates: string[];
  powerCuts: number;
  restarts: number;
}

/**
 * Counts what each device stores (from its `telemetry`/`alert` events, which carry the message
 * id) and what the hub receives (its `telemetry` and `duplicate` events).
 */
export class ScenarioLedger {
  private readonly devices = new Map<string, DeviceLedger>();
  private readonly arrivalTimes: number[] = [];
  private index = 0;

  constructor(private readonly now: () => number) {}

  /** A sink that records, then passes events on. */
  sink(next: SimEventSink): SimEventSink {
    return (event) => {
      this.record(event);
      next(event);
    };
  }

  /** Listens to a hub (call again after it restarts). */
  watchHub(hub: Hub): void {
    hub.front.on('telemetry', (message: { deviceId: string; systemProperties: { [name: string]: string } }) => {
      const mid = message.systemProperties.messageId;
      if (mid) this.arrived(message.deviceId, mid);
    });
    hub.front.on('duplicate', (result: { deviceId: string; messageId: string }) => {
      this.ledger(result.deviceId).duplicates.push(result.messageId);
      this.arrivalTimes.push(this.now());
    });
  }

  /** The message ids a device stored before `beforeMs` (all by default), in the order stored. */
  storedIds(device: string, beforeMs = Infinity): string[] {
    return [...this.ledger(device).stored.entries()].filter(([, s]) => s.at < beforeMs).map(([mid]) => mid);
  }

  /** The simulation time a device stored a reading, by its message id. */
  storedAt(device: string, mid: string): number | undefined {
    return this.ledger(device).stored.get(mid)?.at;
  }

  /** The distinct message ids the hub received from a device, in the order received. */
  receivedIds(device: string): string[] {
    return this.ledger(device).arrivals.map((a) => a.mid);
  }

  /** When the hub received a device's readings (first copies), by message id, in the order received. */
  arrivals(device: string): { mid: string; at: number }[] {
    return this.ledger(device).arrivals.map((a) => ({ ...a }));
  }

  /** Readings stored before `beforeMs` not yet received, less those the device counted as dropped. */
  outstanding(beforeMs = Infinity): number {
    let total = 0;
    for (const [device, ledger] of this.devices) {
      const received = new Set(this.receivedIds(device));
      const missing = this.storedIds(device, beforeMs).filter((mid) => !received.has(mid)).length;
      total += Math.max(0, missing - ledger.erased);
    }
    return total;
  }

  /** The busiest second: the most hub arrivals (duplicates included) in any one-second window. */
  peakPerSecond(fromMs = 0): number {
    return this.busiest(1000, fromMs);
  }

  /** The most hub arrivals (duplicates included) in any window shorter than `windowMs`, between `fromMs` and `toMs`. */
  busiest(windowMs: number, fromMs = 0, toMs = Infinity): number {
    const times = this.arrivalTimes.filter((t) => t >= fromMs && t < toMs).sort((a, b) => a - b);
    let peak = 0;
    let start = 0;
    for (let end = 0; end < times.length; end++) {
      while (times[end]! - times[start]! >= windowMs) start++;
      peak = Math.max(peak, end - start + 1);
    }
    return peak;
  }

  /** The account per device, of the readings stored before `beforeMs`. */
  account(deviceIds: string[], beforeMs = Infinity): DeviceAccount[] {
    return deviceIds.map((device) => {
      const ledger = this.ledger(device);
      const counted = new Set(this.storedIds(device, beforeMs));
      const arrivals = ledger.arrivals.filter((a) => counted.has(a.mid));
      const missing = counted.size - arrivals.length;
      const duplicates = ledger.duplicates.filter((mid) => counted.has(mid)).length;
      return {
        device,
        sent: counted.size,
        received: arrivals.length + duplicates,
        duplicates,
        unique: arrivals.length,
        dropped: ledger.erased + ledger.refused,
        notStored: ledger.notStored,
        lost: Math.max(0, missing - ledger.erased),
        outOfOrder: this.outOfOrder(ledger, arrivals),
        powerCuts: ledger.powerCuts,
        restarts: ledger.restarts,
        connections: ledger.connects.length,
      };
    });
  }

  private record(event: SimEvent): void {
    const ledger = this.ledger(event.device);
    const index = this.index++;
    switch (event.type) {
      case 'telemetry':
      case 'alert':
        if (event.sent === true && typeof event.mid === 'string') ledger.stored.set(event.mid, { index, at: this.now() });
        if (event.sent === false) {
          if (typeof event.reason === 'string' && /full/.test(event.reason)) ledger.refused++;
          else ledger.notStored++;
        }
        if (typeof event.droppedOldest === 'number') ledger.erased += event.droppedOldest;
        break;
      case 'connected':
        ledger.connects.push(index);
        break;
      case 'power-cut':
        ledger.powerCuts++;
        break;
      case 'restart': // the firmware asked, an exception, or a reset from outside
        ledger.restarts++;
        break;
    }
  }

  private arrived(device: string, mid: string): void {
    this.ledger(device).arrivals.push({ mid, at: this.now() });
    this.arrivalTimes.push(this.now());
  }

  /**
   * Readings that arrived after a later one with no connection coming up between the two
   * being stored: the drain sends each connection's backlog and its live readings in order, and
   * lets live readings overtake the backlog, nothing else.
   */
  private outOfOrder(ledger: DeviceLedger, arrivals: { mid: string }[]): number {
    const seen: Stored[] = [];
    let count = 0;
    for (const arrival of arrivals) {
      const reading = ledger.stored.get(arrival.mid)!;
      // The earliest-stored reading already received that is later than this one.
      let overtaker: Stored | undefined;
      for (const s of seen) if (s.index > reading.index && (overtaker === undefined || s.index < overtaker.index)) overtaker = s;
      if (overtaker && !ledger.connects.some((c) => c > reading.index && c < overtaker!.index)) count++;
      seen.push(reading);
    }
    return count;
  }

  private ledger(device: string): DeviceLedger {
    let ledger = this.devices.get(device);
    if (!ledger) {
      ledger = { stored: new Map(), erased: 0, refused: 0, notStored: 0, connects: [], arrivals: [], duplicates: [], powerCuts: 0, restarts: 0 };
      this.devices.set(device, ledger);
    }
    return ledger;
  }
}

// ------------------------------------------------------------------ running

/** Puts the scenario's events on the simulation's clock; the scheduler waits for their work. */
export class ScenarioDriver {
  private pending: Promise<void> | undefined;

  constructor(
    private readonly simulation: Simulation,
    private readonly scenario: Scenario,
    private readonly sink: SimEventSink,
  ) {
    simulation.scheduler.addQuiescent({
      settle: async () => {
        while (this.pending) await this.pending;
      },
    });
    const random = seededRandom(scenario.seed ^ 0x5eed);
    const start = simulation.scheduler.now();
    for (const event of scenario.events) simulation.scheduler.at(start + event.atMs, () => this.perform(event, random));
  }

  private perform(event: ScenarioEvent, random: () => number): void {
    const sim = this.simulation;
    const note = (fields: { [key: string]: unknown }) => this.sink({ device: '-', engine: sim.options.engine, t: sim.scheduler.now(), type: 'scenario', ...fields });
    switch (event.do) {
      case 'outage': {
        const devices = this.select(event.devices);
        note({ event: 'outage', kind: event.kind, devices: devices.map((d) => d.id), forMs: event.forMs });
        for (const device of devices) (event.kind === 'deaf' ? device.setDeaf(true) : device.setLink(false));
        sim.scheduler.at(sim.scheduler.now() + event.forMs, () => {
          for (const device of devices) (event.kind === 'deaf' ? device.setDeaf(false) : device.setLink(true));
        });
        break;
      }
      case 'slow-link': {
        const devices = this.select(event.devices);
        const quality = { bytesPerSecond: event.bytesPerSecond, latencyMs: event.latencyMs };
        note({ event: 'slow-link', devices: devices.map((d) => d.id), forMs: event.forMs, ...quality });
        for (const device of devices) device.setLinkQuality(quality);
        sim.scheduler.at(sim.scheduler.now() + event.forMs, () => {
          for (const device of devices) device.setLinkQuality(undefined);
        });
        break;
      }
      case 'broker-restart':
        note({ event: 'broker-restart', downMs: event.downMs });
        this.track(sim.restartBroker(event.downMs));
        break;
      case 'restart':
        for (const device of this.select(event.devices)) {
          note({ event: 'restart', device: device.id });
          this.track(device.reset('software'));
        }
        break;
      case 'power-cut':
        for (const device of this.select(event.devices)) {
          note({ event: 'power-cut', device: device.id, during: event.during });
          if (event.during === 'now') {
            this.track(device.reset('power-on'));
            continue;
          }
          const image = device.flashImage;
          const outbox = image?.partitions().find((p) => p.label === 'outbox');
          if (!image || !outbox) {
            note({ event: 'power-cut-skipped', device: device.id, why: image ? 'the device has no outbox partition' : 'the device is off' });
            continue;
          }
          const intoOutbox = (op: FlashMutation) => op.kind === 'write' && op.offset < outbox.offset + outbox.size && op.offset + op.length > outbox.offset;
          armPowerCut(image, 0, random, intoOutbox);
        }
        break;
      case 'time-sync':
        note({ event: 'time-sync' });
        sim.syncDeviceClocks();
        break;
    }
  }

  private select(selector: DeviceSelector) {
    const devices = this.simulation.devices;
    return selector === 'all' ? devices : selector.flatMap((n) => (devices[n - 1] ? [devices[n - 1]!] : []));
  }

  private track(work: Promise<void>): void {
    const previous = this.pending;
    const tracked: Promise<void> = Promise.all([previous, work.catch((error: Error) => this.sink({ device: '-', engine: this.simulation.options.engine, t: this.simulation.scheduler.now(), type: 'error', message: error.message }))])
      .then(() => undefined)
      .finally(() => {
        if (this.pending === tracked) this.pending = undefined;
      });
    this.pending = tracked;
  }
}

/**
 * Runs a started simulation through the scenario, then lets the devices deliver what they hold
 * (up to `settleMs`, checking each simulated minute), and returns the account of the readings
 * stored during the scenario.
 */
export async function runScenario(simulation: Simulation, scenario: Scenario, ledger: ScenarioLedger, sink: SimEventSink): Promise<ScenarioSummary> {
  new ScenarioDriver(simulation, scenario, sink);
  const start = simulation.scheduler.now();
  const end = start + scenario.durationMs;
  await simulation.run(end);
  const settleUntil = end + scenario.settleMs;
  while (simulation.scheduler.now() < settleUntil && ledger.outstanding(end) > 0) {
    await simulation.run(Math.min(settleUntil, simulation.scheduler.now() + 60_000));
  }
  const ids = simulation.devices.map((d) => d.id);
  const perDevice = ledger.account(ids, end);
  const total = (key: keyof Omit<DeviceAccount, 'device'>) => perDevice.reduce((sum, d) => sum + d[key], 0);
  const rate = Number(scenario.config.drainRatePerSecond ?? simulation.options.config?.drainRatePerSecond ?? DEFAULT_DRAIN_RATE);
  return {
    devices: ids.length,
    simulatedMs: simulation.scheduler.now() - start,
    sent: total('sent'),
    received: total('received'),
    duplicates: total('duplicates'),
    unique: total('unique'),
    dropped: total('dropped'),
    notStored: total('notStored'),
    lost: total('lost'),
    outOfOrder: total('outOfOrder'),
    powerCuts: total('powerCuts'),
    restarts: total('restarts'),
    connections: total('connections'),
    peakPerSecond: ledger.peakPerSecond(start),
    drainLimitPerSecond: rate * ids.length,
    perDevice,
  };
}

/** The firmware's default drain rate (firmware/app/config.ts). */
const DEFAULT_DRAIN_RATE = 10;

export interface ScenarioRun {
  simulation: Simulation;
  ledger: ScenarioLedger;
  /** Runs the scenario and the settling, stops the simulation, and returns the account. */
  run(): Promise<ScenarioSummary>;
}

/**
 * Starts a simulation for a scenario: the local hub (it de-duplicates and counts), virtual
 * time, the scenario's devices and configuration (the options' win where both say).
 */
export async function startScenario(
  scenario: Scenario,
  options: Omit<SimulationOptions, 'timeMode' | 'hub' | 'broker' | 'devices' | 'sink'> & { devices?: number; sink?: SimEventSink },
): Promise<ScenarioRun> {
  const fleet = options.devices ?? scenario.devices ?? 1;
  for (const event of scenario.events) {
    const numbers = 'devices' in event && event.devices !== 'all' ? event.devices : [];
    const beyond = numbers.find((n) => n > fleet);
    if (beyond !== undefined) throw new ScenarioError(`the scenario names device ${beyond}, but the run has ${fleet} device(s): give more with --devices, or fix the event`);
  }
  let simulation: Simulation | undefined;
  const ledger = new ScenarioLedger(() => simulation?.scheduler.now() ?? 0);
  const sink = ledger.sink(options.sink ?? (() => {}));
  simulation = await Simulation.start({
    ...options,
    devices: fleet,
    timeMode: 'virtual',
    hub: true,
    timeSync: scenario.timeSync,
    hubAuth: scenario.auth,
    config: { ...scenario.config, ...options.config },
    sink,
    onHubStarted: (hub) => {
      ledger.watchHub(hub);
      options.onHubStarted?.(hub);
    },
  });
  const started = simulation;
  return {
    simulation: started,
    ledger,
    async run() {
      try {
        return await runScenario(started, scenario, ledger, sink);
      } finally {
        await started.stop();
      }
    },
  };
}
