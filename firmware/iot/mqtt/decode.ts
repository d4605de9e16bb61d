/**
 * Bytes of one complete packet to a packet object. Anything malformed throws
 * MqttProtocolError saying what was wrong. Payloads and passwords are views into `body`.
 */
import { ByteReader } from './bytes';
import { MqttProtocolError } from './errors';
import type {
  ConnackPacket,
  ConnackReturnCode,
  ConnectPacket,
  MqttPacket,
  PublishPacket,
  QoS,
  SubackPacket,
  SubackReturnCode,
  SubscribePacket,
  Subscription,
  UnsubscribePacket,
} from './packets';
import { PROTOCOL_LEVEL, PROTOCOL_NAME, SUBACK_FAILURE } from './packets';
import { topicFilterError, topicNameError } from './topic';

/** Names by control packet type number, for messages. */
const PACKET_NAMES = [
  'reserved type 0',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'reserved type 15',
];

/** Required low nibble of the first byte per type [MQTT-2.2.2-1]; PUBLISH carries flags instead. */
const REQUIRED_FLAGS = [-1, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, -1];

/**
 * Checks a fixed header's first byte on its own, so the streaming decoder can refuse a bad
 * packet before buffering its body.
 */
export function checkFixedHeader(firstByte: number): void {
  const type = firstByte >> 4;
  const flags = firstByte & 0x0f;
  const name = PACKET_NAMES[type];
  if (type === 0 || type === 15) throw new MqttProtocolError(`packet type ${type} is reserved`);
  if (type >= 5 && type <= 7) throw new MqttProtocolError(`${name} is part of QoS 2, which this client does not support`);
  if (type === 3) {
    const qos = (flags >> 1) & 0x03;
    if (qos === 3) throw new MqttProtocolError('PUBLISH has QoS 3, which does not exist [MQTT-3.3.1-4]');
    if (qos === 2) throw new MqttProtocolError('PUBLISH with QoS 2 is not supported by this client');
    return;
  }
  if (flags !== REQUIRED_FLAGS[type]) {
    throw new MqttProtocolError(`${name} has fixed-header flags ${flags}, must be ${REQUIRED_FLAGS[type]} [MQTT-2.2.2-2]`);
  }
}

/** Decodes one packet from its first byte and its body (everything after the Remaining Length). */
export function decodePacket(firstByte: number, body: Uint8Array): MqttPacket {
  checkFixedHeader(firstByte);
  const type = firstByte >> 4;
  const reader = new ByteReader(body, PACKET_NAMES[type]);
  let packet: MqttPacket;
  switch (type) {
    case 1:
      packet = decodeConnect(reader);
      break;
    case 2:
      packet = decodeConnack(reader);
      break;
    case 3:
      return decodePublish(firstByte, reader); // the payload takes the rest
    case 4:
      packet = { type: 'puback', packetId: reader.packetId() };
      break;
    case 8:
      return decodeSubscribe(reader);
    case 9:
      return decodeSuback(reader);
    case 10:
      return decodeUnsubscribe(reader);
    case 11:
      packet = { type: 'unsuback', packetId: reader.packetId() };
      break;
    case 12:
      packet = { type: 'pingreq' };
      break;
    case 13:
      packet = { type: 'pingresp' };
      break;
    default: // 14: checkFixedHeader has rejected every other type
      packet = { type: 'disconnect' };
      break;
  }
  reader.end();
  return packet;
}

