/** The `payloadFormat` device setting (firmware/app/config.ts). */
import { ConfigError, readAppConfig } from '../../firmware/app/config';

const base = { mqttHost: 'broker.local' };

test.each([
  [undefined, 'json'],
  ['', 'json'],
  ['json', 'json'],
  ['cbor', 'cbor'],
])('payloadFormat %j reads as %s', (payloadFormat, expected) => {
  expect(readAppConfig({ ...base, ...(payloadFormat === undefined ? {} : { payloadFormat }) }, 'dev-1').payloadFormat).toBe(expected);
});

test.each([['CBOR'], ['xml'], [1], [true]])('payloadFormat %j is a ConfigError that names the choices', (payloadFormat) => {
  const read = () => readAppConfig({ ...base, payloadFormat }, 'dev-1');
  expect(read).toThrow(ConfigError);
  expect(read).toThrow(`config "payloadFormat" must be "json" or "cbor" (got ${JSON.stringify(payloadFormat)})`);
});
