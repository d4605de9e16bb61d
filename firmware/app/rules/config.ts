/**
 * The rules configuration and its validation. The configuration has the shape of the twin's
 * desired properties, one writable property per concern, so that a desired document (or a
 * patch of one) validates straight into a `RulesConfig`:
 *
 *   telemetryInterval  ms between samples of every sensor
 *   sampling           { "<sensor>": ms }                       per-sensor interval
 *   averaging          { "<sensor>.<quantity>": { "samples": N } | { "ms": T } }
 *   reporting          { "<sensor>.<quantity>": { "deadband": D, "maxSilenceMs": T } }
 *   thresholds         { "<sensor>.<quantity>": { "high": H, "low": L, "hysteresis": Y } }
 *
 * An invalid entry is refused with its own message (what was wrong, what is expected) and
 * keeps its previous value; the valid entries beside it apply at once. Each property present
 * in the desired document gets an IoT Plug and Play writable-property acknowledgement: ac 200
 * when all of it applied, ac 400 with the messages in `ad` otherwise.
 */
import {
  MAX_ERRORS,
  MAX_INTERVAL_MS,
  MAX_RULE_KEY_LENGTH,
  MAX_RULE_KEYS,
  MAX_SENSOR_NAME_LENGTH,
  MAX_SENSORS,
  MAX_SILENCE_MS,
  MAX_WINDOW_MS,
  MAX_WINDOW_SAMPLES,
  MIN_DURATION_MS,
  MIN_INTERVAL_MS,
} from './limits';
import type { WindowSpec } from './window';

export type { WindowSpec } from './window';

/** Report-on-change for one quantity. */
export interface ReportingRule {
  /** Report when the averaged value moved by more than this since the last report (default 0: any change). */
  readonly deadband: number;
  /** Report at least this often, ms, even when the value did not move. */
  readonly maxSilenceMs?: number;
}

/** Threshold alerts for one quantity; at least one of `high` and `low`. */
export interface ThresholdRule {
  /** Raised when the averaged value goes above `high`; cleared when it drops below `high - hysteresis`. */
  readonly high?: number;
  /** Raised when the averaged value goes below `low`; cleared when it rises above `low + hysteresis`. */
  readonly low?: number;
  /** Width of the band that keeps an alert in its state, in the quantity's unit (default 0). */
  readonly hysteresis: number;
}

/** Rules keyed by `sensor.quantity` (`sht31.temperature`). */
export type RuleTable<T> = { readonly [key: string]: T };

export interface RulesConfig {
  /** Sampling interval of every sensor without its own `sampling` entry, ms. */
  readonly telemetryInterval: number;
  /** Sampling interval per sensor name, ms. */
  readonly sampling: { readonly [sensor: string]: number };
  /** Averaging window per quantity (default: one sample, no averaging). Its mean is what is reported and compared with thresholds. */
  readonly averaging: RuleTable<WindowSpec>;
  /** Report-on-change per quantity (default: every sample is reported). */
  readonly reporting: RuleTable<ReportingRule>;
  /** Threshold alerts per quantity (default: none). */
  readonly thresholds: RuleTable<ThresholdRule>;
}

/** The writable properties the rules read from the twin; other desired properties are not theirs. */
export const RULES_PROPERTIES = ['telemetryInterval', 'sampling', 'averaging', 'reporting', 'thresholds'] as const;
export type RulesProperty = (typeof RULES_PROPERTIES)[number];

export const DEFAULT_TELEMETRY_INTERVAL_MS = 60_000;

/** Sampling every `telemetryInterval` ms and reporting every sample: the behaviour without rules. */
export function defaultRulesConfig(telemetryInterval = DEFAULT_TELEMETRY_INTERVAL_MS): RulesConfig {
  return { telemetryInterval, sampling: {}, averaging: {}, reporting: {}, thresholds: {} };
}

/** One refused property or entry. */
export interface RulesConfigError {
  /** The writable property (`thresholds`); absent when the document itself is not an object. */
  readonly property?: RulesProperty;
  /** The entry within the property (`sht31.temperature`, or a sensor name in `sampling`). */
  readonly entry?: string;
  /** A sentence: where, what was wrong, what is expected. */
  readonly message: string;
}

/** An IoT Plug and Play writable-property acknowledgement, as reported in the twin. */
export interface WritablePropertyAck {
  /** The desired value, as received. */
  readonly value: unknown;
  /** 200 applied; 400 refused in part or whole (the valid entries still apply). */
  readonly ac: 200 | 400;
  /** The desired document's `$version`, when it has one. */
  readonly av?: number;
  readonly ad: string;
}

