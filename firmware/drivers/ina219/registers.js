/**
 * INA219 registers, configuration fields and timing the driver uses, from Texas Instruments
 * "INA219 Zerø-Drift, Bidirectional Current/Power Monitor With I2C Interface", SBOS448G
 * (August 2008, revised December 2015).
 *
 * §8.5.6: registers are 16 bits, sent most significant byte first. A write is the register
 * pointer followed by two data bytes; a write of the pointer alone selects the register that
 * following reads return. The pointer stays where it is until the next write (no
 * auto-increment), so repeated reads of one register need no new pointer.
 */
/** §8.6.1 Table 2, pointer addresses. */
export const REGISTER = {
    CONFIGURATION: 0x00,
    SHUNT_VOLTAGE: 0x01,
    BUS_VOLTAGE: 0x02,
    POWER: 0x03,
    CURRENT: 0x04,
    CALIBRATION: 0x05,
};
/** §8.6.2.1: RST, bit 15; resets every register to its power-on value and self-clears. */
export const CONFIGURATION_RESET = 0x8000;
/** §8.6.2.1: the configuration register's power-on value, 0x399F (32 V, /8, 12-bit, continuous). */
export const CONFIGURATION_POWER_ON = 0x399f;
/** §8.6.3.2: bus voltage register bits 15…3 are the voltage, bit 1 CNVR, bit 0 OVF. */
export const BUS_VOLTAGE_SHIFT = 3;
export const CONVERSION_READY = 0x0002;
export const MATH_OVERFLOW = 0x0001;
/** §7.5: shunt voltage 10 µV per LSB, bus voltage 4 mV per LSB. */
export const SHUNT_VOLTAGE_LSB = 10e-6;
export const BUS_VOLTAGE_LSB = 4e-3;
export const SHUNT_VOLTAGE_RANGES = [40, 80, 160, 320];
/** The 4-bit BADC / SADC code for each setting (§8.6.2.1, ADC settings). */
export const ADC_CODE = {
    bits9: 0b0000,
    bits10: 0b0001,
    bits11: 0b0010,
    bits12: 0b0011,
    average2: 0b1001,
    average4: 0b1010,
    average8: 0b1011,
    average16: 0b1100,
    average32: 0b1101,
    average64: 0b1110,
    average128: 0b1111,
};
/**
 * Conversion time the driver allows per setting, µs: the §7.5 maximum (586 µs at 12 bits,
 * against 532 µs typical), and for averaging that maximum times the number of samples
 * (the ADC settings table gives only typical averaging times, 1.06 ms … 68.10 ms, n × 532 µs).
 */
export const CONVERSION_MAX_US = {
    bits9: 93,
    bits10: 163,
    bits11: 304,
    bits12: 586,
    average2: 2 * 586,
    average4: 4 * 586,
    average8: 8 * 586,
    average16: 16 * 586,
    average32: 32 * 586,
    average64: 64 * 586,
    average128: 128 * 586,
};
/** §8.6.2.1, mode settings (MODE bits). */
export const MODE = {
    POWER_DOWN: 0b000,
    SHUNT_TRIGGERED: 0b001,
    BUS_TRIGGERED: 0b010,
    SHUNT_AND_BUS_TRIGGERED: 0b011,
    ADC_OFF: 0b100,
    SHUNT_CONTINUOUS: 0b101,
    BUS_CONTINUOUS: 0b110,
    SHUNT_AND_BUS_CONTINUOUS: 0b111,
};
/** §8.6.2.1: BRNG (13), PG (12:11), BADC (10:7), SADC (6:3), MODE (2:0). */
export function encodeConfiguration(fields) {
    const pga = SHUNT_VOLTAGE_RANGES.indexOf(fields.shuntVoltageRange);
    return (((fields.busVoltageRange === 32 ? 1 : 0) << 13) |
        (pga << 11) |
        (ADC_CODE[fields.busAdc] << 7) |
        (ADC_CODE[fields.shuntAdc] << 3) |
        (fields.mode & 0b111));
}
/** The shunt voltage register's full-scale code for a PGA range: ±4000 at 40 mV … ±32000 at 320 mV (§8.6.3.1). */
export function shuntFullScaleCode(range) {
    return range * 100;
}
/** §8.5.5.1 Table 1: A1 and A0 each tied to GND, VS+, SDA or SCL give 0x40 … 0x4F. */
export const INA219_FIRST_ADDRESS = 0x40;
export const INA219_LAST_ADDRESS = 0x4f;
//# sourceMappingURL=registers.js.map