/**
 * `thingkit build` and `thingkit ota …`: app images, signing keys, signed manifests, and publishing and
 * rolling out updates through the local hub (its HTTP API: /ota/images, /ota/campaigns).
 *
 * Errors are one line: usage mistakes exit 2, failures (a bad image, a refused request, an unreachable
 * hub) exit 1.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { boards } from '../boards';
import { FIRMWARE_VERSION } from '../firmware/version';
import { bundleFirmware } from '../host-sim/engines/firmware-bundle';
import { buildImage, ImageError, isSemver, parseImage, sha256, toHex } from '../host-sim/ota/image';
import { keygen, KeyError, PUBLIC_KEY_MODULE_PATH } from '../host-sim/ota/keys';
import { ManifestError, signImage } from '../host-sim/ota/manifest';
import { imageName, imagePath } from '../hub/ota/images';
import { formatDuration, parseDuration, UsageError } from './duration';
import { HubClient, HubCommandError, type HubCommandIo } from './hub-commands';

export const DEFAULT_KEY_DIR = path.join('.thingkit', 'ota');
export const DEFAULT_BUILD_DIR = path.join('.thingkit', 'build');

export const BUILD_USAGE = `usage: thingkit build --target host [--board NAME] [--version V] [--security-version N] [--out FILE]

Builds the firmware for the simulator: the app image (a 128-byte header and the firmware
bundle, docs/OTA.md §1) that simulated devices boot and download, the host's equivalent of
an ESP32 .bin. ESP32 builds use mcconfig (hal/moddable/README.md).

  --target host          what to build for (only host here)
  --board NAME           board definition (default esp32-devkitc; known: ${Object.keys(boards).join(', ')})
  --version V            semantic version in the image header (default ${FIRMWARE_VERSION})
  --security-version N   anti-rollback counter in the header (default 0)
  --out FILE             where to write it (default ${path.join(DEFAULT_BUILD_DIR, '{board}-{version}.bin')})
`;

export const OTA_USAGE = `usage: thingkit ota <command> [options]

  keygen [--dir DIR] [--module FILE]
      a new P-256 signing key pair in DIR (default ${DEFAULT_KEY_DIR}); --module also writes the
      firmware's public-key module (${PUBLIC_KEY_MODULE_PATH} for a hardware build)
  sign --image FILE --url URL --key PRIVATE.pem [--version V --board B --security-version N] [--out ENVELOPE.json]
      the signed manifest envelope for an image that will be downloaded from URL
  publish --image FILE --key PRIVATE.pem [--url URL]
      signs the image for the hub's download URL and uploads image and envelope to the hub
  images
      the images the hub serves
  rollout --version V [--board B] --percent P [--step S] [--interval DURATION] [--max-failure-rate R] [--min-finished N]
      a staged campaign: P % of the devices now, S % more (default P) every DURATION (default 10m),
      halting by itself when (failed + rolled back) / finished exceeds R (default 10%) once N (default 1)
      updates have finished
  status [--campaign ID]
      campaigns and their devices
  cancel ID
      stops a running campaign; devices that have not started are withdrawn

Commands that talk to the hub take --hub URL (default $THINGKIT_HUB_URL or http://127.0.0.1:8080),
and --json for JSON output.
`;

// ---- helpers ----

type Options = { [name: string]: { type: 'string' | 'boolean'; default?: string | boolean } };

function parse(args: string[], options: Options, usage: string): { values: { [name: string]: string | boolean | undefined }; positionals: string[] } {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true }) as { values: { [name: string]: string | boolean | undefined }; positionals: string[] };
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; usage: ${usage}`);
  }
}

function noPositionals(parsed: { positionals: string[] }, usage: string): void {
  if (parsed.positionals.length) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"; usage: ${usage}`);
}

function required(value: string | boolean | undefined, option: string, usage: string): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`${option} is required; usage: ${usage}`);
  return value;
}

function readFile(file: string, option: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${option} ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : (error as Error).message}`);
  }
}

function readPrivateKey(file: string): string {
  const text = readFile(file, '--key').toString('utf8');
  if (!text.includes('PRIVATE KEY-----')) throw new UsageError(`--key ${file} holds no private key PEM (thingkit ota keygen writes ota-private-key.pem)`);
  return text;
}

function semver(value: string | boolean | undefined, option: string): string | undefined {
  if (value === undefined) return undefined;
  if (!isSemver(value)) throw new UsageError(`${option} "${String(value)}" is not a semantic version (e.g. 1.1.0)`);
  return value as string;
}

function wholeNumber(value: string | boolean | undefined, option: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`${option} must be a whole number from ${min} to ${max} (got "${text}")`);
  return Number(text);
}

/** "34", "34%" or "12.5" → a percentage in [min, 100]. */
function percentage(value: string | boolean | undefined, option: string, allowZero: boolean): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const match = /^(\d+(?:\.\d+)?)%?$/.exec(text);
  const n = match ? Number(match[1]) : NaN;
  if (!match || n > 100 || (allowZero ? n < 0 : n <= 0)) throw new UsageError(`${option} must be a percentage ${allowZero ? 'from 0' : 'above 0'} to 100 (got "${text}")`);
  return n;
}

