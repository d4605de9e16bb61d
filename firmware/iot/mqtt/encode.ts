/**
 * Packet objects to bytes. Values that cannot be valid MQTT 3.1.1 (bad topics or filters,
 * out-of-range ids, strings over 65535 bytes, oversize packets) throw MqttProtocolError
 * before anything is produced.
 */
import { ByteWriter, mqttStringBytes } from './bytes';
import { MqttProtocolError } from './errors';
import type {
  ConnackPacket,
  ConnectPacket,
  MqttPacket,
  PublishPacket,
  SubackPacket,
  SubscribePacket,
  UnsubscribePacket,
} from './packets';
import { PACKET_TYPE_CODES, PROTOCOL_LEVEL, PROTOCOL_NAME, SUBACK_FAILURE } from './packets';
import { encodeRemainingLength } from './remaining-length';
import { topicFilterError, topicNameError } from './topic';
import { encodeUtf8 } from '../../codec/utf8';

const PROTOCOL_NAME_BYTES = encodeUtf8(PROTOCOL_NAME) as Uint8Array;

export function encodePacket(packet: MqttPacket): Uint8Array {
  switch (packet.type) {
    case 'connect':
      return encodeConnect(packet);
    case 'connack':
      return encodeConnack(packet);
    case 'publish':
      return encodePublish(packet);
    case 'puback':
    case 'unsuback':
      return encodeAcknowledgement(packet.type, packet.packetId);
    case 'subscribe':
      return encodeSubscribe(packet);
    case 'suback':
      return encodeSuback(packet);
    case 'unsubscribe':
      return encodeUnsubscribe(packet);
    case 'pingreq':
    case 'pingresp':
    case 'disconnect':
      return new Uint8Array([PACKET_TYPE_CODES[packet.type] << 4, 0]);
    default:
      throw new MqttProtocolError(`cannot encode unknown packet type ${String((packet as { type: unknown }).type)}`);
  }
}

/** A writer holding the fixed header, with room for exactly `bodyLength` more bytes. */
function framed(firstByte: number, bodyLength: number): ByteWriter {
  const length = encodeRemainingLength(bodyLength); // throws beyond 268435455
  const writer = new ByteWriter(1 + length.length + bodyLength);
  writer.uint8(firstByte);
  writer.raw(length);
  return writer;
}

function checkPacketId(id: number | undefined, packetName: string): number {
  if (!Number.isInteger(id) || (id as number) < 1 || (id as number) > 65_535) {
    throw new MqttProtocolError(`${packetName}: packet identifier ${id} is outside 1..65535`);
  }
  return id as number;
}

function checkQoS(qos: number, max: number, what: string): void {
  if (!Number.isInteger(qos) || qos < 0 || qos > max) throw new MqttProtocolError(`${what}: QoS ${qos} is outside 0..${max}`);
}

function checkBinary(bytes: Uint8Array, field: string): void {
  if (bytes.length > 65_535) throw new MqttProtocolError(`${field} is ${bytes.length} bytes, more than 65535`);
}

function topicNameBytes(topic: string, field: string): Uint8Array {
  const problem = topicNameError(topic);
  if (problem !== undefined) throw new MqttProtocolError(`${field} "${topic.slice(0, 64)}" ${problem}`);
  return mqttStringBytes(topic, field);
}

function topicFilterBytes(filter: string, field: string): Uint8Array {
  const problem = topicFilterError(filter);
  if (problem !== undefined) throw new MqttProtocolError(`${field} "${filter.slice(0, 64)}" ${problem}`);
  return mqttStringBytes(filter, field);
}

function encodeConnect(packet: ConnectPacket): Uint8Array {
  const clientId = mqttStringBytes(packet.clientId, 'CONNECT client identifier');
  if (clientId.length === 0 && !packet.cleanSession) {
    throw new MqttProtocolError('CONNECT: an empty client identifier needs a clean session [MQTT-3.1.3-7]');
  }
  const keepAlive = packet.keepAliveSeconds;
  if (!Number.isInteger(keepAlive) || keepAlive < 0 || keepAlive > 65_535) {
    throw new MqttProtocolError(`CONNECT: keepalive ${keepAlive} s is outside 0..65535`);
  }
  if (packet.password !== undefined && packet.username === undefined) {
    throw new MqttProtocolError('CONNECT: a password needs a user name [MQTT-3.1.2-22]');
  }
  const username = packet.username === undefined ? undefined : mqttStringBytes(packet.username, 'CONNECT user name');
  const password = packet.password;
  if (password !== undefined) checkBinary(password, 'CONNECT password');
  const will = packet.will;
  let willTopic: Uint8Array | undefined;
  let flags = packet.cleanSession ? 0x02 : 0;
  if (will !== undefined) {
    willTopic = topicNameBytes(will.topic, 'CONNECT will topic');
    checkBinary(will.payload, 'CONNECT will payload');
    checkQoS(will.qos, 2, 'CONNECT will');
    flags |= 0x04 | (will.qos << 3) | (will.retain ? 0x20 : 0);
  }
  if (username !== undefined) flags |= 0x80;
  if (password !== undefined) flags |= 0x40;

  let bodyLength = 2 + PROTOCOL_NAME_BYTES.length + 1 + 1 + 2 + 2 + clientId.length;
  if (will !== undefined && willTopic !== undefined) bodyLength += 2 + willTopic.length + 2 + will.payload.length;
  if (username !== undefined) bodyLength += 2 + username.length;
  if (password !== undefined) bodyLength += 2 + password.length;

  const writer = framed(PACKET_TYPE_CODES.connect << 4, bodyLength);
  writer.binary(PROTOCOL_NAME_BYTES);
  writer.uint8(PROTOCOL_LEVEL);
  writer.uint8(flags);
  writer.uint16(keepAlive);
  writer.binary(clientId);
  if (will !== undefined && willTopic !== undefined) {
    writer.binary(willTopic);
    writer.binary(will.payload);
  }
  if (username !== undefined) writer.binary(username);
  if (password !== undefined) writer.binary(password);
  return writer.done();
}

