/**
 * Default analog inputs for the ADS1115 model: what a typical board might have wired to
 * the four inputs, as voltages against GND on a 3.3 V supply. Virtual time 0 is midnight.
 */
const DAY_MS = 24 * 60 * 60 * 1000;

/** AIN0: a light sensor in a divider: 0.2 V in the dark, up to 2.5 V at 12:00 (sunrise 06:00, sunset 18:00). */
export function daylightVolts(nowMs: number): number {
  const hourOfDay = (((nowMs % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000;
  return 0.2 + 2.3 * Math.max(0, Math.sin((Math.PI * (hourOfDay - 6)) / 12));
}

/** AIN1: a mid-supply reference, 1.65 V. */
export const MID_SUPPLY_VOLTS = 1.65;

/** AIN2: a slow AC signal: 1.0 V ± 0.5 V at 0.1 Hz. */
export function slowSineVolts(nowMs: number): number {
  return 1.0 + 0.5 * Math.sin((2 * Math.PI * nowMs) / 10_000);
}

/** AIN3: tied to GND. */
export const GROUNDED_VOLTS = 0;