/** "10%" or "0.1" → 0.1. */
function rate(value: string | boolean | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  const n = percent ? Number(percent[1]) / 100 : /^\d+(?:\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= 1)) throw new UsageError(`${option} must be a fraction from 0 to 1 or a percentage (0.1 or 10%; got "${text}")`);
  return n;
}

function board(value: string | boolean | undefined, option: string): string | undefined {
  if (value === undefined) return undefined;
  if (!((value as string) in boards)) throw new UsageError(`unknown board "${String(value)}" for ${option}; known boards: ${Object.keys(boards).join(', ')}`);
  return value as string;
}

function hubClient(io: HubCommandIo, url: string | boolean | undefined): HubClient {
  const client = new HubClient(io);
  return client.withUrl(url as string | undefined, io);
}

function out(io: HubCommandIo, json: boolean, value: unknown, human: () => string): void {
  io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

/** Runs a command, turning errors into one line and an exit code. */
async function guarded(prefix: string, io: HubCommandIo, work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    io.stderr(`${prefix}: ${message.split('\n')[0]}\n`);
    if (error instanceof UsageError) return 2;
    if (error instanceof HubCommandError || error instanceof KeyError || error instanceof ManifestError || error instanceof ImageError) return 1;
    return 1;
  }
}

const processIo: HubCommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

// ---- thingkit build ----

