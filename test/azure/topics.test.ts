/**
 * Topic builders and parsers against Azure's documented examples:
 * - [MQTT] "Communicate with an IoT hub using the MQTT protocol" (MicrosoftDocs/azure-docs,
 *   articles/iot/iot-mqtt-connect-to-iot-hub.md);
 * - [DPS] "Communicate with your DPS using the MQTT protocol" (articles/iot-dps/iot-dps-mqtt-support.md);
 * - [SDK] azure-sdk-for-c tests: sdk/tests/iot/hub/test_az_iot_hub_client_twin.c,
 *   test_az_iot_hub_client_c2d.c, test_az_iot_hub_client_methods.c and
 *   sdk/tests/iot/provisioning/test_az_iot_provisioning_client_parser.c.
 */
import fc from 'fast-check';
import {
  c2dSubscribeFilter,
  dpsClientId,
  dpsPollTopic,
  dpsRegisterTopic,
  dpsUsername,
  hubClientId,
  hubUsername,
  methodResponseTopic,
  METHODS_FILTER,
  parseC2dTopic,
  parseDpsTopic,
  parseMethodTopic,
  parseTwinTopic,
  telemetryTopic,
  TWIN_DESIRED_FILTER,
  TWIN_RESPONSE_FILTER,
  twinGetTopic,
  twinPatchTopic,
  DPS_RESPONSE_FILTER,
} from '../../firmware/iot/azure/topics';
import { AzureError } from '../../firmware/iot/azure/types';
import { isValidTopicFilter, isValidTopicName } from '../../firmware/iot/mqtt/topic';

const device = { hostName: 'contoso.azure-devices.net', deviceId: 'MyDevice01' };

describe('connecting to IoT Hub', () => {
  test('[MQTT] client id is the device id; user name {hub}/{device}/?api-version=2021-04-12', () => {
    expect(hubClientId(device)).toBe('MyDevice01');
    expect(hubUsername(device)).toBe('contoso.azure-devices.net/MyDevice01/?api-version=2021-04-12');
  });

  test('[MQTT] a module: client id {device}/{module}, user name with the module', () => {
    const module = { ...device, moduleId: 'filter' };
    expect(hubClientId(module)).toBe('MyDevice01/filter');
    expect(hubUsername(module)).toBe('contoso.azure-devices.net/MyDevice01/filter/?api-version=2021-04-12');
  });

  test('[SDK] an IoT Plug and Play model id is appended URL-encoded as &model-id=', () => {
    expect(hubUsername({ ...device, modelId: 'dtmi:com:example:Thermostat;1' })).toBe(
      'contoso.azure-devices.net/MyDevice01/?api-version=2021-04-12&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1',
    );
  });

  test('identifiers IoT Hub or MQTT would refuse are clear errors', () => {
    expect(() => hubClientId({ ...device, deviceId: '' })).toThrow(AzureError);
    expect(() => hubClientId({ ...device, deviceId: 'a/b' })).toThrow(/1 to 128 ASCII/);
    expect(() => hubClientId({ ...device, deviceId: 'a+b' })).toThrow(/wildcards in MQTT/);
    expect(() => hubClientId({ ...device, deviceId: 'x'.repeat(129) })).toThrow(/1 to 128/);
    expect(() => hubUsername({ ...device, hostName: '' })).toThrow(/host name/);
    expect(hubClientId({ ...device, deviceId: "dev-1.a_b:c=d@e$f'g(h)!*" })).toBe("dev-1.a_b:c=d@e$f'g(h)!*");
  });
});

