/**
 * A gentle indoor day for the chip models' default values: virtual time 0 is midnight, the
 * temperature peaks at 25 °C at 15:00 and bottoms at 17 °C at 03:00, and relative humidity
 * moves the opposite way between 38 and 62 %RH, as it does when the absolute humidity of a
 * room stays roughly constant.
 */
const DAY_MS = 24 * 60 * 60 * 1000;
const PEAK_HOUR = 15;

function dayPhase(nowMs: number): number {
  const hourOfDay = ((nowMs % DAY_MS) + DAY_MS) % DAY_MS / 3_600_000;
  return Math.cos((2 * Math.PI * (hourOfDay - PEAK_HOUR)) / 24); // 1 at the peak, -1 twelve hours later
}

export function dailyTemperature(nowMs: number): number {
  return 21 + 4 * dayPhase(nowMs);
}

export function dailyHumidity(nowMs: number): number {
  return 50 - 12 * dayPhase(nowMs);
}
