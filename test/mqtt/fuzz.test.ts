/**
 * Hostile input: random, truncated, mutated and oversize bytes, in random splits. The decoder
 * may only ever throw MqttProtocolError, and never holds more than its maximum.
 */
import fc from 'fast-check';
import { MqttDecoder } from '../../firmware/iot/mqtt/decoder';
import { encodePacket } from '../../firmware/iot/mqtt/encode';
import { MqttProtocolError } from '../../firmware/iot/mqtt/errors';
import type { MqttPacket } from '../../firmware/iot/mqtt/packets';
import { anyPacketArb, concat } from './support';

const RUNS = { numRuns: 3000 };

/** Feeds `chunks`, resetting after each protocol error; fails on any other throw or on overbuffering. */
function feed(decoder: MqttDecoder, chunks: Uint8Array[]): { packets: MqttPacket[]; errors: number } {
  const packets: MqttPacket[] = [];
  let errors = 0;
  for (const chunk of chunks) {
    try {
      packets.push(...decoder.push(chunk));
    } catch (error) {
      if (!(error instanceof MqttProtocolError)) throw new Error(`decoder threw ${String(error)}`);
      expect(error.message.length).toBeGreaterThan(0);
      errors++;
      decoder.reset();
    }
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(decoder.maxPacketSize);
    expect(decoder.allocatedBytes).toBeLessThanOrEqual(decoder.maxPacketSize);
  }
  return { packets, errors };
}

const maxSizeArb = fc.constantFrom(2, 5, 16, 64, 300, 16_384);
const chunksArb = fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 });

describe('MqttDecoder fuzzing', () => {
  test('random bytes in random chunks', () => {
    fc.assert(
      fc.property(maxSizeArb, chunksArb, (maxPacketSize, chunks) => {
        feed(new MqttDecoder({ maxPacketSize }), chunks);
      }),
      RUNS,
    );
  });

  test('random bytes after a plausible first byte', () => {
    const firstByte = fc.constantFrom(0x10, 0x20, 0x30, 0x32, 0x3b, 0x40, 0x82, 0x90, 0xa2, 0xb0, 0xc0, 0xd0, 0xe0);
    fc.assert(
      fc.property(maxSizeArb, firstByte, fc.uint8Array({ maxLength: 80 }), (maxPacketSize, first, rest) => {
        feed(new MqttDecoder({ maxPacketSize }), [new Uint8Array([first]), rest]);
      }),
      RUNS,
    );
  });

  test('valid packets with bytes flipped', () => {
    fc.assert(
      fc.property(fc.array(anyPacketArb, { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (packets, flips) => {
        const bytes = concat(...packets.map(encodePacket));
        for (const [at, mask] of flips) bytes[at % bytes.length] ^= mask;
        feed(new MqttDecoder({ maxPacketSize: 512 }), [bytes]);
      }),
      RUNS,
    );
  });

  test('truncated valid packets yield nothing and no error, whatever the split', () => {
    fc.assert(
      fc.property(anyPacketArb, fc.nat(), fc.nat(), (packet, cutAt, splitAt) => {
        const bytes = encodePacket(packet);
        const truncated = bytes.subarray(0, cutAt % bytes.length);
        const split = splitAt % (truncated.length + 1);
        const decoder = new MqttDecoder({ maxPacketSize: 1 << 16 });
        expect(feed(decoder, [truncated.subarray(0, split), truncated.subarray(split)])).toEqual({ packets: [], errors: 0 });
        expect(decoder.bufferedBytes).toBe(truncated.length);
      }),
      RUNS,
    );
  });

  test('oversize packets are refused at the header, in any split', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 1000 }), fc.integer({ min: 1, max: 5000 }), fc.nat(), (maxPacketSize, excess, splitAt) => {
        const payload = new Uint8Array(maxPacketSize + excess);
        const bytes = encodePacket({ type: 'publish', topic: 't', payload, qos: 0, retain: false, dup: false });
        const split = splitAt % (bytes.length + 1);
        const decoder = new MqttDecoder({ maxPacketSize });
        const refused = () => {
          decoder.push(bytes.subarray(0, split));
          decoder.push(bytes.subarray(split));
        };
        expect(refused).toThrow(MqttProtocolError);
        expect(decoder.error?.message).toMatch(/exceeds the maximum/);
        expect(decoder.bufferedBytes).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  test('valid packets pass through a maximum that fits them exactly', () => {
    fc.assert(
      fc.property(anyPacketArb, (packet) => {
        const bytes = encodePacket(packet);
        expect(feed(new MqttDecoder({ maxPacketSize: Math.max(2, bytes.length) }), [bytes])).toEqual({ packets: [packet], errors: 0 });
      }),
      RUNS,
    );
  });
});