describe('device-to-cloud messages', () => {
  test('[MQTT] without properties: devices/{device}/messages/events/', () => {
    expect(telemetryTopic(device)).toBe('devices/MyDevice01/messages/events/');
    expect(telemetryTopic({ ...device, moduleId: 'm1' })).toBe('devices/MyDevice01/modules/m1/messages/events/');
  });

  test('[MQTT] content type application/json;charset=utf-8 is URL-encoded in the bag', () => {
    // The article's routing example: devices/{device-id}/messages/events/$.ct=application%2Fjson%3Bcharset%3Dutf-8
    // (this encoder writes the name's $ as %24, as azure-sdk-for-c's AZ_IOT_MESSAGE_PROPERTIES_CONTENT_TYPE "%24.ct" and the Node SDK do).
    expect(telemetryTopic(device, { contentType: 'application/json;charset=utf-8' })).toBe(
      'devices/MyDevice01/messages/events/%24.ct=application%2Fjson%3Bcharset%3Dutf-8',
    );
  });

  test('system properties in a fixed order, then application properties, RFC 3986-encoded', () => {
    const topic = telemetryTopic(
      device,
      {
        contentEncoding: 'utf-8',
        contentType: 'application/json',
        messageId: 'm 1',
        correlationId: 'c/1',
        creationTimeUtc: '2024-01-02T03:04:05.000Z',
        userId: 'u',
        expiryTimeUtc: '2024-01-03T00:00:00Z',
        componentName: 'thermostat1',
      },
      { alert: 'high temp', 'é': '€', empty: '' },
    );
    expect(topic).toBe(
      'devices/MyDevice01/messages/events/' +
        '%24.mid=m%201&%24.cid=c%2F1&%24.ct=application%2Fjson&%24.ce=utf-8&%24.ctime=2024-01-02T03%3A04%3A05.000Z' +
        '&%24.uid=u&%24.exp=2024-01-03T00%3A00%3A00Z&%24.sub=thermostat1&alert=high%20temp&%C3%A9=%E2%82%AC&empty=',
    );
    expect(isValidTopicName(topic)).toBe(true);
  });

  test('application property names starting with $ are refused (IoT Hub keeps them for system properties)', () => {
    expect(() => telemetryTopic(device, {}, { '$.mid': 'x' })).toThrow(/starts with \$/);
    expect(() => telemetryTopic(device, {}, { '': 'x' })).toThrow(/non-empty name/);
  });
});

