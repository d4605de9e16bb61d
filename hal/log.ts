/** Log levels, most severe first. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export type LogValue = string | number | boolean | null | undefined | LogValue[] | { [key: string]: LogValue };
export type LogFields = { [key: string]: LogValue };

/**
 * Logging and structured events. Events (`boot`, `connected`, `telemetry`, …) are what the
 * simulator reports per device and what a serial console shows on hardware. Never log
 * secrets: fields whose names look like secrets are masked by `redact`.
 */
export interface Log {
  /** Messages above this level are dropped. */
  level: LogLevel;
  write(level: LogLevel, message: string, fields?: LogFields): void;
  event(type: string, fields?: LogFields): void;
}

const SECRET_NAME = /pass|secret|token|signature|sas|privatekey|^key$|Key$/i;

/** A copy of `fields` with values under secret-looking names replaced by "***". */
export function redact(fields: LogFields | undefined): LogFields | undefined {
  if (!fields) return fields;
  const out: LogFields = {};
  for (const name of Object.keys(fields)) {
    out[name] = SECRET_NAME.test(name) && fields[name] !== undefined ? '***' : fields[name];
  }
  return out;
}

export function levelEnabled(threshold: LogLevel, level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(threshold);
}
