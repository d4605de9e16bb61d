/**
 * `thingkit hub`: runs the local IoT hub, and talks to a running one over its HTTP API.
 *
 * Wire into cli/main.ts as:  case 'hub': return await hubCommand(rest);
 * hubCommand prints its own errors and returns the exit code (0 ok, 1 failure, 2 usage).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { startHub, type Hub } from '../hub/hub';
import type { HubLogEntry } from '../hub/log';
import { developmentPki, readPem } from '../host-sim/tls/certificates';
import { formatDuration, parseDuration, UsageError } from './duration';

export const DEFAULT_HUB_URL = 'http://127.0.0.1:8080';
export const DEFAULT_HOST_NAME = 'thingkit-hub.local';
export const DEFAULT_ID_SCOPE = '0ne00000001';

export const HUB_USAGE = `usage: thingkit hub [options]              run the local IoT hub
       thingkit hub <command> [options]    talk to a running hub (--hub URL, default $THINGKIT_HUB_URL or ${DEFAULT_HUB_URL})

Running the hub (Azure IoT Hub and DPS device protocols over MQTT; an HTTP API for the service side):
  --data FILE          SQLite data file (default .thingkit/hub/hub.db); kept across restarts
  --mqtt-port N        MQTT port (default 8883 with TLS, 1883 with --insecure)
  --http-port N        HTTP API port (default 8080)
  --insecure           plain MQTT without TLS (no X.509 device authentication)
  --host-name NAME     the hub's host name devices put in user names and SAS tokens (default ${DEFAULT_HOST_NAME})
  --id-scope SCOPE     the DPS ID scope (default ${DEFAULT_ID_SCOPE})
  --listen ADDRESS     listening address (default 127.0.0.1)
  --ota-port N         HTTPS port devices download OTA images from (default 8443; with TLS)
  --ota-url URL        base URL put in OTA manifests instead (e.g. https://my-pc.lan:8443)
  --json               print the hub's log as JSON lines
  With TLS, a development PKI (CA, server certificate) is made under the data file's folder (pki/).

Commands:
  device create <id> [--primary-key K --secondary-key K | --x509 THUMBPRINT[,SECONDARY] | --ca] [--disabled]
  device list | get <id> | delete <id> | enable <id> | disable <id>
  twin get <id>
  twin set <id> [name=value ...] [--desired JSON] [--tags JSON]     (name may be dotted; value JSON or text; null deletes)
  method <id> <method-name> [--payload JSON] [--timeout DURATION] [--connect-timeout DURATION]
  c2d <id> <payload> [--property name=value ...] [--ttl DURATION] [--ack none|positive|negative|full]
                     [--message-id ID] [--correlation-id ID] [--content-type TYPE] [--wait DURATION]
  enroll <registration-id> [--key K] [--x509 THUMBPRINT[,SECONDARY]] [--device-id ID] [--disabled]
  enroll --group <group-id> [--key K] [--derive REGISTRATION-ID]
  enroll list | delete <registration-id> | delete --group <group-id>
  telemetry <id> [--limit N] [--follow]
  logs [--device ID] [--limit N]
  stats <id> [--factor N]   last seen, messages per hour (24 h), duplicates dropped, reported backlog, interval
  silent [--factor N]       devices without a message for longer than N × their telemetry interval (default 3)
  Add --json to any command for JSON output.
`;

export interface HubCommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: { [name: string]: string | undefined };
  /** Stops a running hub (tests); SIGINT and SIGTERM stop it too. */
  signal?: AbortSignal;
  /** Called once the hub is up (tests). */
  onStarted?(hub: Hub): void;
}

const processIo: HubCommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

/** A failure reported by the hub or in reaching it: exit code 1. */
export class HubCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HubCommandError';
  }
}