describe('cloud-to-device messages', () => {
  test('[MQTT] subscription devices/{device}/messages/devicebound/#', () => {
    expect(c2dSubscribeFilter(device)).toBe('devices/MyDevice01/messages/devicebound/#');
    expect(isValidTopicFilter(c2dSubscribeFilter(device))).toBe(true);
  });

  test('[SDK] url-decoded bag: $.mid, $.to with slashes, application property', () => {
    const parsed = parseC2dTopic(
      'devices/useragent_c/messages/devicebound/$.mid=79eadb01-bd0d-472d-bd35-ccb76e70eab8&$.to=/devices/useragent_c/messages/deviceBound&abc=123',
    );
    expect(parsed).toEqual({
      ok: true,
      value: {
        deviceId: 'useragent_c',
        properties: [
          { name: '$.mid', value: '79eadb01-bd0d-472d-bd35-ccb76e70eab8' },
          { name: '$.to', value: '/devices/useragent_c/messages/deviceBound' },
          { name: 'abc', value: '123' },
        ],
      },
    });
  });

  test('[SDK] url-encoded bag is decoded (names too)', () => {
    const parsed = parseC2dTopic(
      'devices/useragent_c/messages/devicebound/%24.to=%2Fdevices%2Fuseragent_c%2Fmessages%2FdeviceBound&abc=123&ghi=%2Fsome%2Fthing&jkl=%2Fsome%2Fthing%2F%3Fbla%3Dbla',
    );
    expect(parsed.ok && parsed.value.properties).toEqual([
      { name: '$.to', value: '/devices/useragent_c/messages/deviceBound' },
      { name: 'abc', value: '123' },
      { name: 'ghi', value: '/some/thing' },
      { name: 'jkl', value: '/some/thing/?bla=bla' },
    ]);
  });

  test('[SDK] no properties; [MQTT] null, empty and string values (/?prop1&prop2=&prop3=a%20string)', () => {
    expect(parseC2dTopic('devices/useragent_c/messages/devicebound/')).toEqual({ ok: true, value: { deviceId: 'useragent_c', properties: [] } });
    const parsed = parseC2dTopic('devices/d1/messages/devicebound/?prop1&prop2=&prop3=a%20string');
    expect(parsed.ok && parsed.value.properties).toEqual([
      { name: 'prop1', value: null },
      { name: 'prop2', value: '' },
      { name: 'prop3', value: 'a string' },
    ]);
  });

  test('[SDK] other topics do not match; a topic for another device does not match', () => {
    expect(parseC2dTopic('$iothub/methods/POST/foo/?$rid=one')).toMatchObject({ ok: false, error: { code: 'no-match' } });
    expect(parseC2dTopic('devices/useragent_c/message#$vicebound/a=1')).toMatchObject({ ok: false, error: { code: 'no-match' } });
    expect(parseC2dTopic('devices/other/messages/devicebound/', 'MyDevice01')).toMatchObject({ ok: false, error: { code: 'no-match' } });
    expect(parseC2dTopic('devices/MyDevice01/messages/deviceboundx')).toMatchObject({ ok: false, error: { code: 'no-match' } });
  });

  test('broken bags are malformed with a message, never a throw', () => {
    expect(parseC2dTopic('devices/d/messages/devicebound/a=%zz')).toMatchObject({ ok: false, error: { code: 'malformed', message: expect.stringMatching(/%-escape/) } });
    expect(parseC2dTopic('devices/d/messages/devicebound/a=%C3')).toMatchObject({ ok: false, error: { code: 'malformed' } });
    expect(parseC2dTopic('devices/d/messages/devicebound/=x')).toMatchObject({ ok: false, error: { code: 'malformed', message: expect.stringMatching(/empty name/) } });
    expect(parseC2dTopic('devices//messages/devicebound/')).toMatchObject({ ok: false, error: { code: 'malformed' } });
  });
});

describe('device twin', () => {
  test('[MQTT] subscriptions and request topics', () => {
    expect(TWIN_RESPONSE_FILTER).toBe('$iothub/twin/res/#');
    expect(TWIN_DESIRED_FILTER).toBe('$iothub/twin/PATCH/properties/desired/#');
    // [SDK] test_correct_twin_get_request_topic and test_correct_twin_patch_pub_topic
    expect(twinGetTopic('id_one')).toBe('$iothub/twin/GET/?$rid=id_one');
    expect(twinPatchTopic('id_one')).toBe('$iothub/twin/PATCH/properties/reported/?$rid=id_one');
    expect(() => twinGetTopic('a/b')).toThrow(AzureError);
  });

  test('[SDK] GET response $iothub/twin/res/200/?$rid=id_one', () => {
    expect(parseTwinTopic('$iothub/twin/res/200/?$rid=id_one')).toEqual({ ok: true, value: { kind: 'response', status: 200, requestId: 'id_one', version: undefined } });
  });

  test('[SDK][MQTT] reported response with $version: $iothub/twin/res/204/?$rid=1&$version=6', () => {
    expect(parseTwinTopic('$iothub/twin/res/204/?$rid=id_one&$version=16')).toEqual({ ok: true, value: { kind: 'response', status: 204, requestId: 'id_one', version: 16 } });
    expect(parseTwinTopic('$iothub/twin/res/204/?$rid=1&$version=6')).toMatchObject({ ok: true, value: { status: 204, requestId: '1', version: 6 } });
  });

  test('[MQTT] desired notification $iothub/twin/PATCH/properties/desired/?$version={new-version}', () => {
    expect(parseTwinTopic('$iothub/twin/PATCH/properties/desired/?$version=8')).toEqual({ ok: true, value: { kind: 'desired', version: 8 } });
  });

  test('[SDK] failures: wrong feature, incomplete, other prefix; never a throw', () => {
    expect(parseTwinTopic('$iothub/twin/rez/200')).toMatchObject({ ok: false, error: { code: 'no-match' } });
    expect(parseTwinTopic('$iothub/contoso/res/200')).toMatchObject({ ok: false, error: { code: 'no-match' } });
    expect(parseTwinTopic('$iothub/twin/res/200')).toMatchObject({ ok: false, error: { code: 'malformed' } });
    // The SDK test's "$version=id_one" is not a version number here: versions are integers.
    expect(parseTwinTopic('$iothub/twin/PATCH/properties/desired/?$version=id_one')).toMatchObject({ ok: false, error: { code: 'malformed' } });
    expect(parseTwinTopic('$iothub/twin/res/abc/?$rid=1')).toMatchObject({ ok: false, error: { code: 'malformed', message: expect.stringMatching(/three-digit/) } });
    expect(parseTwinTopic('$iothub/twin/res/200/?$version=3')).toMatchObject({ ok: false, error: { code: 'malformed', message: expect.stringMatching(/no \$rid/) } });
    expect(parseTwinTopic('$iothub/twin/res/204/?$rid=1&$version=x')).toMatchObject({ ok: false, error: { code: 'malformed' } });
    expect(parseTwinTopic('$iothub/twin/PATCH/properties/desired/')).toMatchObject({ ok: false, error: { code: 'malformed' } });
  });
});

