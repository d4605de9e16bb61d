/**
 * Scenario files without running a simulation (host-sim/scenario.ts): what parseScenario accepts
 * and how it says no, how random outages are laid out, and how ScenarioLedger accounts for
 * readings from device events and hub arrivals.
 */
import { EventEmitter } from 'node:events';
import { parseScenario, randomOutages, ScenarioError, ScenarioLedger } from '../../host-sim/scenario';
import { seededRandom } from '../../host-sim/seeded-random';
import type { SimEvent } from '../../host-sim/sim-event';

const SECOND = 1000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const parse = (value: unknown, source?: string) => parseScenario(JSON.stringify(value), source);

/** The message parseScenario throws for a file, checking it is a ScenarioError. */
function rejection(text: string, source?: string): string {
  try {
    parseScenario(text, source);
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    return (error as Error).message;
  }
  throw new Error(`parseScenario accepted ${text}`);
}

const rejectionOf = (value: unknown) => rejection(JSON.stringify(value));

describe('parseScenario accepts', () => {
  test('a full file: every field, every kind of event, durations as text and as milliseconds; events sorted by time', () => {
    const scenario = parse({
      description: 'a bad day',
      duration: '1d',
      devices: 3,
      settle: '90s',
      seed: 7,
      timeSync: false,
      auth: 'x509',
      config: { telemetryIntervalMs: 60_000, outboxOverflow: 'drop-newest', verbose: true },
      events: [
        { at: '3h', do: 'outage', for: '15m', devices: [1, 3] },
        { at: 5_400_000, do: 'broker-restart', down: '90s' },
        { at: '15m', do: 'restart', devices: 'all' },
        { at: '2h', do: 'power-cut', during: 'outbox-write', devices: [2] },
        { at: '1d', do: 'time-sync' },
        { at: '90s', do: 'power-cut' },
        { at: '4h', do: 'broker-restart' },
        { at: '5h', do: 'outage', for: 120_000, kind: 'deaf' },
        { at: '6h', do: 'slow-link', for: '2h', bytesPerSecond: 250, latency: '600ms', devices: [3] },
        { at: '7h', do: 'slow-link', for: '1h', bytesPerSecond: 1.5 },
      ],
    });
    expect(scenario).toStrictEqual({
      description: 'a bad day',
      durationMs: DAY,
      devices: 3,
      config: { telemetryIntervalMs: 60_000, outboxOverflow: 'drop-newest', verbose: true },
      timeSync: false,
      auth: 'x509',
      settleMs: 90 * SECOND,
      seed: 7,
      events: [
        { atMs: 90 * SECOND, do: 'power-cut', devices: 'all', during: 'now' },
        { atMs: 15 * MINUTE, do: 'restart', devices: 'all' },
        { atMs: 90 * MINUTE, do: 'broker-restart', downMs: 90 * SECOND },
        { atMs: 2 * HOUR, do: 'power-cut', devices: [2], during: 'outbox-write' },
        { atMs: 3 * HOUR, do: 'outage', forMs: 15 * MINUTE, devices: [1, 3], kind: 'down' },
        { atMs: 4 * HOUR, do: 'broker-restart', downMs: 0 },
        { atMs: 5 * HOUR, do: 'outage', forMs: 2 * MINUTE, devices: 'all', kind: 'deaf' },
        { atMs: 6 * HOUR, do: 'slow-link', forMs: 2 * HOUR, devices: [3], bytesPerSecond: 250, latencyMs: 600 },
        { atMs: 7 * HOUR, do: 'slow-link', forMs: HOUR, devices: 'all', bytesPerSecond: 1.5, latencyMs: 0 },
        { atMs: DAY, do: 'time-sync' },
      ],
    });
  });

  test('defaults: time sync on, SAS auth, 2 h to settle, seed 1, no devices count, empty config, events on all devices', () => {
    expect(parse({ duration: '1h', events: [] })).toStrictEqual({ durationMs: HOUR, config: {}, timeSync: true, auth: 'sas', settleMs: 2 * HOUR, seed: 1, events: [] });
    expect(parse({ duration: 5000, events: [{ at: 0, do: 'restart' }] })).toStrictEqual({
      durationMs: 5000,
      config: {},
      timeSync: true,
      auth: 'sas',
      settleMs: 2 * HOUR,
      seed: 1,
      events: [{ atMs: 0, do: 'restart', devices: 'all' }],
    });
  });

  test('"0s" and an event at the very end are allowed; events at the same time keep their order in the file', () => {
    const scenario = parse({
      duration: '1h',
      events: [
        { at: '1h', do: 'time-sync' },
        { at: '30m', do: 'restart', devices: [2] },
        { at: '0s', do: 'broker-restart' },
        { at: '30m', do: 'restart', devices: [1] },
      ],
    });
    expect(scenario.events).toEqual([
      { atMs: 0, do: 'broker-restart', downMs: 0 },
      { atMs: 30 * MINUTE, do: 'restart', devices: [2] },
      { atMs: 30 * MINUTE, do: 'restart', devices: [1] },
      { atMs: HOUR, do: 'time-sync' },
    ]);
  });

  test('random outages expand into outage events on the selected devices, the same for the same seed', () => {
    const file = (seed: number) => ({
      duration: '1d',
      devices: 2,
      seed,
      events: [
        { at: '12h', do: 'restart' },
        { at: '1h', do: 'random-outages', total: 0.25, max: '2h', until: '23h', devices: [2] },
      ],
    });
    const scenario = parse(file(42));
    const outages = scenario.events.filter((e) => e.do === 'outage');
    expect(outages.length).toBeGreaterThan(1);
    expect(scenario.events).toHaveLength(outages.length + 1);
    for (const outage of outages) {
      expect(outage).toEqual({ atMs: expect.any(Number), do: 'outage', forMs: expect.any(Number), devices: [2], kind: 'down' });
      if (outage.do !== 'outage') continue;
      expect(outage.atMs).toBeGreaterThanOrEqual(HOUR + MINUTE);
      expect(outage.atMs + outage.forMs).toBeLessThanOrEqual(23 * HOUR - MINUTE);
      expect(outage.forMs).toBeLessThanOrEqual(2 * HOUR);
    }
    const offline = outages.reduce((sum, o) => sum + (o.do === 'outage' ? o.forMs : 0), 0);
    expect(Math.abs(offline - 0.25 * 22 * HOUR)).toBeLessThan(MINUTE);
    const times = scenario.events.map((e) => e.atMs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(parse(file(42)).events).toEqual(scenario.events);
    expect(parse(file(43)).events).not.toEqual(scenario.events);
  });
});

describe('parseScenario refuses, naming the field', () => {
  const ok = { duration: '1h', events: [] as unknown[] };
  const withEvents = (...events: unknown[]) => ({ ...ok, events });

  test('text that is not JSON, naming the file', () => {
    expect(rejection('{ "duration": "1h", ', 'day.json')).toMatch(/^day\.json is not JSON: /);
    expect(rejection('duration: 1h')).toMatch(/^the scenario is not JSON: /);
  });

  test.each([['[]'], ['"24h"'], ['null'], ['42']])('JSON that is not an object: %s', (text) => {
    expect(rejection(text, 'day.json')).toBe('day.json must be a JSON object with "duration" and "events"');
  });

  test('an unknown top-level field, listing the known ones', () => {
    expect(rejectionOf({ ...ok, durations: '2h' })).toMatch(/unknown field "durations" \(known: description, duration, devices, config, timeSync, auth, settle, seed, events\)/);
  });

  test('a missing, zero or badly written duration', () => {
    expect(rejectionOf({ events: [] })).toMatch(/"duration" is missing: say how long the scenario runs, like "24h"/);
    expect(rejectionOf({ duration: '0s', events: [] })).toMatch(/"duration" must be longer than 0/);
    expect(rejectionOf({ duration: 0, events: [] })).toMatch(/"duration" must be longer than 0/);
    expect(rejectionOf({ duration: '1 hour', events: [] })).toMatch(/"duration" "1 hour" is not a duration: write a positive number with a unit/);
    expect(rejectionOf({ duration: '3x', events: [] })).toMatch(/"duration" "3x" is not a duration/);
    expect(rejectionOf({ duration: true, events: [] })).toMatch(/"duration" must be a duration like "90s", "15m", "3h" or "1d"/);
    expect(rejectionOf({ duration: -5, events: [] })).toMatch(/"duration" must be a duration like/);
  });

  test('other top-level fields of the wrong kind', () => {
    expect(rejectionOf({ duration: '1h' })).toMatch(/"events" must be a list \(it may be empty\)/);
    expect(rejectionOf({ ...ok, devices: 0 })).toMatch(/"devices" must be a whole number from 1 to 10000/);
    expect(rejectionOf({ ...ok, devices: 1.5 })).toMatch(/"devices" must be a whole number/);
    expect(rejectionOf({ ...ok, timeSync: 'yes' })).toMatch(/"timeSync" must be true or false/);
    expect(rejectionOf({ ...ok, auth: 'tpm' })).toMatch(/"auth" must be "sas" .* or "x509"/);
    expect(rejectionOf({ ...ok, seed: 'abc' })).toMatch(/"seed" must be a whole number/);
    expect(rejectionOf({ ...ok, settle: '2 hours' })).toMatch(/"settle" "2 hours" is not a duration/);
    expect(rejectionOf({ ...ok, config: [] })).toMatch(/"config" must be an object of device settings/);
  });

  test('a config value that is an object (or null)', () => {
    expect(rejectionOf({ ...ok, config: { telemetryIntervalMs: 60_000, rules: { max: 1 } } })).toMatch(/config "rules" must be a string, number or boolean/);
    expect(rejectionOf({ ...ok, config: { outboxOverflow: null } })).toMatch(/config "outboxOverflow" must be a string, number or boolean/);
  });

  test('an event that is not an object', () => {
    expect(rejectionOf(withEvents('outage'))).toMatch(/event 1 must be an object like \{ "at": "1h", "do": "outage", "for": "30m" \}/);
    expect(rejectionOf(withEvents({ at: '1m', do: 'restart' }, ['1h', 'outage']))).toMatch(/event 2 must be an object/);
  });

  test('an unknown or missing "do"', () => {
    expect(rejectionOf(withEvents({ at: '1h', do: 'reboot' }))).toMatch(
      /event 1: "do" must be one of outage, random-outages, slow-link, broker-restart, restart, power-cut, time-sync \(got "reboot"\)/,
    );
    expect(rejectionOf(withEvents({ at: '1h' }))).toMatch(/event 1: "do" must be one of .* \(got undefined\)/);
  });

  test('a missing or badly written "at"', () => {
    expect(rejectionOf(withEvents({ at: '1m', do: 'restart' }, { do: 'restart' }))).toMatch(/event 2: "at" is missing: when it happens, like "2h"/);
    expect(rejectionOf(withEvents({ at: 'noon', do: 'restart' }))).toMatch(/event 1 "at" "noon" is not a duration/);
  });

  test('an event after the end', () => {
    expect(rejectionOf(withEvents({ at: '2h', do: 'restart' }))).toMatch(/event 1 is at 2h, after the scenario ends/);
    expect(rejectionOf(withEvents({ at: HOUR + 1, do: 'time-sync' }))).toMatch(/event 1 is at 3600001, after the scenario ends/);
  });

  test('an outage without "for"', () => {
    expect(rejectionOf(withEvents({ at: '10m', do: 'outage' }))).toMatch(/event 1: an outage needs "for": how long the network is down/);
    expect(rejectionOf(withEvents({ at: '10m', do: 'outage', for: 'long' }))).toMatch(/event 1 "for" "long" is not a duration/);
  });

  test.each([[0], [1], [1.5], [-0.2], ['0.3']])('random outages with "total" %j', (total) => {
    expect(rejectionOf(withEvents({ at: '0s', do: 'random-outages', total, max: '10m' }))).toMatch(
      /event 1: "total" is the share of the time offline, a number between 0 and 1 \(0\.3 for 30 %\)/,
    );
  });

  test('random outages without "max"', () => {
    expect(rejectionOf(withEvents({ at: '0s', do: 'random-outages', total: 0.3 }))).toMatch(/event 1: "max" is missing: the longest single outage, like "3h"/);
  });

  test('a power cut "during" something else', () => {
    expect(rejectionOf(withEvents({ at: '10m', do: 'power-cut', during: 'boot' }))).toMatch(/event 1: "during" must be "outbox-write" or "now"/);
  });

  test('a devices list with 0, beyond "devices", empty, or not a list', () => {
    expect(rejectionOf(withEvents({ at: '10m', do: 'restart', devices: [0] }))).toMatch(/event 1: "devices" must be "all" or a list of device numbers from 1$/);
    expect(rejectionOf({ ...ok, devices: 2, events: [{ at: '10m', do: 'restart', devices: [1, 3] }] })).toMatch(
      /event 1: "devices" must be "all" or a list of device numbers from 1 to 2$/,
    );
    expect(rejectionOf(withEvents({ at: '10m', do: 'outage', for: '1m', devices: [] }))).toMatch(/event 1: "devices" must be "all" or a list/);
    expect(rejectionOf(withEvents({ at: '10m', do: 'outage', for: '1m', devices: 1 }))).toMatch(/event 1: "devices" must be "all" or a list/);
    expect(rejectionOf(withEvents({ at: '10m', do: 'outage', for: '1m', devices: [1.5] }))).toMatch(/event 1: "devices" must be "all" or a list/);
  });

  test('random outages that cannot fit: the error names the file and the event', () => {
    expect(() => parse({ duration: '10m', events: [{ at: '0s', do: 'random-outages', total: 0.95, max: '1m' }] })).toThrow(ScenarioError);
    expect(rejectionOf({ duration: '10m', events: [{ at: '0s', do: 'random-outages', total: 0.95, max: '1m' }] })).toMatch(/event 1: random outages: \d+ outages do not fit/);
  });

  test('a slow link without "for", of no length, or with a speed under 1 byte per second or not a number', () => {
    expect(rejectionOf(withEvents({ at: '10m', do: 'slow-link', bytesPerSecond: 100 }))).toMatch(/event 1: a slow link needs "for": how long the link stays thin/);
    expect(rejectionOf(withEvents({ at: '10m', do: 'slow-link', for: '0s', bytesPerSecond: 100 }))).toMatch(/event 1: a slow link lasts longer than 0/);
    for (const bytesPerSecond of [undefined, 0, 0.5, -100, '100', null]) {
      expect(rejectionOf(withEvents({ at: '10m', do: 'slow-link', for: '1h', bytesPerSecond }))).toMatch(
        /event 1: "bytesPerSecond" is the link's speed each way, a number of at least 1 \(250 for a weak cellular link\)/,
      );
    }
    expect(rejectionOf(withEvents({ at: '10m', do: 'slow-link', for: '1h', bytesPerSecond: 100, latency: 'slow' }))).toMatch(/event 1 "latency" "slow" is not a duration/);
    expect(rejectionOf(withEvents({ at: '10m', do: 'slow-link', for: '1h', bytesPerSecond: 100, kind: 'deaf' }))).toMatch(
      /"kind" is not a field of slow-link \(its fields: at, do, for, bytesPerSecond, latency, devices\)/,
    );
  });

  test('random outages with "max" under a minute, or "until" before "at" or after the end', () => {
    expect(rejectionOf(withEvents({ at: '0s', do: 'random-outages', total: 0.3, max: '30s' }))).toMatch(/event 1: "max" must be at least "1m"/);
    expect(rejectionOf(withEvents({ at: '30m', do: 'random-outages', total: 0.3, max: '5m', until: '10m' }))).toMatch(/event 1: "until" must be after "at"/);
    expect(rejectionOf({ ...ok, duration: '1h', events: [{ at: '0s', do: 'random-outages', total: 0.3, max: '5m', until: '3h' }] })).toMatch(/"until" must be after "at" and no later than the scenario's end/);
  });

  test('an outage of no length, and a field an event does not have (a typo would otherwise hit every device)', () => {
    expect(rejectionOf(withEvents({ at: '10m', do: 'outage', for: '0s' }))).toMatch(/event 1: an outage lasts longer than 0/);
    expect(rejectionOf(withEvents({ at: '10m', do: 'outage', for: '1m', kind: 'slow' }))).toMatch(/event 1: "kind" must be "down" \(no link\) or "deaf"/);
    expect(rejectionOf(withEvents({ at: '10m', do: 'restart', devces: [1] }))).toMatch(/event 1: "devces" is not a field of restart \(its fields: at, do, devices\)/);
  });
});

describe('randomOutages', () => {
  const cases: [number, number, number, number, number][] = [
    // seed, from, to, share, max
    [1, 0, DAY, 0.3, 3 * HOUR],
    [2, 0, DAY, 0.3, 3 * HOUR],
    [7, 0, DAY, 0.05, 10 * MINUTE],
    [2026, HOUR, 13 * HOUR, 0.5, 30 * MINUTE],
    [99, 5 * MINUTE, 2 * HOUR, 0.2, 2 * MINUTE],
    [123456, 0, 7 * DAY, 0.7, 6 * HOUR],
    [3, 0, HOUR, 0.01, HOUR], // 36 s: less than a minute, so no outage at all
  ];

  test.each(cases)('seed %i from %i to %i, share %f, max %i: the share offline, each between a minute and max, apart, inside', (seed, from, to, share, max) => {
    const outages = randomOutages(seededRandom(seed), from, to, share, max);
    const offline = outages.reduce((sum, o) => sum + o.forMs, 0);
    expect(Math.abs(offline - share * (to - from))).toBeLessThan(MINUTE);
    for (const outage of outages) {
      expect(outage.forMs).toBeGreaterThanOrEqual(MINUTE);
      expect(outage.forMs).toBeLessThanOrEqual(max);
    }
    expect(outages[0]?.atMs ?? from + MINUTE).toBeGreaterThanOrEqual(from + MINUTE);
    for (let i = 1; i < outages.length; i++) {
      expect(outages[i]!.atMs - (outages[i - 1]!.atMs + outages[i - 1]!.forMs)).toBeGreaterThanOrEqual(MINUTE);
    }
    const last = outages[outages.length - 1];
    if (last) expect(last.atMs + last.forMs).toBeLessThanOrEqual(to - MINUTE);
  });

  test('a share under a minute gives no outages', () => {
    expect(randomOutages(seededRandom(3), 0, HOUR, 0.01, HOUR)).toEqual([]);
  });

  test('the same seed gives the same outages; another seed others', () => {
    const a = randomOutages(seededRandom(5), 0, DAY, 0.3, 3 * HOUR);
    expect(a.length).toBeGreaterThan(0);
    expect(randomOutages(seededRandom(5), 0, DAY, 0.3, 3 * HOUR)).toEqual(a);
    expect(randomOutages(seededRandom(6), 0, DAY, 0.3, 3 * HOUR)).not.toEqual(a);
  });

  test('seededRandom: numbers in [0, 1), the same sequence for the same seed', () => {
    const a = seededRandom(11);
    const b = seededRandom(11);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    for (const x of xs) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    expect(new Set(xs).size).toBeGreaterThan(990);
  });

  test('too many outages to fit with a minute between them: a ScenarioError', () => {
    // 9 one-minute outages need 10 minutes of link around them, and only 1 minute is left.
    expect(() => randomOutages(seededRandom(1), 0, 10 * MINUTE, 0.9, MINUTE)).toThrow(ScenarioError);
    expect(() => randomOutages(seededRandom(1), 0, 10 * MINUTE, 0.9, MINUTE)).toThrow(/9 outages do not fit between 0 and 600000 ms with a minute of link between them/);
  });
});

describe('ScenarioLedger', () => {
  const D = 'dev-001';

  function setup() {
    let t = 0;
    const ledger = new ScenarioLedger(() => t);
    const passed: SimEvent[] = [];
    const sink = ledger.sink((e) => passed.push(e));
    const hub = { front: new EventEmitter() };
    ledger.watchHub(hub as never);
    const mid = (seq: number, device = D) => `${device}-0000000a-${seq}`;
    return {
      ledger,
      hub,
      passed,
      at(ms: number) {
        t = ms;
      },
      mid,
      event(type: string, fields: { [key: string]: unknown } = {}, device = D) {
        sink({ device, engine: 'node', t, type, ...fields });
      },
      /** The device stores readings with these sequence numbers. */
      store(seqs: number[], device = D, extra: { [key: string]: unknown } = {}) {
        for (const seq of seqs) sink({ device, engine: 'node', t, type: 'telemetry', seq, sent: true, mid: mid(seq, device), ...extra });
      },
      /** The hub receives these readings (first time). */
      arrive(seqs: number[], device = D) {
        for (const seq of seqs) hub.front.emit('telemetry', { deviceId: device, systemProperties: { messageId: mid(seq, device) } });
      },
      /** The hub drops these as duplicates. */
      duplicate(seqs: number[], device = D) {
        for (const seq of seqs) hub.front.emit('duplicate', { deviceId: device, messageId: mid(seq, device) });
      },
    };
  }

  test('the sink passes every event on', () => {
    const s = setup();
    s.event('boot');
    s.store([1]);
    expect(s.passed.map((e) => e.type)).toEqual(['boot', 'telemetry']);
  });

  test('counts sent, received, duplicates, unique and lost', () => {
    const s = setup();
    s.event('connected');
    s.store([1, 2, 3, 4, 5]);
    s.event('alert', { sent: true, mid: s.mid(6) });
    s.arrive([1, 2, 3, 6]);
    s.duplicate([2, 3]);
    expect(s.ledger.account([D])).toEqual([
      { device: D, sent: 6, received: 6, duplicates: 2, unique: 4, dropped: 0, notStored: 0, lost: 2, outOfOrder: 0, powerCuts: 0, restarts: 0, connections: 1 },
    ]);
    expect(s.ledger.storedIds(D)).toEqual([1, 2, 3, 4, 5, 6].map((n) => s.mid(n)));
    expect(s.ledger.receivedIds(D)).toEqual([1, 2, 3, 6].map((n) => s.mid(n)));
    expect(s.ledger.outstanding()).toBe(2);
  });

  test('a telemetry message without a message id is not an arrival', () => {
    const s = setup();
    s.store([1]);
    // A hub message with no $.mid (not from the firmware's outbox) is ignored.
    s.hub.front.emit('telemetry', { deviceId: D, systemProperties: {} });
    expect(s.ledger.peakPerSecond()).toBe(0);
    expect(s.ledger.account([D])[0]).toMatchObject({ sent: 1, received: 0, unique: 0, lost: 1 });
  });

  test('only readings stored before `beforeMs` are counted', () => {
    const s = setup();
    s.store([1, 2]);
    s.at(10 * MINUTE);
    s.store([3, 4]);
    s.arrive([1, 2, 3]);
    s.duplicate([3]);
    expect(s.ledger.account([D], 10 * MINUTE)[0]).toMatchObject({ sent: 2, received: 2, duplicates: 0, unique: 2, lost: 0 });
    expect(s.ledger.account([D])[0]).toMatchObject({ sent: 4, received: 4, duplicates: 1, unique: 3, lost: 1 });
    expect(s.ledger.outstanding(10 * MINUTE)).toBe(0);
    expect(s.ledger.outstanding()).toBe(1);
  });

  test('accounts per device, and a device never heard from is all zeros', () => {
    const s = setup();
    s.store([1, 2], 'a');
    s.store([1, 2, 3], 'b');
    s.event('connected', {}, 'b');
    s.event('restart', {}, 'b');
    s.event('power-cut', {}, 'b');
    s.arrive([1, 2], 'a');
    s.arrive([3], 'b');
    const [a, b, c] = s.ledger.account(['a', 'b', 'c']);
    expect(a).toMatchObject({ device: 'a', sent: 2, unique: 2, lost: 0 });
    expect(b).toMatchObject({ device: 'b', sent: 3, unique: 1, lost: 2, connections: 1, restarts: 1, powerCuts: 1 });
    expect(c).toEqual({ device: 'c', sent: 0, received: 0, duplicates: 0, unique: 0, dropped: 0, notStored: 0, lost: 0, outOfOrder: 0, powerCuts: 0, restarts: 0, connections: 0 });
  });

  test('readings erased by drop-oldest are dropped, not lost', () => {
    const s = setup();
    s.store([1, 2, 3, 4, 5]);
    s.store([6], D, { droppedOldest: 2 }); // 1 and 2 erased to make room
    s.arrive([3, 4, 5, 6]);
    expect(s.ledger.account([D])[0]).toMatchObject({ sent: 6, received: 4, unique: 4, dropped: 2, lost: 0 });
    expect(s.ledger.outstanding()).toBe(0);
  });

  test('drop-oldest does not hide a reading that really went missing', () => {
    const s = setup();
    s.store([1, 2, 3, 4, 5]);
    s.store([6], D, { droppedOldest: 2 });
    s.arrive([3, 5, 6]); // 4 never arrived
    expect(s.ledger.account([D])[0]).toMatchObject({ sent: 6, unique: 3, dropped: 2, lost: 1 });
  });

  test('a reading refused because the outbox is full (drop-newest) is dropped; other refusals are not', () => {
    const s = setup();
    s.store([1, 2]);
    s.event('telemetry', { seq: 3, sent: false, reason: 'Outbox is full: 2 records wait for acknowledgement and the policy is drop-newest' });
    s.event('alert', { seq: 4, sent: false, reason: 'Outbox is full: 2 records wait for acknowledgement and the policy is drop-newest' });
    s.event('telemetry', { seq: 5, sent: false, reason: 'payload too large' });
    s.arrive([1, 2]);
    expect(s.ledger.account([D])[0]).toMatchObject({ sent: 2, received: 2, unique: 2, dropped: 2, notStored: 1, lost: 0 });
  });

  test('a log started afresh (sequence numbers from 1 again) is not out of order behind the old log', () => {
    const s = setup();
    s.store([41, 42]);
    s.arrive([41, 42]);
    // Flash damage: the outbox starts a new log with another id, counting from 1.
    const fresh = (seq: number) => `${D}-0000000b-${seq}`;
    for (const seq of [1, 2]) s.event('telemetry', { seq, sent: true, mid: fresh(seq) });
    for (const seq of [1, 2]) s.hub.front.emit('telemetry', { deviceId: D, systemProperties: { messageId: fresh(seq) } });
    expect(s.ledger.account([D])[0]).toMatchObject({ sent: 4, unique: 4, lost: 0, outOfOrder: 0 });
    // The new log's readings swapped are still out of order.
    const t = setup();
    for (const seq of [1, 2]) t.event('telemetry', { seq, sent: true, mid: fresh(seq) });
    for (const seq of [2, 1]) t.hub.front.emit('telemetry', { deviceId: D, systemProperties: { messageId: fresh(seq) } });
    expect(t.ledger.account([D])[0]).toMatchObject({ outOfOrder: 1 });
  });

  test('a live reading overtaking the backlog stored before the connection is in order', () => {
    const s = setup();
    s.event('disconnected');
    s.store([1, 2, 3]); // offline: the backlog
    s.event('connected');
    s.store([4]); // live
    s.arrive([4, 1, 2, 3]);
    expect(s.ledger.account([D])[0]).toMatchObject({ sent: 4, unique: 4, lost: 0, outOfOrder: 0, connections: 1 });
  });

  test('two readings stored in the same connection arriving swapped are one out of order', () => {
    const s = setup();
    s.event('connected');
    s.store([1, 2]);
    s.arrive([2, 1]);
    expect(s.ledger.account([D])[0]).toMatchObject({ sent: 2, unique: 2, lost: 0, outOfOrder: 1 });
  });

  test('the backlog out of order among itself is counted even when a live reading came first', () => {
    const s = setup();
    s.store([1, 2, 3]);
    s.event('connected');
    s.store([4]);
    s.arrive([4, 1, 3, 2]); // 2 arrives after 3, both stored before the connection
    expect(s.ledger.account([D])[0]).toMatchObject({ unique: 4, outOfOrder: 1 });
  });

  test('duplicates do not count as out of order', () => {
    const s = setup();
    s.event('connected');
    s.store([1, 2, 3]);
    s.arrive([1, 2]);
    s.duplicate([1]);
    s.arrive([3]);
    s.duplicate([2]);
    expect(s.ledger.account([D])[0]).toMatchObject({ received: 5, duplicates: 2, unique: 3, outOfOrder: 0 });
  });

  test('peakPerSecond: the most arrivals, duplicates included, in any window shorter than a second', () => {
    const s = setup();
    s.store([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const arriveAt = (ms: number, seq: number) => {
      s.at(ms);
      s.arrive([seq]);
    };
    arriveAt(0, 1);
    arriveAt(100, 2);
    arriveAt(200, 3); // 3 in the first second
    arriveAt(2000, 4);
    arriveAt(2300, 5);
    arriveAt(2600, 6);
    s.duplicate([6]); // at 2600 too
    arriveAt(3000, 7); // 2300 … 3000: 4 (2000 … 3000 is a full second: not one window)
    arriveAt(5000, 8);
    expect(s.ledger.peakPerSecond()).toBe(4);
    arriveAt(2999, 9); // now 2000, 2300, 2600, 2600, 2999
    expect(s.ledger.peakPerSecond()).toBe(5);
    expect(s.ledger.peakPerSecond(2100)).toBe(5); // 2300, 2600, 2600, 2999, 3000
    expect(s.ledger.peakPerSecond(4000)).toBe(1);
    expect(s.ledger.peakPerSecond(6000)).toBe(0);
  });

  test('peakPerSecond: arrivals exactly a second apart are in different windows', () => {
    const s = setup();
    s.store([1, 2, 3]);
    for (const [ms, seq] of [
      [0, 1],
      [1000, 2],
      [2000, 3],
    ]) {
      s.at(ms!);
      s.arrive([seq!]);
    }
    expect(s.ledger.peakPerSecond()).toBe(1);
  });
});