export async function hubCommand(argv: string[], io: HubCommandIo = processIo): Promise<number> {
  try {
    if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      io.stdout(HUB_USAGE);
      return 0;
    }
    const [command, ...rest] = argv;
    if (command === undefined || command.startsWith('-')) return await runHub(argv, io);
    const client = new HubClient(io);
    switch (command) {
      case 'device':
        return await deviceCommand(rest, client, io);
      case 'twin':
        return await twinCommand(rest, client, io);
      case 'method':
        return await methodCommand(rest, client, io);
      case 'c2d':
        return await c2dCommand(rest, client, io);
      case 'enroll':
        return await enrollCommand(rest, client, io);
      case 'telemetry':
        return await telemetryCommand(rest, client, io);
      case 'logs':
        return await logsCommand(rest, client, io);
      case 'stats':
        return await statsCommand(rest, client, io);
      case 'silent':
        return await silentCommand(rest, client, io);
      default:
        throw new UsageError(`unknown hub command "${command}"; commands: device, twin, method, c2d, enroll, telemetry, logs, stats, silent (see thingkit hub --help)`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`thingkit hub: ${error.message}\n`);
      return 2;
    }
    if (error instanceof HubCommandError) {
      io.stderr(`thingkit hub: ${error.message}\n`);
      return 1;
    }
    io.stderr(`thingkit hub: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}

// ---- argument helpers ----

type Options = { [name: string]: { type: 'string' | 'boolean'; multiple?: boolean; default?: string | boolean } };

/** Every command also takes --hub URL and --json. */
function parse(args: string[], options: Options, usage: string): { values: { hub?: string; json: boolean; [name: string]: unknown }; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options: { ...options, hub: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true, allowPositionals: true });
    return parsed as unknown as { values: { hub?: string; json: boolean }; positionals: string[] };
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; usage: ${usage}`);
  }
}

function positionals(parsed: { positionals: string[] }, count: number, usage: string): string[] {
  if (parsed.positionals.length !== count) {
    throw new UsageError(`expected ${count} argument${count === 1 ? '' : 's'} (${usage}), got ${parsed.positionals.length ? parsed.positionals.map((p) => `"${p}"`).join(' ') : 'none'}`);
  }
  return parsed.positionals;
}

function port(text: string | undefined, option: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new UsageError(`${option} must be a port number from 0 to 65535 (got "${text}")`);
  return Number(text);
}

function jsonArgument(text: string, option: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${option} is not JSON (${(error as Error).message}); quote it for the shell, e.g. ${option} '{"interval": 30}'`);
  }
}

function thumbprintPair(text: string): { primaryThumbprint: string; secondaryThumbprint?: string } {
  const [primary, secondary, ...extra] = text.split(',');
  if (!primary || extra.length) throw new UsageError('--x509 takes one or two thumbprints separated by a comma');
  return secondary ? { primaryThumbprint: primary, secondaryThumbprint: secondary } : { primaryThumbprint: primary };
}

/** `a.b=1` → {a: {b: 1}}; the value is JSON when it parses, else text. */
function assignments(pairs: string[]): { [key: string]: unknown } {
  const out: { [key: string]: unknown } = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`"${pair}" is not name=value`);
    const names = pair.slice(0, eq).split('.');
    const text = pair.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    let target = out;
    for (const name of names.slice(0, -1)) {
      if (!name) throw new UsageError(`"${pair}" has an empty name`);
      const next = target[name];
      if (typeof next !== 'object' || next === null) target[name] = {};
      target = target[name] as { [key: string]: unknown };
    }
    const last = names[names.length - 1];
    if (!last) throw new UsageError(`"${pair}" has an empty name`);
    target[last] = value;
  }
  return out;
}

function print(io: HubCommandIo, json: boolean, value: unknown, human: () => string): void {
  io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

// ---- HTTP client ----

export class HubClient {
  readonly base: string;

  constructor(io: HubCommandIo, url?: string) {
    this.base = (url ?? io.env.THINGKIT_HUB_URL ?? DEFAULT_HUB_URL).replace(/\/+$/, '');
  }

  withUrl(url: string | undefined, io: HubCommandIo): HubClient {
    if (url === undefined) return this;
    if (!/^https?:\/\//.test(url)) throw new UsageError(`--hub must be an http:// URL (got "${url}")`);
    return new HubClient(io, url);
  }

  async request(method: string, pathname: string, body?: unknown): Promise<any> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${pathname}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      throw new HubCommandError(`cannot reach the hub at ${this.base}${cause ? ` (${cause})` : ''}: start it with "thingkit hub", or give --hub URL`);
    }
    const text = await response.text();
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (!response.ok) {
      const message = parsed && typeof parsed === 'object' && parsed.message ? parsed.message : `HTTP ${response.status}`;
      const hint = parsed && typeof parsed === 'object' && parsed.hint ? ` (${parsed.hint})` : '';
      throw new HubCommandError(`${message}${hint}`);
    }
    return parsed;
  }
}

const enc = encodeURIComponent;

// ---- running the hub ----

