/**
 * IoT Hub limits checked before sending, so a device learns of a mistake from a clear error
 * instead of a dropped connection ("IoT Hub quotas and throttling"; the MQTT article's
 * comparison table: 256 KB per device-to-cloud message).
 */
import { AzureError } from './types';

/** Largest device-to-cloud message: body plus properties. */
export const MAX_D2C_MESSAGE_BYTES = 256 * 1024;

/**
 * Throws AzureError('too-large') when a telemetry message would exceed 256 KB. The size
 * counted is the payload plus the whole topic (which carries the properties), a slight
 * overestimate of what IoT Hub counts.
 */
export function checkTelemetrySize(topicBytes: number, payloadBytes: number): void {
  const size = topicBytes + payloadBytes;
  if (size > MAX_D2C_MESSAGE_BYTES) {
    throw new AzureError(
      'too-large',
      `telemetry message is ${size} bytes (payload ${payloadBytes}, topic and properties ${topicBytes}); IoT Hub accepts at most ${MAX_D2C_MESSAGE_BYTES} per device-to-cloud message: split it`,
    );
  }
}