export interface DesiredPropertiesResult {
  /** The configuration to run: valid entries applied, refused ones at their previous value. */
  readonly config: RulesConfig;
  /** At most MAX_ERRORS errors; `omittedErrors` counts the rest. */
  readonly errors: readonly RulesConfigError[];
  readonly omittedErrors: number;
  /** One acknowledgement per rules property present in the desired document, by property name. */
  readonly acks: { readonly [property: string]: WritablePropertyAck };
}

export interface ApplyOptions {
  /** The device's sensor names: entries for other sensors are refused. Unchecked when absent. */
  readonly sensors?: readonly string[];
  /**
   * A complete desired document (twin GET) rather than a patch: properties and entries it
   * does not have are removed (back to their defaults), as the twin service drops a desired
   * property set to null. A patch changes only what it names; null removes.
   */
  readonly complete?: boolean;
  /** What `telemetryInterval` returns to when removed (default DEFAULT_TELEMETRY_INTERVAL_MS). */
  readonly defaultTelemetryInterval?: number;
}

/** A configuration that cannot run: the engine's `configure` throws it, listing every problem. */
export class InvalidRulesConfig extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid rules configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'InvalidRulesConfig';
  }
}

const SENSOR_NAME = /^[A-Za-z0-9_@-]+$/;
const QUANTITY_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const WINDOW_EXPECTED = `{ "samples": N } (N a whole number from 1 to ${MAX_WINDOW_SAMPLES}) or { "ms": T } (T a whole number of ms from ${MIN_DURATION_MS} to ${MAX_WINDOW_MS})`;
const REPORTING_EXPECTED = `{ "deadband": D, "maxSilenceMs": T } (D a number of at least 0, T a whole number of ms from ${MIN_DURATION_MS} to ${MAX_SILENCE_MS}; either may be left out)`;
const THRESHOLDS_EXPECTED = '{ "high": H, "low": L, "hysteresis": Y } (numbers; at least one of high and low; hysteresis at least 0, default 0)';
const INTERVAL_EXPECTED = `a whole number of ms from ${MIN_INTERVAL_MS} to ${MAX_INTERVAL_MS}`;

/** A short description of a JSON value, for messages (never its whole text). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'missing';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 24 ? `${value.slice(0, 24)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

function quoteKey(key: string): string {
  return JSON.stringify(key.length > MAX_RULE_KEY_LENGTH ? `${key.slice(0, MAX_RULE_KEY_LENGTH)}…` : key);
}

function isPlainObject(value: unknown): value is { readonly [key: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `object` has its own `key` with a value: JSON has no undefined, but code-built configurations may. */
const has = (object: object, key: string) => Object.prototype.hasOwnProperty.call(object, key) && (object as { [key: string]: unknown })[key] !== undefined;

/** What is wrong with a whole number of ms, or undefined. */
function wholeMsProblem(value: unknown, min: number, max: number): string | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    return `is ${describeValue(value)}; expected a whole number of ms from ${min} to ${max}`;
  }
  return undefined;
}

function numberProblem(value: unknown, min?: number): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return `is ${describeValue(value)}; expected a number`;
  if (min !== undefined && value < min) return `is ${value}; expected a number of at least ${min}`;
  return undefined;
}

function unknownFields(entry: { readonly [key: string]: unknown }, allowed: readonly string[]): string | undefined {
  const unknown = Object.keys(entry).filter((field) => !allowed.includes(field));
  if (unknown.length === 0) return undefined;
  return `has the unknown field${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 3).map(quoteKey).join(', ')}; expected only ${allowed.map((f) => `"${f}"`).join(', ')}`;
}

type EntryCheck<T> = { value: T; problem?: undefined } | { value?: undefined; problem: string };

function checkWindow(entry: unknown): EntryCheck<WindowSpec> {
  if (!isPlainObject(entry)) return { problem: `is ${describeValue(entry)}; expected ${WINDOW_EXPECTED}, or null to remove it` };
  const extra = unknownFields(entry, ['samples', 'ms']);
  if (extra) return { problem: extra };
  if (has(entry, 'samples') && has(entry, 'ms')) return { problem: 'has both "samples" and "ms"; expected one of them' };
  if (has(entry, 'samples')) {
    const samples = entry.samples;
    if (typeof samples !== 'number' || !Number.isInteger(samples) || samples < 1 || samples > MAX_WINDOW_SAMPLES) {
      return { problem: `.samples is ${describeValue(samples)}; expected a whole number from 1 to ${MAX_WINDOW_SAMPLES}` };
    }
    return { value: { samples } };
  }
  if (has(entry, 'ms')) {
    const problem = wholeMsProblem(entry.ms, MIN_DURATION_MS, MAX_WINDOW_MS);
    return problem ? { problem: `.ms ${problem}` } : { value: { ms: entry.ms as number } };
  }
  return { problem: `has neither "samples" nor "ms"; expected ${WINDOW_EXPECTED}` };
}