export function buildCommand(argv: string[], io: HubCommandIo = processIo): Promise<number> {
  return guarded('thingkit build', io, async () => {
    if (argv.includes('--help') || argv.includes('-h')) {
      io.stdout(BUILD_USAGE);
      return 0;
    }
    const usage = 'thingkit build --target host [--board NAME] [--version V] [--security-version N] [--out FILE]';
    const parsed = parse(argv, { target: { type: 'string' }, board: { type: 'string' }, version: { type: 'string' }, 'security-version': { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean', default: false } }, usage);
    noPositionals(parsed, usage);
    const v = parsed.values;
    const target = required(v.target, '--target', usage);
    if (target !== 'host') throw new UsageError(`--target ${target} is not built here: thingkit build makes the simulator's image (--target host); ESP32 firmware is built with mcconfig (hal/moddable/README.md)`);
    const boardName = board(v.board, '--board') ?? 'esp32-devkitc';
    const version = semver(v.version, '--version') ?? FIRMWARE_VERSION;
    const securityVersion = wholeNumber(v['security-version'], '--security-version', 0, 0xffffffff) ?? 0;
    const file = path.resolve((v.out as string | undefined) ?? path.join(DEFAULT_BUILD_DIR, imageName(boardName, version)));
    const image = buildImage({ version, board: boardName, securityVersion, bundle: bundleFirmware({ board: boardName }) });
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, image);
    const result = { file, board: boardName, version, securityVersion, size: image.length, sha256: toHex(sha256(image)) };
    out(io, v.json === true, result, () =>
      [
        `built ${file}`,
        `  board ${boardName}, version ${version}, security version ${securityVersion}, ${image.length} bytes, sha256 ${result.sha256}`,
        `  publish it: thingkit ota publish --image ${path.relative(process.cwd(), file) || file} --key ${path.join(DEFAULT_KEY_DIR, 'ota-private-key.pem')}`,
      ].join('\n'),
    );
    return 0;
  });
}

// ---- thingkit ota ----

export function otaCommand(argv: string[], io: HubCommandIo = processIo): Promise<number> {
  return guarded('thingkit ota', io, async () => {
    const [command, ...rest] = argv;
    switch (command) {
      case undefined:
        throw new UsageError('missing ota command: keygen, sign, publish, images, rollout, status or cancel (thingkit ota --help)');
      case '--help':
      case '-h':
      case 'help':
        io.stdout(OTA_USAGE);
        return 0;
      case 'keygen':
        return keygenCommand(rest, io);
      case 'sign':
        return signCommand(rest, io);
      case 'publish':
        return await publishCommand(rest, io);
      case 'images':
        return await imagesCommand(rest, io);
      case 'rollout':
        return await rolloutCommand(rest, io);
      case 'status':
        return await statusCommand(rest, io);
      case 'cancel':
        return await cancelCommand(rest, io);
      default:
        throw new UsageError(`unknown ota command "${command}"; commands: keygen, sign, publish, images, rollout, status, cancel`);
    }
  });
}

function keygenCommand(argv: string[], io: HubCommandIo): number {
  const usage = 'thingkit ota keygen [--dir DIR] [--module FILE]';
  const parsed = parse(argv, { dir: { type: 'string' }, module: { type: 'string' }, json: { type: 'boolean', default: false } }, usage);
  noPositionals(parsed, usage);
  const v = parsed.values;
  const dir = path.resolve((v.dir as string | undefined) ?? DEFAULT_KEY_DIR);
  const result = keygen(dir);
  let moduleFile: string | undefined;
  if (typeof v.module === 'string') {
    moduleFile = path.resolve(v.module);
    fs.mkdirSync(path.dirname(moduleFile), { recursive: true });
    fs.writeFileSync(moduleFile, result.publicKeyModule);
  }
  out(
    io,
    v.json === true,
    { privateKey: result.privateKeyPath, publicKey: result.publicKeyPath, publicKeyHex: result.publicKeyHex, publicKeyBase64: result.publicKeyBase64, module: moduleFile ?? null },
    () =>
      [
        'OTA signing key pair (ECDSA P-256):',
        `  private key  ${result.privateKeyPath}  (mode 0600: keep it secret, backed up and out of the repository;`,
        '               devices accept only updates signed with it)',
        `  public key   ${result.publicKeyPath}`,
        `  public key (hex) ${result.publicKeyHex}`,
        'Devices must trust the public key:',
        `  simulator: thingkit sim --ota-key ${result.publicKeyHex}`,
        `             (or --ota-key ${path.relative(process.cwd(), result.publicKeyPath) || result.publicKeyPath}; config otaPublicKey in tests)`,
        moduleFile
          ? `  hardware:  ${moduleFile} written; build and flash the firmware with it`
          : `  hardware:  ${PUBLIC_KEY_MODULE_PATH} must hold it: publicKeyModule() in host-sim/ota/keys.ts writes`,
        moduleFile ? '' : `             that file (keygen --module FILE does it for a new key); then build and flash`,
        `Then: thingkit build --target host --version 1.1.0, and thingkit ota publish --image FILE --key ${path.relative(process.cwd(), result.privateKeyPath) || result.privateKeyPath}`,
      ]
        .filter((line) => line !== '')
        .join('\n'),
  );
  return 0;
}

function signCommand(argv: string[], io: HubCommandIo): number {
  const usage = 'thingkit ota sign --image FILE --url URL --key PRIVATE.pem [--version V --board B --security-version N] [--out ENVELOPE.json]';
  const parsed = parse(
    argv,
    { image: { type: 'string' }, url: { type: 'string' }, key: { type: 'string' }, version: { type: 'string' }, board: { type: 'string' }, 'security-version': { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean', default: false } },
    usage,
  );
  noPositionals(parsed, usage);
  const v = parsed.values;
  const imageFile = required(v.image, '--image', usage);
  const url = required(v.url, '--url', usage);
  if (!/^https?:\/\/[\x21-\x7e]+$/.test(url)) throw new UsageError(`--url "${url}" is not an http:// or https:// URL of printable ASCII`);
  const privateKeyPem = readPrivateKey(required(v.key, '--key', usage));
  readFile(imageFile, '--image');
  const version = semver(v.version, '--version');
  const boardName = typeof v.board === 'string' ? v.board : undefined;
  const securityVersion = wholeNumber(v['security-version'], '--security-version', 0, 0xffffffff);
  const { envelope } = signImage({ imageFile, url, privateKeyPem, version, board: boardName, securityVersion });
  const text = `${JSON.stringify(envelope, null, 2)}\n`;
  if (typeof v.out === 'string') {
    fs.mkdirSync(path.dirname(path.resolve(v.out)), { recursive: true });
    fs.writeFileSync(v.out, text);
    out(io, v.json === true, { envelope: path.resolve(v.out), manifest: envelope.manifest }, () =>
      `signed ${imageFile}: version ${envelope.manifest.version}, board ${envelope.manifest.board}, ${envelope.manifest.size} bytes → ${v.out}`,
    );
  } else {
    io.stdout(text);
  }
  return 0;
}

async function publishCommand(argv: string[], io: HubCommandIo): Promise<number> {
  const usage = 'thingkit ota publish --image FILE --key PRIVATE.pem [--url URL] [--hub URL]';
  const parsed = parse(argv, { image: { type: 'string' }, key: { type: 'string' }, url: { type: 'string' }, hub: { type: 'string' }, json: { type: 'boolean', default: false } }, usage);
  noPositionals(parsed, usage);
  const v = parsed.values;
  const imageFile = required(v.image, '--image', usage);
  const privateKeyPem = readPrivateKey(required(v.key, '--key', usage));
  if (v.url !== undefined && !/^https?:\/\/[\x21-\x7e]+$/.test(String(v.url))) throw new UsageError(`--url "${String(v.url)}" is not an http:// or https:// URL of printable ASCII`);
  const bytes = new Uint8Array(readFile(imageFile, '--image'));
  const header = parseImage(bytes, imageFile);
  const hub = hubClient(io, v.hub);
  const name = imageName(header.board, header.version);
  let url = v.url as string | undefined;
  if (url === undefined) {
    const info = await hub.request('GET', '/ota');
    if (!info || typeof info.imageBaseUrl !== 'string') throw new HubCommandError(`the hub at ${hub.base} does not serve OTA images (no GET /ota): is it an older thingkit hub?`);
    url = `${info.imageBaseUrl}${imagePath(name)}`;
  }
  const { envelope } = signImage({ imageFile, url, privateKeyPem });
  const published = await hub.request('POST', '/ota/images', { envelope, image: Buffer.from(bytes).toString('base64') });
  out(io, v.json === true, published, () =>
    [
      `published ${published.name}: version ${published.version}, board ${published.board}, ${published.size} bytes, sha256 ${published.sha256}`,
      `  devices download ${published.url}${published.urlPointsHere ? '' : ' (not this hub: make sure it serves the same bytes)'}`,
      `  roll it out: thingkit ota rollout --version ${published.version} --percent 10${v.hub ? ` --hub ${String(v.hub)}` : ''}`,
    ].join('\n'),
  );
  return 0;
}

async function imagesCommand(argv: string[], io: HubCommandIo): Promise<number> {
  const usage = 'thingkit ota images [--hub URL]';
  const parsed = parse(argv, { hub: { type: 'string' }, json: { type: 'boolean', default: false } }, usage);
  noPositionals(parsed, usage);
  const images: any[] = await hubClient(io, parsed.values.hub).request('GET', '/ota/images');
  out(io, parsed.values.json === true, images, () =>
    images.length
      ? images.map((i) => `${i.name.padEnd(36)} ${String(i.size).padStart(9)} bytes  sha256 ${i.sha256.slice(0, 16)}…  ${i.url}`).join('\n')
      : 'no images: publish one with thingkit ota publish --image FILE --key PRIVATE.pem',
  );
  return 0;
}

async function rolloutCommand(argv: string[], io: HubCommandIo): Promise<number> {
  const usage = 'thingkit ota rollout --version V [--board B] --percent P [--step S] [--interval DURATION] [--max-failure-rate R] [--min-finished N]';
  const parsed = parse(
    argv,
    {
      version: { type: 'string' },
      board: { type: 'string' },
      percent: { type: 'string' },
      step: { type: 'string' },
      interval: { type: 'string' },
      'max-failure-rate': { type: 'string' },
      'min-finished': { type: 'string' },
      hub: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    usage,
  );
  noPositionals(parsed, usage);
  const v = parsed.values;
  const version = semver(required(v.version, '--version', usage), '--version')!;
  const percent = percentage(required(v.percent, '--percent', usage), '--percent', false)!;
  const body: { [key: string]: unknown } = { version, percent };
  const boardName = board(v.board, '--board');
  if (boardName !== undefined) body.board = boardName;
  const step = percentage(v.step, '--step', true);
  if (step !== undefined) body.stepPercent = step;
  if (v.interval !== undefined) body.stepIntervalSeconds = parseDuration(String(v.interval), '--interval') / 1000;
  const maxFailureRate = rate(v['max-failure-rate'], '--max-failure-rate');
  if (maxFailureRate !== undefined) body.maxFailureRate = maxFailureRate;
  const minFinished = wholeNumber(v['min-finished'], '--min-finished', 1, 1_000_000);
  if (minFinished !== undefined) body.minFinished = minFinished;
  const campaign = await hubClient(io, v.hub).request('POST', '/ota/campaigns', body);
  out(io, v.json === true, campaign, () => [...campaignLines(campaign), `  follow it: thingkit ota status --campaign ${campaign.id}${v.hub ? ` --hub ${String(v.hub)}` : ''}`].join('\n'));
  return 0;
}

async function statusCommand(argv: string[], io: HubCommandIo): Promise<number> {
  const usage = 'thingkit ota status [--campaign ID] [--hub URL]';
  const parsed = parse(argv, { campaign: { type: 'string' }, hub: { type: 'string' }, json: { type: 'boolean', default: false } }, usage);
  noPositionals(parsed, usage);
  const v = parsed.values;
  const hub = hubClient(io, v.hub);
  if (v.campaign !== undefined) {
    const id = wholeNumber(v.campaign, '--campaign', 1, Number.MAX_SAFE_INTEGER)!;
    const campaign = await hub.request('GET', `/ota/campaigns/${id}`);
    out(io, v.json === true, campaign, () => {
      const devices = (campaign.devices as any[]).map(
        (d) =>
          `  ${d.deviceId.padEnd(28)} ${d.state.padEnd(11)} ${d.progress !== null && d.state !== 'succeeded' ? `${d.progress}% ` : ''}${d.runningVersion ? `running ${d.runningVersion}` : ''}${d.reason ? ` — ${d.reason}` : ''}`,
      );
      return [...campaignLines(campaign), ...(devices.length ? devices : ['  no device targeted yet'])].join('\n');
    });
    return 0;
  }
  const campaigns: any[] = await hub.request('GET', '/ota/campaigns');
  out(io, v.json === true, campaigns, () =>
    campaigns.length ? campaigns.flatMap(campaignLines).join('\n') : 'no campaigns: start one with thingkit ota rollout --version V --percent P',
  );
  return 0;
}

async function cancelCommand(argv: string[], io: HubCommandIo): Promise<number> {
  const usage = 'thingkit ota cancel ID [--hub URL]';
  const parsed = parse(argv, { hub: { type: 'string' }, json: { type: 'boolean', default: false } }, usage);
  if (parsed.positionals.length !== 1) throw new UsageError(`expected one campaign id; usage: ${usage}`);
  const id = wholeNumber(parsed.positionals[0], 'the campaign id', 1, Number.MAX_SAFE_INTEGER)!;
  const campaign = await hubClient(io, parsed.values.hub).request('POST', `/ota/campaigns/${id}/cancel`);
  out(io, parsed.values.json === true, campaign, () => campaignLines(campaign).join('\n'));
  return 0;
}

/** Two lines (three when stopped) about a campaign, for people. */
function campaignLines(c: any): string[] {
  const counts = c.counts;
  const step = c.stepPercent > 0 && c.percent < 100 ? `, +${c.stepPercent}% every ${formatDuration(c.stepIntervalSeconds * 1000)}${c.nextStepTime ? ` (next ${c.nextStepTime})` : ''}` : '';
  const lines = [
    `campaign ${c.id}: version ${c.version} on ${c.board ?? 'every board'}: ${c.state} at ${c.percent}%${step}; halts above ${+(c.maxFailureRate * 100).toFixed(1)}% failures`,
    `  targeted ${counts.targeted}${c.population !== null ? ` of ${c.population}` : ''}: ${counts.succeeded} succeeded, ${counts.failed} failed, ${counts.rolledBack} rolled back, ${counts.inProgress} in progress, ${counts.pending} pending${counts.withdrawn ? `, ${counts.withdrawn} withdrawn` : ''}`,
  ];
  if (c.reason && c.state !== 'running') lines.push(`  ${c.state}: ${c.reason}`);
  return lines;
}