async function runHub(argv: string[], io: HubCommandIo): Promise<number> {
  const usage = 'thingkit hub [--data FILE] [--mqtt-port N] [--http-port N] [--insecure]';
  const parsed = parse(
    argv,
    {
      data: { type: 'string' },
      'mqtt-port': { type: 'string' },
      'http-port': { type: 'string' },
      insecure: { type: 'boolean', default: false },
      'host-name': { type: 'string' },
      'id-scope': { type: 'string' },
      listen: { type: 'string' },
      'ota-port': { type: 'string' },
      'ota-url': { type: 'string' },
    },
    usage,
  );
  positionals(parsed, 0, usage);
  const otaPort = port(parsed.values['ota-port'] as string | undefined, '--ota-port', 8443);
  const otaPublicUrl = parsed.values['ota-url'] as string | undefined;
  if (otaPublicUrl !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(otaPublicUrl)) throw new UsageError(`--ota-url must be a base URL like https://my-pc.lan:8443 (got "${otaPublicUrl}")`);
  const v = parsed.values as { data?: string; 'mqtt-port'?: string; 'http-port'?: string; insecure: boolean; 'host-name'?: string; 'id-scope'?: string; listen?: string; json: boolean; hub?: string };
  if (v.hub !== undefined) throw new UsageError('--hub is for the client commands; the hub itself listens on --http-port');
  const dataFile = path.resolve(v.data ?? path.join('.thingkit', 'hub', 'hub.db'));
  const hostName = v['host-name'] ?? DEFAULT_HOST_NAME;
  const idScope = v['id-scope'] ?? DEFAULT_ID_SCOPE;
  if (/[/\s]/.test(hostName)) throw new UsageError(`--host-name "${hostName}" is not a host name`);
  if (/[/\s]/.test(idScope)) throw new UsageError(`--id-scope "${idScope}" is not an ID scope`);
  const mqttPort = port(v['mqtt-port'], '--mqtt-port', v.insecure ? 1883 : 8883);
  const httpPort = port(v['http-port'], '--http-port', 8080);
  let tls: { key: string; cert: string; ca: string } | undefined;
  let caFile: string | undefined;
  if (!v.insecure) {
    const pki = developmentPki(path.join(path.dirname(dataFile), 'pki'), 'thingkit hub development');
    tls = { key: readPem(pki.server.key), cert: readPem(pki.server.cert), ca: readPem(pki.ca.cert) };
    caFile = pki.ca.cert;
  }
  const fresh = !existsSync(dataFile);
  let hub: Hub;
  try {
    hub = await startHub({ dataFile, mqttPort, httpPort, tls, hostName, idScope, host: v.listen, otaPort, otaPublicUrl });
  } catch (error) {
    throw new HubCommandError((error as Error).message);
  }
  const line = (entry: HubLogEntry) => {
    if (v.json) io.stdout(`${JSON.stringify(entry)}\n`);
    else io.stdout(`${entry.time} ${entry.level.padEnd(5)} ${entry.event.padEnd(18)} ${entry.message}${entry.reason ? ` — ${entry.reason}` : ''}\n`);
  };
  hub.log.on('entry', line);
  if (!v.json) {
    io.stdout(
      [
        `thingkit hub: ${fresh ? 'new' : 'existing'} data file ${dataFile}`,
        `  MQTT      ${hub.mqttUrl}${tls ? ' (TLS; X.509 device certificates accepted)' : ' (no TLS)'}`,
        `  HTTP API  ${hub.httpUrl}`,
        `  OTA       ${hub.otaUrl}/ota/images/{board}-{version}.bin${tls ? ' (HTTPS)' : ' (plain HTTP: the HTTP API)'}`,
        `  host name ${hostName} (devices: HostName=${hostName};...;GatewayHostName=${hub.gatewayHostName})`,
        `  ID scope  ${idScope} (DPS on the same MQTT endpoint)`,
        ...(caFile ? [`  CA        ${caFile} (devices must trust it)`] : []),
        `  create a device: thingkit hub device create <id>${hub.httpPort === 8080 ? '' : ` --hub ${hub.httpUrl}`}`,
        '',
      ].join('\n'),
    );
  } else {
    io.stdout(`${JSON.stringify({ event: 'started', dataFile, mqttUrl: hub.mqttUrl, httpUrl: hub.httpUrl, hostName, idScope, gatewayHostName: hub.gatewayHostName, otaUrl: hub.otaUrl, ca: caFile ?? null })}\n`);
  }
  io.onStarted?.(hub);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    io.signal?.addEventListener('abort', stop);
    if (io.signal?.aborted) stop();
  });
  hub.log.off('entry', line);
  await hub.close();
  if (!v.json) io.stdout('thingkit hub: stopped\n');
  return 0;
}

