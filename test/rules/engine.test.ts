import {
  InvalidRulesConfig,
  RulesEngine,
  applyDesiredProperties,
  defaultRulesConfig,
  validateRulesConfig,
  type RulesConfig,
} from '../../firmware/app/rules';

const S = 1000;
const MIN = 60 * S;

function config(desired: object, telemetryInterval = 10 * S): RulesConfig {
  const result = validateRulesConfig({ telemetryInterval, ...desired });
  expect(result.errors).toEqual([]);
  return result.config;
}

function engine(desired: object = {}, sensors = ['sht31'], nowMs = 0): RulesEngine {
  return new RulesEngine({ sensors, config: config(desired), nowMs });
}

describe('sampling schedule', () => {
  test('every sensor is due at start, then every interval; per-sensor intervals', () => {
    const rules = new RulesEngine({ sensors: ['sht31', 'scd41'], config: config({ sampling: { scd41: 30 * S } }), nowMs: 1000 });
    expect(rules.nextSampleDue(1000)).toEqual({ atMs: 1000, sensors: ['sht31', 'scd41'] });
    rules.addReading('sht31', { temperature: 20 }, 1000);
    rules.addReading('scd41', { co2: 400 }, 1000);
    expect(rules.nextSampleDue(1000)).toEqual({ atMs: 11_000, sensors: ['sht31'] });
    rules.addReading('sht31', { temperature: 20 }, 11_000);
    rules.addReading('sht31', { temperature: 20 }, 21_000);
    expect(rules.nextSampleDue(21_000)).toEqual({ atMs: 31_000, sensors: ['sht31', 'scd41'] });
  });

  test('fixed rate: a reading a little late does not shift the schedule; a very late one does not cause a burst', () => {
    const rules = engine();
    rules.addReading('sht31', { temperature: 20 }, 0);
    rules.addReading('sht31', { temperature: 20 }, 10_040); // the sensor took 40 ms
    expect(rules.nextSampleDue(10_040)?.atMs).toBe(20_000);
    rules.addReading('sht31', { temperature: 20 }, 75_000); // five slots missed
    expect(rules.nextSampleDue(75_000)?.atMs).toBe(85_000);
  });

  test('overdue sensors are due now; a failed sampling schedules the next one', () => {
    const rules = engine();
    expect(rules.nextSampleDue(5000)).toEqual({ atMs: 5000, sensors: ['sht31'] });
    rules.sampleFailed('sht31', 5000);
    // Still on the grid of the start (0, 10 s, 20 s…): the next slot is 10 s.
    expect(rules.nextSampleDue(5000)).toEqual({ atMs: 10_000, sensors: ['sht31'] });
    rules.sampleFailed('sht31', 10_000);
    expect(rules.nextSampleDue(10_000)).toEqual({ atMs: 20_000, sensors: ['sht31'] });
  });

  test('readings from an unknown sensor are a programming error', () => {
    expect(() => engine().addReading('bme280', { temperature: 1 }, 0)).toThrow('no sensor "bme280" in the rules engine (it has sht31)');
    expect(() => new RulesEngine({ sensors: ['a', 'a'], nowMs: 0 })).toThrow(/twice/);
    expect(() => new RulesEngine({ sensors: Array.from({ length: 9 }, (_, i) => `s${i}`), nowMs: 0 })).toThrow(/at most 8 sensors/);
    expect(new RulesEngine({ sensors: [], nowMs: 0 }).nextSampleDue(0)).toBeUndefined();
  });
});

describe('without rules: every reading is reported as it comes', () => {
  test('the default configuration', () => {
    const rules = new RulesEngine({ sensors: ['sht31'], nowMs: 0 });
    expect(rules.config).toEqual(defaultRulesConfig());
    expect(rules.addReading('sht31', { temperature: 21.5, humidity: 40 }, 0)).toEqual({ report: { sht31: { temperature: 21.5, humidity: 40 } }, alerts: [] });
    expect(rules.addReading('sht31', { temperature: 21.5, humidity: 40 }, 60_000).report).toEqual({ sht31: { temperature: 21.5, humidity: 40 } });
    expect(rules.nextFlushAt()).toBeUndefined();
  });

  test('values that are not finite numbers are dropped', () => {
    const rules = engine({ averaging: { 'sht31.temperature': { samples: 2 } } });
    expect(rules.addReading('sht31', { temperature: NaN, humidity: Infinity }, 0)).toEqual({ alerts: [] });
    expect(rules.addReading('sht31', { temperature: 20, humidity: 40 }, 10 * S).report).toEqual({ sht31: { temperature: 20, humidity: 40 } });
  });
});

