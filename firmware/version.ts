/** The firmware's version, compiled into the image (OTA compares it; the twin reports it). */
export const FIRMWARE_VERSION = '1.0.0';
