/** MQTT 3.1.1 client core: codec, sans-I/O session and reconnect backoff. */
export { ReconnectBackoff } from './backoff';
export type { ReconnectBackoffOptions } from './backoff';
export { checkFixedHeader, decodePacket } from './decode';
export { DEFAULT_MAX_PACKET_SIZE, MqttDecoder } from './decoder';
export type { MqttDecoderOptions } from './decoder';
export { encodePacket } from './encode';
export { MqttProtocolError, MqttSessionError } from './errors';
export type { MqttSessionErrorCode } from './errors';
export { MAX_PACKET_ID, PacketIdAllocator } from './packet-ids';
export { CONNACK_REFUSAL_REASONS, PACKET_TYPE_CODES, PROTOCOL_LEVEL, PROTOCOL_NAME, SUBACK_FAILURE } from './packets';
export type * from './packets';
export { decodeRemainingLength, encodeRemainingLength, MAX_REMAINING_LENGTH, remainingLengthSize, writeRemainingLength } from './remaining-length';
export { MqttSession } from './session';
export type { MqttEvent, MqttOutput, MqttSessionOptions, MqttSessionState, PublishOptions } from './session';
export { isValidTopicFilter, isValidTopicName, MAX_STRING_BYTES, mqttStringError, topicFilterError, topicMatchesFilter, topicNameError } from './topic';
export { decodeUtf8, encodeUtf8, utf8Length, writeUtf8 } from '../../codec/utf8';
