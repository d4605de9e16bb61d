/**
 * `thingkit build` and `thingkit ota …` (cli/ota-commands.ts), in-process against a test hub: usage
 * mistakes are one line and exit 2, failures one line and exit 1; keys, images and envelopes are what
 * the device side accepts; publish → rollout → status → cancel through the hub's HTTP API.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { HubCommandIo } from '../../cli/hub-commands';
import { buildCommand, otaCommand } from '../../cli/ota-commands';
import { parseSimArguments } from '../../cli/sim-command';
import { UsageError } from '../../cli/duration';
import type { Hub } from '../../hub/hub';
import { parseImage } from '../../host-sim/ota/image';
import { publicKeyFromPem, publicKeyModule, publicKeyToHex } from '../../host-sim/ota/keys';
import { verifyManifest } from '../../host-sim/ota/manifest';
import { FIRMWARE_VERSION } from '../../firmware/version';
import { startTestHub } from '../hub/support';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(command: typeof otaCommand, ...argv: string[]): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const io: HubCommandIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} };
  const code = await command(argv, io);
  return { code, stdout, stderr };
}

const ota = (...argv: string[]) => run(otaCommand, ...argv);
const build = (...argv: string[]) => run(buildCommand, ...argv);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'thingkit-ota-cli-'));
const keyDir = path.join(dir, 'keys');
const privateKey = path.join(keyDir, 'ota-private-key.pem');
const image110 = path.join(dir, 'fw-1.1.0.bin');

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('usage mistakes: one line on stderr, exit 2', () => {
  beforeAll(async () => {
    fs.writeFileSync(path.join(dir, 'not-a-key.pem'), 'hello');
  });

  test.each([
    ['build', [], /--target is required/],
    ['build', ['--target', 'esp32'], /--target esp32 is not built here.*mcconfig/],
    ['build', ['--target', 'host', '--version', 'v1'], /--version "v1" is not a semantic version/],
    ['build', ['--target', 'host', '--board', 'nope'], /unknown board "nope"/],
    ['build', ['--target', 'host', '--security-version', '-1'], /--security-version/],
    ['build', ['--target', 'host', '--colour', 'red'], /Unknown option '--colour'/],
    ['ota', [], /missing ota command/],
    ['ota', ['frobnicate'], /unknown ota command "frobnicate"/],
    ['ota', ['sign', '--url', 'https://h/x', '--key', 'k.pem'], /--image is required/],
    ['ota', ['sign', '--image', 'x.bin', '--url', 'ftp://h/x', '--key', 'k.pem'], /--url "ftp:\/\/h\/x" is not an http/],
    ['ota', ['sign', '--image', 'x.bin', '--url', 'https://h/x', '--key', '/no/such/key.pem'], /--key \/no\/such\/key.pem: no such file/],
    ['ota', ['publish', '--image', 'x.bin'], /--key is required/],
    ['ota', ['publish', '--image', 'x.bin', '--key', 'NOT_A_KEY'], /no private key PEM|no such file/],
    ['ota', ['rollout', '--percent', '10'], /--version is required/],
    ['ota', ['rollout', '--version', '1.1.0'], /--percent is required/],
    ['ota', ['rollout', '--version', '1.1.0', '--percent', '0'], /--percent must be a percentage above 0 to 100/],
    ['ota', ['rollout', '--version', '1.1.0', '--percent', '150'], /--percent/],
    ['ota', ['rollout', '--version', '1.1.0', '--percent', '10', '--step', 'lots'], /--step/],
    ['ota', ['rollout', '--version', '1.1.0', '--percent', '10', '--interval', '10'], /--interval "10" is not a duration/],
    ['ota', ['rollout', '--version', '1.1.0', '--percent', '10', '--max-failure-rate', '2'], /--max-failure-rate must be a fraction/],
    ['ota', ['rollout', '--version', '1.1.0', '--percent', '10', '--min-finished', '0'], /--min-finished/],
    ['ota', ['rollout', '--version', '1.1.0', '--percent', '10', '--board', 'toaster'], /unknown board "toaster"/],
    ['ota', ['rollout', '--version', '1.1.0', '--percent', '10', '--hub', 'ftp://x'], /--hub must be an http:\/\/ URL/],
    ['ota', ['status', '--campaign', 'first'], /--campaign must be a whole number/],
    ['ota', ['status', 'extra'], /unexpected argument "extra"/],
    ['ota', ['cancel'], /expected one campaign id/],
    ['ota', ['keygen', '--dir'], /argument missing|--dir/],
  ] as [string, string[], RegExp][])('thingkit %s %j', async (name, argv, message) => {
    const result = await run(name === 'build' ? buildCommand : otaCommand, ...argv.map((a) => (a === 'NOT_A_KEY' ? path.join(dir, 'not-a-key.pem') : a)));
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.endsWith('\n')).toBe(true);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(new RegExp(`^thingkit ${name}: `));
    expect(result.stderr).toMatch(message);
  });

  test('the thingkit command itself: one line and exit 2', async () => {
    const bin = path.join(__dirname, '..', '..', 'cli', 'bin.js');
    const result = await new Promise<Result>((resolve) =>
      execFile(process.execPath, [bin, 'ota', 'rollout', '--version', '1.1.0'], { timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
    expect(result).toEqual({ code: 2, stdout: '', stderr: expect.stringMatching(/^thingkit ota: --percent is required; usage: thingkit ota rollout .*\n$/) });
  }, 60_000);

  test('help is printed with exit 0', async () => {
    expect(await ota('--help')).toMatchObject({ code: 0, stdout: expect.stringMatching(/rollout --version V/) });
    expect(await build('--help')).toMatchObject({ code: 0, stdout: expect.stringMatching(/--target host/) });
  });

  test('thingkit sim --ota-key takes hex or the public key PEM', async () => {
    const pair = await ota('keygen', '--dir', path.join(dir, 'sim-keys'), '--json');
    const { publicKeyHex, publicKey } = JSON.parse(pair.stdout);
    expect(parseSimArguments(['--ota-key', publicKeyHex]).otaKey).toBe(publicKeyHex);
    expect(parseSimArguments(['--ota-key', publicKeyHex.toUpperCase()]).otaKey).toBe(publicKeyHex);
    expect(parseSimArguments(['--ota-key', publicKey]).otaKey).toBe(publicKeyHex);
    expect(() => parseSimArguments(['--ota-key', 'abcd'])).toThrow(UsageError);
    expect(() => parseSimArguments(['--ota-key', '/no/such.pem'])).toThrow(/neither 130 hex digits nor an existing file/);
  });
});

describe('keys, images and envelopes', () => {
  test('keygen writes the pair (private 0600), prints the hex and how devices get it; never replaces a key', async () => {
    const moduleFile = path.join(dir, 'firmware-ota', 'public-key.ts');
    const result = await ota('keygen', '--dir', keyDir, '--module', moduleFile);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(fs.statSync(privateKey).mode & 0o777).toBe(0o600);
    const raw = publicKeyFromPem(fs.readFileSync(path.join(keyDir, 'ota-public-key.pem'), 'utf8'));
    const hex = publicKeyToHex(raw);
    expect(result.stdout).toContain(hex);
    expect(result.stdout).toContain(`thingkit sim --ota-key ${hex}`);
    expect(result.stdout).toContain(privateKey);
    expect(fs.readFileSync(moduleFile, 'utf8')).toBe(publicKeyModule(raw));

    const again = await ota('keygen', '--dir', keyDir);
    expect(again.code).toBe(1);
    expect(again.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/refusing to replace an OTA signing key/);
    expect(publicKeyToHex(publicKeyFromPem(fs.readFileSync(path.join(keyDir, 'ota-public-key.pem'), 'utf8')))).toBe(hex);
  });

  test('build --target host writes the app image the simulator boots', async () => {
    const result = await build('--target', 'host', '--version', '1.1.0', '--security-version', '2', '--out', image110, '--json');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const image = parseImage(new Uint8Array(fs.readFileSync(image110)));
    expect(image).toMatchObject({ version: '1.1.0', board: 'esp32-devkitc', securityVersion: 2 });
    expect(JSON.parse(result.stdout)).toMatchObject({ file: image110, version: '1.1.0', size: fs.statSync(image110).size });
    const defaults = await build('--target', 'host', '--board', 'esp32-s3-devkitc-1', '--out', path.join(dir, 's3.bin'));
    expect(defaults.stdout).toMatch(new RegExp(`board esp32-s3-devkitc-1, version ${FIRMWARE_VERSION.replace(/\./g, '\\.')}, security version 0`));
  }, 60_000);

  test('sign writes an envelope the device accepts; a header that disagrees fails in one line', async () => {
    const out = path.join(dir, 'envelope.json');
    const result = await ota('sign', '--image', image110, '--url', 'https://hub.local:8443/ota/images/esp32-devkitc-1.1.0.bin', '--key', privateKey, '--version', '1.1.0', '--out', out);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const envelope = JSON.parse(fs.readFileSync(out, 'utf8'));
    const raw = publicKeyFromPem(fs.readFileSync(path.join(keyDir, 'ota-public-key.pem'), 'utf8'));
    expect(verifyManifest(envelope, raw)).toMatchObject({ version: '1.1.0', board: 'esp32-devkitc', securityVersion: 2, size: fs.statSync(image110).size });
    const toStdout = await ota('sign', '--image', image110, '--url', 'https://h/x.bin', '--key', privateKey);
    expect(JSON.parse(toStdout.stdout).manifest.url).toBe('https://h/x.bin');

    const wrong = await ota('sign', '--image', image110, '--url', 'https://h/x.bin', '--key', privateKey, '--version', '1.2.0');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^thingkit ota: .*has version "1.1.0", not "1.2.0"\n$/);
    fs.writeFileSync(path.join(dir, 'junk.bin'), 'junk');
    const junk = await ota('sign', '--image', path.join(dir, 'junk.bin'), '--url', 'https://h/x.bin', '--key', privateKey);
    expect(junk.code).toBe(1);
    expect(junk.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('publish, rollout, status, cancel against a hub', () => {
  let hub: Hub;

  beforeAll(async () => {
    ({ hub } = await startTestHub({ otaTickMs: 0 }));
    for (const id of ['d1', 'd2', 'd3', 'd4']) {
      hub.store.devices.create({ deviceId: id });
      hub.store.twins.patchReported(id, { board: 'esp32-devkitc', firmwareVersion: '1.0.0' });
    }
  });
  afterAll(() => hub?.close());

  test('publish signs for the hub\'s download URL and uploads; images lists it', async () => {
    const result = await ota('publish', '--image', image110, '--key', privateKey, '--hub', hub.httpUrl);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain(`devices download ${hub.otaUrl}/ota/images/esp32-devkitc-1.1.0.bin`);
    expect(result.stdout).toContain('thingkit ota rollout --version 1.1.0');
    const stored = hub.store.ota.getImage('esp32-devkitc-1.1.0.bin')!;
    const raw = publicKeyFromPem(fs.readFileSync(path.join(keyDir, 'ota-public-key.pem'), 'utf8'));
    expect(verifyManifest(stored.envelope, raw).url).toBe(`${hub.otaUrl}/ota/images/esp32-devkitc-1.1.0.bin`);
    const list = await ota('images', '--hub', hub.httpUrl);
    expect(list.stdout).toMatch(/^esp32-devkitc-1\.1\.0\.bin\s+\d+ bytes/);
  });

  test('rollout, status (all and one), cancel', async () => {
    const started = await ota('rollout', '--version', '1.1.0', '--percent', '25%', '--step', '25', '--interval', '30m', '--max-failure-rate', '0.2', '--min-finished', '2', '--hub', hub.httpUrl);
    expect(started).toMatchObject({ code: 0, stderr: '' });
    expect(started.stdout).toMatch(/^campaign 1: version 1\.1\.0 on every board: running at 25%, \+25% every 30m0s \(next .*\); halts above 20% failures\n {2}targeted 1 of 4: 0 succeeded, 0 failed, 0 rolled back, 0 in progress, 1 pending\n {2}follow it: thingkit ota status --campaign 1/);
    expect(hub.store.ota.getCampaign(1)).toMatchObject({ percent: 25, stepPercent: 25, stepIntervalMs: 1_800_000, maxFailureRate: 0.2, minFinished: 2 });

    const all = await ota('status', '--hub', hub.httpUrl);
    expect(all.stdout).toMatch(/campaign 1: version 1\.1\.0/);
    const one = await ota('status', '--campaign', '1', '--hub', hub.httpUrl);
    expect(one.stdout).toMatch(/\n {2}d\d +pending/);
    const json = JSON.parse((await ota('status', '--campaign', '1', '--hub', hub.httpUrl, '--json')).stdout);
    expect(json).toMatchObject({ id: 1, state: 'running', devices: [{ state: 'pending' }] });

    const twice = await ota('rollout', '--version', '1.1.0', '--percent', '10', '--hub', hub.httpUrl);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^thingkit ota: campaign 1 .* is still running \(one campaign at a time.*thingkit ota cancel 1\)\n$/);
    const unknown = await ota('rollout', '--version', '3.0.0', '--percent', '10', '--hub', hub.httpUrl);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/version 3\.0\.0 does not exist.*thingkit ota publish/);
    expect((await ota('status', '--campaign', '9', '--hub', hub.httpUrl)).code).toBe(1);

    const cancelled = await ota('cancel', '1', '--hub', hub.httpUrl);
    expect(cancelled.stdout).toMatch(/cancelled at 25%/);
    expect(cancelled.stdout).toMatch(/1 withdrawn/);
  });

  test('no hub there: one line, exit 1', async () => {
    const result = await ota('status', '--hub', 'http://127.0.0.1:9');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^thingkit ota: cannot reach the hub at http:\/\/127\.0\.0\.1:9.*\n$/);
  });
});