// ---- client commands ----

async function deviceCommand(argv: string[], client: HubClient, io: HubCommandIo): Promise<number> {
  const [sub, ...rest] = argv;
  const usage = 'thingkit hub device create|list|get|delete|enable|disable ...';
  switch (sub) {
    case 'create': {
      const u = 'thingkit hub device create <id> [--primary-key K --secondary-key K | --x509 THUMBPRINT[,SECONDARY] | --ca] [--disabled]';
      const parsed = parse(rest, { 'primary-key': { type: 'string' }, 'secondary-key': { type: 'string' }, x509: { type: 'string' }, ca: { type: 'boolean', default: false }, disabled: { type: 'boolean', default: false } }, u);
      const [id] = positionals(parsed, 1, u);
      const v = parsed.values as { 'primary-key'?: string; 'secondary-key'?: string; x509?: string; ca: boolean; disabled: boolean; hub?: string; json: boolean };
      const keys = v['primary-key'] !== undefined || v['secondary-key'] !== undefined;
      if ([keys, v.x509 !== undefined, v.ca].filter(Boolean).length > 1) throw new UsageError('choose one way to authenticate: keys, --x509 thumbprints, or --ca');
      const authentication = v.x509 !== undefined
        ? { type: 'selfSigned', x509Thumbprint: thumbprintPair(v.x509) }
        : v.ca
          ? { type: 'certificateAuthority' }
          : { type: 'sas', ...(keys ? { symmetricKey: { primaryKey: v['primary-key'], secondaryKey: v['secondary-key'] } } : {}) };
      const device = await client.withUrl(v.hub, io).request('POST', '/devices', { deviceId: id, status: v.disabled ? 'disabled' : 'enabled', authentication });
      print(io, v.json, device, () =>
        [
          `created device ${device.deviceId} (${device.authentication.type}${device.status === 'disabled' ? ', disabled' : ''})`,
          ...(device.authentication.symmetricKey ? [`  primary key   ${device.authentication.symmetricKey.primaryKey}`, `  secondary key ${device.authentication.symmetricKey.secondaryKey}`] : []),
          `  connection string: ${device.connectionString}`,
        ].join('\n'),
      );
      return 0;
    }
    case 'list': {
      const parsed = parse(rest, {}, 'thingkit hub device list');
      positionals(parsed, 0, 'thingkit hub device list');
      const devices: any[] = await client.withUrl(parsed.values.hub as string | undefined, io).request('GET', '/devices');
      print(io, parsed.values.json as boolean, devices, () =>
        devices.length
          ? devices.map((d) => `${d.deviceId.padEnd(24)} ${d.status.padEnd(9)} ${d.connectionState.padEnd(12)} ${d.authentication.type.padEnd(21)} last activity ${d.lastActivityTime ?? 'never'}`).join('\n')
          : 'no devices: create one with thingkit hub device create <id>',
      );
      return 0;
    }
    case 'get':
    case 'delete':
    case 'enable':
    case 'disable': {
      const u = `thingkit hub device ${sub} <id>`;
      const parsed = parse(rest, {}, u);
      const [id] = positionals(parsed, 1, u);
      const hub = client.withUrl(parsed.values.hub as string | undefined, io);
      const json = parsed.values.json as boolean;
      if (sub === 'get') {
        const device = await hub.request('GET', `/devices/${enc(id)}`);
        print(io, json, device, () => JSON.stringify(device, null, 2));
      } else if (sub === 'delete') {
        await hub.request('DELETE', `/devices/${enc(id)}`);
        print(io, json, { deleted: id }, () => `deleted device ${id}`);
      } else {
        const device = await hub.request('PATCH', `/devices/${enc(id)}`, { status: sub === 'enable' ? 'enabled' : 'disabled' });
        print(io, json, device, () => `device ${id} is ${device.status}`);
      }
      return 0;
    }
    default:
      throw new UsageError(sub === undefined || sub.startsWith('-') ? `missing device command; usage: ${usage}` : `unknown device command "${sub}"; usage: ${usage}`);
  }
}

