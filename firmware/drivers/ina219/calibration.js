/**
 * The INA219's calibration procedure, SBOS448G §8.5.1 "Programming the Calibration
 * Register", and the register-to-units conversions that follow from it:
 *
 *   Eq. 2  Minimum Current_LSB = Maximum Expected Current / 2^15
 *   Eq. 1  Cal = trunc(0.04096 / (Current_LSB × R_SHUNT))
 *   Eq. 3  Power_LSB = 20 × Current_LSB
 *   Eq. 4  Current register = Shunt voltage register × Cal / 4096        (done by the chip)
 *   Eq. 5  Power register   = Current register × Bus voltage register / 5000   (by the chip)
 *
 * 0.04096 is 4096 × 10 µV (the shunt LSB): with Eq. 4 one current count is then worth
 * 0.04096 / (Cal × R_SHUNT) amperes exactly. Because Cal is truncated (and its bit 0 is void,
 * §8.6.4.1), that is a little more than the Current_LSB asked for; `effectiveCurrentLsb` is
 * what a count is really worth with the Cal the chip holds, and the driver converts with it.
 * With a "round" Current_LSB that divides evenly (as in the datasheet's examples) the two
 * are the same.
 */
export const CALIBRATION_CONSTANT = 0.04096;
/** §8.6.4.1: FS15…FS1; FS0 is void and always reads 0. */
export const CALIBRATION_MAX = 0xfffe;
/** Eq. 2's 2^15: the current register is 15 bits plus sign. */
export const CURRENT_COUNTS = 32768;
/** Eq. 3. */
export const POWER_LSB_PER_CURRENT_LSB = 20;
/**
 * §8.5.1 for a shunt of `shuntOhms` and currents up to `maxCurrent` amperes. `currentLsb`
 * defaults to the minimum of Eq. 2 (the best resolution); a larger, round value may be given
 * instead, as the datasheet suggests. If the minimum would need a Cal larger than the 16-bit
 * register holds, the LSB is raised to the smallest that fits.
 */
export function calibrate(shuntOhms, maxCurrent, currentLsb) {
    if (!(shuntOhms > 0) || !Number.isFinite(shuntOhms))
        throw new RangeError(`INA219: shuntOhms must be positive, not ${shuntOhms}`);
    if (!(maxCurrent > 0) || !Number.isFinite(maxCurrent))
        throw new RangeError(`INA219: maxCurrent must be positive, not ${maxCurrent}`);
    const minimumLsb = Math.max(maxCurrent / CURRENT_COUNTS, CALIBRATION_CONSTANT / (CALIBRATION_MAX * shuntOhms));
    const lsb = currentLsb ?? minimumLsb;
    if (!(lsb > 0) || !Number.isFinite(lsb))
        throw new RangeError(`INA219: currentLsb must be positive, not ${lsb}`);
    if (lsb < minimumLsb * (1 - 1e-9)) {
        throw new RangeError(`INA219: currentLsb ${lsb} A is below the minimum ${minimumLsb} A for ${maxCurrent} A through ${shuntOhms} Ω (Eq. 2, and Cal ≤ 0xFFFE)`);
    }
    // Eq. 1. The tiny relative allowance keeps binary floating point (0.04096 / 2e-6 is
    // 20479.99… or 20480.00… depending on rounding) from losing a whole count to trunc.
    const exact = CALIBRATION_CONSTANT / (lsb * shuntOhms);
    const calibration = Math.min(CALIBRATION_MAX, Math.trunc(exact * (1 + 1e-12))) & CALIBRATION_MAX;
    if (calibration === 0) {
        throw new RangeError(`INA219: currentLsb ${lsb} A is too large for ${shuntOhms} Ω: the calibration would be 0`);
    }
    const effectiveCurrentLsb = CALIBRATION_CONSTANT / (calibration * shuntOhms);
    return { currentLsb: lsb, calibration, effectiveCurrentLsb, powerLsb: POWER_LSB_PER_CURRENT_LSB * effectiveCurrentLsb };
}
//# sourceMappingURL=calibration.js.map