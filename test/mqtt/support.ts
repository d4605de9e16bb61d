/**
 * Shared test helpers for the MQTT core: hex bytes, fast-check arbitraries for every packet,
 * and conversion to and from mqtt-packet's object shape for the interoperability checks.
 */
import fc from 'fast-check';
import * as mqttPacket from 'mqtt-packet';
import type { MqttPacket, QoS, SubackReturnCode, Will } from '../../firmware/iot/mqtt/packets';

/** "30 0a 00" -> bytes. */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, '');
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join(' ');
}

export function utf8(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

// ---- arbitraries ----

/** One code point that may appear in a topic level: anything but '/', '+', '#' and U+0000. */
const levelChar = fc
  .oneof(fc.constantFrom('a', 'b', 'z', '0', '$', ' ', '-', 'é', '€', '😀'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }))
  .filter((char) => !['/', '+', '#', '\u0000'].includes(char));

const topicLevel = fc.string({ unit: levelChar, maxLength: 6 });

export const topicNameArb = fc
  .array(topicLevel, { minLength: 1, maxLength: 4 })
  .map((levels) => levels.join('/'))
  .filter((topic) => topic.length > 0);

export const topicFilterArb = fc
  .tuple(fc.array(fc.oneof(topicLevel, fc.constant('+')), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([levels, multiLevel]) => (multiLevel ? [...levels, '#'] : levels).join('/'))
  .filter((filter) => filter.length > 0);

/** Any string MQTT allows (valid UTF-8, no U+0000), short. */
export const mqttStringArb = fc.string({ unit: levelChar, maxLength: 12 });

const packetIdArb = fc.integer({ min: 1, max: 65_535 });
const bytesArb = (maxLength: number) => fc.uint8Array({ maxLength });
const qosArb = fc.constantFrom<QoS>(0, 1, 2);

const willArb: fc.Arbitrary<Will> = fc.record({ topic: topicNameArb, payload: bytesArb(40), qos: qosArb, retain: fc.boolean() });

export const connectArb: fc.Arbitrary<MqttPacket> = fc
  .record({
    clientId: mqttStringArb,
    cleanSession: fc.boolean(),
    keepAliveSeconds: fc.integer({ min: 0, max: 65_535 }),
    username: fc.option(mqttStringArb, { nil: undefined }),
    password: fc.option(bytesArb(30), { nil: undefined }),
    will: fc.option(willArb, { nil: undefined }),
  })
  .map(({ clientId, cleanSession, keepAliveSeconds, username, password, will }) => {
    const packet: MqttPacket = { type: 'connect', clientId, cleanSession: cleanSession || clientId === '', keepAliveSeconds };
    if (username !== undefined) packet.username = username;
    if (username !== undefined && password !== undefined) packet.password = password;
    if (will !== undefined) packet.will = will;
    return packet;
  });

export const publishArb: fc.Arbitrary<MqttPacket> = fc
  .record({ topic: topicNameArb, payload: bytesArb(300), qos: fc.constantFrom<0 | 1>(0, 1), retain: fc.boolean(), dup: fc.boolean(), packetId: packetIdArb })
  .map(({ topic, payload, qos, retain, dup, packetId }) =>
    qos === 0
      ? { type: 'publish' as const, topic, payload, qos, retain, dup: false }
      : { type: 'publish' as const, topic, payload, qos, retain, dup, packetId },
  );

export const clientPacketArb: fc.Arbitrary<MqttPacket> = fc.oneof(
  connectArb,
  publishArb,
  packetIdArb.map((packetId) => ({ type: 'puback' as const, packetId })),
  fc.record({ packetId: packetIdArb, subscriptions: fc.array(fc.record({ filter: topicFilterArb, qos: qosArb }), { minLength: 1, maxLength: 5 }) }).map((fields) => ({ type: 'subscribe' as const, ...fields })),
  fc.record({ packetId: packetIdArb, filters: fc.array(topicFilterArb, { minLength: 1, maxLength: 5 }) }).map((fields) => ({ type: 'unsubscribe' as const, ...fields })),
  fc.constant({ type: 'pingreq' as const }),
  fc.constant({ type: 'disconnect' as const }),
);

export const serverPacketArb: fc.Arbitrary<MqttPacket> = fc.oneof(
  fc.record({ sessionPresent: fc.boolean(), returnCode: fc.constantFrom<0 | 1 | 2 | 3 | 4 | 5>(0, 1, 2, 3, 4, 5) }).map((fields) => ({ type: 'connack' as const, ...fields })),
  publishArb,
  packetIdArb.map((packetId) => ({ type: 'puback' as const, packetId })),
  fc.record({ packetId: packetIdArb, returnCodes: fc.array(fc.constantFrom<SubackReturnCode>(0, 1, 2, 0x80), { minLength: 1, maxLength: 5 }) }).map((fields) => ({ type: 'suback' as const, ...fields })),
  packetIdArb.map((packetId) => ({ type: 'unsuback' as const, packetId })),
  fc.constant({ type: 'pingresp' as const }),
);

export const anyPacketArb = fc.oneof(clientPacketArb, serverPacketArb);

// ---- mqtt-packet interoperability ----

type ForeignPacket = mqttPacket.Packet;

/** Our packet in mqtt-packet's shape, for its generate(). */
export function toForeign(packet: MqttPacket): ForeignPacket {
  switch (packet.type) {
    case 'connect':
      return {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: packet.cleanSession,
        clientId: packet.clientId,
        keepalive: packet.keepAliveSeconds,
        username: packet.username,
        password: packet.password === undefined ? undefined : Buffer.from(packet.password),
        will: packet.will === undefined ? undefined : { ...packet.will, payload: Buffer.from(packet.will.payload) },
      };
    case 'connack':
      return { cmd: 'connack', sessionPresent: packet.sessionPresent, returnCode: packet.returnCode };
    case 'publish':
      return { cmd: 'publish', topic: packet.topic, payload: Buffer.from(packet.payload), qos: packet.qos, retain: packet.retain, dup: packet.dup, messageId: packet.packetId };
    case 'puback':
      return { cmd: 'puback', messageId: packet.packetId };
    case 'subscribe':
      return { cmd: 'subscribe', messageId: packet.packetId, subscriptions: packet.subscriptions.map(({ filter, qos }) => ({ topic: filter, qos })) };
    case 'suback':
      return { cmd: 'suback', messageId: packet.packetId, granted: packet.returnCodes };
    case 'unsubscribe':
      return { cmd: 'unsubscribe', messageId: packet.packetId, unsubscriptions: packet.filters };
    case 'unsuback':
      return { cmd: 'unsuback', messageId: packet.packetId } as ForeignPacket; // its types want MQTT 5's `granted`
    default:
      return { cmd: packet.type } as ForeignPacket;
  }
}

const plain = (bytes: Buffer | Uint8Array): Uint8Array => new Uint8Array(bytes);

/** mqtt-packet's parsed object in our shape, to compare with what we encoded. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function fromForeign(parsed: any): MqttPacket {
  switch (parsed.cmd) {
    case 'connect': {
      const packet: MqttPacket = { type: 'connect', clientId: parsed.clientId, cleanSession: parsed.clean, keepAliveSeconds: parsed.keepalive };
      if (parsed.username !== undefined) packet.username = parsed.username;
      if (parsed.password !== undefined) packet.password = plain(parsed.password);
      if (parsed.will !== undefined) packet.will = { topic: parsed.will.topic, payload: plain(parsed.will.payload), qos: parsed.will.qos, retain: parsed.will.retain };
      return packet;
    }
    case 'connack':
      return { type: 'connack', sessionPresent: parsed.sessionPresent, returnCode: parsed.returnCode };
    case 'publish': {
      const packet: MqttPacket = { type: 'publish', topic: parsed.topic, payload: plain(parsed.payload), qos: parsed.qos, retain: parsed.retain, dup: parsed.dup };
      if (parsed.qos > 0) packet.packetId = parsed.messageId;
      return packet;
    }
    case 'puback':
      return { type: 'puback', packetId: parsed.messageId };
    case 'subscribe':
      return { type: 'subscribe', packetId: parsed.messageId, subscriptions: parsed.subscriptions.map((s: { topic: string; qos: QoS }) => ({ filter: s.topic, qos: s.qos })) };
    case 'suback':
      return { type: 'suback', packetId: parsed.messageId, returnCodes: parsed.granted };
    case 'unsubscribe':
      return { type: 'unsubscribe', packetId: parsed.messageId, filters: parsed.unsubscriptions };
    case 'unsuback':
      return { type: 'unsuback', packetId: parsed.messageId };
    default:
      return { type: parsed.cmd };
  }
}

/** Parses bytes with mqtt-packet (MQTT 3.1.1); throws its first error. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function foreignParse(bytes: Uint8Array): any[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: unknown[] = [];
  const errors: Error[] = [];
  parser.on('packet', (packet) => packets.push(packet));
  parser.on('error', (error) => errors.push(error));
  parser.parse(Buffer.from(bytes));
  if (errors.length > 0) throw errors[0];
  return packets;
}

export function foreignGenerate(packet: MqttPacket): Uint8Array {
  return plain(mqttPacket.generate(toForeign(packet), { protocolVersion: 4 }));
}
