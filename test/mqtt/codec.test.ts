import { decodePacket } from '../../firmware/iot/mqtt/decode';
import { MqttDecoder } from '../../firmware/iot/mqtt/decoder';
import { encodePacket } from '../../firmware/iot/mqtt/encode';
import { MqttProtocolError } from '../../firmware/iot/mqtt/errors';
import type { MqttPacket } from '../../firmware/iot/mqtt/packets';
import { CONNACK_REFUSAL_REASONS } from '../../firmware/iot/mqtt/packets';
import { hex, toHex, utf8 } from './support';

/** Decodes exactly one packet from complete bytes. */
function decodeOne(bytes: Uint8Array): MqttPacket {
  const packets = new MqttDecoder({ maxPacketSize: 1 << 20 }).push(bytes);
  expect(packets).toHaveLength(1);
  return packets[0];
}

function decodeError(bytes: Uint8Array): string {
  try {
    new MqttDecoder().push(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(MqttProtocolError);
    return (error as Error).message;
  }
  throw new Error(`decoded without error: ${toHex(bytes)}`);
}

// Byte sequences from, or built around, the non-normative examples in MQTT 3.1.1.
const KNOWN: [string, MqttPacket, string][] = [
  [
    // Variable header of spec figure 3.6: "MQTT", level 4, flags 0xCE, keepalive 10.
    'CONNECT with will QoS 1, user name and password',
    {
      type: 'connect',
      clientId: 'c1',
      cleanSession: true,
      keepAliveSeconds: 10,
      username: 'u',
      password: utf8('p'),
      will: { topic: 'w', payload: utf8('x'), qos: 1, retain: false },
    },
    '10 1a 00 04 4d 51 54 54 04 ce 00 0a 00 02 63 31 00 01 77 00 01 78 00 01 75 00 01 70',
  ],
  ['CONNECT, minimal, persistent session', { type: 'connect', clientId: 'dev', cleanSession: false, keepAliveSeconds: 60 }, '10 0f 00 04 4d 51 54 54 04 00 00 3c 00 03 64 65 76'],
  ['CONNECT with retained will QoS 2', { type: 'connect', clientId: '', cleanSession: true, keepAliveSeconds: 0, will: { topic: 'a', payload: new Uint8Array(0), qos: 2, retain: true } }, '10 11 00 04 4d 51 54 54 04 36 00 00 00 00 00 01 61 00 00'],
  ['CONNACK accepted, session present', { type: 'connack', sessionPresent: true, returnCode: 0 }, '20 02 01 00'],
  ['CONNACK refused: not authorized', { type: 'connack', sessionPresent: false, returnCode: 5 }, '20 02 00 05'],
  // Spec figure 3.11: topic "a/b", packet identifier 10.
  ['PUBLISH QoS 1', { type: 'publish', topic: 'a/b', payload: utf8('hi'), qos: 1, retain: false, dup: false, packetId: 10 }, '32 09 00 03 61 2f 62 00 0a 68 69'],
  ['PUBLISH QoS 1 DUP retained', { type: 'publish', topic: 'a/b', payload: new Uint8Array(0), qos: 1, retain: true, dup: true, packetId: 10 }, '3b 07 00 03 61 2f 62 00 0a'],
  ['PUBLISH QoS 0', { type: 'publish', topic: 'a/b', payload: utf8('hi'), qos: 0, retain: false, dup: false }, '30 07 00 03 61 2f 62 68 69'],
  // Spec figure 1.3: "A\u{2A6D4}" is 00 05 41 F0 AA 9B 94.
  ['PUBLISH with a 4-byte UTF-8 topic', { type: 'publish', topic: 'A\u{2A6D4}', payload: new Uint8Array(0), qos: 0, retain: false, dup: false }, '30 07 00 05 41 f0 aa 9b 94'],
  ['PUBACK', { type: 'puback', packetId: 10 }, '40 02 00 0a'],
  // Spec figures 3.21/3.22: "a/b" QoS 1, "c/d" QoS 2.
  ['SUBSCRIBE', { type: 'subscribe', packetId: 10, subscriptions: [{ filter: 'a/b', qos: 1 }, { filter: 'c/d', qos: 2 }] }, '82 0e 00 0a 00 03 61 2f 62 01 00 03 63 2f 64 02'],
  // Spec figure 3.26: grants 0, 1, 2 and failure.
  ['SUBACK', { type: 'suback', packetId: 10, returnCodes: [0, 1, 2, 0x80] }, '90 06 00 0a 00 01 02 80'],
  // Spec figure 3.30: "a/b", "c/d".
  ['UNSUBSCRIBE', { type: 'unsubscribe', packetId: 10, filters: ['a/b', 'c/d'] }, 'a2 0c 00 0a 00 03 61 2f 62 00 03 63 2f 64'],
  ['UNSUBACK', { type: 'unsuback', packetId: 10 }, 'b0 02 00 0a'],
  ['PINGREQ', { type: 'pingreq' }, 'c0 00'],
  ['PINGRESP', { type: 'pingresp' }, 'd0 00'],
  ['DISCONNECT', { type: 'disconnect' }, 'e0 00'],
];

describe('MQTT codec: known byte sequences', () => {
  test.each(KNOWN)('%s encodes to and decodes from its bytes', (_name, packet, bytes) => {
    expect(toHex(encodePacket(packet))).toBe(toHex(hex(bytes)));
    expect(decodeOne(hex(bytes))).toEqual(packet);
  });

  test('decodePacket works on a body without the streaming decoder', () => {
    expect(decodePacket(0x40, hex('00 0a'))).toEqual({ type: 'puback', packetId: 10 });
  });

  test('PUBLISH with a two-byte remaining length', () => {
    const payload = new Uint8Array(200).fill(7);
    const bytes = encodePacket({ type: 'publish', topic: 't', payload, qos: 0, retain: false, dup: false });
    expect(toHex(bytes.subarray(0, 5))).toBe('30 cb 01 00 01'); // 203 = 0xcb 0x01
    expect(decodeOne(bytes)).toMatchObject({ topic: 't', payload });
  });

  test('CONNACK refusal codes have clear texts', () => {
    expect(CONNACK_REFUSAL_REASONS[1]).toBe('unacceptable protocol version');
    expect(CONNACK_REFUSAL_REASONS[2]).toBe('identifier rejected');
    expect(CONNACK_REFUSAL_REASONS[3]).toBe('server unavailable');
    expect(CONNACK_REFUSAL_REASONS[4]).toBe('bad user name or password');
    expect(CONNACK_REFUSAL_REASONS[5]).toBe('not authorized');
  });
});

describe('MQTT codec: malformed input is a clear MqttProtocolError', () => {
  test.each([
    ['reserved packet type 0', '00 00', /type 0 is reserved/],
    ['reserved packet type 15', 'f0 00', /type 15 is reserved/],
    ['SUBSCRIBE without its reserved 0010 flags', '80 08 00 01 00 03 61 2f 62 00', /SUBSCRIBE has fixed-header flags 0, must be 2/],
    ['PUBACK with flags', '41 02 00 01', /PUBACK has fixed-header flags 1/],
    ['PUBLISH QoS 3', '36 05 00 01 61 00 01', /QoS 3/],
    ['PUBLISH QoS 2', '34 05 00 01 61 00 01', /QoS 2 is not supported/],
    ['PUBREC', '50 02 00 01', /PUBREC is part of QoS 2/],
    ['PUBREL', '62 02 00 01', /PUBREL is part of QoS 2/],
    ['CONNACK with return code 6', '20 02 00 06', /return code 6 is reserved/],
    ['CONNACK with reserved flag bits', '20 02 02 00', /bits 7-1 are reserved/],
    ['CONNACK too long', '20 03 00 00 00', /CONNACK: 1 unexpected bytes at the end/],
    ['CONNACK too short', '20 01 00', /CONNACK: ends inside the return code/],
    ['PUBLISH topic with a wildcard', '30 05 00 03 61 2f 2b', /topic name contains a wildcard/],
    ['PUBLISH with an empty topic', '30 02 00 00', /topic name is empty/],
    ['PUBLISH topic with U+0000', '30 03 00 01 00', /contains U\+0000/],
    ['PUBLISH topic that is not UTF-8 (lone continuation byte)', '30 03 00 01 80', /not valid UTF-8/],
    ['PUBLISH topic with an overlong encoding', '30 04 00 02 c0 af', /not valid UTF-8/],
    ['PUBLISH topic with an encoded surrogate', '30 05 00 03 ed a0 80', /not valid UTF-8/],
    ['PUBLISH topic longer than the packet', '30 03 00 05 61', /ends inside the topic name/],
    ['PUBLISH QoS 1 with packet id 0', '32 05 00 01 61 00 00', /packet identifier is 0/],
    ['PUBACK too long', '40 03 00 01 00', /PUBACK: 1 unexpected bytes/],
    ['PUBACK with packet id 0', '40 02 00 00', /packet identifier is 0/],
    ['SUBACK with return code 3', '90 03 00 01 03', /return code 3 is not 0, 1, 2 or 0x80/],
    ['SUBACK without return codes', '90 02 00 01', /has no return codes/],
    ['SUBSCRIBE without filters', '82 02 00 01', /has no topic filters/],
    ['SUBSCRIBE with reserved QoS bits', '82 08 00 01 00 03 61 2f 62 04', /requested QoS byte 4/],
    ['SUBSCRIBE with a misplaced #', '82 08 00 01 00 03 23 2f 61 00', /'#' other than as the whole last level/],
    ['SUBSCRIBE missing the QoS byte', '82 07 00 01 00 03 61 2f 62', /ends inside the requested QoS/],
    ['UNSUBSCRIBE without filters', 'a2 02 00 01', /has no topic filters/],
    ['PINGRESP with a body', 'd0 01 00', /PINGRESP: 1 unexpected bytes/],
    ['CONNECT of MQTT 3.1 (MQIsdp)', '10 0d 00 06 4d 51 49 73 64 70 03 02 00 3c 00 00', /protocol name is "MQIsdp"/],
    ['CONNECT with level 5', '10 0c 00 04 4d 51 54 54 05 02 00 3c 00 00', /protocol level is 5/],
    ['CONNECT with the reserved flag', '10 0c 00 04 4d 51 54 54 04 03 00 3c 00 00', /reserved connect flag/],
    ['CONNECT with a password but no user name', '10 0f 00 04 4d 51 54 54 04 42 00 3c 00 00 00 01 70', /password flag set without user name/],
    ['CONNECT with will QoS but no will', '10 0c 00 04 4d 51 54 54 04 0a 00 3c 00 00', /will QoS or retain set without a will/],
    ['remaining length of 5 bytes', '30 ff ff ff ff 01', /runs past 4 bytes/],
  ])('%s', (_name, bytes, message) => {
    expect(decodeError(hex(bytes))).toMatch(message);
  });
});

describe('MQTT codec: values that cannot be valid MQTT are refused when encoding', () => {
  const publish = { type: 'publish', payload: new Uint8Array(0), qos: 0, retain: false, dup: false } as const;
  test.each<[string, MqttPacket, RegExp]>([
    ['wildcard topic', { ...publish, topic: 'a/+' }, /contains a wildcard/],
    ['empty topic', { ...publish, topic: '' }, /is empty/],
    ['topic with U+0000', { ...publish, topic: 'a\u0000' }, /U\+0000/],
    ['topic with a lone surrogate', { ...publish, topic: 'a\ud800' }, /lone UTF-16 surrogate/],
    ['topic over 65535 bytes', { ...publish, topic: 'é'.repeat(32_768) }, /65536 bytes of UTF-8, more than 65535/],
    ['DUP on QoS 0', { ...publish, topic: 'a', dup: true }, /DUP must be 0 for QoS 0/],
    ['packet id on QoS 0', { ...publish, topic: 'a', packetId: 1 }, /QoS 0 message has no packet identifier/],
    ['QoS 1 without packet id', { ...publish, topic: 'a', qos: 1 }, /packet identifier undefined is outside 1..65535/],
    ['QoS 2 publish', { ...publish, topic: 'a', qos: 2 as 1, packetId: 1 }, /QoS 2 is outside 0..1/],
    ['packet id 65536', { type: 'puback', packetId: 65_536 }, /outside 1..65535/],
    ['packet id 0', { type: 'unsuback', packetId: 0 }, /outside 1..65535/],
    ['SUBSCRIBE without filters', { type: 'subscribe', packetId: 1, subscriptions: [] }, /at least one topic filter/],
    ['SUBSCRIBE with "a/#/b"', { type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'a/#/b', qos: 0 }] }, /'#' other than/],
    ['SUBSCRIBE with "a+"', { type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'a+', qos: 0 }] }, /'\+' other than/],
    ['UNSUBSCRIBE with ""', { type: 'unsubscribe', packetId: 1, filters: [''] }, /is empty/],
    ['SUBACK with code 3', { type: 'suback', packetId: 1, returnCodes: [3 as 0] }, /return code 3/],
    ['CONNACK with code 6', { type: 'connack', sessionPresent: false, returnCode: 6 as 0 }, /return code 6/],
    ['empty client id with a persistent session', { type: 'connect', clientId: '', cleanSession: false, keepAliveSeconds: 0 }, /empty client identifier needs a clean session/],
    ['password without user name', { type: 'connect', clientId: 'a', cleanSession: true, keepAliveSeconds: 0, password: utf8('p') }, /password needs a user name/],
    ['keepalive 65536', { type: 'connect', clientId: 'a', cleanSession: true, keepAliveSeconds: 65_536 }, /keepalive 65536/],
    ['will topic with a wildcard', { type: 'connect', clientId: 'a', cleanSession: true, keepAliveSeconds: 0, will: { topic: '#', payload: new Uint8Array(0), qos: 0, retain: false } }, /will topic "#" contains a wildcard/],
    ['password over 65535 bytes', { type: 'connect', clientId: 'a', cleanSession: true, keepAliveSeconds: 0, username: 'u', password: new Uint8Array(65_536) }, /password is 65536 bytes/],
  ])('%s', (_name, packet, message) => {
    expect(() => encodePacket(packet)).toThrow(MqttProtocolError);
    expect(() => encodePacket(packet)).toThrow(message);
  });
});