function checkReporting(entry: unknown): EntryCheck<ReportingRule> {
  if (!isPlainObject(entry)) return { problem: `is ${describeValue(entry)}; expected ${REPORTING_EXPECTED}, or null to remove it` };
  const extra = unknownFields(entry, ['deadband', 'maxSilenceMs']);
  if (extra) return { problem: extra };
  if (!has(entry, 'deadband') && !has(entry, 'maxSilenceMs')) {
    return { problem: `has neither "deadband" nor "maxSilenceMs"; expected ${REPORTING_EXPECTED}` };
  }
  const deadband = has(entry, 'deadband') ? entry.deadband : 0;
  const deadbandProblem = numberProblem(deadband, 0);
  if (deadbandProblem) return { problem: `.deadband ${deadbandProblem} (in the quantity's unit)` };
  if (!has(entry, 'maxSilenceMs')) return { value: { deadband: deadband as number } };
  const silenceProblem = wholeMsProblem(entry.maxSilenceMs, MIN_DURATION_MS, MAX_SILENCE_MS);
  if (silenceProblem) return { problem: `.maxSilenceMs ${silenceProblem}` };
  return { value: { deadband: deadband as number, maxSilenceMs: entry.maxSilenceMs as number } };
}

function checkThresholds(entry: unknown): EntryCheck<ThresholdRule> {
  if (!isPlainObject(entry)) return { problem: `is ${describeValue(entry)}; expected ${THRESHOLDS_EXPECTED}, or null to remove it` };
  const extra = unknownFields(entry, ['high', 'low', 'hysteresis']);
  if (extra) return { problem: extra };
  if (!has(entry, 'high') && !has(entry, 'low')) return { problem: `has neither "high" nor "low"; expected ${THRESHOLDS_EXPECTED}` };
  for (const field of ['high', 'low'] as const) {
    const problem = has(entry, field) ? numberProblem(entry[field]) : undefined;
    if (problem) return { problem: `.${field} ${problem}` };
  }
  const hysteresis = has(entry, 'hysteresis') ? entry.hysteresis : 0;
  const hysteresisProblem = numberProblem(hysteresis, 0);
  if (hysteresisProblem) return { problem: `.hysteresis ${hysteresisProblem} (in the quantity's unit)` };
  const high = entry.high as number | undefined;
  const low = entry.low as number | undefined;
  const y = hysteresis as number;
  if (high !== undefined && low !== undefined) {
    if (!(low < high)) return { problem: `has low ${low} and high ${high}; expected low below high` };
    if (!(y < high - low)) {
      return { problem: `has hysteresis ${y}, as wide as the ${high - low} between low and high or wider; expected a hysteresis below ${high - low}` };
    }
  }
  return { value: { ...(high !== undefined ? { high } : {}), ...(low !== undefined ? { low } : {}), hysteresis: y } };
}

function checkSensorName(name: string, sensors: readonly string[] | undefined): string | undefined {
  if (name.length === 0 || name.length > MAX_SENSOR_NAME_LENGTH || !SENSOR_NAME.test(name)) {
    return `is not a sensor name; expected 1 to ${MAX_SENSOR_NAME_LENGTH} letters, digits, "_", "-" or "@", such as "sht31" or "sht31@0x45"`;
  }
  if (sensors && !sensors.includes(name)) {
    return `names the sensor "${name}", which this device does not have (it has ${sensors.length > 0 ? sensors.map((s) => `"${s}"`).join(', ') : 'none'})`;
  }
  return undefined;
}

/** What is wrong with a `sensor.quantity` key, or undefined. */
function checkRuleKey(key: string, sensors: readonly string[] | undefined): string | undefined {
  const dot = key.indexOf('.');
  const quantity = dot < 0 ? '' : key.slice(dot + 1);
  if (dot <= 0 || key.length > MAX_RULE_KEY_LENGTH || !QUANTITY_NAME.test(quantity)) {
    return `is not a "sensor.quantity" key; expected one such as "sht31.temperature" (at most ${MAX_RULE_KEY_LENGTH} characters)`;
  }
  return checkSensorName(key.slice(0, dot), sensors);
}