async function twinCommand(argv: string[], client: HubClient, io: HubCommandIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'get') {
    const u = 'thingkit hub twin get <id>';
    const parsed = parse(rest, {}, u);
    const [id] = positionals(parsed, 1, u);
    const twin = await client.withUrl(parsed.values.hub as string | undefined, io).request('GET', `/twins/${enc(id)}`);
    print(io, parsed.values.json as boolean, twin, () => JSON.stringify({ tags: twin.tags, properties: twin.properties }, null, 2));
    return 0;
  }
  if (sub === 'set') {
    const u = 'thingkit hub twin set <id> [name=value ...] [--desired JSON] [--tags JSON]';
    const parsed = parse(rest, { desired: { type: 'string' }, tags: { type: 'string' } }, u);
    const [id, ...pairs] = parsed.positionals;
    if (!id) throw new UsageError(`missing device id; usage: ${u}`);
    const v = parsed.values as { desired?: string; tags?: string; hub?: string; json: boolean };
    let desired = v.desired === undefined ? undefined : jsonArgument(v.desired, '--desired');
    if (pairs.length) {
      if (desired !== undefined && (typeof desired !== 'object' || desired === null || Array.isArray(desired))) throw new UsageError('--desired must be a JSON object');
      desired = { ...(desired as object | undefined), ...assignments(pairs) };
    }
    const tags = v.tags === undefined ? undefined : jsonArgument(v.tags, '--tags');
    if (desired === undefined && tags === undefined) throw new UsageError(`nothing to set; usage: ${u}`);
    const body = { ...(tags !== undefined ? { tags } : {}), ...(desired !== undefined ? { properties: { desired } } : {}) };
    const twin = await client.withUrl(v.hub, io).request('PATCH', `/twins/${enc(id)}`, body);
    print(io, v.json, twin, () => `twin of ${id}: desired $version ${twin.properties.desired.$version}${twin.connectionState === 'Connected' ? ' (device connected)' : ' (device offline: it gets the change with its next twin GET)'}`);
    return 0;
  }
  throw new UsageError(sub === undefined || sub.startsWith('-') ? 'missing twin command; usage: thingkit hub twin get|set ...' : `unknown twin command "${sub}"; usage: thingkit hub twin get|set ...`);
}

async function methodCommand(argv: string[], client: HubClient, io: HubCommandIo): Promise<number> {
  const u = 'thingkit hub method <id> <method-name> [--payload JSON] [--timeout DURATION] [--connect-timeout DURATION]';
  const parsed = parse(argv, { payload: { type: 'string' }, timeout: { type: 'string' }, 'connect-timeout': { type: 'string' } }, u);
  const [id, methodName] = positionals(parsed, 2, u);
  const v = parsed.values as { payload?: string; timeout?: string; 'connect-timeout'?: string; hub?: string; json: boolean };
  const body: { [key: string]: unknown } = { methodName };
  if (v.payload !== undefined) body.payload = jsonArgument(v.payload, '--payload');
  if (v.timeout !== undefined) body.responseTimeoutInSeconds = parseDuration(v.timeout, '--timeout') / 1000;
  if (v['connect-timeout'] !== undefined) body.connectTimeoutInSeconds = parseDuration(v['connect-timeout'], '--connect-timeout') / 1000;
  const result = await client.withUrl(v.hub, io).request('POST', `/twins/${enc(id)}/methods`, body);
  print(io, v.json, result, () => `status ${result.status}\n${JSON.stringify(result.payload, null, 2)}`);
  return 0;
}