describe('averaging windows', () => {
  test('samples: the mean of the last N readings is what is reported', () => {
    const rules = engine({ averaging: { 'sht31.temperature': { samples: 4 } } });
    const reported = [20, 22, 24, 26, 28, 30].map((t, i) => rules.addReading('sht31', { temperature: t, humidity: 50 }, i * 10 * S).report?.sht31);
    expect(reported.map((r) => r?.temperature)).toEqual([20, 21, 22, 23, 25, 27]);
    // humidity has no rule: raw, every reading.
    expect(reported.every((r) => r?.humidity === 50)).toBe(true);
  });

  test('ms: the mean of the readings within the duration', () => {
    const rules = engine({ averaging: { 'sht31.temperature': { ms: 30 * S } } });
    const out = [10, 20, 30, 40, 50].map((t, i) => rules.addReading('sht31', { temperature: t }, i * 10 * S).report?.sht31?.temperature);
    // At 30 s the reading of 0 s is 30 s old and out: windows hold 3 readings.
    expect(out).toEqual([10, 15, 20, 30, 40]);
  });
});

describe('report on change: the deadband', () => {
  const deadband = { reporting: { 'sht31.temperature': { deadband: 0.5 } } };

  test('noise inside the deadband is not reported; a real change is', () => {
    const rules = engine(deadband);
    const temperatures = [20, 20.2, 19.8, 20.4, 19.6, 20.1, 21, 21.3, 20.9, 22];
    const reported = temperatures.map((t, i) => rules.addReading('sht31', { temperature: t }, i * 10 * S).report?.sht31?.temperature);
    expect(reported).toEqual([20, undefined, undefined, undefined, undefined, undefined, 21, undefined, undefined, 22]);
  });

  test('the reference is the last reported value: a slow drift is reported once it adds up', () => {
    const rules = engine(deadband);
    const reported = [20, 20.2, 20.4, 20.6, 20.8, 21.0, 21.2].map((t, i) => rules.addReading('sht31', { temperature: t }, i * 10 * S).report?.sht31?.temperature);
    expect(reported).toEqual([20, undefined, undefined, 20.6, undefined, undefined, 21.2]);
  });

  test('on the averaged value: a spike that the window smooths below the deadband is not reported', () => {
    const rules = engine({ ...deadband, averaging: { 'sht31.temperature': { samples: 5 } } });
    const reported = [20, 20, 20, 20, 22, 20, 20].map((t, i) => rules.addReading('sht31', { temperature: t }, i * 10 * S).report?.sht31?.temperature);
    expect(reported).toEqual([20, undefined, undefined, undefined, undefined, undefined, undefined]);
  });

  test('a message carries only the quantities that are due', () => {
    const rules = engine({ reporting: { 'sht31.temperature': { deadband: 0.5 }, 'sht31.humidity': { deadband: 2 } } });
    rules.addReading('sht31', { temperature: 20, humidity: 40 }, 0);
    expect(rules.addReading('sht31', { temperature: 20.1, humidity: 45 }, 10 * S).report).toEqual({ sht31: { humidity: 45 } });
    expect(rules.addReading('sht31', { temperature: 20.2, humidity: 45.5 }, 20 * S)).toEqual({ alerts: [] });
  });
});

describe('max silence', () => {
  const rulesConfig = { reporting: { 'sht31.temperature': { deadband: 1, maxSilenceMs: MIN } } };

  test('a reading after maxSilence is reported even when it did not move', () => {
    const rules = engine(rulesConfig);
    const reported = Array.from({ length: 14 }, (_, i) => rules.addReading('sht31', { temperature: 20 }, i * 10 * S).report !== undefined);
    expect(reported.map((r, i) => (r ? i * 10 : -1)).filter((t) => t >= 0)).toEqual([0, 60, 120]);
  });

  test('flushDue reports when sampling is slower than maxSilence; nextFlushAt says when', () => {
    const rules = engine({ ...rulesConfig, sampling: { sht31: 10 * MIN } });
    rules.addReading('sht31', { temperature: 20 }, 0);
    expect(rules.nextFlushAt()).toBe(MIN);
    expect(rules.nextWakeAt(0)).toBe(MIN);
    expect(rules.flushDue(MIN - 1)).toEqual({ alerts: [] });
    expect(rules.flushDue(MIN)).toEqual({ report: { sht31: { temperature: 20 } }, alerts: [] });
    expect(rules.nextFlushAt()).toBe(2 * MIN);
  });

  test('a time window that emptied has nothing to report: no stale value, no busy loop, until the next reading', () => {
    const rules = engine({ ...rulesConfig, averaging: { 'sht31.temperature': { ms: 30 * S } }, sampling: { sht31: 10 * MIN } });
    rules.addReading('sht31', { temperature: 20 }, 0);
    expect(rules.flushDue(MIN)).toEqual({ alerts: [] });
    expect(rules.nextFlushAt()).toBeUndefined();
    expect(rules.nextWakeAt(MIN)).toBe(10 * MIN);
    expect(rules.addReading('sht31', { temperature: 20 }, 10 * MIN).report).toEqual({ sht31: { temperature: 20 } });
    expect(rules.nextFlushAt()).toBe(11 * MIN);
  });
});

