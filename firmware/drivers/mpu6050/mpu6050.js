/**
 * InvenSense MPU-6050 accelerometer, gyroscope and die-temperature driver, in the ECMA-419
 * sensor-class shape Moddable drivers use: constructor with options, `configure`, `sample`,
 * `close`. Written from "MPU-6000 and MPU-6050 Register Map and Descriptions"
 * (RM-MPU-6000A-00 rev 4.2) and the "Product Specification" (PS-MPU-6000A-00 rev 3.4).
 *
 * Sample shape: a compound sensor as in ECMA-419's `Accelerometer-Gyroscope/MPU6050` class
 * specification, `accelerometer` {x, y, z} in m/s² and `gyroscope` {x, y, z} in rad/s, plus
 * `thermometer` {temperature} in °C for the die temperature. Configuration uses that
 * specification's property names: `range` (AFS_SEL), `gyroRange` (FS_SEL),
 * `sampleRateDivider` (SMPLRT_DIV), `lowPassFilter` (DLPF_CFG).
 *
 * `sample()` is asynchronous, unlike ECMA-419's synchronous one, because the chip needs
 * time the driver waits out on HAL timers rather than by blocking (Moddable's driver calls
 * `Timer.delay(150)` twice in its constructor). The first sample brings the chip up: checks
 * WHO_AM_I, resets it and waits the 100 ms reset time, wakes it on the gyroscope clock,
 * writes the configuration, and waits the 30 ms gyroscope start-up time (PS §6.1). Every
 * sample then waits for DATA_RDY (RM §4.16), polling once per sample period, so it always
 * returns a measurement taken after the previous `sample()` and after any `configure()`.
 *
 * One sample at a time: a call while one is in flight rejects with `busy`.
 * Firmware rules: only the language, typed arrays and the HAL; no busy-waiting.
 */