/** Splits a valid `sensor.quantity` key. */
export function splitRuleKey(key: string): { sensor: string; quantity: string } {
  const dot = key.indexOf('.');
  return { sensor: key.slice(0, dot), quantity: key.slice(dot + 1) };
}

/** The keys that have any rule, in the order they first appear. */
export function ruleKeys(config: Pick<RulesConfig, 'averaging' | 'reporting' | 'thresholds'>): string[] {
  return [...new Set([...Object.keys(config.averaging), ...Object.keys(config.reporting), ...Object.keys(config.thresholds)])];
}

const TABLE_CHECKS = { averaging: checkWindow, reporting: checkReporting, thresholds: checkThresholds } as const;
type TableProperty = keyof typeof TABLE_CHECKS;
const TABLE_EXPECTED: { [P in TableProperty]: string } = {
  averaging: WINDOW_EXPECTED,
  reporting: REPORTING_EXPECTED,
  thresholds: THRESHOLDS_EXPECTED,
};

/** The errors of one document: at most MAX_ERRORS listed, and per property its first three for the ack. */
class Collector {
  readonly errors: RulesConfigError[] = [];
  omitted = 0;
  private readonly first = new Map<RulesProperty, string[]>();
  private readonly counts = new Map<RulesProperty, number>();

  add(property: RulesProperty | undefined, entry: string | undefined, message: string): void {
    if (property) {
      const first = this.first.get(property) ?? [];
      if (first.length < 3) first.push(message);
      this.first.set(property, first);
      this.counts.set(property, this.count(property) + 1);
    }
    if (this.errors.length < MAX_ERRORS) this.errors.push({ ...(property ? { property } : {}), ...(entry !== undefined ? { entry } : {}), message });
    else this.omitted++;
  }

  count(property: RulesProperty): number {
    return this.counts.get(property) ?? 0;
  }

  /** The ack description for a property: its first messages and how many more. */
  describe(property: RulesProperty, someApplied: boolean): string {
    const count = this.count(property);
    if (count === 0) return 'applied';
    const shown = this.first.get(property) ?? [];
    const more = count - shown.length;
    return `${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}${someApplied ? '; the other entries are applied' : ''}`;
  }
}

/**
 * Applies a desired-properties document or patch to `current`. Never throws: every problem
 * is an entry in `errors` and in the property's acknowledgement.
 */