describe('threshold alerts with hysteresis', () => {
  const thresholds = { thresholds: { 'sht31.temperature': { high: 30, low: 5, hysteresis: 0.5 } } };

  test('raised crossing high, cleared only below high - hysteresis', () => {
    const rules = engine(thresholds);
    const alerts = [29, 30, 30.1, 29.8, 30.4, 29.6, 29.4, 30.2].map((t, i) => rules.addReading('sht31', { temperature: t }, i * 10 * S).alerts);
    expect(alerts).toEqual([
      [],
      [], // 30 is not above 30
      [{ sensor: 'sht31', quantity: 'temperature', kind: 'high', state: 'raised', value: 30.1, threshold: 30 }],
      [],
      [],
      [], // 29.6 is not below 29.5
      [{ sensor: 'sht31', quantity: 'temperature', kind: 'high', state: 'cleared', value: 29.4, threshold: 30 }],
      [{ sensor: 'sht31', quantity: 'temperature', kind: 'high', state: 'raised', value: 30.2, threshold: 30 }],
    ]);
  });

  test('the same for low: raised below low, cleared only above low + hysteresis', () => {
    const rules = engine(thresholds);
    const events = [6, 4.9, 5.2, 5.5, 5.6, 4].flatMap((t, i) => rules.addReading('sht31', { temperature: t }, i * 10 * S).alerts.map((a) => `${a.kind} ${a.state} ${a.value}`));
    expect(events).toEqual(['low raised 4.9', 'low cleared 5.6', 'low raised 4']);
  });

  test('a first reading already past a threshold raises at once; a jump from high to low clears one and raises the other', () => {
    const rules = engine(thresholds);
    expect(rules.addReading('sht31', { temperature: 40 }, 0).alerts.map((a) => `${a.kind} ${a.state}`)).toEqual(['high raised']);
    expect(rules.addReading('sht31', { temperature: 0 }, 10 * S).alerts.map((a) => `${a.kind} ${a.state}`)).toEqual(['high cleared', 'low raised']);
  });

  test('alerts come with the report, apart from it, whatever the deadband', () => {
    const rules = engine({ ...thresholds, reporting: { 'sht31.temperature': { deadband: 100 } } });
    rules.addReading('sht31', { temperature: 29 }, 0);
    const out = rules.addReading('sht31', { temperature: 31 }, 10 * S);
    expect(out.report).toBeUndefined();
    expect(out.alerts).toHaveLength(1);
  });

  test('on the averaged value', () => {
    const rules = engine({ ...thresholds, averaging: { 'sht31.temperature': { samples: 3 } } });
    const events = [29, 29, 33, 33, 29].flatMap((t, i) => rules.addReading('sht31', { temperature: t }, i * 10 * S).alerts.map((a) => `${a.state} ${a.value.toFixed(2)}`));
    // Means: 29, 29, 30.33 (raised), 31.67, 31.67 (still raised)
    expect(events).toEqual(['raised 30.33']);
  });
});