async function c2dCommand(argv: string[], client: HubClient, io: HubCommandIo): Promise<number> {
  const u = 'thingkit hub c2d <id> <payload> [--property name=value ...] [--ttl DURATION] [--ack none|positive|negative|full] [--wait DURATION]';
  const parsed = parse(
    argv,
    {
      property: { type: 'string', multiple: true },
      ttl: { type: 'string' },
      ack: { type: 'string' },
      'message-id': { type: 'string' },
      'correlation-id': { type: 'string' },
      'content-type': { type: 'string' },
      wait: { type: 'string' },
    },
    u,
  );
  const [id, payload] = positionals(parsed, 2, u);
  const v = parsed.values as { property?: string[]; ttl?: string; ack?: string; 'message-id'?: string; 'correlation-id'?: string; 'content-type'?: string; wait?: string; hub?: string; json: boolean };
  if (v.ack !== undefined && !['none', 'positive', 'negative', 'full'].includes(v.ack)) throw new UsageError(`--ack must be none, positive, negative or full (got "${v.ack}")`);
  const properties: { [name: string]: string } = {};
  for (const pair of v.property ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--property "${pair}" is not name=value`);
    properties[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const waitMs = v.wait === undefined ? undefined : parseDuration(v.wait, '--wait');
  const body: { [key: string]: unknown } = { payload, properties };
  if (v.ttl !== undefined) body.ttlSeconds = parseDuration(v.ttl, '--ttl') / 1000;
  if (v.ack !== undefined) body.ack = v.ack;
  if (v['message-id'] !== undefined) body.messageId = v['message-id'];
  if (v['correlation-id'] !== undefined) body.correlationId = v['correlation-id'];
  if (v['content-type'] !== undefined) body.contentType = v['content-type'];
  const hub = client.withUrl(v.hub, io);
  let message = await hub.request('POST', `/devices/${enc(id)}/messages/devicebound`, body);
  if (waitMs !== undefined) {
    const deadline = Date.now() + waitMs;
    while ((message.state === 'queued' || message.state === 'delivered') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      message = await hub.request('GET', `/messages/devicebound/${enc(message.messageId)}`);
    }
  }
  print(io, v.json, message, () => `message ${message.messageId} to ${id}: ${message.state}${message.feedback ? ` (feedback ${message.feedback.statusCode})` : ''}`);
  if (waitMs !== undefined && message.state !== 'completed') return 1;
  return 0;
}

async function enrollCommand(argv: string[], client: HubClient, io: HubCommandIo): Promise<number> {
  const u = 'thingkit hub enroll <registration-id> [--key K] [--x509 THUMBPRINT] [--device-id ID] | enroll --group <group-id> [--key K] | enroll list | enroll delete <registration-id>|--group <id>';
  const parsed = parse(
    argv,
    { key: { type: 'string' }, 'secondary-key': { type: 'string' }, x509: { type: 'string' }, 'device-id': { type: 'string' }, group: { type: 'string' }, derive: { type: 'string' }, disabled: { type: 'boolean', default: false } },
    u,
  );
  const v = parsed.values as { key?: string; 'secondary-key'?: string; x509?: string; 'device-id'?: string; group?: string; derive?: string; disabled: boolean; hub?: string; json: boolean };
  const hub = client.withUrl(v.hub, io);
  const [first, ...others] = parsed.positionals;
  const keys = v.key !== undefined || v['secondary-key'] !== undefined ? { symmetricKey: { primaryKey: v.key, secondaryKey: v['secondary-key'] } } : {};
  const status = v.disabled ? 'disabled' : 'enabled';
  if (first === 'list') {
    if (others.length || v.group !== undefined) throw new UsageError(`enroll list takes no arguments; usage: ${u}`);
    const [enrollments, groups] = await Promise.all([hub.request('GET', '/enrollments'), hub.request('GET', '/enrollmentGroups')]);
    print(io, v.json, { enrollments, groups }, () =>
      [
        ...enrollments.map((e: any) => `enrollment ${e.registrationId.padEnd(24)} ${e.attestation.type.padEnd(13)} ${e.provisioningStatus}${e.deviceId ? ` → device ${e.deviceId}` : ''}`),
        ...groups.map((g: any) => `group      ${g.enrollmentGroupId.padEnd(24)} ${g.attestation.type.padEnd(13)} ${g.provisioningStatus}`),
      ].join('\n') || 'no enrollments: add one with thingkit hub enroll <registration-id>',
    );
    return 0;
  }
  if (first === 'delete') {
    if (v.group !== undefined) {
      if (others.length) throw new UsageError(`usage: ${u}`);
      await hub.request('DELETE', `/enrollmentGroups/${enc(v.group)}`);
      print(io, v.json, { deleted: v.group }, () => `deleted enrollment group ${v.group}`);
      return 0;
    }
    if (others.length !== 1) throw new UsageError(`enroll delete takes a registration id or --group <id>; usage: ${u}`);
    await hub.request('DELETE', `/enrollments/${enc(others[0])}`);
    print(io, v.json, { deleted: others[0] }, () => `deleted enrollment ${others[0]}`);
    return 0;
  }
  if (v.group !== undefined) {
    if (parsed.positionals.length) throw new UsageError(`enroll --group takes no registration id; usage: ${u}`);
    if (v.x509 !== undefined || v['device-id'] !== undefined) throw new UsageError('enrollment groups use symmetric keys: --x509 and --device-id are for individual enrollments');
    await hub.request('PUT', `/enrollmentGroups/${enc(v.group)}`, { attestation: { type: 'symmetricKey', ...keys }, provisioningStatus: status });
    const group = await hub.request('GET', `/enrollmentGroups/${enc(v.group)}${v.derive ? `?deriveFor=${enc(v.derive)}` : ''}`);
    print(io, v.json, group, () =>
      [
        `enrollment group ${group.enrollmentGroupId} (${group.provisioningStatus})`,
        `  primary key   ${group.attestation.symmetricKey.primaryKey}`,
        `  secondary key ${group.attestation.symmetricKey.secondaryKey}`,
        group.derivedKeys
          ? `  device key for ${group.derivedKeys.registrationId}: ${group.derivedKeys.primaryKey}`
          : '  a device registers with base64(HMAC-SHA256(registration id)) under the group key (--derive <registration-id> prints it)',
      ].join('\n'),
    );
    return 0;
  }
  if (parsed.positionals.length !== 1) throw new UsageError(`expected a registration id; usage: ${u}`);
  if (v.derive !== undefined) throw new UsageError('--derive is for enrollment groups (--group)');
  if (v.x509 !== undefined && (v.key !== undefined || v['secondary-key'] !== undefined)) throw new UsageError('choose --key or --x509, not both');
  const thumbprints = v.x509 === undefined ? undefined : thumbprintPair(v.x509);
  const attestation = thumbprints
    ? { type: 'x509', x509: { thumbprint: { primary: thumbprints.primaryThumbprint, ...(thumbprints.secondaryThumbprint ? { secondary: thumbprints.secondaryThumbprint } : {}) } } }
    : { type: 'symmetricKey', ...keys };
  const enrollment = await hub.request('PUT', `/enrollments/${enc(first)}`, { attestation, provisioningStatus: status, ...(v['device-id'] ? { deviceId: v['device-id'] } : {}) });
  print(io, v.json, enrollment, () =>
    [
      `enrollment ${enrollment.registrationId} (${enrollment.attestation.type}, ${enrollment.provisioningStatus})${enrollment.deviceId ? ` → device ${enrollment.deviceId}` : ''}`,
      ...(enrollment.attestation.symmetricKey ? [`  primary key   ${enrollment.attestation.symmetricKey.primaryKey}`, `  secondary key ${enrollment.attestation.symmetricKey.secondaryKey}`] : []),
    ].join('\n'),
  );
  return 0;
}

async function telemetryCommand(argv: string[], client: HubClient, io: HubCommandIo): Promise<number> {
  const u = 'thingkit hub telemetry <id> [--limit N] [--follow]';
  const parsed = parse(argv, { limit: { type: 'string' }, follow: { type: 'boolean', default: false } }, u);
  const [id] = positionals(parsed, 1, u);
  const v = parsed.values as { limit?: string; follow: boolean; hub?: string; json: boolean };
  if (v.limit !== undefined && !/^\d+$/.test(v.limit)) throw new UsageError(`--limit must be a whole number (got "${v.limit}")`);
  const hub = client.withUrl(v.hub, io);
  const line = (m: any) => (v.json ? JSON.stringify(m) : `${m.enqueuedTime} ${m.deviceId} ${typeof m.body === 'string' ? m.body : JSON.stringify(m.body)}${Object.keys(m.properties).length ? ` ${JSON.stringify(m.properties)}` : ''}`);
  const messages: any[] = await hub.request('GET', `/devices/${enc(id)}/telemetry${v.limit ? `?limit=${v.limit}` : ''}`);
  for (const m of messages) io.stdout(`${line(m)}\n`);
  if (!v.follow) return 0;
  let response: Response;
  try {
    response = await fetch(`${hub.base}/telemetry/stream?deviceId=${enc(id)}`, { signal: io.signal });
  } catch (error) {
    if (io.signal?.aborted) return 0;
    throw new HubCommandError(`cannot follow telemetry at ${hub.base}: ${(error as Error).message}`);
  }
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split('\n').find((l) => l.startsWith('data: '));
        if (data) io.stdout(`${line(JSON.parse(data.slice(6)))}\n`);
      }
    }
  } catch (error) {
    if (!io.signal?.aborted) throw new HubCommandError(`the telemetry stream broke: ${(error as Error).message}`);
  }
  return 0;
}

async function logsCommand(argv: string[], client: HubClient, io: HubCommandIo): Promise<number> {
  const u = 'thingkit hub logs [--device ID] [--limit N]';
  const parsed = parse(argv, { device: { type: 'string' }, limit: { type: 'string' } }, u);
  positionals(parsed, 0, u);
  const v = parsed.values as { device?: string; limit?: string; hub?: string; json: boolean };
  if (v.limit !== undefined && !/^\d+$/.test(v.limit)) throw new UsageError(`--limit must be a whole number (got "${v.limit}")`);
  const query = new URLSearchParams();
  if (v.device) query.set('deviceId', v.device);
  if (v.limit) query.set('limit', v.limit);
  const entries: HubLogEntry[] = await client.withUrl(v.hub, io).request('GET', `/logs${query.size ? `?${query}` : ''}`);
  print(io, v.json, entries, () => entries.map((e) => `${e.time} ${e.level.padEnd(5)} ${e.event.padEnd(18)} ${e.message}${e.reason ? ` — ${e.reason}` : ''}`).join('\n') || 'no log entries');
  return 0;
}

// ---- statistics ----

function factorOption(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text) || !(Number(text) > 0)) throw new UsageError(`--factor must be a positive number (got "${text}")`);
  return text;
}

function ago(iso: string | null, nowIso: string): string {
  return iso === null ? 'never' : `${iso} (${formatDuration(Math.max(0, Date.parse(nowIso) - Date.parse(iso)))} ago)`;
}

async function statsCommand(argv: string[], client: HubClient, io: HubCommandIo): Promise<number> {
  const u = 'thingkit stats <id> [--factor N]';
  const parsed = parse(argv, { factor: { type: 'string' } }, u);
  const [id] = positionals(parsed, 1, u);
  const v = parsed.values as { factor?: string; hub?: string; json: boolean };
  const factor = factorOption(v.factor);
  const s = await client.withUrl(v.hub, io).request('GET', `/devices/${enc(id)}/stats${factor ? `?factor=${factor}` : ''}`);
  print(io, v.json, s, () => {
    const backlog = s.backlog
      ? `queued ${JSON.stringify(s.backlog.queued)}, sent ${JSON.stringify(s.backlog.sent)}, dropped ${JSON.stringify(s.backlog.dropped)}, oldest ${typeof s.backlog.oldestAgeMs === 'number' ? formatDuration(s.backlog.oldestAgeMs) : JSON.stringify(s.backlog.oldestAgeMs)}${s.backlog.reportedTime ? ` (reported ${s.backlog.reportedTime})` : ''}`
      : 'not reported (reported property outbox)';
    const silence = s.silence;
    return [
      `device ${s.deviceId} (${s.status}, ${s.connectionState})`,
      `  last seen      ${ago(s.lastSeenTime, s.time)}`,
      `  last message   ${ago(s.lastMessageTime, s.time)}`,
      `  messages       ${s.messagesLastHour} in the last hour, ${s.messagesReceived} in all`,
      `  duplicates     ${s.duplicatesDropped} dropped (${s.duplicatesLastHour} in the last hour)`,
      `  per hour       ${s.hourly.map((h: { messages: number }) => h.messages).join(' ')}  (last 24 h, oldest first)`,
      `  interval       ${formatDuration(s.telemetryIntervalMs)} (${s.telemetryIntervalSource})`,
      `  backlog        ${backlog}`,
      `  silent         ${silence.silent ? 'yes' : 'no'}: ${formatDuration(silence.silentForMs)} without a message${s.lastMessageTime ? '' : ' (since created)'}, limit ${silence.factor} × ${formatDuration(s.telemetryIntervalMs)} = ${formatDuration(silence.thresholdMs)}`,
    ].join('\n');
  });
  return 0;
}

async function silentCommand(argv: string[], client: HubClient, io: HubCommandIo): Promise<number> {
  const u = 'thingkit silent [--factor N]';
  const parsed = parse(argv, { factor: { type: 'string' } }, u);
  positionals(parsed, 0, u);
  const v = parsed.values as { factor?: string; hub?: string; json: boolean };
  const factor = factorOption(v.factor);
  const result = await client.withUrl(v.hub, io).request('GET', `/devices/silent${factor ? `?factor=${factor}` : ''}`);
  print(io, v.json, result, () => {
    if (!result.devices.length) return `no device is silent for longer than ${result.factor} × its telemetry interval`;
    return [
      `${result.devices.length} device${result.devices.length === 1 ? '' : 's'} silent for longer than ${result.factor} × the telemetry interval:`,
      ...result.devices.map(
        (d: any) =>
          `${d.deviceId.padEnd(24)} ${(d.lastMessageTime ? `last message ${d.lastMessageTime}` : 'never sent a message').padEnd(38)} silent ${formatDuration(d.silentForMs)} (limit ${formatDuration(d.thresholdMs)}, interval ${formatDuration(d.telemetryIntervalMs)} ${d.telemetryIntervalSource}) ${d.connectionState}`,
      ),
    ].join('\n');
  });
  return 0;
}
