/**
 * SAS tokens against known answers:
 * - [SDK-HUB] azure-sdk-for-c sdk/tests/iot/hub/test_az_iot_hub_client_sas.c: the string to
 *   sign for a device and a module, and the password layout (sr, sig, se, skn);
 * - [SDK-DPS] sdk/tests/iot/provisioning/test_az_iot_provisioning_client_sas.c: the DPS
 *   string to sign (written there with lower-case hex: `%2f`);
 * - [DPS-DOC] "Tutorial: Provision devices using symmetric key enrollment groups"
 *   (MicrosoftDocs/azure-docs articles/iot-dps/how-to-legacy-device-symm-key.md): the derived
 *   device key of registration id sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6;
 * - [NODE-SDK] azure-iot-common's SharedAccessSignature (Microsoft's Node SDK, a dev
 *   dependency): whole tokens for the same inputs.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { SharedAccessSignature } from 'azure-iot-common';
import { encodeUriComponentStrict } from 'azure-iot-common/dist/authorization';
import {
  deriveGroupDeviceKey,
  DPS_SAS_POLICY,
  dpsSasResource,
  generateSasToken,
  hubSasResource,
  parseSasToken,
  sasStringToSign,
  verifySasToken,
} from '../../firmware/iot/azure/sas';
import { AzureError } from '../../firmware/iot/azure/types';
import { nodeCodec } from './support';

const HOST = 'myiothub.azure-devices.net';
const EXPIRY = 1578941692;
const KEY = Buffer.from('a device key of 32 bytes........').toString('base64');

const hmacBase64 = (key: string, message: string): string => createHmac('sha256', Buffer.from(key, 'base64')).update(message, 'utf8').digest('base64');

describe('string to sign', () => {
  test('[SDK-HUB] device and module', () => {
    expect(sasStringToSign(hubSasResource(HOST, 'my_device'), EXPIRY)).toBe('myiothub.azure-devices.net%2Fdevices%2Fmy_device\n1578941692');
    expect(sasStringToSign(hubSasResource(HOST, 'my_device', 'my_module'), EXPIRY)).toBe(
      'myiothub.azure-devices.net%2Fdevices%2Fmy_device%2Fmodules%2Fmy_module\n1578941692',
    );
  });

  test('[SDK-DPS] registration (same characters; this encoder writes upper-case hex, as RFC 3986 recommends)', () => {
    const expected = '0neFEEDC0DE%2fregistrations%2fmyRegistrationId\n1578941692';
    const actual = sasStringToSign(dpsSasResource('0neFEEDC0DE', 'myRegistrationId'), EXPIRY);
    expect(actual).toBe(expected.replace(/%2f/g, '%2F'));
  });

  test('the expiry must be positive whole seconds', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => sasStringToSign('r', bad)).toThrow(AzureError);
  });
});

describe('tokens', () => {
  test('[SDK-HUB] layout: sr, url-encoded sig, se; the signature is HMAC-SHA256 of the string to sign', () => {
    const token = generateSasToken(nodeCodec, { resource: hubSasResource(HOST, 'my_device'), key: KEY, expirySeconds: EXPIRY });
    const signature = hmacBase64(KEY, 'myiothub.azure-devices.net%2Fdevices%2Fmy_device\n1578941692');
    expect(token).toBe(`SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig=${encodeURIComponent(signature)}&se=1578941692`);
  });

  test('[SDK-HUB] with a policy name: &skn= last', () => {
    const token = generateSasToken(nodeCodec, { resource: hubSasResource(HOST, 'my_device', 'my_module'), key: KEY, expirySeconds: EXPIRY, policyName: 'iothubowner' });
    expect(token).toMatch(/^SharedAccessSignature sr=myiothub\.azure-devices\.net%2Fdevices%2Fmy_device%2Fmodules%2Fmy_module&sig=[A-Za-z0-9%]+&se=1578941692&skn=iothubowner$/);
  });

  test('[SDK-HUB] a signature with / and + is URL-encoded (cS1eHM/lDjs... becomes cS1eHM%2FlDjs...)', () => {
    const parsed = parseSasToken('SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig=cS1eHM%2FlDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ&se=1578941692');
    expect(parsed).toEqual({
      resource: 'myiothub.azure-devices.net/devices/my_device',
      rawResource: 'myiothub.azure-devices.net%2Fdevices%2Fmy_device',
      signature: 'cS1eHM/lDjsRsrZV9508wOFrgmZk4g8FNg8NwHVSiSQ',
      expirySeconds: 1578941692,
      policyName: undefined,
    });
  });

  test('[NODE-SDK] the same token as azure-iot-common for a device (exactly) and for DPS with skn=registration (same fields)', () => {
    const resource = hubSasResource(HOST, 'my_device');
    const node = SharedAccessSignature.create(encodeUriComponentStrict(resource), undefined as unknown as string, KEY, EXPIRY).toString();
    expect(generateSasToken(nodeCodec, { resource, key: KEY, expirySeconds: EXPIRY })).toBe(node);

    const dps = dpsSasResource('0ne00000A0A', 'sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6');
    const nodeDps = parseSasToken(SharedAccessSignature.create(encodeUriComponentStrict(dps), DPS_SAS_POLICY, KEY, EXPIRY).toString());
    expect(parseSasToken(generateSasToken(nodeCodec, { resource: dps, key: KEY, expirySeconds: EXPIRY, policyName: DPS_SAS_POLICY }))).toEqual(nodeDps);
  });

  test('[NODE-SDK] agreement on arbitrary resources, keys and expiries', () => {
    fc.assert(
      // Without !'()*, whose escapes the Node SDK writes in lower case: the signature covers sr as sent, so those differ (and both verify).
      fc.property(fc.string({ minLength: 1, maxLength: 40 }).filter((resource) => !/[!'()*]/.test(resource)), fc.uint8Array({ minLength: 16, maxLength: 64 }), fc.integer({ min: 1, max: 2 ** 40 }), (resource, keyBytes, expiry) => {
        const key = Buffer.from(keyBytes).toString('base64');
        const node = SharedAccessSignature.create(encodeUriComponentStrict(resource), undefined as unknown as string, key, expiry).toString();
        const ours = generateSasToken(nodeCodec, { resource, key, expirySeconds: expiry });
        expect(ours).toBe(node);
        expect(verifySasToken(nodeCodec, ours, key, expiry - 1)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('a key that is not base64 is a clear error that does not show the key', () => {
    try {
      generateSasToken(nodeCodec, { resource: 'r', key: 'not base64!', expirySeconds: EXPIRY });
      throw new Error('expected a throw');
    } catch (error) {
      expect(error).toBeInstanceOf(AzureError);
      expect((error as AzureError).code).toBe('bad-key');
      expect((error as AzureError).message).not.toContain('not base64!');
    }
    expect(() => generateSasToken(nodeCodec, { resource: '', key: KEY, expirySeconds: EXPIRY })).toThrow(/resource is empty/);
  });
});

describe('verification (what a hub does)', () => {
  test('accepts a fresh token signed with the key; refuses another key, an expired token, a tampered one, garbage', () => {
    const token = generateSasToken(nodeCodec, { resource: hubSasResource(HOST, 'd1'), key: KEY, expirySeconds: EXPIRY });
    expect(verifySasToken(nodeCodec, token, KEY, EXPIRY - 1)).toBe(true);
    expect(verifySasToken(nodeCodec, token, Buffer.from('another key of 32 bytes.........').toString('base64'), EXPIRY - 1)).toBe(false);
    expect(verifySasToken(nodeCodec, token, KEY, EXPIRY)).toBe(false);
    expect(verifySasToken(nodeCodec, token.replace('d1', 'd2'), KEY, EXPIRY - 1)).toBe(false);
    for (const bad of ['', 'SharedAccessSignature ', 'SharedAccessSignature sr=a&se=1', 'SharedAccessSignature sr=a&sig=b&se=x', 'Bearer x']) {
      expect(parseSasToken(bad)).toBeUndefined();
      expect(verifySasToken(nodeCodec, bad, KEY, 0)).toBe(false);
    }
  });
});

describe('enrollment group key derivation', () => {
  test('[DPS-DOC] known answer', () => {
    expect(
      deriveGroupDeviceKey(nodeCodec, '8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==', 'sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6'),
    ).toBe('Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=');
  });

  test('a broken group key is a clear error', () => {
    expect(() => deriveGroupDeviceKey(nodeCodec, '***', 'r1')).toThrow(/enrollment group key is not valid base64/);
    expect(() => deriveGroupDeviceKey(nodeCodec, KEY, '')).toThrow(AzureError);
  });
});
