import fc from 'fast-check';
import { DEFAULT_MAX_PACKET_SIZE, MqttDecoder } from '../../firmware/iot/mqtt/decoder';
import { encodePacket } from '../../firmware/iot/mqtt/encode';
import { MqttProtocolError } from '../../firmware/iot/mqtt/errors';
import type { MqttPacket } from '../../firmware/iot/mqtt/packets';
import { anyPacketArb, concat, hex, utf8 } from './support';

const SAMPLE: MqttPacket[] = [
  { type: 'connack', sessionPresent: false, returnCode: 0 },
  { type: 'publish', topic: 'a/b', payload: utf8('hello'), qos: 1, retain: false, dup: false, packetId: 7 },
  { type: 'suback', packetId: 8, returnCodes: [1, 0x80] },
  { type: 'pingresp' },
  { type: 'publish', topic: 't', payload: new Uint8Array(300).fill(9), qos: 0, retain: true, dup: false },
  { type: 'unsuback', packetId: 9 },
];

/** Splits `bytes` at the given cut points. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    pieces.push(bytes.subarray(start, point));
    start = point;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}

describe('MqttDecoder streaming', () => {
  const stream = concat(...SAMPLE.map(encodePacket));

  test('all at once', () => {
    expect(new MqttDecoder().push(stream)).toEqual(SAMPLE);
  });

  test('byte by byte', () => {
    const decoder = new MqttDecoder();
    const packets: MqttPacket[] = [];
    for (let i = 0; i < stream.length; i++) {
      packets.push(...decoder.push(stream.subarray(i, i + 1)));
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(decoder.maxPacketSize);
    }
    expect(packets).toEqual(SAMPLE);
    expect(decoder.bufferedBytes).toBe(0);
  });

  test('split at every single position', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new MqttDecoder();
      expect([...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))]).toEqual(SAMPLE);
    }
  });

  test('empty pushes change nothing', () => {
    const decoder = new MqttDecoder();
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expect(decoder.push(hex('d0'))).toEqual([]);
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expect(decoder.push(hex('00'))).toEqual([{ type: 'pingresp' }]);
  });

  test('any packets, split anywhere, decode to themselves', () => {
    fc.assert(
      fc.property(fc.array(anyPacketArb, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), (packets, cuts) => {
        const decoder = new MqttDecoder();
        const decoded = split(concat(...packets.map(encodePacket)), cuts).flatMap((piece) => decoder.push(piece));
        expect(decoded).toEqual(packets);
      }),
    );
  });

  test('decoded payloads do not alias the input bytes', () => {
    const bytes = encodePacket({ type: 'publish', topic: 'a', payload: utf8('xyz'), qos: 0, retain: false, dup: false });
    const [packet] = new MqttDecoder().push(bytes);
    bytes.fill(0);
    expect(packet).toMatchObject({ payload: utf8('xyz') });
  });
});

describe('MqttDecoder limits', () => {
  test(`the default maximum is ${DEFAULT_MAX_PACKET_SIZE} bytes, fixed header included`, () => {
    const decoder = new MqttDecoder();
    expect(decoder.maxPacketSize).toBe(16_384);
    const fits = encodePacket({ type: 'publish', topic: 't', payload: new Uint8Array(16_384 - 3 - 3), qos: 0, retain: false, dup: false });
    expect(fits.length).toBe(16_384);
    expect(decoder.push(fits)).toHaveLength(1);
    const tooBig = encodePacket({ type: 'publish', topic: 't', payload: new Uint8Array(16_384 - 3 - 3 + 1), qos: 0, retain: false, dup: false });
    expect(() => decoder.push(tooBig)).toThrow('incoming packet of 16385 bytes exceeds the maximum of 16384');
  });

  test('an oversize packet is refused from its header, before its body is buffered', () => {
    const decoder = new MqttDecoder({ maxPacketSize: 100 });
    expect(() => decoder.push(hex('30 ff ff ff 7f'))).toThrow(MqttProtocolError);
    expect(decoder.bufferedBytes).toBe(0);
  });

  test('a tiny maximum refuses long headers as soon as they pass it', () => {
    const decoder = new MqttDecoder({ maxPacketSize: 2 });
    expect(decoder.push(hex('c0 00'))).toEqual([{ type: 'pingreq' }]);
    expect(decoder.push(hex('30'))).toEqual([]);
    expect(() => decoder.push(hex('80'))).toThrow('exceeds the maximum of 2 bytes');
  });

  test('after an error it refuses input until reset', () => {
    const decoder = new MqttDecoder();
    expect(() => decoder.push(hex('00 00'))).toThrow('packet type 0 is reserved');
    expect(decoder.error).toBeInstanceOf(MqttProtocolError);
    expect(() => decoder.push(hex('d0 00'))).toThrow(/decoder stopped by an earlier error \(packet type 0 is reserved\)/);
    decoder.reset();
    expect(decoder.error).toBeUndefined();
    expect(decoder.push(hex('d0 00'))).toEqual([{ type: 'pingresp' }]);
  });

  test('reset drops a partial packet', () => {
    const decoder = new MqttDecoder();
    decoder.push(hex('30 05 00'));
    expect(decoder.bufferedBytes).toBe(3);
    decoder.reset();
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.push(hex('d0 00'))).toEqual([{ type: 'pingresp' }]);
  });

  test.each([0, 1, 1.5, 268_435_461])('refuses maxPacketSize %d', (max) => {
    expect(() => new MqttDecoder({ maxPacketSize: max })).toThrow(RangeError);
  });
});
