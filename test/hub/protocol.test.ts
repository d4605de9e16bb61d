/** SAS tokens and topics (hub/sas.ts, hub/topics.ts), cross-checked with Azure's Node SDK where it has the same code. */
import { SharedAccessSignature } from 'azure-iot-device';
import { createHmac } from 'node:crypto';
import { createSasToken, deriveDeviceKey, isValidSymmetricKey, matchingKey, parseSasToken, SasError } from '../../hub/sas';
import {
  formatPropertyBag,
  hubSubscriptionAllowed,
  parseDpsPublish,
  parseDpsUsername,
  parseHubDevicePublish,
  parseHubUsername,
  parsePropertyBag,
  TELEMETRY_SYSTEM_PROPERTIES,
  topicMatches,
} from '../../hub/topics';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');

describe('SAS tokens', () => {
  test('our token for a device is the one azure-iot-device makes', () => {
    const ours = createSasToken({ resourceUri: 'hub.local/devices/dev 1', key: KEY, expiry: 2000000000 });
    const theirs = SharedAccessSignature.create('hub.local', 'dev 1', KEY, 2000000000).toString();
    const fields = (token: string) => Object.fromEntries(token.slice('SharedAccessSignature '.length).split('&').map((f) => f.split('=')));
    expect(fields(ours)).toEqual(fields(theirs));
  });

  test('tokens from azure-iot-device verify, with either key; a wrong key does not', () => {
    const token = parseSasToken(SharedAccessSignature.create('hub.local', 'dev1', KEY, 2000000000).toString());
    expect(token.resource).toBe('hub.local/devices/dev1');
    expect(token.expiry).toBe(2000000000);
    const other = Buffer.alloc(32, 1).toString('base64');
    expect(matchingKey(token, [KEY, other])).toBe(0);
    expect(matchingKey(token, [other, KEY])).toBe(1);
    expect(matchingKey(token, [other, undefined])).toBe(-1);
  });

  test('a signature over the unencoded resource (as the DPS symmetric-key client signs) verifies too', () => {
    const sr = '0ne00000001/registrations/reg-1';
    const sig = encodeURIComponent(createHmac('sha256', Buffer.from(KEY, 'base64')).update(`${sr}\n2000000000`).digest('base64'));
    const token = parseSasToken(`SharedAccessSignature sr=${sr}&sig=${sig}&skn=registration&se=2000000000`);
    expect(token.keyName).toBe('registration');
    expect(matchingKey(token, [KEY])).toBe(0);
  });

  test.each([
    ['hunter2', /must start with "SharedAccessSignature "/],
    ['SharedAccessSignature sr=a&se=1', /no "sig" field/],
    ['SharedAccessSignature sr=a&sig=AAAA&se=soon', /not a whole number/],
    ['SharedAccessSignature sr=a&sig=%%%&se=1', /not valid URL encoding/],
    ['SharedAccessSignature sr=a&sig=AAAA&se=1&se=2', /twice/],
    ['SharedAccessSignature sr=a&sig=!!!!&se=1', /not base64/],
  ])('%s is refused: %s', (text, message) => {
    expect(() => parseSasToken(text)).toThrow(SasError);
    expect(() => parseSasToken(text)).toThrow(message);
  });

  test('group-derived keys: base64 HMAC-SHA256 of the registration id under the group key', () => {
    expect(deriveDeviceKey(KEY, 'sensor-1')).toBe(createHmac('sha256', Buffer.from(KEY, 'base64')).update('sensor-1').digest('base64'));
  });

  test('symmetric keys are base64 of 16 to 64 bytes', () => {
    expect(isValidSymmetricKey(KEY)).toBe(true);
    expect(isValidSymmetricKey(Buffer.alloc(15).toString('base64'))).toBe(false);
    expect(isValidSymmetricKey(Buffer.alloc(65).toString('base64'))).toBe(false);
    expect(isValidSymmetricKey('not base64!')).toBe(false);
  });
});

