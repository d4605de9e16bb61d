/**
 * A default day of CO2 for the SCD41 model: an office where virtual time 0 is midnight.
 * Outdoor air (420 ppm) at night; people arrive at 08:00 and the excess CO2 climbs towards
 * 700 ppm (time constant 1.5 h, reaching about 1120 ppm by 18:00); after 18:00 ventilation
 * takes it back down with a 2 h time constant.
 */
const DAY_MS = 24 * 60 * 60 * 1000;
const OUTDOOR_PPM = 420;
const OCCUPIED_EXCESS_PPM = 700;
const RISE_HOURS = 1.5;
const DECAY_HOURS = 2;
const ARRIVE = 8;
const LEAVE = 18;
const EXCESS_AT_LEAVE = OCCUPIED_EXCESS_PPM * (1 - Math.exp(-(LEAVE - ARRIVE) / RISE_HOURS));

export function dailyCo2(nowMs: number): number {
  const hour = (((nowMs % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000;
  if (hour >= ARRIVE && hour < LEAVE) {
    return OUTDOOR_PPM + OCCUPIED_EXCESS_PPM * (1 - Math.exp(-(hour - ARRIVE) / RISE_HOURS));
  }
  const hoursSinceLeaving = hour >= LEAVE ? hour - LEAVE : hour + 24 - LEAVE;
  return OUTDOOR_PPM + EXCESS_AT_LEAVE * Math.exp(-hoursSinceLeaving / DECAY_HOURS);
}
