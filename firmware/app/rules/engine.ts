/**
 * The on-device rules engine, sans-I/O: it is told the time and the readings, and answers
 * what to sample when, what to report and which alerts to send. It reads no clock, sets no
 * timer and sends nothing; the application shell does, and sends the alerts of an output as
 * their own high-priority message, apart from the report.
 *
 * Per `sensor.quantity` with rules: the readings go through the averaging window; its mean
 * is reported when it moved by more than the deadband since the last report, or when the
 * max-silence interval has passed (on the next reading, or from `flushDue`); the same mean
 * raises and clears threshold alerts with hysteresis. Quantities without rules are reported
 * with every reading, as they come.
 *
 * Bounds: MAX_SENSORS sensors, each with its last reading (at most MAX_READING_QUANTITIES
 * values); MAX_RULE_KEYS quantities with state, each with a window of at most
 * MAX_WINDOW_SAMPLES samples (16 bytes each); see limits.ts.
 */
import { InvalidRulesConfig, defaultRulesConfig, ruleKeys, rulesConfigProblems, splitRuleKey, type RulesConfig, type ThresholdRule } from './config';
import { MAX_READING_QUANTITIES, MAX_SENSOR_NAME_LENGTH, MAX_SENSORS } from './limits';
import { AveragingWindow, sameWindow, type WindowSpec } from './window';

/** Physical values by quantity name, as a sensor returns them. */
export type Reading = { readonly [quantity: string]: number };

/** Values to report, by sensor and quantity: `{ "sht31": { "temperature": 21.4 } }`. */
export type Report = { [sensor: string]: { [quantity: string]: number } };

export interface Alert {
  readonly sensor: string;
  readonly quantity: string;
  readonly kind: 'high' | 'low';
  readonly state: 'raised' | 'cleared';
  /** The averaged value that crossed (for `removed`, the last averaged value). */
  readonly value: number;
  /** The configured `high` or `low` (the alert clears at `high - hysteresis` / `low + hysteresis`). */
  readonly threshold: number;
  /** Present when the alert is cleared because its threshold was removed, not by the value. */
  readonly reason?: 'removed';
}

export interface RulesOutput {
  /** Values to send as telemetry; absent when nothing is due. */
  readonly report?: Report;
  /** Alerts to send at once, as their own high-priority message. */
  readonly alerts: readonly Alert[];
}

export interface SampleDue {
  /** When to sample: `nowMs` when the sensors are due already. */
  readonly atMs: number;
  /** The sensors due then. */
  readonly sensors: readonly string[];
}

export interface RulesEngineOptions {
  /** The names the readings will carry (`sht31`, `sht31@0x45`); at most MAX_SENSORS. */
  readonly sensors: readonly string[];
  /** Default: sample every 60 s, report every sample, no alerts. */
  readonly config?: RulesConfig;
  readonly nowMs: number;
}

interface SensorState {
  intervalMs: number;
  dueAtMs: number;
  lastSampleAtMs?: number;
  /**
   * The finite values of the last reading (at most MAX_READING_QUANTITIES), taken at
   * `lastReadingAtMs`: a rule added later starts from them, so that it applies at once.
   */
  lastReading?: { [quantity: string]: number };
  lastReadingAtMs?: number;
}

interface QuantityState {
  readonly sensor: string;
  readonly quantity: string;
  window: AveragingWindow;
  /** The last mean computed, for alerts cleared by removal. */
  lastMean?: number;
  lastReported?: number;
  lastReportAtMs?: number;
  /** A max-silence report came due with an empty window: wait for a reading. */
  waitingForData: boolean;
  highRaised: boolean;
  lowRaised: boolean;
}

const ONE_SAMPLE: WindowSpec = { samples: 1 };
/** Shared, so frozen: an output with nothing in it costs no allocation. */
const NO_OUTPUT: RulesOutput = Object.freeze({ alerts: Object.freeze([]) as readonly Alert[] });

export class RulesEngine {
  private current: RulesConfig;
  private readonly sensors = new Map<string, SensorState>();
  private readonly quantities = new Map<string, QuantityState>();

  constructor(options: RulesEngineOptions) {
    const names = options.sensors;
    if (names.length > MAX_SENSORS) throw new RangeError(`the rules engine schedules at most ${MAX_SENSORS} sensors, not ${names.length}`);
    for (const name of names) {
      if (this.sensors.has(name)) throw new RangeError(`sensor "${name}" is listed twice`);
      if (name.length === 0 || name.length > MAX_SENSOR_NAME_LENGTH || name.includes('.')) {
        throw new RangeError(`sensor name ${JSON.stringify(name)} must have 1 to ${MAX_SENSOR_NAME_LENGTH} characters and no "."`);
      }
      this.sensors.set(name, { intervalMs: 0, dueAtMs: options.nowMs });
    }
    this.current = defaultRulesConfig();
    this.configure(options.config ?? this.current, options.nowMs);
    // Every sensor is sampled at once after start, whatever its interval.
    for (const state of this.sensors.values()) state.dueAtMs = options.nowMs;
  }