describe('user names', () => {
  test.each([
    ['hub.local/dev1/?api-version=2021-04-12', 'dev1'],
    ['hub.local/dev1/api-version=2020-09-30&DeviceClientType=azure-iot-device%2F1.18.4', 'dev1'],
    ['hub.local/dev1', 'dev1'],
    ['hub.local/dev1/', 'dev1'],
    ["hub.local/a:b.c+d%e_f#g*h?i!j(k)l,m=n@o;p$q'r/?api-version=2021-04-12", "a:b.c+d%e_f#g*h?i!j(k)l,m=n@o;p$q'r"],
  ])('%s names device %s', (username, deviceId) => {
    const parsed = parseHubUsername(username);
    expect(parsed).toEqual(expect.objectContaining({ ok: true, hostName: 'hub.local', deviceId }));
  });

  test('the api-version is read from either form', () => {
    const a = parseHubUsername('hub.local/d/?api-version=2021-04-12');
    const b = parseHubUsername('hub.local/d/api-version=2020-09-30&DeviceClientType=x');
    expect(a.ok && a.query.get('api-version')).toBe('2021-04-12');
    expect(b.ok && b.query.get('api-version')).toBe('2020-09-30');
  });

  test.each([undefined, '', 'hub.local', 'hub.local/', '/dev1', 'hub.local/dev1/module1/?api-version=1'])('%s is not a device user name', (username) => {
    expect(parseHubUsername(username).ok).toBe(false);
  });

  test('DPS user names', () => {
    expect(parseDpsUsername('0ne001/registrations/reg-1/api-version=2019-03-31&ClientVersion=x')).toEqual(expect.objectContaining({ ok: true, idScope: '0ne001', registrationId: 'reg-1' }));
    expect(parseDpsUsername('0ne001/registrations/').ok).toBe(false);
  });
});

describe('topics', () => {
  test('property bags: parse and format as IoT Hub does (null → name only, "" → name=)', () => {
    const bag = formatPropertyBag([['$.mid', 'm 1'], ['a', null], ['b', ''], ['c', 'x&y=z']]);
    expect(bag).toBe('%24.mid=m%201&a&b=&c=x%26y%3Dz');
    expect(parsePropertyBag(bag)).toEqual([['$.mid', 'm 1'], ['a', null], ['b', ''], ['c', 'x&y=z']]);
    expect(parsePropertyBag('?a=1')).toEqual([['a', '1']]);
  });

  test('telemetry topics, with and without a property bag', () => {
    expect(parseHubDevicePublish('devices/d/messages/events/', 'd')).toEqual({ kind: 'telemetry', properties: {}, systemProperties: {} });
    expect(parseHubDevicePublish('devices/d/messages/events', 'd')).toEqual({ kind: 'telemetry', properties: {}, systemProperties: {} });
    expect(parseHubDevicePublish('devices/d/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8&x=1', 'd')).toEqual({
      kind: 'telemetry',
      properties: { x: '1' },
      systemProperties: { contentType: 'application/json', contentEncoding: 'utf-8' },
    });
  });

  test('$.ctime (the reading\'s creation time) is a system property, creationTimeUtc', () => {
    const topic = 'devices/d/messages/events/%24.mid=d-0000abcd-7&%24.ctime=2025-03-14T09%3A26%3A53.589Z&unit=C';
    expect(parseHubDevicePublish(topic, 'd')).toEqual({
      kind: 'telemetry',
      properties: { unit: 'C' },
      systemProperties: { messageId: 'd-0000abcd-7', creationTimeUtc: '2025-03-14T09:26:53.589Z' },
    });
    expect(TELEMETRY_SYSTEM_PROPERTIES['$.ctime']).toBe('creationTimeUtc');
  });

  test('request topics and their request ids', () => {
    expect(parseHubDevicePublish('$iothub/twin/GET/?$rid=12', 'd')).toEqual({ kind: 'twinGet', rid: '12' });
    expect(parseHubDevicePublish('$iothub/twin/PATCH/properties/reported/?$rid=ab&$version=3', 'd')).toEqual({ kind: 'twinPatchReported', rid: 'ab', ifVersion: '3' });
    expect(parseHubDevicePublish('$iothub/methods/res/200/?$rid=7', 'd')).toEqual({ kind: 'methodResponse', status: 200, rid: '7' });
    expect(parseHubDevicePublish('$iothub/methods/res/ok/?$rid=7', 'd').kind).toBe('refused');
    expect(parseDpsPublish('$dps/registrations/PUT/iotdps-register/?$rid=1')).toEqual({ kind: 'dpsRegister', rid: '1' });
    expect(parseDpsPublish('$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=op')).toEqual({ kind: 'dpsQuery', rid: '2', operationId: 'op' });
  });

  test('subscription filters', () => {
    expect(hubSubscriptionAllowed('devices/d/messages/devicebound/#', 'd').ok).toBe(true);
    expect(hubSubscriptionAllowed('$iothub/methods/POST/reboot/#', 'd').ok).toBe(true);
    expect(hubSubscriptionAllowed('devices/+/messages/devicebound/#', 'd').ok).toBe(false);
    expect(hubSubscriptionAllowed('$iothub/twin/#', 'd').ok).toBe(false);
    expect(topicMatches('$iothub/methods/POST/#', '$iothub/methods/POST/reboot/?$rid=1')).toBe(true);
    expect(topicMatches('devices/d/messages/devicebound/#', 'devices/d/messages/devicebound/')).toBe(true);
    expect(topicMatches('a/+/c', 'a/b/c')).toBe(true);
    expect(topicMatches('a/+/c', 'a/b/d')).toBe(false);
    expect(topicMatches('a/b', 'a/b/c')).toBe(false);
  });
});
