/**
 * MPU-6050 raw register values to the units ECMA-419's sensor classes use:
 *
 * - Accelerometer: metres per second squared (ECMA-419 `Accelerometer`, and the
 *   `Accelerometer-Gyroscope/MPU6050` class specification). Raw / LSB-per-g (PS §6.2) × g₀.
 * - Gyroscope: radians per second (ECMA-419 `Gyroscope`, "angular velocity … in radian per
 *   second"). Raw / LSB-per-(°/s) (PS §6.1) × π/180. Moddable's own mpu6050.js returns °/s
 *   here; the specification, not that implementation, is followed.
 * - Thermometer: degrees Celsius (ECMA-419 `Thermometer`). RM §4.18: raw / 340 + 36.53.
 */
import { ACCEL_LSB_PER_G, GYRO_LSB_PER_DPS, TEMPERATURE_LSB_PER_C, TEMPERATURE_OFFSET_C } from './registers';
/** Standard gravity, m/s² (the conventional value, CGPM 1901), for g → m/s². */
export const STANDARD_GRAVITY = 9.80665;
const RADIANS_PER_DEGREE = Math.PI / 180;
/** `range` is AFS_SEL, 0…3 (±2, ±4, ±8, ±16 g). */
export function accelerationFromRaw(raw, range) {
    return (raw / ACCEL_LSB_PER_G[range]) * STANDARD_GRAVITY;
}
/** `gyroRange` is FS_SEL, 0…3 (±250, ±500, ±1000, ±2000 °/s). */
export function angularRateFromRaw(raw, gyroRange) {
    return (raw / GYRO_LSB_PER_DPS[gyroRange]) * RADIANS_PER_DEGREE;
}
export function temperatureFromRaw(raw) {
    return raw / TEMPERATURE_LSB_PER_C + TEMPERATURE_OFFSET_C;
}
/** The big-endian two's complement 16-bit value at `offset`. */
export function int16At(bytes, offset) {
    return (((bytes[offset] << 8) | bytes[offset + 1]) << 16) >> 16;
}
//# sourceMappingURL=conversion.js.map