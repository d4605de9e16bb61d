import { MqttProtocolError } from '../../firmware/iot/mqtt/errors';
import { decodeRemainingLength, encodeRemainingLength, MAX_REMAINING_LENGTH, remainingLengthSize } from '../../firmware/iot/mqtt/remaining-length';
import fc from 'fast-check';
import { hex, toHex } from './support';

describe('Remaining Length', () => {
  // MQTT 3.1.1 table 2.4, plus both ends of every size.
  test.each([
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '80 01'],
    [16_383, 'ff 7f'],
    [16_384, '80 80 01'],
    [2_097_151, 'ff ff 7f'],
    [2_097_152, '80 80 80 01'],
    [268_435_455, 'ff ff ff 7f'],
  ])('%i <-> %s', (value, bytes) => {
    expect(toHex(encodeRemainingLength(value))).toBe(bytes);
    expect(remainingLengthSize(value)).toBe(hex(bytes).length);
    expect(decodeRemainingLength(hex(bytes), 0, hex(bytes).length)).toEqual({ value, size: hex(bytes).length });
  });

  test.each([268_435_456, -1, 1.5, Number.NaN])('refuses %d', (value) => {
    expect(() => encodeRemainingLength(value)).toThrow(MqttProtocolError);
  });

  test('incomplete lengths ask for more bytes', () => {
    expect(decodeRemainingLength(hex('80 80'), 0, 2)).toBeUndefined();
    expect(decodeRemainingLength(hex(''), 0, 0)).toBeUndefined();
  });

  test('a fifth length byte is malformed', () => {
    expect(() => decodeRemainingLength(hex('80 80 80 80 01'), 0, 5)).toThrow('remaining length runs past 4 bytes');
  });

  test('round-trips every value in range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_REMAINING_LENGTH }), (value) => {
        const bytes = encodeRemainingLength(value);
        expect(decodeRemainingLength(bytes, 0, bytes.length)).toEqual({ value, size: bytes.length });
      }),
    );
  });
});