  /** The configuration in force. */
  get config(): RulesConfig {
    return this.current;
  }

  /**
   * Puts a configuration in force at once, keeping what still applies: the samples in the
   * windows (as many as the new window holds), the last reports and the alert states. A
   * changed sampling interval counts from the sensor's last sample; a changed threshold is
   * checked against the current mean straight away, and a removed one clears its raised
   * alert. Throws InvalidRulesConfig, changing nothing, when the configuration is invalid.
   */
  configure(config: RulesConfig, nowMs: number): RulesOutput {
    const problems = rulesConfigProblems(config, [...this.sensors.keys()]);
    if (problems.length > 0) throw new InvalidRulesConfig(problems);
    const previous = this.current;
    this.current = config;
    const alerts: Alert[] = [];

    for (const [name, state] of this.sensors) {
      const interval = config.sampling[name] ?? config.telemetryInterval;
      if (interval === state.intervalMs) continue;
      state.intervalMs = interval;
      state.dueAtMs = state.lastSampleAtMs === undefined ? nowMs : state.lastSampleAtMs + interval;
    }

    const keys = new Set(ruleKeys(config));
    for (const [key, state] of this.quantities) {
      if (keys.has(key)) continue;
      this.clearRemoved(state, previous.thresholds[key], undefined, alerts);
      this.quantities.delete(key);
    }
    for (const key of keys) {
      const spec = config.averaging[key] ?? ONE_SAMPLE;
      let state = this.quantities.get(key);
      let windowChanged = false;
      if (!state) {
        const { sensor, quantity } = splitRuleKey(key);
        state = { sensor, quantity, window: new AveragingWindow(spec), waitingForData: false, highRaised: false, lowRaised: false };
        this.quantities.set(key, state);
        // Start from the sensor's last reading, which was reported as it came (it had no rules).
        const last = this.sensors.get(sensor);
        const value = last?.lastReading?.[quantity];
        if (value !== undefined && last?.lastReadingAtMs !== undefined) {
          state.window.add(value, last.lastReadingAtMs);
          state.lastMean = state.lastReported = value;
          state.lastReportAtMs = last.lastReadingAtMs;
          windowChanged = true;
        }
      } else if (!sameWindow(state.window.spec, spec)) {
        state.window = state.window.resized(spec, nowMs);
        windowChanged = true;
      }
      const rule = config.thresholds[key];
      const before = previous.thresholds[key];
      this.clearRemoved(state, before, rule, alerts);
      if (rule && (windowChanged || !sameThresholds(before, rule))) {
        state.window.expire(nowMs);
        const mean = state.window.mean();
        if (mean !== undefined) {
          state.lastMean = mean;
          this.evaluate(state, mean, rule, alerts);
        }
      }
    }
    return alerts.length > 0 ? { alerts } : NO_OUTPUT;
  }

  /** The next sampling: when, and which sensors. Undefined when the engine has no sensors. */
  nextSampleDue(nowMs: number): SampleDue | undefined {
    let earliest = Infinity;
    for (const state of this.sensors.values()) earliest = Math.min(earliest, state.dueAtMs);
    if (earliest === Infinity) return undefined;
    const atMs = Math.max(earliest, nowMs);
    const sensors: string[] = [];
    for (const [name, state] of this.sensors) if (state.dueAtMs <= atMs) sensors.push(name);
    return { atMs, sensors };
  }

  /**
   * A sensor's reading, taken at `nowMs`: schedules its next sample and answers what to
   * report and which alerts to send. Values that are not finite numbers are ignored.
   */
  addReading(sensor: string, reading: Reading, nowMs: number): RulesOutput {
    const sensorState = this.sampled(sensor, nowMs);
    const kept: { [quantity: string]: number } = {};
    let keptCount = 0;
    let report: Report | undefined;
    const alerts: Alert[] = [];
    const put = (quantity: string, value: number) => {
      report ??= {};
      (report[sensor] ??= {})[quantity] = value;
    };
    for (const quantity of Object.keys(reading)) {
      const value = reading[quantity];
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      if (keptCount < MAX_READING_QUANTITIES) {
        kept[quantity] = value;
        keptCount++;
      }
      const key = `${sensor}.${quantity}`;
      const state = this.quantities.get(key);
      if (!state) {
        put(quantity, value);
        continue;
      }
      state.window.add(value, nowMs);
      const mean = state.window.mean()!;
      state.lastMean = mean;
      state.waitingForData = false;
      if (this.reportDue(key, state, mean, nowMs)) {
        put(quantity, mean);
        state.lastReported = mean;
        state.lastReportAtMs = nowMs;
      }
      const rule = this.current.thresholds[key];
      if (rule) this.evaluate(state, mean, rule, alerts);
    }
    sensorState.lastReading = kept;
    sensorState.lastReadingAtMs = nowMs;
    return report ? { report, alerts } : alerts.length > 0 ? { alerts } : NO_OUTPUT;
  }

  /** A sampling that failed at `nowMs`: the sensor is scheduled as if it had been read. */
  sampleFailed(sensor: string, nowMs: number): void {
    this.sampled(sensor, nowMs);
  }

