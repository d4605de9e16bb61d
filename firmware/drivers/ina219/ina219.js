/**
 * Texas Instruments INA219 current and power monitor driver, in the ECMA-419 sensor-class
 * shape Moddable drivers use: constructor with options, `configure`, `sample`, `close`.
 * Written from SBOS448G (December 2015); sections are cited where each register or formula
 * is used.
 *
 * Sample shape: ECMA-419 defines no sensor class for electrical quantities and the Moddable
 * SDK has no INA219 driver, so this follows the compound-sensor pattern (one property per
 * sensor kind, SI units): `voltmeter` {voltage} is the bus voltage (IN– to GND) in V,
 * `ammeter` {current, shuntVoltage} in A and V, `wattmeter` {power} in W, plus `overflow`.
 *
 * Overflow is a flagged reading, not an error: when the chip's math overflow flag is set
 * (OVF, §8.6.3.2: "current and power data may be meaningless"), or the shunt voltage sits at
 * the PGA's full-scale limit (the ADC clipped, so the current computed from it is wrong),
 * `overflow` is true and `current` and `power` are NaN. The voltages are still reported:
 * they are measured, not computed, and say what happened.
 *
 * Each sample is one triggered conversion of shunt and bus voltage (§8.6.2.1, mode 011):
 * write the configuration, wait the maximum conversion time on a HAL timer, poll CNVR in the
 * bus voltage register a bounded number of times, then read shunt, current and power (reading
 * power clears CNVR, §8.6.3.2). Between samples the chip is idle. The first sample resets the
 * chip (checking it comes back with the INA219's power-on configuration, 0x399F) and
 * programs the calibration register (§8.5.1); see `calibration.ts`.
 *
 * One sample at a time: a call while one is in flight rejects with `busy`.
 * Firmware rules: only the language, typed arrays and the HAL; no busy-waiting.
 */