describe('direct methods', () => {
  test('[MQTT] subscription, request and response topics', () => {
    expect(METHODS_FILTER).toBe('$iothub/methods/POST/#');
    expect(parseMethodTopic('$iothub/methods/POST/reboot/?$rid=1')).toEqual({ ok: true, value: { name: 'reboot', requestId: '1' } });
    expect(methodResponseTopic(200, '1')).toBe('$iothub/methods/res/200/?$rid=1');
  });

  test('[SDK] $iothub/methods/POST/TestMethod/?$rid=1; responses $iothub/methods/res/200/?$rid=2 and user status 65535; request ids echoed raw', () => {
    expect(parseMethodTopic('$iothub/methods/POST/TestMethod/?$rid=1')).toMatchObject({ ok: true, value: { name: 'TestMethod', requestId: '1' } });
    expect(methodResponseTopic(200, '2')).toBe('$iothub/methods/res/200/?$rid=2');
    expect(methodResponseTopic(65535, '2')).toBe('$iothub/methods/res/65535/?$rid=2');
    // The SDK's no-match cases: twin responses and method responses are not requests; the filter itself is not a request either.
    expect(parseMethodTopic('$iothub/twin/res/200/?$rid=2')).toMatchObject({ ok: false, error: { code: 'no-match' } });
    expect(parseMethodTopic('$iothub/twin/res/204/?$rid=4&$version=3')).toMatchObject({ ok: false, error: { code: 'no-match' } });
    expect(parseMethodTopic('$iothub/methods/res/200/?$rid=2')).toMatchObject({ ok: false, error: { code: 'no-match' } });
    expect(parseMethodTopic('$iothub/methods/POST/#')).toMatchObject({ ok: false });
    expect(parseMethodTopic('$iothub/methods/POST/m/?$rid=a%20b')).toMatchObject({ ok: true, value: { requestId: 'a%20b' } });
  });

  test('malformed method topics', () => {
    expect(parseMethodTopic('$iothub/methods/POST/')).toMatchObject({ ok: false, error: { code: 'malformed' } });
    expect(parseMethodTopic('$iothub/methods/POST//?$rid=1')).toMatchObject({ ok: false, error: { code: 'malformed', message: expect.stringMatching(/no method name/) } });
    expect(parseMethodTopic('$iothub/methods/POST/a/b/?$rid=1')).toMatchObject({ ok: false, error: { code: 'malformed' } });
    expect(parseMethodTopic('$iothub/methods/POST/a/?x=1')).toMatchObject({ ok: false, error: { code: 'malformed', message: expect.stringMatching(/no \$rid/) } });
    expect(parseMethodTopic('$iothub/twin/res/200/?$rid=1')).toMatchObject({ ok: false, error: { code: 'no-match' } });
    expect(() => methodResponseTopic(65536, '1')).toThrow(AzureError);
    expect(() => methodResponseTopic(-1, '1')).toThrow(AzureError);
    expect(() => methodResponseTopic(200.5, '1')).toThrow(AzureError);
  });
});

