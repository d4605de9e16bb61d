/** The `connectTimeoutMs` device setting (firmware/app/config.ts): how long one connection attempt may take. */
import { ConfigError, readAppConfig } from '../../firmware/app/config';

const base = { mqttHost: 'broker.local' };

test.each([
  [undefined, 10_000],
  [60_000, 60_000],
  ['30000', 30_000], // from the command line, as text
  [1000, 1000],
  [300_000, 300_000],
])('connectTimeoutMs %j reads as %i', (connectTimeoutMs, expected) => {
  expect(readAppConfig({ ...base, ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }) }, 'dev-1').connectTimeoutMs).toBe(expected);
});

test.each([[999], [300_001], [1.5], ['soon']])('connectTimeoutMs %j is a ConfigError that gives the range', (connectTimeoutMs) => {
  const read = () => readAppConfig({ ...base, connectTimeoutMs }, 'dev-1');
  expect(read).toThrow(ConfigError);
  expect(read).toThrow(`config "connectTimeoutMs" must be an integer from 1000 to 300000 (got ${JSON.stringify(connectTimeoutMs)})`);
});
