/**
 * The two kinds of failure the MQTT core reports. Invalid constructor options are programming
 * errors and throw RangeError instead.
 */

/**
 * Bytes that break MQTT 3.1.1 (from the peer, or values the codec was asked to encode that
 * cannot be valid MQTT, such as a topic containing '+'). The message says what was wrong.
 */
export class MqttProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MqttProtocolError';
  }
}

export type MqttSessionErrorCode =
  /** The QoS 1 queue (in-flight window plus pending queue, or its byte budget) is full. */
  | 'queue-full'
  /** A single message is larger than the whole QoS 1 byte budget. */
  | 'too-large'
  /** QoS 0 needs a live connection: such messages are never queued. */
  | 'not-connected'
  /** Remembered subscriptions or unacknowledged SUBSCRIBE/UNSUBSCRIBE requests are at their maximum. */
  | 'limit-reached'
  /** The call does not fit the session's state (connect while connecting or connected). */
  | 'invalid-state';

/** A session call that cannot be carried out; nothing was queued or sent. */
export class MqttSessionError extends Error {
  constructor(
    readonly code: MqttSessionErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MqttSessionError';
  }
}
