/**
 * Words to physical units and back, "Datasheet SCD4x" (v1.3, Sept 2022):
 *   §3.5.2 read_measurement: CO2 [ppm] = word[0]
 *                            T [°C]    = -45 + 175 * word[1] / (2^16 - 1)
 *                            RH [%RH]  = 100 * word[2] / (2^16 - 1)
 *   §3.6.1 set_temperature_offset: word = T_offset [°C] * (2^16 - 1) / 175
 *   §3.6.3 set_sensor_altitude:    word = altitude [m]
 *   §3.6.5 set_ambient_pressure:   word = pressure [Pa] / 100, i.e. hPa
 * The datasheet's own example (§3.5.2): words 0x01F4, 0x6667, 0x5EB9 are 500 ppm, 25 °C, 37 %RH.
 */
const FULL_SCALE = 65535;

export function temperatureFromRaw(raw: number): number {
  return -45 + (175 * raw) / FULL_SCALE;
}

export function humidityFromRaw(raw: number): number {
  return (100 * raw) / FULL_SCALE;
}

/** §3.6.1: e.g. 5.4 °C → 2022 (0x07E6), the datasheet's example. */
export function temperatureOffsetToRaw(celsius: number): number {
  return Math.round((celsius * FULL_SCALE) / 175);
}

export function temperatureOffsetFromRaw(raw: number): number {
  return (raw * 175) / FULL_SCALE;
}
