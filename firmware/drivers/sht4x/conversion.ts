/**
 * Raw 16-bit signals to physical units, "Datasheet SHT4x" (v6, Feb 2023) §4.5 "Conversion of
 * Signal Output":
 *   T  [°C]  = -45 + 175 * S_T  / (2^16 - 1)
 *   RH [%RH] =  -6 + 125 * S_RH / (2^16 - 1)
 * The humidity formula reaches -6…119 %RH so that the sensor's full range survives
 * quantisation; §4.5 says to crop the result to 0…100 %RH, which `humidityFromRaw` does.
 * (The SHT3x humidity formula is 100 * S / (2^16 - 1): the two are not interchangeable.)
 */
const FULL_SCALE = 65535;

export function temperatureFromRaw(raw: number): number {
  return -45 + (175 * raw) / FULL_SCALE;
}

/** The cropped humidity, as §4.5 asks. */
export function humidityFromRaw(raw: number): number {
  const humidity = uncroppedHumidityFromRaw(raw);
  return humidity < 0 ? 0 : humidity > 100 ? 100 : humidity;
}

/** The formula before cropping: values below 0 or above 100 %RH mean dry or condensing. */
export function uncroppedHumidityFromRaw(raw: number): number {
  return -6 + (125 * raw) / FULL_SCALE;
}
