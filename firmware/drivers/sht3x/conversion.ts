/**
 * Raw 16-bit signal to physical units, SHT3x-DIS datasheet §4.13:
 *   T  [°C]  = -45 + 175 * S_T  / (2^16 - 1)
 *   RH [%RH] =       100 * S_RH / (2^16 - 1)
 * The raw values are already linearised and compensated by the sensor.
 */
const FULL_SCALE = 65535;

export function temperatureFromRaw(raw: number): number {
  return -45 + (175 * raw) / FULL_SCALE;
}

export function humidityFromRaw(raw: number): number {
  return (100 * raw) / FULL_SCALE;
}