function encodeConnack(packet: ConnackPacket): Uint8Array {
  const code = packet.returnCode;
  if (!Number.isInteger(code) || code < 0 || code > 5) throw new MqttProtocolError(`CONNACK: return code ${code} is outside 0..5`);
  const writer = framed(PACKET_TYPE_CODES.connack << 4, 2);
  writer.uint8(packet.sessionPresent ? 1 : 0);
  writer.uint8(code);
  return writer.done();
}

function encodePublish(packet: PublishPacket): Uint8Array {
  const topic = topicNameBytes(packet.topic, 'PUBLISH topic');
  checkQoS(packet.qos, 1, 'PUBLISH');
  if (packet.qos === 0) {
    if (packet.packetId !== undefined) throw new MqttProtocolError('PUBLISH: a QoS 0 message has no packet identifier');
    if (packet.dup) throw new MqttProtocolError('PUBLISH: DUP must be 0 for QoS 0 [MQTT-3.3.1-2]');
  } else {
    checkPacketId(packet.packetId, 'PUBLISH');
  }
  const firstByte = (PACKET_TYPE_CODES.publish << 4) | (packet.dup ? 0x08 : 0) | (packet.qos << 1) | (packet.retain ? 0x01 : 0);
  const writer = framed(firstByte, 2 + topic.length + (packet.qos > 0 ? 2 : 0) + packet.payload.length);
  writer.binary(topic);
  if (packet.qos > 0) writer.uint16(packet.packetId as number);
  writer.raw(packet.payload);
  return writer.done();
}

function encodeAcknowledgement(type: 'puback' | 'unsuback', packetId: number): Uint8Array {
  const writer = framed(PACKET_TYPE_CODES[type] << 4, 2);
  writer.uint16(checkPacketId(packetId, type.toUpperCase()));
  return writer.done();
}

function encodeSubscribe(packet: SubscribePacket): Uint8Array {
  const packetId = checkPacketId(packet.packetId, 'SUBSCRIBE');
  if (packet.subscriptions.length === 0) throw new MqttProtocolError('SUBSCRIBE: needs at least one topic filter [MQTT-3.8.3-3]');
  const filters = packet.subscriptions.map((subscription) => {
    checkQoS(subscription.qos, 2, 'SUBSCRIBE');
    return topicFilterBytes(subscription.filter, 'SUBSCRIBE topic filter');
  });
  const bodyLength = filters.reduce((sum, filter) => sum + 2 + filter.length + 1, 2);
  // Bits 3..0 of SUBSCRIBE's fixed header are reserved as 0010 [MQTT-3.8.1-1].
  const writer = framed((PACKET_TYPE_CODES.subscribe << 4) | 0x02, bodyLength);
  writer.uint16(packetId);
  filters.forEach((filter, i) => {
    writer.binary(filter);
    writer.uint8(packet.subscriptions[i].qos);
  });
  return writer.done();
}

function encodeSuback(packet: SubackPacket): Uint8Array {
  const packetId = checkPacketId(packet.packetId, 'SUBACK');
  if (packet.returnCodes.length === 0) throw new MqttProtocolError('SUBACK: needs at least one return code');
  for (const code of packet.returnCodes) {
    if (code !== 0 && code !== 1 && code !== 2 && code !== SUBACK_FAILURE) {
      throw new MqttProtocolError(`SUBACK: return code ${code} is not 0, 1, 2 or 0x80`);
    }
  }
  const writer = framed(PACKET_TYPE_CODES.suback << 4, 2 + packet.returnCodes.length);
  writer.uint16(packetId);
  for (const code of packet.returnCodes) writer.uint8(code);
  return writer.done();
}

function encodeUnsubscribe(packet: UnsubscribePacket): Uint8Array {
  const packetId = checkPacketId(packet.packetId, 'UNSUBSCRIBE');
  if (packet.filters.length === 0) throw new MqttProtocolError('UNSUBSCRIBE: needs at least one topic filter [MQTT-3.10.3-2]');
  const filters = packet.filters.map((filter) => topicFilterBytes(filter, 'UNSUBSCRIBE topic filter'));
  const bodyLength = filters.reduce((sum, filter) => sum + 2 + filter.length, 2);
  const writer = framed((PACKET_TYPE_CODES.unsubscribe << 4) | 0x02, bodyLength);
  writer.uint16(packetId);
  for (const filter of filters) writer.binary(filter);
  return writer.done();
}