describe('Device Provisioning Service', () => {
  test('[DPS] client id, user name, subscription, register and poll topics', () => {
    expect(dpsClientId('myRegistrationId')).toBe('myRegistrationId');
    expect(dpsUsername('0neFEEDC0DE', 'myRegistrationId')).toBe('0neFEEDC0DE/registrations/myRegistrationId/api-version=2019-03-31');
    expect(DPS_RESPONSE_FILTER).toBe('$dps/registrations/res/#');
    expect(dpsRegisterTopic('1')).toBe('$dps/registrations/PUT/iotdps-register/?$rid=1');
    expect(dpsPollTopic('1', '4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d')).toBe(
      '$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1&operationId=4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d',
    );
  });

  test('[SDK] 202 with retry-after, parameters in either order; 200; 401', () => {
    expect(parseDpsTopic('$dps/registrations/res/202/?$rid=1&retry-after=3')).toEqual({ ok: true, value: { status: 202, requestId: '1', retryAfterSeconds: 3 } });
    expect(parseDpsTopic('$dps/registrations/res/202/?retry-after=120&$rid=1')).toEqual({ ok: true, value: { status: 202, requestId: '1', retryAfterSeconds: 120 } });
    expect(parseDpsTopic('$dps/registrations/res/200/?$rid=1')).toEqual({ ok: true, value: { status: 200, requestId: '1', retryAfterSeconds: undefined } });
    expect(parseDpsTopic('$dps/registrations/res/401/?$rid=1')).toMatchObject({ ok: true, value: { status: 401 } });
  });

  test('[SDK] $dps/registrations/unknown does not match; broken responses are malformed', () => {
    expect(parseDpsTopic('$dps/registrations/unknown')).toMatchObject({ ok: false, error: { code: 'no-match' } });
    expect(parseDpsTopic('$dps/registrations/res/20x/?$rid=1')).toMatchObject({ ok: false, error: { code: 'malformed' } });
    expect(parseDpsTopic('$dps/registrations/res/202/?$rid=1&retry-after=soon')).toMatchObject({ ok: false, error: { code: 'malformed' } });
    expect(parseDpsTopic('$dps/registrations/res/202/?retry-after=3')).toMatchObject({ ok: false, error: { code: 'malformed', message: expect.stringMatching(/no \$rid/) } });
  });

  test('registration ids and ID scopes DPS would refuse are clear errors', () => {
    expect(() => dpsUsername('0ne000', 'bad id')).toThrow(/registration id/);
    expect(() => dpsUsername('0ne000', 'ends-with.')).toThrow(/end in/);
    expect(() => dpsUsername('0ne/000', 'ok')).toThrow(/ID scope/);
    expect(dpsClientId('sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6')).toBe('sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6');
  });
});

describe('parsers never throw', () => {
  test('on arbitrary topics', () => {
    const prefixes = ['', '$iothub/twin/res/', '$iothub/twin/PATCH/properties/desired/', '$iothub/methods/POST/', '$dps/registrations/res/', 'devices/d/messages/devicebound/'];
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), fc.string({ unit: fc.constantFrom('a', '1', '2', '0', '/', '?', '&', '=', '%', '$', 'r', 'i', 'd', 'F', 'é', '\uD800') }), (prefix, rest) => {
        const topic = prefix + rest;
        for (const parse of [parseTwinTopic, parseMethodTopic, parseDpsTopic, (t: string) => parseC2dTopic(t)]) {
          const result = parse(topic);
          expect(typeof result.ok).toBe('boolean');
          if (!result.ok) expect(result.error.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
