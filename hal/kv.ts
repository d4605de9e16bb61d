/**
 * Persistent settings with ESP32 NVS's limits (Moddable: `Preference`), which the simulator
 * enforces too: domain and key at most 15 characters, values at most 4000 bytes,
 * no non-integer numbers.
 */
export type KvValue = boolean | number | string | Uint8Array;

export const KV_MAX_NAME_LENGTH = 15;
export const KV_MAX_VALUE_BYTES = 4000;

export class KvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KvError';
  }
}

export interface KeyValue {
  get(domain: string, key: string): KvValue | undefined;
  /** Throws KvError when a name or value breaks NVS's limits. */
  set(domain: string, key: string, value: KvValue): void;
  delete(domain: string, key: string): void;
  keys(domain: string): string[];
}

/** The checks every KV implementation makes before storing, so host and device agree. */
export function checkKvEntry(domain: string, key: string, value: KvValue, byteLengthOfString: (s: string) => number): void {
  for (const [what, name] of [['domain', domain], ['key', key]] as const) {
    if (name.length === 0 || name.length > KV_MAX_NAME_LENGTH) {
      throw new KvError(`KV ${what} "${name}" must have 1 to ${KV_MAX_NAME_LENGTH} characters (ESP32 NVS limit); shorten it`);
    }
  }
  if (typeof value === 'number' && !Number.isInteger(value)) {
    throw new KvError(`KV value for ${domain}/${key} is ${value}: NVS stores no floating-point numbers; store an integer (scaled) or a string`);
  }
  const size = typeof value === 'string' ? byteLengthOfString(value) : value instanceof Uint8Array ? value.length : 8;
  if (size > KV_MAX_VALUE_BYTES) {
    throw new KvError(`KV value for ${domain}/${key} is ${size} bytes; NVS allows at most ${KV_MAX_VALUE_BYTES}: split it or use a flash partition`);
  }
}