export function applyDesiredProperties(current: RulesConfig, desired: unknown, options: ApplyOptions = {}): DesiredPropertiesResult {
  const collector = new Collector();
  if (!isPlainObject(desired)) {
    collector.add(undefined, undefined, `the desired properties are ${describeValue(desired)}; expected an object`);
    return { config: current, errors: collector.errors, omittedErrors: collector.omitted, acks: {} };
  }
  const { sensors, complete = false } = options;
  const present = (property: RulesProperty) => has(desired, property);
  const appliedSome = new Set<RulesProperty>();

  // telemetryInterval
  let telemetryInterval = current.telemetryInterval;
  const defaultInterval = options.defaultTelemetryInterval ?? DEFAULT_TELEMETRY_INTERVAL_MS;
  if (present('telemetryInterval')) {
    const value = desired.telemetryInterval;
    const problem = value === null ? undefined : wholeMsProblem(value, MIN_INTERVAL_MS, MAX_INTERVAL_MS);
    if (problem) collector.add('telemetryInterval', undefined, `telemetryInterval ${problem}, or null for the default (${defaultInterval})`);
    else telemetryInterval = value === null ? defaultInterval : (value as number);
  } else if (complete) {
    telemetryInterval = defaultInterval;
  }

  // sampling: { sensor: ms }
  const sampling: { [sensor: string]: number } = complete ? {} : { ...current.sampling };
  if (present('sampling')) {
    const table = desired.sampling;
    if (table === null) {
      for (const key of Object.keys(sampling)) delete sampling[key];
    } else if (!isPlainObject(table)) {
      collector.add('sampling', undefined, `sampling is ${describeValue(table)}; expected an object mapping sensor names to ${INTERVAL_EXPECTED}, or null to remove them all`);
      if (complete) Object.assign(sampling, current.sampling);
    } else {
      for (const [sensor, value] of Object.entries(table)) {
        const where = `sampling[${quoteKey(sensor)}]`;
        const keyProblem = checkSensorName(sensor, sensors);
        const problem = keyProblem ?? (value === null ? undefined : wholeMsProblem(value, MIN_INTERVAL_MS, MAX_INTERVAL_MS));
        if (problem) {
          collector.add('sampling', sensor, `${where} ${problem}${keyProblem ? '' : ', or null to remove it'}`);
          if (complete && has(current.sampling, sensor)) sampling[sensor] = current.sampling[sensor]!;
        } else if (value === null) {
          delete sampling[sensor];
          appliedSome.add('sampling');
        } else if (!has(sampling, sensor) && Object.keys(sampling).length >= MAX_SENSORS) {
          collector.add('sampling', sensor, `${where} is one sensor too many: the device schedules at most ${MAX_SENSORS}; remove one first (set it to null)`);
        } else {
          sampling[sensor] = value as number;
          appliedSome.add('sampling');
        }
      }
    }
  }

  // averaging, reporting, thresholds: { "sensor.quantity": rule }
  const tables = {
    averaging: (complete ? {} : { ...current.averaging }) as { [key: string]: WindowSpec },
    reporting: (complete ? {} : { ...current.reporting }) as { [key: string]: ReportingRule },
    thresholds: (complete ? {} : { ...current.thresholds }) as { [key: string]: ThresholdRule },
  };
  const additions: { property: TableProperty; key: string; rule: unknown }[] = [];
  for (const property of ['averaging', 'reporting', 'thresholds'] as const) {
    const table = tables[property] as { [key: string]: unknown };
    const previous = current[property] as { readonly [key: string]: unknown };
    if (!present(property)) continue;
    const desiredTable = desired[property];
    if (desiredTable === null) {
      for (const key of Object.keys(table)) delete table[key];
      continue;
    }
    if (!isPlainObject(desiredTable)) {
      collector.add(
        property,
        undefined,
        `${property} is ${describeValue(desiredTable)}; expected an object mapping "sensor.quantity" keys to ${TABLE_EXPECTED[property]}, or null to remove them all`,
      );
      if (complete) Object.assign(table, previous);
      continue;
    }
    for (const [key, entry] of Object.entries(desiredTable)) {
      const where = `${property}[${quoteKey(key)}]`;
      const keyProblem = checkRuleKey(key, sensors);
      if (keyProblem) {
        collector.add(property, key, `${where}: the key ${keyProblem}`);
        continue;
      }
      if (entry === null) {
        delete table[key];
        appliedSome.add(property);
        continue;
      }
      const checked = TABLE_CHECKS[property](entry);
      if (checked.problem !== undefined) {
        collector.add(property, key, `${where}${checked.problem.startsWith('.') ? '' : ' '}${checked.problem}`);
        if (complete && has(previous, key)) table[key] = previous[key];
        continue;
      }
      // Added after the removals, so that a patch can swap one quantity for another within the limit.
      additions.push({ property, key, rule: checked.value });
    }
  }
  const tracked = new Set(ruleKeys(tables));
  for (const { property, key, rule } of additions) {
    if (!tracked.has(key) && tracked.size >= MAX_RULE_KEYS) {
      collector.add(
        property,
        key,
        `${property}[${quoteKey(key)}] is one quantity too many: the device keeps rules for at most ${MAX_RULE_KEYS} "sensor.quantity" keys across averaging, reporting and thresholds; remove one first (set it to null)`,
      );
      continue;
    }
    tracked.add(key);
    (tables[property] as { [key: string]: unknown })[key] = rule;
    appliedSome.add(property);
  }

  const config: RulesConfig = { telemetryInterval, sampling, ...tables };
  const version = typeof desired.$version === 'number' ? desired.$version : undefined;
  const acks: { [property: string]: WritablePropertyAck } = {};
  for (const property of RULES_PROPERTIES) {
    if (!present(property)) continue;
    const failed = collector.count(property) > 0;
    acks[property] = {
      value: desired[property],
      ac: failed ? 400 : 200,
      ...(version !== undefined ? { av: version } : {}),
      ad: collector.describe(property, failed && appliedSome.has(property)),
    };
  }
  return { config, errors: collector.errors, omittedErrors: collector.omitted, acks };
}

/** A complete configuration checked from scratch, as from a full desired document. */
export function validateRulesConfig(input: unknown, options: Omit<ApplyOptions, 'complete'> = {}): DesiredPropertiesResult {
  return applyDesiredProperties(defaultRulesConfig(options.defaultTelemetryInterval), input, { ...options, complete: true });
}

/** Every problem with a configuration built in code (empty when it is valid). */
export function rulesConfigProblems(config: RulesConfig, sensors?: readonly string[]): string[] {
  const result = validateRulesConfig(config, { sensors });
  const problems = result.errors.map((error) => error.message);
  if (result.omittedErrors > 0) problems.push(`and ${result.omittedErrors} more`);
  for (const property of RULES_PROPERTIES) {
    if (!has(config, property)) problems.push(`${property} is missing`);
  }
  return problems;
}
