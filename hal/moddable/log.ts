/**
 * Log over XS's `trace()` (the serial console / xsbug): one JSON object per line,
 * `{"t":<ms since boot>,"level":…,"message":…,"fields":{…}}` for messages at or above the
 * level and `{"t":…,"event":…,"fields":{…}}` for events, with secret-looking fields masked
 * by `redact` (hal/log.ts). Logging never throws.
 */
import type { Clock } from "../clock";
import { LOG_LEVELS, levelEnabled, redact, type Log, type LogFields, type LogLevel } from "../log";

/** Characters of a message kept at most, so one line cannot exhaust the heap. */
export const MAX_MESSAGE_LENGTH = 1024;

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && (LOG_LEVELS as readonly string[]).includes(value);
}

function emit(record: { [key: string]: unknown }): void {
  let line: string;
  try {
    line = JSON.stringify(record);
  } catch (error) {
    line = JSON.stringify({ t: record.t, level: "error", message: `log record not serializable: ${String(error)}` });
  }
  trace(line + "\n");
}

export class ModdableLog implements Log {
  level: LogLevel;

  constructor(
    private readonly clock: Clock,
    level: LogLevel = "info",
  ) {
    this.level = level;
  }

  write(level: LogLevel, message: string, fields?: LogFields): void {
    if (!levelEnabled(this.level, level)) return;
    const text = message.length > MAX_MESSAGE_LENGTH ? message.slice(0, MAX_MESSAGE_LENGTH) + "…" : message;
    emit({ t: this.clock.now(), level, message: text, fields: redact(fields) });
  }

  event(type: string, fields?: LogFields): void {
    emit({ t: this.clock.now(), event: type, fields: redact(fields) });
  }
}
