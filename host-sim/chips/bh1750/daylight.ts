/**
 * A default day of indoor light for the BH1750 model: virtual time 0 is midnight. Daylight
 * through a window rises from 06:00, peaks at 1000 lx at noon and is gone at 18:00; a lamp
 * adds 300 lx from 17:00 to 23:00; the night is dark.
 */
const DAY_MS = 24 * 60 * 60 * 1000;

export function dailyIlluminance(nowMs: number): number {
  const hour = (((nowMs % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000;
  const daylight = hour > 6 && hour < 18 ? 1000 * Math.sin((Math.PI * (hour - 6)) / 12) : 0;
  const lamp = hour >= 17 && hour < 23 ? 300 : 0;
  return daylight + lamp;
}