import { I2CError } from '../../../hal/i2c';
import { SensorError } from '../sensor-error';
import { calibrate } from './calibration';
import { ADC_CODE, BUS_VOLTAGE_LSB, BUS_VOLTAGE_SHIFT, CONFIGURATION_POWER_ON, CONFIGURATION_RESET, CONVERSION_MAX_US, CONVERSION_READY, INA219_FIRST_ADDRESS, INA219_LAST_ADDRESS, MATH_OVERFLOW, MODE, REGISTER, SHUNT_VOLTAGE_LSB, SHUNT_VOLTAGE_RANGES, encodeConfiguration, shuntFullScaleCode, } from './registers';
const CHIP = 'INA219';
/** Extra CNVR polls after the first, 1 ms apart, before a sample fails with `timeout`. */
const CONVERSION_RETRIES = 5;
const CONVERSION_RETRY_DELAY_MS = 1;
export class INA219 {
    address;
    #device;
    #timers;
    #resolved;
    /** True once the chip has been reset, identified and calibrated. */
    #ready = false;
    #sampling = false;
    #waitTimer;
    #abortWait;
    /** Reused for every transfer: no allocation per sample beyond what the bus returns. */
    #pointer = new Uint8Array(1);
    #registerWrite = new Uint8Array(3);
    constructor(options) {
        const address = options.address ?? INA219_FIRST_ADDRESS;
        if (!Number.isInteger(address) || address < INA219_FIRST_ADDRESS || address > INA219_LAST_ADDRESS) {
            throw new RangeError(`${CHIP}: address must be 0x40 to 0x4f, not ${address}`);
        }
        this.address = address;
        this.#timers = options.timers;
        this.#resolved = resolve({
            shuntOhms: 0.1,
            maxCurrent: undefined,
            currentLsb: undefined,
            busVoltageRange: 32,
            shuntVoltageRange: undefined,
            busAdc: 'bits12',
            shuntAdc: 'bits12',
        });
        this.#device = options.i2c.open({ address, hz: options.hz, port: options.port });
    }
    /** The calibration in use: Cal register value and what a current / power count is worth. */
    get calibration() {
        return { ...this.#resolved.calibration };
    }
    /**
     * Changes shunt, ranges, calibration and ADC settings; options not given keep their
     * values. Synchronous, as in ECMA-419: once the chip is calibrated a new calibration is
     * written at once; the rest goes out with the next sample's configuration write. Throws
     * RangeError for values the chip cannot do (including a maximum current whose shunt
     * voltage exceeds the chosen range), `busy` while a sample is in flight.
     */
    configure(options = {}) {
        this.#openDevice();
        const settings = { ...this.#resolved.settings };
        if (options.shuntOhms !== undefined)
            settings.shuntOhms = options.shuntOhms;
        if (options.maxCurrent !== undefined)
            settings.maxCurrent = options.maxCurrent;
        if (options.currentLsb !== undefined)
            settings.currentLsb = options.currentLsb;
        if (options.busVoltageRange !== undefined) {
            if (options.busVoltageRange !== 16 && options.busVoltageRange !== 32) {
                throw new RangeError(`${CHIP}: busVoltageRange must be 16 or 32, not ${options.busVoltageRange}`);
            }
            settings.busVoltageRange = options.busVoltageRange;
        }
        if (options.shuntVoltageRange !== undefined) {
            if (SHUNT_VOLTAGE_RANGES.indexOf(options.shuntVoltageRange) < 0) {
                throw new RangeError(`${CHIP}: shuntVoltageRange must be 40, 80, 160 or 320 (mV), not ${options.shuntVoltageRange}`);
            }
            settings.shuntVoltageRange = options.shuntVoltageRange;
        }
        if (options.busAdc !== undefined)
            settings.busAdc = adcSetting(options.busAdc, 'busAdc');
        if (options.shuntAdc !== undefined)
            settings.shuntAdc = adcSetting(options.shuntAdc, 'shuntAdc');
        const resolved = resolve(settings);
        if (this.#sampling)
            throw this.#error('busy', 'cannot configure while a sample is in flight');
        const calibrationChanged = resolved.calibration.calibration !== this.#resolved.calibration.calibration;
        this.#resolved = resolved;
        if (this.#ready && calibrationChanged) {
            try {
                this.#writeRegister(REGISTER.CALIBRATION, resolved.calibration.calibration);
            }
            catch (error) {
                this.#ready = false; // start from a reset next time
                throw error;
            }
        }
    }
    /**
     * Measures once. Rejects with `SensorError`: `nack` (no chip at the address), `id` (the
     * chip does not come out of reset as an INA219 does), `timeout` (the conversion never
     * finished), `busy` (a sample is already in flight), `closed`. Overflow is not an error:
     * see `INA219Sample.overflow`. After `nack`, `id` or `timeout` the next sample starts again
     * from a reset.
     */
    async sample() {
        this.#openDevice();
        if (this.#sampling)
            throw this.#error('busy', 'a sample is already in flight; sample() does not queue');
        this.#sampling = true;
        try {
            if (!this.#ready)
                this.#start();
            const { settings, shuntVoltageRange, calibration } = this.#resolved;
            // §8.6.2.1: writing the mode bits with a triggered mode starts one conversion and clears CNVR.
            this.#writeRegister(REGISTER.CONFIGURATION, encodeConfiguration({
                busVoltageRange: settings.busVoltageRange,
                shuntVoltageRange,
                busAdc: settings.busAdc,
                shuntAdc: settings.shuntAdc,
                mode: MODE.SHUNT_AND_BUS_TRIGGERED,
            }));
            const conversionMs = Math.ceil((CONVERSION_MAX_US[settings.shuntAdc] + CONVERSION_MAX_US[settings.busAdc]) / 1000);
            await this.#wait(conversionMs);
            const bus = await this.#waitForConversion(conversionMs);
            const shunt = toInt16(this.#readRegister(REGISTER.SHUNT_VOLTAGE)); // §8.6.3.1, two's complement
            const current = toInt16(this.#readRegister(REGISTER.CURRENT)); // §8.6.3.4, two's complement
            const power = this.#readRegister(REGISTER.POWER); // §8.6.3.3, unsigned; this read clears CNVR
            const overflow = (bus & MATH_OVERFLOW) !== 0 || Math.abs(shunt) >= shuntFullScaleCode(shuntVoltageRange);
            return {
                voltmeter: { voltage: (bus >> BUS_VOLTAGE_SHIFT) * BUS_VOLTAGE_LSB },
                ammeter: {
                    current: overflow ? NaN : current * calibration.effectiveCurrentLsb,
                    shuntVoltage: shunt * SHUNT_VOLTAGE_LSB,
                },
                wattmeter: { power: overflow ? NaN : power * calibration.powerLsb },
                overflow,
            };
        }
        catch (error) {
            if (error instanceof SensorError && error.code !== 'busy' && error.code !== 'closed')
                this.#ready = false;
            throw error;
        }
        finally {
            this.#sampling = false;
        }
    }
    /**
     * Powers the chip down if it was set up (best effort: a chip that does not answer is not an
     * error here), and releases the bus. A sample in flight rejects with `closed`. Closing
     * twice is harmless.
     */
    close() {
        if (this.#ready && this.#device !== undefined) {
            try {
                const { settings, shuntVoltageRange } = this.#resolved;
                this.#writeRegister(REGISTER.CONFIGURATION, encodeConfiguration({ ...settings, shuntVoltageRange, mode: MODE.POWER_DOWN }));
            }
            catch {
                // Closing must not fail because the chip is gone.
            }
        }
        this.#ready = false;
        if (this.#waitTimer !== undefined)
            this.#timers.clear(this.#waitTimer);
        this.#waitTimer = undefined;
        const abort = this.#abortWait;
        this.#abortWait = undefined;
        const device = this.#device;
        this.#device = undefined;
        device?.close();
        abort?.(this.#error('closed', 'closed while sampling'));
    }
    /** Reset (§8.6.2.1 RST), check the power-on configuration, program calibration (§8.5.1). */
    #start() {
        this.#writeRegister(REGISTER.CONFIGURATION, CONFIGURATION_RESET);
        const configuration = this.#readRegister(REGISTER.CONFIGURATION);
        if (configuration !== CONFIGURATION_POWER_ON) {
            throw this.#error('id', `configuration reads 0x${configuration.toString(16).padStart(4, '0')} after reset, not 0x399f: not an INA219 (an INA226 or INA260 would read 0x4127 or 0x6127)`);
        }
        this.#writeRegister(REGISTER.CALIBRATION, this.#resolved.calibration.calibration);
        this.#ready = true;
    }
    /** §8.6.3.2: poll CNVR in the bus voltage register; returns that register. */
    async #waitForConversion(waitedMs) {
        for (let retry = 0;; retry++) {
            const bus = this.#readRegister(REGISTER.BUS_VOLTAGE);
            if (bus & CONVERSION_READY)
                return bus;
            if (retry === CONVERSION_RETRIES) {
                throw this.#error('timeout', `conversion not ready ${waitedMs} ms after it was triggered (CNVR never set)`);
            }
            await this.#wait(CONVERSION_RETRY_DELAY_MS);
            waitedMs += CONVERSION_RETRY_DELAY_MS;
        }
    }
    /** §8.5.6: pointer byte, then two bytes MSB first with a repeated START. */
    #readRegister(register) {
        this.#pointer[0] = register;
        let data;
        try {
            data = this.#openDevice().writeRead(this.#pointer, 2);
        }
        catch (error) {
            throw this.#fromBusError(error);
        }
        if (data.length < 2)
            throw this.#error('bus', `short read: ${data.length} of 2 bytes`);
        return (data[0] << 8) | data[1];
    }
    /** §8.5.6: pointer byte, then the 16-bit value MSB first. */
    #writeRegister(register, value) {
        const bytes = this.#registerWrite;
        bytes[0] = register;
        bytes[1] = (value >> 8) & 0xff;
        bytes[2] = value & 0xff;
        try {
            this.#openDevice().write(bytes);
        }
        catch (error) {
            throw this.#fromBusError(error);
        }
    }
    /** Resolves after `ms` on the HAL timer; `close()` rejects it. */
    #wait(ms) {
        return new Promise((resolve, reject) => {
            this.#abortWait = reject;
            this.#waitTimer = this.#timers.set(() => {
                this.#waitTimer = undefined;
                this.#abortWait = undefined;
                resolve();
            }, ms);
        });
    }
    #openDevice() {
        if (this.#device === undefined)
            throw this.#error('closed', 'driver is closed');
        return this.#device;
    }
    /** HAL I2C errors become `SensorError`s that say what to check; anything else is a bug and passes through. */
    #fromBusError(error) {
        if (!(error instanceof I2CError))
            return error;
        switch (error.code) {
            case 'nack':
                return this.#error('nack', 'no acknowledge from the sensor; check wiring and power, and that the address matches the A0/A1 pins (0x40 to 0x4f)', error);
            case 'timeout':
                return this.#error('timeout', 'I2C transfer timed out (is SCL held low?)', error);
            default:
                return this.#error('bus', `I2C bus error: ${error.message}`, error);
        }
    }
    #error(code, detail, cause) {
        return new SensorError(code, CHIP, this.address, detail, cause);
    }
}
/** Fills in the defaults and works out the calibration; RangeError if the combination cannot work. */
function resolve(settings) {
    const { shuntOhms, maxCurrent } = settings;
    if (!(shuntOhms > 0) || !Number.isFinite(shuntOhms))
        throw new RangeError(`${CHIP}: shuntOhms must be positive, not ${shuntOhms}`);
    let range = settings.shuntVoltageRange;
    if (range === undefined) {
        if (maxCurrent === undefined) {
            range = 320;
        }
        else {
            const needed = maxCurrent * shuntOhms * 1000;
            range = SHUNT_VOLTAGE_RANGES.find((r) => r >= needed) ?? 320;
        }
    }
    const current = maxCurrent ?? range / 1000 / shuntOhms;
    if (current * shuntOhms * 1000 > range * (1 + 1e-9)) {
        throw new RangeError(`${CHIP}: ${current} A through ${shuntOhms} Ω is ${current * shuntOhms * 1000} mV, beyond the ±${range} mV shunt range`);
    }
    return { settings, shuntVoltageRange: range, calibration: calibrate(shuntOhms, current, settings.currentLsb) };
}
function adcSetting(value, name) {
    if (!Object.prototype.hasOwnProperty.call(ADC_CODE, value)) {
        throw new RangeError(`${CHIP}: ${name} must be one of ${Object.keys(ADC_CODE).join(', ')}, not ${value}`);
    }
    return value;
}
function toInt16(word) {
    return (word << 16) >> 16;
}
//# sourceMappingURL=ina219.js.map