/**
 * C2D messages: the property bag of `devices/{deviceId}/messages/devicebound/{property_bag}`
 * (azure-sdk-for-c test_az_iot_hub_client_c2d.c topics; the MQTT article's null/empty/value table).
 */
import { parseC2dMessage } from '../../firmware/iot/azure/c2d';
import { utf8 } from './support';

describe('parseC2dMessage', () => {
  test('[SDK] system properties are typed fields; application properties by name', () => {
    const payload = utf8('hello');
    const parsed = parseC2dMessage(
      'devices/useragent_c/messages/devicebound/%24.mid=79eadb01-bd0d-472d-bd35-ccb76e70eab8&%24.to=%2Fdevices%2Fuseragent_c%2Fmessages%2FdeviceBound&iothub-ack=full&abc=123',
      payload,
      'useragent_c',
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const message = parsed.value;
    expect(message.deviceId).toBe('useragent_c');
    expect(message.payload).toBe(payload);
    expect(message.messageId).toBe('79eadb01-bd0d-472d-bd35-ccb76e70eab8');
    expect(message.to).toBe('/devices/useragent_c/messages/deviceBound');
    expect(message.ack).toBe('full');
    expect({ ...message.properties }).toEqual({ abc: '123' });
    expect({ ...message.system }).toEqual({ '$.mid': '79eadb01-bd0d-472d-bd35-ccb76e70eab8', '$.to': '/devices/useragent_c/messages/deviceBound' });
    expect(message.entries).toHaveLength(4);
  });

  test('every documented system property; unknown $. names stay in system', () => {
    const parsed = parseC2dMessage(
      'devices/d1/messages/devicebound/$.mid=m&$.cid=c&$.to=t&$.exp=2030-01-01T00%3A00%3A00Z&$.uid=u&$.ct=application%2Fjson&$.ce=utf-8&$.ctime=2029-01-01T00%3A00%3A00Z&$.future=f',
      new Uint8Array(0),
    );
    expect(parsed).toMatchObject({
      ok: true,
      value: {
        messageId: 'm',
        correlationId: 'c',
        to: 't',
        expiryTimeUtc: '2030-01-01T00:00:00Z',
        userId: 'u',
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        creationTimeUtc: '2029-01-01T00:00:00Z',
      },
    });
    expect(parsed.ok && parsed.value.system['$.future']).toBe('f');
  });

  test('[MQTT] null and empty values; names that would be dangerous on a plain object are just names', () => {
    const parsed = parseC2dMessage('devices/d1/messages/devicebound/?prop1&prop2=&prop3=a%20string&__proto__=x&constructor', new Uint8Array(0));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.properties.prop1).toBeNull();
    expect(parsed.value.properties.prop2).toBe('');
    expect(parsed.value.properties.prop3).toBe('a string');
    expect(parsed.value.properties['__proto__']).toBe('x');
    expect(parsed.value.properties['constructor']).toBeNull();
    expect(({} as { x?: unknown }).x).toBeUndefined();
  });

  test('no properties; other topics; another device; malformed bag', () => {
    expect(parseC2dMessage('devices/d1/messages/devicebound/', new Uint8Array(0))).toMatchObject({ ok: true, value: { deviceId: 'd1', entries: [] } });
    expect(parseC2dMessage('$iothub/methods/POST/foo/?$rid=one', new Uint8Array(0))).toMatchObject({ ok: false, error: { code: 'no-match' } });
    expect(parseC2dMessage('devices/d2/messages/devicebound/', new Uint8Array(0), 'd1')).toMatchObject({ ok: false, error: { code: 'no-match' } });
    expect(parseC2dMessage('devices/d1/messages/devicebound/a=%G0', new Uint8Array(0))).toMatchObject({ ok: false, error: { code: 'malformed' } });
  });
});
