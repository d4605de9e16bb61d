/**
 * A default barometric curve for the BME280 model, to go with the models' indoor day
 * (temperature and humidity, `../common/daily-curve`). Virtual time 0 is midnight.
 *
 * Standard sea-level pressure, 101325 Pa, plus the atmospheric tide: the air pressure's
 * twice-daily oscillation, peaking near 10:00 and 22:00 local time with an amplitude of
 * about 1 hPa in the tropics and less at higher latitudes; 80 Pa here.
 */
const DAY_MS = 24 * 60 * 60 * 1000;
export const SEA_LEVEL_PA = 101325;
const TIDE_PA = 80;
const TIDE_PEAK_HOUR = 10;

export function dailyPressure(nowMs: number): number {
  const hourOfDay = (((nowMs % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000;
  return SEA_LEVEL_PA + TIDE_PA * Math.cos((4 * Math.PI * (hourOfDay - TIDE_PEAK_HOUR)) / 24);
}