describe('reconfiguration at runtime applies at once', () => {
  test('a shorter sampling interval counts from the last sample', () => {
    const rules = engine({}, ['sht31'], 0);
    rules.addReading('sht31', { temperature: 20 }, 0);
    rules.configure(config({}, 60 * S), 5 * S);
    expect(rules.nextSampleDue(5 * S)?.atMs).toBe(60 * S);
    rules.configure(config({ sampling: { sht31: 2 * S } }, 60 * S), 5 * S);
    expect(rules.nextSampleDue(5 * S)).toEqual({ atMs: 5 * S, sensors: ['sht31'] }); // 0 + 2 s is past: due now
  });

  test('a new threshold is checked against the current value straight away', () => {
    const rules = engine();
    rules.addReading('sht31', { temperature: 25, humidity: 40 }, 0);
    // temperature had no rules: it starts from the last reading.
    const out = rules.configure(config({ thresholds: { 'sht31.temperature': { high: 24, hysteresis: 0.5 } } }), 1000);
    expect(out.alerts).toEqual([{ sensor: 'sht31', quantity: 'temperature', kind: 'high', state: 'raised', value: 25, threshold: 24 }]);
    expect(rules.addReading('sht31', { temperature: 25 }, 10 * S).alerts).toEqual([]);
    const raisedHigher = rules.configure(config({ thresholds: { 'sht31.temperature': { high: 26, hysteresis: 0.5 } } }), 11 * S);
    expect(raisedHigher.alerts).toEqual([{ sensor: 'sht31', quantity: 'temperature', kind: 'high', state: 'cleared', value: 25, threshold: 26 }]);
    const both = rules.configure(config({ thresholds: { 'sht31.temperature': { high: 20, low: 0, hysteresis: 0.5 } } }), 12 * S);
    expect(both.alerts.map((a) => `${a.kind} ${a.state} ${a.threshold}`)).toEqual(['high raised 20']);
  });

  test('a new deadband starts from the value last reported, as it came', () => {
    const rules = engine();
    rules.addReading('sht31', { temperature: 20 }, 0);
    rules.configure(config({ reporting: { 'sht31.temperature': { deadband: 1 } } }), 1000);
    expect(rules.addReading('sht31', { temperature: 20.5 }, 10 * S).report).toBeUndefined();
    expect(rules.addReading('sht31', { temperature: 21.5 }, 20 * S).report).toEqual({ sht31: { temperature: 21.5 } });
  });

  test('removing a threshold clears its raised alert, with reason removed', () => {
    const rules = engine({ thresholds: { 'sht31.temperature': { high: 30, low: 5 } } });
    rules.addReading('sht31', { temperature: 31 }, 0);
    const out = rules.configure(config({ thresholds: { 'sht31.temperature': { low: 5 } } }), 1000);
    expect(out.alerts).toEqual([{ sensor: 'sht31', quantity: 'temperature', kind: 'high', state: 'cleared', value: 31, threshold: 30, reason: 'removed' }]);
    rules.addReading('sht31', { temperature: 1 }, 10 * S);
    expect(rules.configure(config({}), 11 * S).alerts).toEqual([
      { sensor: 'sht31', quantity: 'temperature', kind: 'low', state: 'cleared', value: 1, threshold: 5, reason: 'removed' },
    ]);
  });

  test('a resized window keeps its newest samples; a changed deadband applies to the next reading', () => {
    const rules = engine({ averaging: { 'sht31.temperature': { samples: 4 } }, reporting: { 'sht31.temperature': { deadband: 5 } } });
    [10, 20, 30, 40].forEach((t, i) => rules.addReading('sht31', { temperature: t }, i * 10 * S));
    rules.configure(config({ averaging: { 'sht31.temperature': { samples: 2 } }, reporting: { 'sht31.temperature': { deadband: 0.1 } } }), 35 * S);
    // Window now [30, 40] + 50 -> [40, 50]: mean 45; last reported 25 (at 30 s), 45 - 25 > 0.1.
    expect(rules.addReading('sht31', { temperature: 50 }, 40 * S).report).toEqual({ sht31: { temperature: 45 } });
  });

  test('the same configuration again changes nothing: windows, reports and alerts are kept', () => {
    const desired = { thresholds: { 'sht31.temperature': { high: 30, hysteresis: 1 } }, reporting: { 'sht31.temperature': { deadband: 1 } }, averaging: { 'sht31.temperature': { samples: 2 } } };
    const rules = engine(desired);
    rules.addReading('sht31', { temperature: 31 }, 0);
    expect(rules.configure(config(desired), 5 * S)).toEqual({ alerts: [] });
    expect(rules.addReading('sht31', { temperature: 31 }, 10 * S)).toEqual({ alerts: [] });
    expect(rules.nextSampleDue(10 * S)?.atMs).toBe(20 * S);
  });

  test('an invalid configuration throws and changes nothing', () => {
    const rules = engine();
    const before = rules.config;
    expect(() => rules.configure({ ...before, telemetryInterval: 5 }, 0)).toThrow(InvalidRulesConfig);
    expect(() => rules.configure({ ...before, thresholds: { 'bme280.temperature': { high: 1, hysteresis: 0 } } }, 0)).toThrow(/does not have/);
    expect(rules.config).toBe(before);
  });

  test('from the twin: a desired patch, validated, applied, acknowledged', () => {
    const rules = engine();
    rules.addReading('sht31', { temperature: 31 }, 0);
    const patch = { $version: 4, thresholds: { 'sht31.temperature': { high: 30, hysteresis: 0.5 }, 'sht31.humidity': { high: 'wet' } } };
    const result = applyDesiredProperties(rules.config, patch, { sensors: ['sht31'] });
    expect(result.acks.thresholds).toMatchObject({ ac: 400, av: 4 });
    // The valid entry applies at once: the last reading (31) is above the new high.
    expect(rules.configure(result.config, 1000).alerts.map((a) => `${a.quantity} ${a.state}`)).toEqual(['temperature raised']);
    expect(rules.addReading('sht31', { temperature: 31 }, 10 * S).alerts).toEqual([]);
  });
});