  /**
   * Reports, at `nowMs`, the quantities whose max-silence interval has passed, with their
   * current mean. A time window that has emptied (no readings for its duration) has nothing
   * to report: that quantity waits for its next reading.
   */
  flushDue(nowMs: number): RulesOutput {
    let report: Report | undefined;
    for (const [key, state] of this.quantities) {
      const silence = this.current.reporting[key]?.maxSilenceMs;
      if (silence === undefined || state.lastReportAtMs === undefined || state.waitingForData) continue;
      if (nowMs - state.lastReportAtMs < silence) continue;
      state.window.expire(nowMs);
      const mean = state.window.mean();
      if (mean === undefined) {
        state.waitingForData = true;
        continue;
      }
      report ??= {};
      (report[state.sensor] ??= {})[state.quantity] = mean;
      state.lastReported = mean;
      state.lastReportAtMs = nowMs;
    }
    return report ? { report, alerts: [] } : NO_OUTPUT;
  }

  /** When `flushDue` will next have something to report; undefined when nothing waits on max-silence. */
  nextFlushAt(): number | undefined {
    let earliest: number | undefined;
    for (const [key, state] of this.quantities) {
      const silence = this.current.reporting[key]?.maxSilenceMs;
      if (silence === undefined || state.lastReportAtMs === undefined || state.waitingForData) continue;
      const at = state.lastReportAtMs + silence;
      if (earliest === undefined || at < earliest) earliest = at;
    }
    return earliest;
  }

  /** The earlier of the next sampling and the next max-silence flush: when the shell should wake. */
  nextWakeAt(nowMs: number): number | undefined {
    const sample = this.nextSampleDue(nowMs)?.atMs;
    const flush = this.nextFlushAt();
    if (sample === undefined) return flush === undefined ? undefined : Math.max(flush, nowMs);
    return flush === undefined ? sample : Math.max(Math.min(sample, flush), nowMs);
  }

  private sampled(sensor: string, nowMs: number): SensorState {
    const state = this.sensors.get(sensor);
    if (!state) throw new RangeError(`no sensor "${sensor}" in the rules engine (it has ${[...this.sensors.keys()].join(', ') || 'none'})`);
    state.lastSampleAtMs = nowMs;
    // Fixed rate, without a burst to catch up after a late or missed sampling.
    const next = state.dueAtMs + state.intervalMs;
    state.dueAtMs = next > nowMs ? next : nowMs + state.intervalMs;
    return state;
  }

  private reportDue(key: string, state: QuantityState, mean: number, nowMs: number): boolean {
    const rule = this.current.reporting[key];
    if (!rule || state.lastReported === undefined || state.lastReportAtMs === undefined) return true;
    if (Math.abs(mean - state.lastReported) > rule.deadband) return true;
    return rule.maxSilenceMs !== undefined && nowMs - state.lastReportAtMs >= rule.maxSilenceMs;
  }

  private evaluate(state: QuantityState, value: number, rule: ThresholdRule, alerts: Alert[]): void {
    const { sensor, quantity } = state;
    if (rule.high !== undefined) {
      if (!state.highRaised && value > rule.high) {
        state.highRaised = true;
        alerts.push({ sensor, quantity, kind: 'high', state: 'raised', value, threshold: rule.high });
      } else if (state.highRaised && value < rule.high - rule.hysteresis) {
        state.highRaised = false;
        alerts.push({ sensor, quantity, kind: 'high', state: 'cleared', value, threshold: rule.high });
      }
    }
    if (rule.low !== undefined) {
      if (!state.lowRaised && value < rule.low) {
        state.lowRaised = true;
        alerts.push({ sensor, quantity, kind: 'low', state: 'raised', value, threshold: rule.low });
      } else if (state.lowRaised && value > rule.low + rule.hysteresis) {
        state.lowRaised = false;
        alerts.push({ sensor, quantity, kind: 'low', state: 'cleared', value, threshold: rule.low });
      }
    }
  }

  /** Clears, with reason `removed`, the raised alerts whose threshold `rule` no longer has (`previous` had it). */
  private clearRemoved(state: QuantityState, previous: ThresholdRule | undefined, rule: ThresholdRule | undefined, alerts: Alert[]): void {
    const { sensor, quantity } = state;
    const value = state.lastMean ?? NaN;
    if (state.highRaised && rule?.high === undefined) {
      state.highRaised = false;
      alerts.push({ sensor, quantity, kind: 'high', state: 'cleared', value, threshold: previous?.high ?? NaN, reason: 'removed' });
    }
    if (state.lowRaised && rule?.low === undefined) {
      state.lowRaised = false;
      alerts.push({ sensor, quantity, kind: 'low', state: 'cleared', value, threshold: previous?.low ?? NaN, reason: 'removed' });
    }
  }
}

function sameThresholds(a: ThresholdRule | undefined, b: ThresholdRule | undefined): boolean {
  if (!a || !b) return a === b;
  return a.high === b.high && a.low === b.low && a.hysteresis === b.hysteresis;
}
