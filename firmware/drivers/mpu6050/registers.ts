/**
 * MPU-6050 registers, bit fields, scale factors and timing the driver uses, from InvenSense
 * "MPU-6000 and MPU-6050 Register Map and Descriptions" (RM-MPU-6000A-00, revision 4.2,
 * 08/19/2013; "RM" below) and "MPU-6000 and MPU-6050 Product Specification"
 * (PS-MPU-6000A-00, revision 3.4, 08/19/2013; "PS" below).
 *
 * Registers are 8 bits wide; 16-bit values are big-endian two's complement (RM §3 note:
 * names ending in _H / _L are the high and low bytes). On I2C the register address
 * auto-increments after each byte, for reads and writes alike, so one transfer covers a run
 * of consecutive registers.
 */

/** RM §3, register map (hex addresses). */
export const REGISTER = {
  /** RM §4.2: Sample Rate = Gyroscope Output Rate / (1 + SMPLRT_DIV). */
  SMPLRT_DIV: 0x19,
  /** RM §4.3: EXT_SYNC_SET [5:3], DLPF_CFG [2:0]. */
  CONFIG: 0x1a,
  /** RM §4.4: FS_SEL [4:3]. */
  GYRO_CONFIG: 0x1b,
  /** RM §4.5: AFS_SEL [4:3]. */
  ACCEL_CONFIG: 0x1c,
  /** RM §4.15: DATA_RDY_EN is bit 0. */
  INT_ENABLE: 0x38,
  /** RM §4.16: DATA_RDY_INT is bit 0; reading the register clears it (INT_RD_CLEAR = 0, §4.14). */
  INT_STATUS: 0x3a,
  /** RM §4.17–§4.19: ACCEL_XOUT_H (0x3B) … GYRO_ZOUT_L (0x48), 14 bytes. */
  ACCEL_XOUT_H: 0x3b,
  /** RM §4.28: DEVICE_RESET (7), SLEEP (6), CYCLE (5), TEMP_DIS (3), CLKSEL [2:0]. */
  PWR_MGMT_1: 0x6b,
  /** RM §4.32: WHO_AM_I[6:1]; reads 0x68. */
  WHO_AM_I: 0x75,
} as const;

/** RM §4.28, PWR_MGMT_1 bits. */
export const DEVICE_RESET = 0x80;
export const SLEEP = 0x40;
/**
 * CLKSEL = 1: PLL with the X-axis gyroscope as reference. RM §4.28 "highly recommends" a
 * gyroscope reference over the internal 8 MHz oscillator that the chip starts on.
 */
export const CLKSEL_PLL_X_GYRO = 0x01;

/** RM §4.15 / §4.16: the data-ready bit in INT_ENABLE and INT_STATUS. */
export const DATA_RDY = 0x01;

/**
 * RM §4.32: WHO_AM_I holds bits [6:1] of the 7-bit address, 0x68, whatever the AD0 pin says;
 * bits 0 and 7 are reserved, so the comparison masks them off.
 */
export const WHO_AM_I_VALUE = 0x68;
export const WHO_AM_I_MASK = 0x7e;

/** PS §6.2, accelerometer sensitivity scale factor per AFS_SEL (0…3 = ±2, ±4, ±8, ±16 g), LSB/g. */
export const ACCEL_LSB_PER_G: readonly number[] = [16384, 8192, 4096, 2048];
/** PS §6.1, gyroscope sensitivity scale factor per FS_SEL (0…3 = ±250 … ±2000 °/s), LSB/(°/s). */
export const GYRO_LSB_PER_DPS: readonly number[] = [131, 65.5, 32.8, 16.4];

/** PS §6.3: temperature sensor 340 LSB/°C; RM §4.18: T [°C] = TEMP_OUT / 340 + 36.53. */
export const TEMPERATURE_LSB_PER_C = 340;
export const TEMPERATURE_OFFSET_C = 36.53;

/**
 * After DEVICE_RESET: InvenSense's reset sequence (a note in the register map, given for the
 * MPU-6000 on SPI) waits 100 ms before touching the chip again. RM §4.28 states no reset time
 * for I2C, so the driver waits the same and then checks that DEVICE_RESET has cleared.
 */
export const RESET_WAIT_MS = 100;
/** PS §6.1, gyroscope start-up time: ZRO settling to ±1 °/s of final, 30 ms typical. */
export const GYRO_STARTUP_MS = 30;

/** RM §4.17–§4.19: accelerometer (6), temperature (2), gyroscope (6). */
export const SENSOR_DATA_LENGTH = 14;

/** The two I2C addresses (PS §9.2, AD0 pin): AD0 low → 0x68, high → 0x69. */
export const MPU6050_ADDRESSES: readonly number[] = [0x68, 0x69];

/** RM §4.3: DLPF_CFG 7 is reserved. */
export const MAX_LOW_PASS_FILTER = 6;

/**
 * RM §4.2: the gyroscope output rate is 8 kHz with the low-pass filter off (DLPF_CFG 0 or 7)
 * and 1 kHz with it on; the sample rate divides it by 1 + SMPLRT_DIV.
 */
export function sampleRateHz(sampleRateDivider: number, lowPassFilter: number): number {
  const gyroscopeOutputRate = lowPassFilter === 0 || lowPassFilter === 7 ? 8000 : 1000;
  return gyroscopeOutputRate / (1 + sampleRateDivider);
}
