/**
 * Cross-checks against an independent implementation: mqtt-packet (used by MQTT.js and aedes).
 */
import fc from 'fast-check';
import * as mqttPacket from 'mqtt-packet';
import { MqttDecoder } from '../../firmware/iot/mqtt/decoder';
import { encodePacket } from '../../firmware/iot/mqtt/encode';
import { MqttProtocolError } from '../../firmware/iot/mqtt/errors';
import { anyPacketArb, clientPacketArb, foreignGenerate, foreignParse, fromForeign, serverPacketArb, toHex } from './support';

const RUNS = { numRuns: 1000 };

function decodeAll(bytes: Uint8Array) {
  return new MqttDecoder({ maxPacketSize: 1 << 20 }).push(bytes);
}

describe('interoperability with mqtt-packet', () => {
  test.each([
    ['client -> server', clientPacketArb],
    ['server -> client', serverPacketArb],
  ])('%s: mqtt-packet parses what we encode into the same packet', (_direction, arbitrary) => {
    fc.assert(
      fc.property(arbitrary, (packet) => {
        const parsed = foreignParse(encodePacket(packet));
        expect(parsed).toHaveLength(1);
        expect(fromForeign(parsed[0])).toEqual(packet);
      }),
      RUNS,
    );
  });

  test.each([
    ['client -> server', clientPacketArb],
    ['server -> client', serverPacketArb],
  ])('%s: we decode what mqtt-packet generates into the same packet', (_direction, arbitrary) => {
    fc.assert(
      fc.property(arbitrary, (packet) => {
        expect(decodeAll(foreignGenerate(packet))).toEqual([packet]);
      }),
      RUNS,
    );
  });

  test('both produce the same bytes for every packet', () => {
    fc.assert(
      fc.property(anyPacketArb, (packet) => {
        expect(toHex(encodePacket(packet))).toBe(toHex(foreignGenerate(packet)));
      }),
      RUNS,
    );
  });

  test('a large PUBLISH (4-byte remaining length) agrees', () => {
    const packet = { type: 'publish' as const, topic: 'big', payload: new Uint8Array(2_100_000).fill(0x5a), qos: 1 as const, retain: false, dup: true, packetId: 65_535 };
    const ours = encodePacket(packet);
    expect(toHex(ours.subarray(0, 5))).toBe(toHex(foreignGenerate(packet).subarray(0, 5)));
    // Payloads compared with Buffer.equals: jest's element-wise equality is slow at 2 MB.
    const sameAsSent = (decoded: { payload: Uint8Array }) => {
      expect({ ...decoded, payload: undefined }).toEqual({ ...packet, payload: undefined });
      expect(Buffer.from(decoded.payload).equals(packet.payload)).toBe(true);
    };
    sameAsSent(fromForeign(foreignParse(ours)[0]) as typeof packet);
    const decoded = new MqttDecoder({ maxPacketSize: 2_200_000 }).push(ours);
    expect(decoded).toHaveLength(1);
    sameAsSent(decoded[0] as typeof packet);
  });

  test.each([
    ['PUBLISH QoS 2', { cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 2, retain: false, dup: false, messageId: 1 }, /QoS 2 is not supported/],
    ['PUBREC', { cmd: 'pubrec', messageId: 1 }, /PUBREC is part of QoS 2/],
    ['PUBREL', { cmd: 'pubrel', messageId: 1 }, /PUBREL is part of QoS 2/],
    ['PUBCOMP', { cmd: 'pubcomp', messageId: 1 }, /PUBCOMP is part of QoS 2/],
    ['MQTT 3.1 CONNECT', { cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'a', clean: true, keepalive: 0 }, /protocol name is "MQIsdp"/],
    ['MQTT 5 CONNECT', { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'a', clean: true, keepalive: 0 }, /protocol level is 5/],
  ] as [string, mqttPacket.Packet, RegExp][])('we refuse what we do not implement: %s', (_name, foreign, message) => {
    const bytes = mqttPacket.generate(foreign, { protocolVersion: (foreign as { protocolVersion?: number }).protocolVersion ?? 4 });
    expect(() => decodeAll(new Uint8Array(bytes))).toThrow(MqttProtocolError);
    expect(() => decodeAll(new Uint8Array(bytes))).toThrow(message);
  });
});