function decodeConnect(reader: ByteReader): ConnectPacket {
  const protocolName = reader.string('protocol name');
  if (protocolName !== PROTOCOL_NAME) reader.fail(`protocol name is "${protocolName}", expected "${PROTOCOL_NAME}"`);
  const level = reader.uint8('protocol level');
  if (level !== PROTOCOL_LEVEL) reader.fail(`protocol level is ${level}, expected ${PROTOCOL_LEVEL} (MQTT 3.1.1)`);
  const flags = reader.uint8('connect flags');
  if (flags & 0x01) reader.fail('reserved connect flag is set [MQTT-3.1.2-3]');
  const hasWill = (flags & 0x04) !== 0;
  const willQoS = (flags >> 3) & 0x03;
  const willRetain = (flags & 0x20) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  const hasUsername = (flags & 0x80) !== 0;
  if (willQoS === 3) reader.fail('will QoS is 3 [MQTT-3.1.2-14]');
  if (!hasWill && (willQoS !== 0 || willRetain)) reader.fail('will QoS or retain set without a will [MQTT-3.1.2-13]');
  if (hasPassword && !hasUsername) reader.fail('password flag set without user name flag [MQTT-3.1.2-22]');
  const packet: ConnectPacket = {
    type: 'connect',
    clientId: '',
    cleanSession: (flags & 0x02) !== 0,
    keepAliveSeconds: reader.uint16('keepalive'),
  };
  packet.clientId = reader.string('client identifier');
  if (hasWill) {
    const topic = reader.string('will topic');
    const problem = topicNameError(topic);
    if (problem !== undefined) reader.fail(`will topic ${problem}`);
    packet.will = { topic, payload: reader.binary('will payload'), qos: willQoS as QoS, retain: willRetain };
  }
  if (hasUsername) packet.username = reader.string('user name');
  if (hasPassword) packet.password = reader.binary('password');
  return packet;
}

function decodeConnack(reader: ByteReader): ConnackPacket {
  const flags = reader.uint8('acknowledge flags');
  if (flags > 1) reader.fail(`acknowledge flags ${flags}: bits 7-1 are reserved [MQTT-3.2.2-1]`);
  const returnCode = reader.uint8('return code');
  if (returnCode > 5) reader.fail(`return code ${returnCode} is reserved`);
  return { type: 'connack', sessionPresent: flags === 1, returnCode: returnCode as ConnackReturnCode };
}

function decodePublish(firstByte: number, reader: ByteReader): PublishPacket {
  const qos = (firstByte >> 1) & 0x03; // checkFixedHeader allowed 0 and 1 only
  const topic = reader.string('topic name');
  const problem = topicNameError(topic);
  if (problem !== undefined) reader.fail(`topic name ${problem}`);
  const packet: PublishPacket = {
    type: 'publish',
    topic,
    payload: new Uint8Array(0),
    qos: qos as 0 | 1,
    retain: (firstByte & 0x01) !== 0,
    dup: (firstByte & 0x08) !== 0,
  };
  if (qos > 0) packet.packetId = reader.packetId();
  packet.payload = reader.rest();
  return packet;
}

function decodeSubscribe(reader: ByteReader): SubscribePacket {
  const packetId = reader.packetId();
  const subscriptions: Subscription[] = [];
  while (reader.remaining > 0) {
    const filter = reader.string('topic filter');
    const problem = topicFilterError(filter);
    if (problem !== undefined) reader.fail(`topic filter ${problem}`);
    const options = reader.uint8('requested QoS');
    if (options > 2) reader.fail(`requested QoS byte ${options} is not 0, 1 or 2 [MQTT-3.8.3-4]`);
    subscriptions.push({ filter, qos: options as QoS });
  }
  if (subscriptions.length === 0) reader.fail('has no topic filters [MQTT-3.8.3-3]');
  return { type: 'subscribe', packetId, subscriptions };
}

function decodeSuback(reader: ByteReader): SubackPacket {
  const packetId = reader.packetId();
  const returnCodes: SubackReturnCode[] = [];
  while (reader.remaining > 0) {
    const code = reader.uint8('return code');
    if (code > 2 && code !== SUBACK_FAILURE) reader.fail(`return code ${code} is not 0, 1, 2 or 0x80`);
    returnCodes.push(code as SubackReturnCode);
  }
  if (returnCodes.length === 0) reader.fail('has no return codes');
  return { type: 'suback', packetId, returnCodes };
}

function decodeUnsubscribe(reader: ByteReader): UnsubscribePacket {
  const packetId = reader.packetId();
  const filters: string[] = [];
  while (reader.remaining > 0) {
    const filter = reader.string('topic filter');
    const problem = topicFilterError(filter);
    if (problem !== undefined) reader.fail(`topic filter ${problem}`);
    filters.push(filter);
  }
  if (filters.length === 0) reader.fail('has no topic filters [MQTT-3.10.3-2]');
  return { type: 'unsubscribe', packetId, filters };
}
