/**
 * The bounds of the rules core, chosen for a device with about 100 KB of free heap. Every
 * table the core keeps is limited by one of these; configuration beyond them is refused
 * with a message that names the limit.
 */

/** Sensors the engine schedules (readings from other sensors are refused). */
export const MAX_SENSORS = 8;

/**
 * `sensor.quantity` keys that have any rule (averaging, reporting or thresholds), across all
 * sensors. Only these keep state; a quantity without rules is passed through, reported with
 * every reading, and costs nothing between readings.
 */
export const MAX_RULE_KEYS = 16;

/**
 * Samples in one averaging window. A window holds its values and their times in two
 * Float64Arrays, 16 bytes a sample, allocated to the window's size: a `samples: N` window
 * takes N slots, a time window MAX_WINDOW_SAMPLES (if more samples fall inside its
 * duration, the oldest leave early and the mean covers the newest MAX_WINDOW_SAMPLES).
 * Worst case, all windows together: MAX_RULE_KEYS x MAX_WINDOW_SAMPLES x 16 B = 8 KB.
 */
export const MAX_WINDOW_SAMPLES = 32;

/**
 * Values kept from a sensor's last reading (one reading per sensor), so that a rule added
 * later starts from the current value. A reading with more quantities keeps its first ones.
 */
export const MAX_READING_QUANTITIES = 16;

/** Longest time window, ms (1 hour). */
export const MAX_WINDOW_MS = 3_600_000;

/** Sampling intervals (telemetryInterval, sampling), ms: 1 s to 1 day, as AppConfig's telemetryIntervalMs. */
export const MIN_INTERVAL_MS = 1000;
export const MAX_INTERVAL_MS = 86_400_000;

/** Time windows and max-silence intervals are at least this long, ms. */
export const MIN_DURATION_MS = 1000;

/** Longest max-silence interval, ms (1 day). */
export const MAX_SILENCE_MS = 86_400_000;

/** Longest sensor name (`sht31`, `sht31@0x45`) and longest `sensor.quantity` key, characters. */
export const MAX_SENSOR_NAME_LENGTH = 32;
export const MAX_RULE_KEY_LENGTH = 64;

/** Errors reported for one desired-properties document (further ones are counted, not listed). */
export const MAX_ERRORS = 16;
