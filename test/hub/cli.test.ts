/** `thingkit hub ...` (cli/hub-commands.ts), run in-process: the server, and the client commands over HTTP. */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { hubCommand, type HubCommandIo } from '../../cli/hub-commands';
import type { Hub } from '../../hub/hub';
import { tempDir } from './support';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(...argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await hubCommand(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

/** Starts `thingkit hub` in-process; returns the hub and a stop function resolving with the command's result. */
async function serve(...argv: string[]): Promise<{ hub: Hub; stop: () => Promise<Run>; output: () => string }> {
  const controller = new AbortController();
  let stdout = '';
  let stderr = '';
  let started!: (hub: Hub) => void;
  const hubReady = new Promise<Hub>((resolve) => (started = resolve));
  const io: HubCommandIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {}, signal: controller.signal, onStarted: (hub) => started(hub) };
  const done = hubCommand(argv, io);
  const hub = await Promise.race([hubReady, done.then((code) => Promise.reject(new Error(`thingkit hub exited with ${code}: ${stderr}`)))]);
  return {
    hub,
    output: () => stdout,
    stop: async () => {
      controller.abort();
      const code = await done;
      return { code, stdout, stderr };
    },
  };
}

describe('thingkit hub', () => {
  const dir = tempDir('thingkit-cli-hub-');
  const data = path.join(dir, 'hub.db');
  let server: Awaited<ReturnType<typeof serve>>;
  let hubUrl: string;

  beforeAll(async () => {
    server = await serve('--data', data, '--mqtt-port', '0', '--http-port', '0', '--ota-port', '0');
    hubUrl = server.hub.httpUrl;
  });

  afterAll(async () => {
    await server?.stop();
  });

  test('starts with TLS and a development PKI under the data folder, and says how to reach it', () => {
    expect(existsSync(path.join(dir, 'pki', 'ca.cert.pem'))).toBe(true);
    expect(server.hub.mqttUrl).toMatch(/^mqtts:\/\/127.0.0.1:\d+$/);
    const out = server.output();
    expect(out).toContain(`MQTT      ${server.hub.mqttUrl}`);
    expect(out).toContain(`HTTP API  ${hubUrl}`);
    expect(out).toContain(`OTA       ${server.hub.otaUrl}/ota/images/`);
    expect(server.hub.otaUrl).toMatch(/^https:\/\/127.0.0.1:\d+$/);
    expect(out).toContain(path.join(dir, 'pki', 'ca.cert.pem'));
    expect(out).toContain('ID scope  0ne00000001');
  });

  test('device create | list | get | disable | enable | delete', async () => {
    const created = await run('device', 'create', 'cli-dev', '--hub', hubUrl);
    expect(created).toEqual(expect.objectContaining({ code: 0, stderr: '' }));
    expect(created.stdout).toMatch(/created device cli-dev \(sas\)/);
    expect(created.stdout).toMatch(/connection string: HostName=thingkit-hub.local;DeviceId=cli-dev;SharedAccessKey=.+;GatewayHostName=127.0.0.1:\d+/);
    const x509 = await run('device', 'create', 'cli-x509', '--x509', 'ab'.repeat(32), '--hub', hubUrl, '--json');
    expect(JSON.parse(x509.stdout).authentication.type).toBe('selfSigned');
    const list = await run('device', 'list', '--json', '--hub', hubUrl);
    expect(JSON.parse(list.stdout).map((d: { deviceId: string }) => d.deviceId)).toEqual(['cli-dev', 'cli-x509']);
    expect((await run('device', 'list', '--hub', hubUrl)).stdout).toMatch(/cli-dev\s+enabled\s+Disconnected/);
    expect(JSON.parse((await run('device', 'get', 'cli-dev', '--hub', hubUrl)).stdout).deviceId).toBe('cli-dev');
    expect((await run('device', 'disable', 'cli-x509', '--hub', hubUrl)).stdout).toBe('device cli-x509 is disabled\n');
    expect((await run('device', 'enable', 'cli-x509', '--hub', hubUrl)).stdout).toBe('device cli-x509 is enabled\n');
    expect((await run('device', 'delete', 'cli-x509', '--hub', hubUrl)).code).toBe(0);
  });

  test('failures from the hub exit 1 with its message and hint', async () => {
    const duplicate = await run('device', 'create', 'cli-dev', '--hub', hubUrl);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/^thingkit hub: device "cli-dev" already exists \(delete it first, or pick another id\)\n$/);
    const missing = await run('device', 'get', 'nobody', '--hub', hubUrl);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not registered/);
    const offline = await run('method', 'cli-dev', 'reboot', '--hub', hubUrl);
    expect(offline.code).toBe(1);
    expect(offline.stderr).toMatch(/not online/);
    const unreachable = await run('device', 'list', '--hub', 'http://127.0.0.1:1');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot reach the hub at http:\/\/127.0.0.1:1/);
  });

  test.each([
    [['device'], /missing device command/],
    [['device', 'create'], /expected 1 argument/],
    [['device', 'create', 'a', 'b'], /expected 1 argument/],
    [['device', 'create', 'a', '--x509', 'ab', '--ca'], /choose one way/],
    [['device', 'frobnicate'], /unknown device command/],
    [['twin', 'set', 'cli-dev', '--desired', '{bad'], /--desired is not JSON/],
    [['twin', 'set', 'cli-dev'], /nothing to set/],
    [['method', 'cli-dev', 'reboot', '--timeout', 'soon'], /not a duration/],
    [['c2d', 'cli-dev', 'x', '--ack', 'sometimes'], /--ack must be/],
    [['c2d', 'cli-dev', 'x', '--property', 'novalue'], /not name=value/],
    [['enroll'], /expected a registration id/],
    [['enroll', 'r', '--key', 'k', '--x509', 'ab'], /--key or --x509/],
    [['--mqtt-port', 'eighty'], /port number/],
    [['--bogus'], /Unknown option/],
    [['nonsense'], /unknown hub command "nonsense"/],
  ])('usage error %j exits 2', async (argv, message) => {
    const result = await run(...argv, ...(argv[0]?.startsWith('-') ? [] : ['--hub', hubUrl]));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  test('twin set and get', async () => {
    const set = await run('twin', 'set', 'cli-dev', 'interval=30', 'net.ssid=home', 'debug=true', 'label=hello world', '--tags', '{"room":"lab"}', '--hub', hubUrl);
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/desired \$version 2 \(device offline/);
    const twin = JSON.parse((await run('twin', 'get', 'cli-dev', '--json', '--hub', hubUrl)).stdout);
    expect(twin.tags).toEqual({ room: 'lab' });
    expect(twin.properties.desired).toEqual(expect.objectContaining({ interval: 30, net: { ssid: 'home' }, debug: true, label: 'hello world' }));
    expect((await run('twin', 'set', 'cli-dev', 'debug=null', '--hub', hubUrl)).code).toBe(0);
    expect(JSON.parse((await run('twin', 'get', 'cli-dev', '--json', '--hub', hubUrl)).stdout).properties.desired).not.toHaveProperty('debug');
  });

  test('c2d queues a message (and --wait reports that it was not delivered)', async () => {
    const queued = await run('c2d', 'cli-dev', 'hello', '--property', 'color=red', '--ack', 'full', '--message-id', 'cli-m1', '--hub', hubUrl);
    expect(queued.code).toBe(0);
    expect(queued.stdout).toBe('message cli-m1 to cli-dev: queued\n');
    const waited = await run('c2d', 'cli-dev', 'again', '--wait', '300ms', '--hub', hubUrl);
    expect(waited.code).toBe(1);
    expect(waited.stdout).toMatch(/: queued\n$/);
  });

  test('enroll: individual, group with a derived key, list, delete', async () => {
    const individual = await run('enroll', 'reg-1', '--device-id', 'dev-from-reg-1', '--hub', hubUrl);
    expect(individual.code).toBe(0);
    expect(individual.stdout).toMatch(/enrollment reg-1 \(symmetricKey, enabled\) → device dev-from-reg-1\n {2}primary key {3}\S+/);
    const group = await run('enroll', '--group', 'grp', '--derive', 'sensor-1', '--hub', hubUrl);
    expect(group.code).toBe(0);
    expect(group.stdout).toMatch(/device key for sensor-1: \S+/);
    const list = JSON.parse((await run('enroll', 'list', '--json', '--hub', hubUrl)).stdout);
    expect(list.enrollments.map((e: { registrationId: string }) => e.registrationId)).toEqual(['reg-1']);
    expect(list.groups.map((g: { enrollmentGroupId: string }) => g.enrollmentGroupId)).toEqual(['grp']);
    expect((await run('enroll', 'delete', 'reg-1', '--hub', hubUrl)).code).toBe(0);
    expect((await run('enroll', 'delete', '--group', 'grp', '--hub', hubUrl)).code).toBe(0);
    expect((await run('enroll', 'delete', 'reg-1', '--hub', hubUrl)).code).toBe(1);
  });

  test('telemetry and logs', async () => {
    expect(await run('telemetry', 'cli-dev', '--hub', hubUrl)).toEqual({ code: 0, stdout: '', stderr: '' });
    const logs = await run('logs', '--json', '--hub', hubUrl);
    expect(JSON.parse(logs.stdout).some((e: { event: string }) => e.event === 'registry.created')).toBe(true);
  });

  test('--help prints the usage', async () => {
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/usage: thingkit hub \[options\]/);
  });
});

test('the data file keeps the registry across a restart; --insecure serves plain MQTT', async () => {
  const data = path.join(tempDir('thingkit-cli-restart-'), 'hub.db');
  const first = await serve('--data', data, '--mqtt-port', '0', '--http-port', '0', '--insecure');
  expect(first.hub.mqttUrl).toMatch(/^mqtt:\/\//);
  expect((await run('device', 'create', 'keeper', '--hub', first.hub.httpUrl)).code).toBe(0);
  expect((await first.stop()).stdout).toMatch(/thingkit hub: stopped\n$/);
  const second = await serve('--data', data, '--mqtt-port', '0', '--http-port', '0', '--insecure', '--json');
  expect(JSON.parse(second.output().split('\n')[0])).toEqual(expect.objectContaining({ event: 'started', ca: null }));
  expect(JSON.parse((await run('device', 'list', '--json', '--hub', second.hub.httpUrl)).stdout).map((d: { deviceId: string }) => d.deviceId)).toEqual(['keeper']);
  expect((await second.stop()).code).toBe(0);
});
