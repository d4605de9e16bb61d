/**
 * The rules' per-quantity tables as a device twin can hold them. IoT Hub forbids "." in
 * twin property names, so the twin nests them — `thresholds: { sht31: { temperature:
 * {...} } }` — where the rules core keys them `"sht31.temperature"`. These two functions
 * translate desired properties in, and acknowledgements (which echo the value) back out.
 */
import type { RulesConfig } from './rules';

const TABLES = ['averaging', 'reporting', 'thresholds'] as const;
type Table = (typeof TABLES)[number];

function isObject(value: unknown): value is { [key: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Desired properties with nested tables flattened to the rules core's dotted keys. A whole
 * sensor set to null removes each of its entries the current configuration has.
 */
export function desiredToRules(desired: { [key: string]: unknown }, current: RulesConfig): { [key: string]: unknown } {
  const out: { [key: string]: unknown } = { ...desired };
  for (const table of TABLES) {
    const value = desired[table];
    if (!isObject(value)) continue;
    const flat: { [key: string]: unknown } = {};
    for (const [sensor, entries] of Object.entries(value)) {
      if (entries === null) {
        for (const key of Object.keys(current[table] as object)) if (key.startsWith(`${sensor}.`)) flat[key] = null;
      } else if (isObject(entries) && !looksLikeRule(table, entries)) {
        for (const [quantity, rule] of Object.entries(entries)) flat[`${sensor}.${quantity}`] = rule;
      } else {
        flat[sensor] = entries; // not nested: the core explains what is wrong with it
      }
    }
    out[table] = flat;
  }
  return out;
}

/** An acknowledgement's echoed value nested back the way the twin holds it. */
export function rulesToTwin(property: string, value: unknown): unknown {
  if (!(TABLES as readonly string[]).includes(property) || !isObject(value)) return value;
  const nested: { [sensor: string]: { [quantity: string]: unknown } | unknown } = {};
  for (const [key, rule] of Object.entries(value)) {
    const dot = key.indexOf('.');
    if (dot < 0) {
      nested[key] = rule;
      continue;
    }
    const sensor = key.slice(0, dot);
    const entry = (isObject(nested[sensor]) ? nested[sensor] : {}) as { [quantity: string]: unknown };
    entry[key.slice(dot + 1)] = rule;
    nested[sensor] = entry;
  }
  return nested;
}

/** A rule itself (not a sensor's table of rules): the fields each table's rules have. */
function looksLikeRule(table: Table, value: { [key: string]: unknown }): boolean {
  const fields: { [t in Table]: string[] } = {
    averaging: ['samples', 'ms'],
    reporting: ['deadband', 'maxSilenceMs'],
    thresholds: ['high', 'low', 'hysteresis'],
  };
  return Object.keys(value).some((key) => fields[table].includes(key));
}
