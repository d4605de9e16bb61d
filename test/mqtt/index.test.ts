import * as mqtt from '../../firmware/iot/mqtt/index';

describe('firmware/iot/mqtt public API', () => {
  test('exports the core', () => {
    for (const name of ['MqttSession', 'MqttDecoder', 'ReconnectBackoff', 'encodePacket', 'decodePacket', 'MqttProtocolError', 'MqttSessionError', 'topicNameError', 'topicFilterError', 'encodeUtf8', 'decodeUtf8']) {
      expect(typeof (mqtt as Record<string, unknown>)[name]).toBe('function');
    }
    expect(mqtt.DEFAULT_MAX_PACKET_SIZE).toBe(16_384);
    expect(mqtt.MAX_REMAINING_LENGTH).toBe(268_435_455);
  });
});