import { I2CError } from '../../../hal/i2c';
import { SensorError } from '../sensor-error';
import { accelerationFromRaw, angularRateFromRaw, int16At, temperatureFromRaw } from './conversion';
import { CLKSEL_PLL_X_GYRO, DATA_RDY, DEVICE_RESET, GYRO_STARTUP_MS, MAX_LOW_PASS_FILTER, MPU6050_ADDRESSES, REGISTER, RESET_WAIT_MS, SENSOR_DATA_LENGTH, SLEEP, WHO_AM_I_MASK, WHO_AM_I_VALUE, sampleRateHz, } from './registers';
/** `range` values: ±2, ±4, ±8, ±16 g. */
export const AccelerometerRange = { G2: 0, G4: 1, G8: 2, G16: 3 };
/** `gyroRange` values: ±250, ±500, ±1000, ±2000 °/s. */
export const GyroscopeRange = { DPS250: 0, DPS500: 1, DPS1000: 2, DPS2000: 3 };
const CHIP = 'MPU-6050';
/** After the 100 ms reset wait, re-read PWR_MGMT_1 this many times, this far apart, for DEVICE_RESET to clear. */
const RESET_RETRIES = 5;
const RESET_RETRY_DELAY_MS = 10;
/** Polls of INT_STATUS after the first, one sample period apart, before a sample fails with `timeout`. */
const DATA_READY_RETRIES = 5;
/** What other InvenSense parts answer in WHO_AM_I, to make an `id` error say what was found. */
const KNOWN_IDS = { 0x70: 'an MPU-6500', 0x71: 'an MPU-9250', 0x73: 'an MPU-9255', 0x19: 'an MPU-6886' };
export class MPU6050 {
    address;
    #device;
    #timers;
    #settings = { range: 0, gyroRange: 0, sampleRateDivider: 0, lowPassFilter: 0 };
    /** True once the chip is reset, awake, configured and past its gyroscope start-up time. */
    #running = false;
    #sampling = false;
    #waitTimer;
    #abortWait;
    /** Reused for every transfer: no allocation per sample beyond what the bus returns. */
    #pointer = new Uint8Array(1);
    #registerWrite = new Uint8Array(2);
    /** SMPLRT_DIV, CONFIG, GYRO_CONFIG, ACCEL_CONFIG: consecutive, so one auto-incrementing write. */
    #configurationWrite = new Uint8Array(5);
    constructor(options) {
        const address = options.address ?? MPU6050_ADDRESSES[0];
        if (MPU6050_ADDRESSES.indexOf(address) < 0) {
            throw new RangeError(`${CHIP}: address must be 0x68 or 0x69, not ${address}`);
        }
        this.address = address;
        this.#timers = options.timers;
        this.#device = options.i2c.open({ address, hz: options.hz, port: options.port });
    }
    /**
     * Changes full-scale ranges, sample rate divider and low-pass filter. Synchronous, as in
     * ECMA-419: once the chip is running the registers are written at once, and the data-ready
     * flag is cleared so that the next sample is one taken with the new settings. Before the
     * first sample the settings are kept and written when the chip is brought up (the reset
     * would wipe them). Throws `busy` while a sample is in flight, RangeError for bad values.
     */
    configure(options = {}) {
        this.#openDevice();
        const next = { ...this.#settings };
        if (options.range !== undefined)
            next.range = fullScale(options.range, 'range');
        if (options.gyroRange !== undefined)
            next.gyroRange = fullScale(options.gyroRange, 'gyroRange');
        if (options.sampleRateDivider !== undefined) {
            next.sampleRateDivider = integerIn(options.sampleRateDivider, 0, 255, 'sampleRateDivider');
        }
        if (options.lowPassFilter !== undefined) {
            next.lowPassFilter = integerIn(options.lowPassFilter, 0, MAX_LOW_PASS_FILTER, 'lowPassFilter');
        }
        if (this.#sampling)
            throw this.#error('busy', 'cannot configure while a sample is in flight');
        this.#settings = next;
        if (!this.#running)
            return;
        try {
            this.#writeConfiguration();
            this.#readRegister(REGISTER.INT_STATUS); // clears DATA_RDY: data from before the change is stale
        }
        catch (error) {
            this.#running = false; // bring the chip up from a reset next time
            throw error;
        }
    }
    /**
     * Measures once. Rejects with `SensorError`: `nack` (no chip at the address), `id` (the
     * chip is not an MPU-6050), `timeout` (the reset never finished, or no data became ready),
     * `busy` (a sample is already in flight), `closed`. After `nack` or `timeout` the next
     * sample starts again from a reset, in case the chip lost power meanwhile.
     */
    async sample() {
        this.#openDevice();
        if (this.#sampling)
            throw this.#error('busy', 'a sample is already in flight; sample() does not queue');
        this.#sampling = true;
        try {
            if (!this.#running)
                await this.#start();
            await this.#waitForData();
            // RM §4.17–§4.19: one burst from ACCEL_XOUT_H; the chip serves a burst from one sampling instant.
            const data = this.#read(REGISTER.ACCEL_XOUT_H, SENSOR_DATA_LENGTH);
            const { range, gyroRange } = this.#settings;
            return {
                accelerometer: {
                    x: accelerationFromRaw(int16At(data, 0), range),
                    y: accelerationFromRaw(int16At(data, 2), range),
                    z: accelerationFromRaw(int16At(data, 4), range),
                },
                gyroscope: {
                    x: angularRateFromRaw(int16At(data, 8), gyroRange),
                    y: angularRateFromRaw(int16At(data, 10), gyroRange),
                    z: angularRateFromRaw(int16At(data, 12), gyroRange),
                },
                thermometer: { temperature: temperatureFromRaw(int16At(data, 6)) },
            };
        }
        catch (error) {
            if (error instanceof SensorError && (error.code === 'nack' || error.code === 'timeout'))
                this.#running = false;
            throw error;
        }
        finally {
            this.#sampling = false;
        }
    }
    /**
     * Puts the chip back to sleep if it was running (best effort: a chip that does not answer
     * is not an error here), and releases the bus. A sample in flight rejects with `closed`.
     * Closing twice is harmless.
     */
    close() {
        if (this.#running && this.#device !== undefined) {
            try {
                this.#writeRegister(REGISTER.PWR_MGMT_1, SLEEP | CLKSEL_PLL_X_GYRO); // RM §4.28: SLEEP, 5 µA (PS §6.3)
            }
            catch {
                // Closing must not fail because the chip is gone.
            }
        }
        this.#running = false;
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
    /** Identify, reset, wake, configure, and wait for the gyroscope to settle. */
    async #start() {
        const id = this.#readRegister(REGISTER.WHO_AM_I);
        if ((id & WHO_AM_I_MASK) !== WHO_AM_I_VALUE) {
            const known = KNOWN_IDS[id];
            throw this.#error('id', `WHO_AM_I reads ${hex(id)}, not 0x68: not an MPU-6050${known ? ` (${hex(id)} is what ${known} answers)` : ''}`);
        }
        // RM §4.28: DEVICE_RESET puts every register back to its default; the bit clears when done.
        this.#writeRegister(REGISTER.PWR_MGMT_1, DEVICE_RESET);
        await this.#wait(RESET_WAIT_MS);
        let waitedMs = RESET_WAIT_MS;
        for (let retry = 0; this.#readRegister(REGISTER.PWR_MGMT_1) & DEVICE_RESET; retry++) {
            if (retry === RESET_RETRIES) {
                throw this.#error('timeout', `device reset not finished ${waitedMs} ms after DEVICE_RESET`);
            }
            await this.#wait(RESET_RETRY_DELAY_MS);
            waitedMs += RESET_RETRY_DELAY_MS;
        }
        // Out of sleep (the reset default is SLEEP = 1, RM §3), on the X gyroscope's clock.
        this.#writeRegister(REGISTER.PWR_MGMT_1, CLKSEL_PLL_X_GYRO);
        this.#writeConfiguration();
        this.#writeRegister(REGISTER.INT_ENABLE, DATA_RDY); // RM §4.15: raise DATA_RDY_INT for each new sample
        await this.#wait(GYRO_STARTUP_MS); // PS §6.1, gyroscope start-up time
        this.#readRegister(REGISTER.INT_STATUS); // forget any sample taken while the gyroscope settled
        this.#running = true;
    }
    /** RM §4.16: poll DATA_RDY_INT once per sample period, a bounded number of times. */
    async #waitForData() {
        const { sampleRateDivider, lowPassFilter } = this.#settings;
        const pollMs = Math.max(1, Math.ceil(1000 / sampleRateHz(sampleRateDivider, lowPassFilter)));
        let waitedMs = 0;
        for (let retry = 0;; retry++) {
            if (this.#readRegister(REGISTER.INT_STATUS) & DATA_RDY)
                return;
            if (retry === DATA_READY_RETRIES) {
                throw this.#error('timeout', `no new data after ${waitedMs} ms (DATA_RDY never set; is the chip asleep?)`);
            }
            await this.#wait(pollMs);
            waitedMs += pollMs;
        }
    }
    /** SMPLRT_DIV, CONFIG, GYRO_CONFIG and ACCEL_CONFIG in one auto-incrementing write (RM §4.2–§4.5). */
    #writeConfiguration() {
        const { range, gyroRange, sampleRateDivider, lowPassFilter } = this.#settings;
        const bytes = this.#configurationWrite;
        bytes[0] = REGISTER.SMPLRT_DIV;
        bytes[1] = sampleRateDivider;
        bytes[2] = lowPassFilter; // EXT_SYNC_SET = 0: FSYNC unused
        bytes[3] = gyroRange << 3; // FS_SEL [4:3], self-test bits off
        bytes[4] = range << 3; // AFS_SEL [4:3], self-test bits off
        this.#write(bytes);
    }
    #readRegister(register) {
        return this.#read(register, 1)[0];
    }
    /** Sets the register pointer, then reads `count` bytes from it with a repeated START. */
    #read(register, count) {
        this.#pointer[0] = register;
        let data;
        try {
            data = this.#openDevice().writeRead(this.#pointer, count);
        }
        catch (error) {
            throw this.#fromBusError(error);
        }
        if (data.length < count)
            throw this.#error('bus', `short read: ${data.length} of ${count} bytes`);
        return data;
    }
    #writeRegister(register, value) {
        this.#registerWrite[0] = register;
        this.#registerWrite[1] = value;
        this.#write(this.#registerWrite);
    }
    #write(bytes) {
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
                return this.#error('nack', 'no acknowledge from the sensor; check wiring and power, and that the address matches the AD0 pin (0x68 low, 0x69 high)', error);
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
function fullScale(value, name) {
    return integerIn(value, 0, 3, name);
}
function integerIn(value, min, max, name) {
    if (!Number.isInteger(value) || value < min || value > max) {
        throw new RangeError(`${CHIP}: ${name} must be an integer from ${min} to ${max}, not ${value}`);
    }
    return value;
}
function hex(byte) {
    return '0x' + (byte < 16 ? '0' : '') + byte.toString(16);
}
//# sourceMappingURL=mpu6050.js.map